//! What one exchange did, for operators: the pure record `exchange.rs` keeps
//! and the metric names and access-log fields derived from it. `filter.rs`
//! only hands these to the host (proxy-wasm metrics and filter state).
//!
//! Metric naming: `aob.<name>` followed by tags, each written as
//! `.<tag>=.=<value>;.;` (the convention Istio's stats use). The tag values
//! may contain dots (model names do); the `stats_tags` regexes in the shipped
//! Envoy configs turn them into real tags, so `/stats/prometheus` shows
//! `aob_requests_converted{direction="anthropic_client",model="gpt-4.1"}`.

use crate::anthropic;
use std::collections::HashSet;
use std::fmt;

/// Longest client string kept in a metric tag or filter-state value.
pub const SAFE_VALUE_MAX: usize = 64;

/// A client string made safe for a metric tag or a filter-state value (and
/// so the access log): ASCII letters, digits and `-._:/@+` are kept, every
/// other character becomes `_`, and the result is cut at `SAFE_VALUE_MAX`
/// bytes. No line break, quote, space or tag separator (`=.=`, `;.;`) can
/// survive, so a client cannot add a line or a tag.
pub fn safe_value(value: &str) -> String {
    value
        .chars()
        .take(SAFE_VALUE_MAX)
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '.' | '_' | ':' | '/' | '@' | '+' => c,
            _ => '_',
        })
        .collect()
}

/// Longest client string a log line quotes.
pub const LOG_VALUE_MAX: usize = 128;

/// A client string for a log line: control and non-ASCII characters are
/// escaped (`\n`, `\u{7f}`), and it is cut after `LOG_VALUE_MAX` characters
/// with `…` appended, so a log line stays one bounded line.
pub struct LogSafe<'a>(pub &'a str);

impl fmt::Display for LogSafe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars().take(LOG_VALUE_MAX) {
            match c {
                ' '..='~' => fmt::Write::write_char(f, c)?,
                _ => write!(f, "{}", c.escape_default())?,
            }
        }
        if self.0.chars().nth(LOG_VALUE_MAX).is_some() {
            f.write_str("…")?;
        }
        Ok(())
    }
}

/// Which way a request was converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// An Anthropic client on an OpenAI upstream.
    AnthropicClient,
    /// An OpenAI client on an Anthropic upstream.
    OpenAiClient,
    /// An Anthropic client on an OpenAI Responses API upstream.
    AnthropicClientResponses,
    /// An OpenAI Responses API client on an Anthropic upstream.
    ResponsesClient,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::AnthropicClient => "anthropic_client",
            Direction::OpenAiClient => "openai_client",
            Direction::AnthropicClientResponses => "anthropic_client_responses",
            Direction::ResponsesClient => "responses_client",
        }
    }
}

/// Token counts in Anthropic's terms: `input` excludes cache reads and writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_creation: u64,
}

impl From<&anthropic::Usage> for Tokens {
    fn from(usage: &anthropic::Usage) -> Tokens {
        Tokens {
            input: usage.input_tokens.unwrap_or(0),
            output: usage.output_tokens.unwrap_or(0),
            cache_read: usage.cache_read_input_tokens.unwrap_or(0),
            cache_creation: usage.cache_creation_input_tokens.unwrap_or(0),
        }
    }
}

/// Why the bridge answered a request itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientErrorKind {
    MalformedJson,
    InvalidRequest,
    TooLarge,
    MissingBody,
}

impl ClientErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientErrorKind::MalformedJson => "malformed_json",
            ClientErrorKind::InvalidRequest => "invalid_request",
            ClientErrorKind::TooLarge => "too_large",
            ClientErrorKind::MissingBody => "missing_body",
        }
    }
}

/// How a converted stream ended when it did not end normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFailure {
    /// The upstream sent an error chunk or event.
    UpstreamError,
    /// The body ended before the upstream finished.
    Incomplete,
    /// The upstream sent something that is not a stream chunk, or a line
    /// longer than the parser's bound.
    Invalid,
    /// Converting it would have held more than `max_held_bytes` at once.
    OverHeldLimit,
}

impl StreamFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamFailure::UpstreamError => "upstream_error",
            StreamFailure::Incomplete => "incomplete",
            StreamFailure::Invalid => "invalid",
            StreamFailure::OverHeldLimit => "over_held_limit",
        }
    }
}

/// What a stream converter reports about its stream.
pub trait StreamOutcome {
    /// Why the stream ended in an error, if it did.
    fn failure(&self) -> Option<StreamFailure>;
    /// The usage the upstream reported, in Anthropic's terms.
    fn tokens(&self) -> Option<Tokens>;
}

