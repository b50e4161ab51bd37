//! Headers for a Responses API client on an Anthropic upstream: the same
//! edits as for a Chat Completions client (`openai_client::headers`), on
//! this pair's paths, and Codex's own client headers removed.

use crate::config::Config;
use crate::convert::headers::{header, remove_matching, HeaderEdit};
use crate::convert::openai_client::headers::request_edits_from;

pub const CLIENT_SUFFIX: &str = "/v1/responses";

/// Codex's session and telemetry headers (`x-codex-turn-metadata` carries
/// its installation id); an Anthropic upstream reads none of them.
const CODEX_PREFIXES: &[&str] = &["x-codex-"];
const CODEX_NAMES: &[&str] = &[
    "session-id",
    "session_id",
    "thread-id",
    "originator",
    "chatgpt-account-id",
];

/// `authorization: Bearer K` → `x-api-key: K` (or kept, per
/// `upstream_auth`), `anthropic-version` set unless the client sent one,
/// `…/v1/responses` → `…/v1/messages` (or `upstream_path`); `openai-*`,
/// `x-stainless-*`, Codex's headers, `accept-encoding` and
/// `content-length` removed.
pub fn request_edits(headers: &[(String, String)], path: &str, config: &Config) -> Vec<HeaderEdit> {
    let mut edits = request_edits_from(headers, path, CLIENT_SUFFIX, config);
    remove_matching(headers, CODEX_PREFIXES, CODEX_NAMES, &mut edits);
    edits
}

/// The longest `retry-after` taken into a message: one day.
const MAX_RETRY_AFTER_SECONDS: u64 = 86_400;

/// The upstream's `retry-after` in seconds: digits only (not an HTTP date),
/// at most a day; anything else is ignored.
pub fn retry_after_seconds(headers: &[(String, String)]) -> Option<u64> {
    let value = header(headers, "retry-after")?.trim();
    if value.is_empty() || value.len() > 6 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value
        .parse::<u64>()
        .ok()
        .filter(|seconds| *seconds <= MAX_RETRY_AFTER_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn config(extra: &str) -> Config {
        Config::from_json(format!(r#"{{"upstream_protocol":"anthropic"{extra}}}"#).as_bytes())
            .unwrap()
    }

    /// The headers the recorded Codex 0.171 request carries.
    #[test]
    fn codex_headers_become_an_anthropic_request() {
        let h = headers(&[
            ("x-codex-beta-features", "remote_compaction_v2"),
            ("x-codex-turn-metadata", "{\"installation_id\":\"7050\"}"),
            ("x-client-request-id", "01a2"),
            ("session-id", "01a2"),
            ("thread-id", "01a2"),
            ("accept", "text/event-stream"),
            ("authorization", "Bearer sk-ant-1"),
            ("originator", "codex_exec"),
            ("user-agent", "codex_exec/0.171.0"),
            ("accept-encoding", "zstd,gzip"),
            ("OpenAI-Beta", "responses=experimental"),
            ("content-length", "41106"),
        ]);
        let edits = request_edits(&h, "/v1/responses", &config(""));
        assert_eq!(
            edits,
            vec![
                HeaderEdit::set(":path", "/v1/messages"),
                HeaderEdit::set("content-type", "application/json"),
                HeaderEdit::set("x-api-key", "sk-ant-1"),
                HeaderEdit::set("anthropic-version", "2023-06-01"),
                HeaderEdit::remove("authorization"),
                HeaderEdit::remove("accept-encoding"),
                HeaderEdit::remove("openai-beta"),
                HeaderEdit::remove("content-length"),
                HeaderEdit::remove("x-codex-beta-features"),
                HeaderEdit::remove("x-codex-turn-metadata"),
                HeaderEdit::remove("session-id"),
                HeaderEdit::remove("thread-id"),
                HeaderEdit::remove("originator"),
            ]
        );
    }

    #[test]
    fn retry_after_is_whole_seconds_up_to_a_day() {
        let seconds = |value: &str| retry_after_seconds(&headers(&[("Retry-After", value)]));
        assert_eq!(seconds("7"), Some(7));
        assert_eq!(seconds(" 30 "), Some(30));
        assert_eq!(seconds("0"), Some(0));
        assert_eq!(seconds("86400"), Some(86_400));
        for ignored in [
            "86401",
            "99999999999999999999999",
            "1.5",
            "-1",
            "+5",
            "",
            "Wed, 21 Oct 2026 07:28:00 GMT",
            "7s",
        ] {
            assert_eq!(seconds(ignored), None, "{ignored}");
        }
        assert_eq!(retry_after_seconds(&[]), None);
    }

    #[test]
    fn configured_path_and_bearer_auth() {
        let h = headers(&[("authorization", "Bearer entra-token")]);
        let edits = request_edits(
            &h,
            "/azure/v1/responses?api-version=1",
            &config(r#","upstream_auth":"bearer""#),
        );
        assert_eq!(edits[0], HeaderEdit::set(":path", "/azure/v1/messages"));
        assert!(!edits.iter().any(|e| matches!(e, HeaderEdit::Remove(n) | HeaderEdit::Set(n, _) if n == "authorization" || n == "x-api-key")));
        let edits = request_edits(
            &[],
            "/v1/responses",
            &config(r#","upstream_path":"/anthropic/v1/messages""#),
        );
        assert_eq!(edits[0], HeaderEdit::set(":path", "/anthropic/v1/messages"));
    }
}