/// Everything worth counting about one exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// `None` for a request passed through untouched.
    pub direction: Option<Direction>,
    /// The model sent upstream, once the request was converted, made safe
    /// by `safe_value`.
    pub model: Option<String>,
    /// The upstream answered 2xx: only such models get their own tag.
    pub upstream_accepted: bool,
    pub client_error: Option<ClientErrorKind>,
    /// The status the client got when an upstream answer became an error.
    pub upstream_error_status: Option<u16>,
    pub stream_failure: Option<StreamFailure>,
    pub tokens: Option<Tokens>,
}

pub const PREFIX: &str = "aob.";

/// A metric name with its tags in the Istio-style encoding.
pub fn metric_name(name: &str, tags: &[(&str, &str)]) -> String {
    let mut out = format!("{PREFIX}{name}");
    if !tags.is_empty() {
        out.push('.');
    }
    for (tag, value) in tags {
        out.push_str(tag);
        out.push_str("=.=");
        out.push_str(value);
        out.push_str(";.;");
    }
    out
}

/// The increments that add `count` to a host counter now at `current`.
/// Envoy's counters are `u64` and wrap, and a proxy-wasm increment is a
/// positive `i64`: so the count is cut to what the counter has left (a full
/// counter stays full, never wraps to a small number) and sent in
/// steps of at most `i64::MAX` (three at most).
pub fn counter_increments(current: u64, count: u64) -> Vec<i64> {
    let mut left = count.min(u64::MAX - current);
    let mut steps = Vec::new();
    while left > 0 {
        let step = i64::try_from(left).unwrap_or(i64::MAX);
        steps.push(step);
        left -= step.unsigned_abs();
    }
    steps
}

/// Every tag the bridge uses, for the `stats_tags` of an Envoy config.
pub const TAGS: &[&str] = &[
    "direction",
    "model",
    "kind",
    "status_class",
    "reason",
    "token_type",
];

/// Metric names, one place: the README's list is checked against these.
pub const REQUESTS_CONVERTED: &str = "requests_converted";
pub const REQUESTS_PASSED_THROUGH: &str = "requests_passed_through";
pub const CLIENT_ERRORS: &str = "client_errors";
pub const UPSTREAM_ERRORS: &str = "upstream_errors";
pub const STREAM_ERRORS: &str = "streams_ended_by_error";
pub const TOKENS: &str = "tokens";
pub const CONVERSION_TIME: &str = "conversion_time_us";

/// Every metric, for the README's list (checked by tests/readme.rs).
pub const METRICS: &[&str] = &[
    REQUESTS_CONVERTED,
    REQUESTS_PASSED_THROUGH,
    CLIENT_ERRORS,
    UPSTREAM_ERRORS,
    STREAM_ERRORS,
    TOKENS,
    CONVERSION_TIME,
];

impl Report {
    /// The counters this exchange increments, and by how much. `model` is
    /// the model tag to use (see `ModelTags`).
    pub fn counters(&self, model: &str) -> Vec<(String, u64)> {
        let Some(direction) = self.direction else {
            return vec![(metric_name(REQUESTS_PASSED_THROUGH, &[]), 1)];
        };
        let d = ("direction", direction.as_str());
        let mut counters = Vec::new();
        if let Some(kind) = self.client_error {
            counters.push((metric_name(CLIENT_ERRORS, &[d, ("kind", kind.as_str())]), 1));
        }
        if self.model.is_some() {
            counters.push((metric_name(REQUESTS_CONVERTED, &[d, ("model", model)]), 1));
        }
        if let Some(status) = self.upstream_error_status {
            let class = if status >= 500 { "5xx" } else { "4xx" };
            counters.push((
                metric_name(UPSTREAM_ERRORS, &[d, ("status_class", class)]),
                1,
            ));
        }
        if let Some(failure) = self.stream_failure {
            counters.push((
                metric_name(STREAM_ERRORS, &[d, ("reason", failure.as_str())]),
                1,
            ));
        }
        if let Some(tokens) = self.tokens {
            for (token_type, count) in [
                ("input", tokens.input),
                ("output", tokens.output),
                ("cache_read", tokens.cache_read),
                ("cache_creation", tokens.cache_creation),
            ] {
                let tags = [d, ("model", model), ("token_type", token_type)];
                counters.push((metric_name(TOKENS, &tags), count));
            }
        }
        counters
    }

    /// The conversion-time histogram for this exchange's direction.
    pub fn conversion_time_metric(&self) -> Option<String> {
        self.direction
            .map(|d| metric_name(CONVERSION_TIME, &[("direction", d.as_str())]))
    }

    /// Per-request values for access logs, as filter-state properties
    /// (`%FILTER_STATE(wasm.aob_model:PLAIN)%` in an Envoy log format).
    pub fn access_log_fields(&self) -> Vec<(&'static str, String)> {
        let Some(direction) = self.direction else {
            return Vec::new();
        };
        let mut fields = vec![("aob_direction", direction.as_str().to_string())];
        if let Some(model) = &self.model {
            fields.push(("aob_model", safe_value(model)));
        }
        if let Some(tokens) = self.tokens {
            fields.push(("aob_input_tokens", tokens.input.to_string()));
            fields.push(("aob_output_tokens", tokens.output.to_string()));
            fields.push(("aob_cache_read_tokens", tokens.cache_read.to_string()));
            fields.push((
                "aob_cache_creation_tokens",
                tokens.cache_creation.to_string(),
            ));
        }
        fields
    }
}

/// Bounds the `model` tag's cardinality: a client can send any model name,
/// and every distinct value would become new metrics. The first `limit`
/// models an upstream accepted (answered 2xx) get their own tag; every other
/// model is counted as `other`, so names an upstream rejects cannot take the
/// places of real ones. Tags are `safe_value`s.
#[derive(Debug, Clone)]
pub struct ModelTags {
    seen: HashSet<String>,
    limit: usize,
}

pub const MODEL_TAG_LIMIT: usize = 64;

impl Default for ModelTags {
    fn default() -> Self {
        ModelTags::new(MODEL_TAG_LIMIT)
    }
}

impl ModelTags {
    pub fn new(limit: usize) -> ModelTags {
        ModelTags {
            seen: HashSet::new(),
            limit,
        }
    }

    /// The tag for an exchange's model; `accepted` says the upstream
    /// answered it with a 2xx.
    pub fn tag(&mut self, model: Option<&str>, accepted: bool) -> String {
        let Some(model) = model else {
            return "none".to_string();
        };
        let model = safe_value(model);
        if self.seen.contains(&model) {
            return model;
        }
        if accepted && self.seen.len() < self.limit {
            self.seen.insert(model.clone());
            return model;
        }
        "other".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_encode_tags_istio_style() {
        assert_eq!(
            metric_name(
                "tokens",
                &[("direction", "anthropic_client"), ("model", "gpt-4.1")]
            ),
            "aob.tokens.direction=.=anthropic_client;.;model=.=gpt-4.1;.;"
        );
        assert_eq!(
            metric_name("requests_passed_through", &[]),
            "aob.requests_passed_through"
        );
    }

    #[test]
    fn a_converted_streaming_request_counts_its_tokens() {
        let report = Report {
            direction: Some(Direction::AnthropicClient),
            model: Some("gpt-4.1".into()),
            tokens: Some(Tokens {
                input: 10,
                output: 5,
                cache_read: 100,
                cache_creation: 0,
            }),
            ..Default::default()
        };
        let counters = report.counters("gpt-4.1");
        assert!(counters.contains(&(
            metric_name(
                REQUESTS_CONVERTED,
                &[("direction", "anthropic_client"), ("model", "gpt-4.1")]
            ),
            1
        )));
        let tokens = |t: &str| {
            metric_name(
                TOKENS,
                &[
                    ("direction", "anthropic_client"),
                    ("model", "gpt-4.1"),
                    ("token_type", t),
                ],
            )
        };
        assert!(counters.contains(&(tokens("input"), 10)));
        assert!(counters.contains(&(tokens("cache_read"), 100)));
        assert_eq!(counters.len(), 5);
    }

    #[test]
    fn errors_are_counted_by_kind_class_and_reason() {
        let report = Report {
            direction: Some(Direction::OpenAiClient),
            model: Some("claude".into()),
            upstream_error_status: Some(529),
            stream_failure: Some(StreamFailure::Incomplete),
            ..Default::default()
        };
        let names: Vec<String> = report
            .counters("claude")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert!(names.contains(&metric_name(
            UPSTREAM_ERRORS,
            &[("direction", "openai_client"), ("status_class", "5xx")]
        )));
        assert!(names.contains(&metric_name(
            STREAM_ERRORS,
            &[("direction", "openai_client"), ("reason", "incomplete")]
        )));
        let local = Report {
            direction: Some(Direction::AnthropicClient),
            client_error: Some(ClientErrorKind::MalformedJson),
            ..Default::default()
        };
        assert_eq!(
            local.counters("none"),
            vec![(
                metric_name(
                    CLIENT_ERRORS,
                    &[
                        ("direction", "anthropic_client"),
                        ("kind", "malformed_json")
                    ]
                ),
                1
            )]
        );
        assert_eq!(
            Report::default().counters("none"),
            vec![(metric_name(REQUESTS_PASSED_THROUGH, &[]), 1)]
        );
    }

    #[test]
    fn counters_saturate_instead_of_wrapping() {
        assert_eq!(counter_increments(0, 5), vec![5]);
        assert_eq!(counter_increments(7, 0), Vec::<i64>::new());
        assert_eq!(counter_increments(0, u64::MAX), vec![i64::MAX, i64::MAX, 1]);
        assert_eq!(counter_increments(u64::MAX - 2, 10), vec![2]);
        assert_eq!(counter_increments(u64::MAX, 1), Vec::<i64>::new());
        for (current, count) in [(0, u64::MAX), (1 << 63, u64::MAX), (12, 1 << 63)] {
            let added: u64 = counter_increments(current, count)
                .iter()
                .map(|step| u64::try_from(*step).unwrap())
                .sum();
            assert_eq!(
                current.checked_add(added),
                Some(current.saturating_add(count))
            );
        }
    }

    #[test]
    fn model_tags_are_bounded_and_only_accepted_models_take_a_place() {
        let mut tags = ModelTags::new(2);
        assert_eq!(tags.tag(Some("junk-1"), false), "other");
        assert_eq!(tags.tag(Some("a"), true), "a");
        assert_eq!(tags.tag(Some("junk-2"), false), "other");
        assert_eq!(tags.tag(Some("b"), true), "b");
        assert_eq!(tags.tag(Some("c"), true), "other");
        assert_eq!(tags.tag(Some("a"), false), "a");
        assert_eq!(tags.tag(None, true), "none");
    }

    #[test]
    fn model_tags_are_safe_values() {
        let mut tags = ModelTags::new(4);
        assert_eq!(
            tags.tag(Some("m\ninjected_metric_line: 31337"), true),
            "m_injected_metric_line:_31337"
        );
        assert_eq!(tags.tag(Some("x;.;y=.=z"), true), "x_._y_._z");
        let huge = "g".repeat(5 << 20);
        assert_eq!(tags.tag(Some(&huge), true), "g".repeat(SAFE_VALUE_MAX));
    }

    #[test]
    fn safe_values_keep_model_names_and_replace_the_rest() {
        for name in [
            "gpt-4.1",
            "claude-sonnet-4-5",
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            "openai/gpt-4o",
            "claude-3-5-sonnet@20240620",
        ] {
            assert_eq!(safe_value(name), name);
        }
        let forged = "gpt\n[2026-12-01T00:00:00.000Z] \"POST /admin HTTP/1.1\" 200 FAKE-LOG-LINE";
        let safe = safe_value(forged);
        assert_eq!(
            safe,
            "gpt__2026-12-01T00:00:00.000Z___POST_/admin_HTTP/1.1__200_FAKE-L"
        );
        assert_eq!(safe.len(), SAFE_VALUE_MAX);
        assert_eq!(safe_value("météo\r\u{0}"), "m_t_o__");
    }

    #[test]
    fn log_safe_escapes_controls_and_caps_length() {
        assert_eq!(LogSafe("a\nb\"c").to_string(), "a\\nb\"c");
        assert_eq!(LogSafe("é\u{1b}[31m").to_string(), "\\u{e9}\\u{1b}[31m");
        let long = LogSafe(&"x".repeat(1000)).to_string();
        assert_eq!(long, format!("{}…", "x".repeat(LOG_VALUE_MAX)));
    }

    #[test]
    fn access_log_model_is_a_safe_value() {
        let report = Report {
            direction: Some(Direction::AnthropicClient),
            model: Some("gpt\n[x] 200".into()),
            ..Default::default()
        };
        assert!(report
            .access_log_fields()
            .contains(&("aob_model", "gpt__x__200".to_string())));
    }

    #[test]
    fn access_log_fields_carry_direction_model_and_usage() {
        let report = Report {
            direction: Some(Direction::OpenAiClient),
            model: Some("claude-sonnet-4-5".into()),
            tokens: Some(Tokens {
                input: 3,
                output: 4,
                cache_read: 5,
                cache_creation: 6,
            }),
            ..Default::default()
        };
        assert_eq!(
            report.access_log_fields(),
            vec![
                ("aob_direction", "openai_client".to_string()),
                ("aob_model", "claude-sonnet-4-5".to_string()),
                ("aob_input_tokens", "3".to_string()),
                ("aob_output_tokens", "4".to_string()),
                ("aob_cache_read_tokens", "5".to_string()),
                ("aob_cache_creation_tokens", "6".to_string()),
            ]
        );
        assert!(Report::default().access_log_fields().is_empty());
    }
}
