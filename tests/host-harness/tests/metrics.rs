//! The module's metrics (proxy-wasm metrics ABI) and per-request
//! access-log fields (filter state), as the host sees them: each exchange is
//! counted once, by exactly what happened, under the documented names.

mod common;

use common::*;
use host_harness::{Chunking, Direction, Host, MetricKind};
use serde_json::Value;

fn name(metric: &str, tags: &[(&str, &str)]) -> String {
    let mut out = format!("aob.{metric}");
    if !tags.is_empty() {
        out.push('.');
    }
    for (tag, value) in tags {
        out.push_str(&format!("{tag}=.={value};.;"));
    }
    out
}

fn counter(h: &Host, metric: &str, tags: &[(&str, &str)]) -> i64 {
    h.metrics()
        .get(&name(metric, tags))
        .filter(|m| m.kind == MetricKind::Counter)
        .map_or(0, |m| m.value)
}

fn property(h: &Host, name: &str) -> Option<String> {
    h.property(&[name])
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// One exchange: request (headers and body), response, end of stream.
fn exchange(
    h: &mut Host,
    path: &str,
    body: &[u8],
    status: &str,
    content_type: &str,
    response: &[u8],
) {
    let headers = anthropic_headers(path, None);
    let mut s = h.http_stream();
    s.request(&pairs(&headers), body, &Chunking::Whole).unwrap();
    if s.local_response().is_none() {
        s.response(
            &[(":status", status), ("content-type", content_type)],
            response,
            &Chunking::Bytes(97),
        )
        .unwrap();
    }
    s.finish().unwrap();
}

/// A converted non-streaming request answered 200 with `completion`.
fn converted_exchange(h: &mut Host, completion: &[u8]) {
    exchange(
        h,
        "/v1/messages",
        &simple_request(false),
        "200",
        "application/json",
        completion,
    );
}

#[test]
fn each_exchange_is_counted_once_by_what_happened() {
    let mut h = openai_host();
    let completion = fixture("openai/chat-text.json");
    let usage = serde_json::from_slice::<Value>(&completion).unwrap()["usage"].clone();
    converted_exchange(&mut h, &completion);
    converted_exchange(&mut h, &completion);
    exchange(
        &mut h,
        "/v1/messages",
        b"{broken",
        "200",
        "application/json",
        b"",
    );
    exchange(
        &mut h,
        "/v1/messages",
        &simple_request(false),
        "429",
        "application/json",
        br#"{"error":{"message":"slow down"}}"#,
    );
    let stream = fixture("openai/stream-text-include-usage-gpt4o-mini.sse");
    let cut = &stream[..stream.len() / 3];
    exchange(
        &mut h,
        "/v1/messages",
        &simple_request(true),
        "200",
        "text/event-stream",
        cut,
    );
    exchange(&mut h, "/v1/models", b"", "200", "application/json", b"{}");
    assert_clean(&h);

    let d = ("direction", "anthropic_client");
    let model = ("model", "claude-sonnet-4-5");
    assert_eq!(counter(&h, "requests_converted", &[d, model]), 4);
    assert_eq!(
        counter(&h, "client_errors", &[d, ("kind", "malformed_json")]),
        1
    );
    assert_eq!(
        counter(&h, "upstream_errors", &[d, ("status_class", "4xx")]),
        1
    );
    assert_eq!(
        counter(&h, "streams_ended_by_error", &[d, ("reason", "incomplete")]),
        1
    );
    assert_eq!(counter(&h, "requests_passed_through", &[]), 1);
    let tokens = |t: &str| counter(&h, "tokens", &[d, model, ("token_type", t)]);
    let cached = usage["prompt_tokens_details"]["cached_tokens"]
        .as_i64()
        .unwrap_or(0);
    assert_eq!(
        tokens("input"),
        2 * (usage["prompt_tokens"].as_i64().unwrap() - cached)
    );
    assert_eq!(
        tokens("output"),
        2 * usage["completion_tokens"].as_i64().unwrap()
    );
    let histogram = h
        .metrics()
        .get(&name("conversion_time_us", &[d]))
        .expect("conversion time histogram");
    assert_eq!(histogram.kind, MetricKind::Histogram);
    assert_eq!(
        histogram.samples.len(),
        5,
        "one sample per exchange the module converted or answered"
    );
}

/// A request without a body (headers ending the stream) or with an empty
/// chunked one is answered locally and counted as `missing_body`, not as a
/// conversion.
#[test]
fn a_missing_body_is_counted_as_such() {
    let mut h = openai_host();
    exchange(&mut h, "/v1/messages", b"", "200", "application/json", b"");
    {
        let headers = anthropic_headers("/v1/messages", None);
        let mut s = h.http_stream();
        s.request_headers(&pairs(&headers), false).unwrap();
        s.feed(Direction::Request, b"", &Chunking::Whole).unwrap();
        assert_eq!(s.local_response().map(|r| r.status), Some(400));
        s.finish().unwrap();
    }
    assert_clean(&h);

    let d = ("direction", "anthropic_client");
    assert_eq!(
        counter(&h, "client_errors", &[d, ("kind", "missing_body")]),
        2
    );
    assert_eq!(
        counter(&h, "client_errors", &[d, ("kind", "malformed_json")]),
        0
    );
    assert_eq!(
        counter(&h, "requests_converted", &[d, ("model", "none")]),
        0
    );
}

/// Envoy's counters are u64 and wrap. An upstream reporting 2^64 − 1 tokens
/// three times must leave the token counters full (saturated), not wrapped
/// to a small number, and a normal exchange after must not wrap them either.
#[test]
fn huge_usage_saturates_the_token_counters() {
    let mut h = openai_host();
    let normal = fixture("openai/chat-text.json");
    let mut huge = serde_json::from_slice::<Value>(&normal).unwrap();
    huge["usage"] = serde_json::json!({"prompt_tokens": u64::MAX, "completion_tokens": u64::MAX, "total_tokens": u64::MAX});
    let huge = huge.to_string();
    converted_exchange(&mut h, huge.as_bytes());
    assert_eq!(
        property(&h, "aob_input_tokens").as_deref(),
        Some("18446744073709551615")
    );
    converted_exchange(&mut h, huge.as_bytes());
    converted_exchange(&mut h, huge.as_bytes());
    converted_exchange(&mut h, &normal);
    assert_clean(&h);
    let d = ("direction", "anthropic_client");
    let model = ("model", "claude-sonnet-4-5");
    let tokens = |t: &str| {
        h.metrics()
            .get(&name("tokens", &[d, model, ("token_type", t)]))
            .map(|m| m.value as u64)
    };
    assert_eq!(tokens("input"), Some(u64::MAX));
    assert_eq!(tokens("output"), Some(u64::MAX));
    assert_eq!(counter(&h, "requests_converted", &[d, model]), 4);
}

#[test]
fn access_log_fields_carry_the_last_exchange() {
    let mut h = openai_host();
    let completion = fixture("openai/chat-text.json");
    let usage = serde_json::from_slice::<Value>(&completion).unwrap()["usage"].clone();
    converted_exchange(&mut h, &completion);
    assert_eq!(
        property(&h, "aob_direction").as_deref(),
        Some("anthropic_client")
    );
    assert_eq!(
        property(&h, "aob_model").as_deref(),
        Some("claude-sonnet-4-5")
    );
    assert_eq!(
        property(&h, "aob_output_tokens"),
        Some(usage["completion_tokens"].to_string())
    );
    assert_eq!(
        property(&h, "aob_cache_creation_tokens").as_deref(),
        Some("0")
    );
}

#[test]
fn the_model_tag_follows_model_map_and_openai_clients_count_too() {
    let mut h =
        host(r#"{"upstream_protocol":"anthropic","model_map":{"gpt-*":"claude-mapped-1.5"}}"#);
    let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#;
    let headers = [
        (":method", "POST"),
        (":path", "/v1/chat/completions"),
        (":authority", "b"),
        ("authorization", "Bearer k"),
    ];
    {
        let mut s = h.http_stream();
        s.request(&headers, body, &Chunking::Whole).unwrap();
        s.response(
            &[(":status", "529"), ("content-type", "application/json")],
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            &Chunking::Whole,
        )
        .unwrap();
        s.finish().unwrap();
    }
    let d = ("direction", "openai_client");
    assert_eq!(
        counter(&h, "requests_converted", &[d, ("model", "other")]),
        1,
        "a model no upstream accepted yet has no tag of its own"
    );
    {
        let mut s = h.http_stream();
        s.request(&headers, body, &Chunking::Whole).unwrap();
        s.response(
            &[(":status", "200"), ("content-type", "application/json")],
            &fixture("anthropic/msg-text.json"),
            &Chunking::Whole,
        )
        .unwrap();
        s.finish().unwrap();
    }
    assert_eq!(
        counter(
            &h,
            "requests_converted",
            &[d, ("model", "claude-mapped-1.5")]
        ),
        1
    );
    assert_eq!(
        counter(&h, "upstream_errors", &[d, ("status_class", "5xx")]),
        1,
        "529 reaches the client as 503"
    );
}

/// A request whose body names `model`, answered with `status`.
fn exchange_with_model(h: &mut Host, model: &str, status: &str) {
    let body = serde_json::json!({
        "model": model, "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}]
    });
    let response = match status {
        "200" => fixture("openai/chat-text.json"),
        _ => br#"{"error":{"message":"no such model"}}"#.to_vec(),
    };
    exchange(
        h,
        "/v1/messages",
        body.to_string().as_bytes(),
        status,
        "application/json",
        &response,
    );
}

/// Issue 12's model strings: a forged access-log line, a forged `/stats`
/// line and a 5 MB name. Metric names, tags, filter state and log lines
/// stay single-line, in the safe character set, bounded.
#[test]
fn hostile_model_names_cannot_forge_metrics_filter_state_or_log_lines() {
    let mut h = openai_host();
    let forged_log = "gpt\n[2026-12-01T00:00:00.000Z] \"POST /admin HTTP/1.1\" 200 FAKE-LOG-LINE";
    let forged_metric = "m\ninjected_metric_line: 31337";
    let huge = "x".repeat(5 << 20);
    for (model, expected) in [
        (
            forged_log,
            "gpt__2026-12-01T00:00:00.000Z___POST_/admin_HTTP/1.1__200_FAKE-L",
        ),
        (forged_metric, "m_injected_metric_line:_31337"),
        (huge.as_str(), &"x".repeat(64)[..]),
    ] {
        exchange_with_model(&mut h, model, "200");
        assert_eq!(property(&h, "aob_model").as_deref(), Some(expected));
        let d = ("direction", "anthropic_client");
        assert_eq!(
            counter(&h, "requests_converted", &[d, ("model", expected)]),
            1
        );
    }
    let odd_block = serde_json::json!({
        "model": "m", "max_tokens": 10,
        "messages": [{"role": "user", "content": [
            {"type": "evil\nFAKE-LOG-LINE"}, {"type": "text", "text": "hi"}
        ]}]
    });
    exchange(
        &mut h,
        "/v1/messages",
        odd_block.to_string().as_bytes(),
        "200",
        "application/json",
        &fixture("openai/chat-text.json"),
    );
    assert!(
        h.logs()
            .iter()
            .any(|l| l.message.contains("`evil\\nFAKE-LOG-LINE` block")),
        "the skipped block's type is logged escaped"
    );
    assert_clean(&h);
    for metric in h.metrics().all() {
        assert!(
            is_safe_metric_name(&metric.name),
            "unsafe metric name {:?}",
            metric.name
        );
        assert!(metric.name.len() < 200, "{}", metric.name.len());
    }
    for line in h.logs() {
        assert!(
            !line.message.contains('\n') && line.message.len() < 4096,
            "log line with a raw newline or unbounded: {:.200}",
            line.message
        );
    }
}

/// Metric names: the tag encoding's characters and the safe value set.
fn is_safe_metric_name(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._:/@+-=;".contains(&b))
}

/// 64 junk names an upstream rejects cannot take the places of real models.
#[test]
fn only_models_an_upstream_accepted_get_their_own_tag() {
    let mut h = openai_host();
    for i in 0..70 {
        exchange_with_model(&mut h, &format!("junk-{i}"), "404");
    }
    exchange_with_model(&mut h, "gpt-real", "200");
    exchange_with_model(&mut h, "gpt-real", "404");
    let d = ("direction", "anthropic_client");
    assert_eq!(
        counter(&h, "requests_converted", &[d, ("model", "gpt-real")]),
        2
    );
    assert_eq!(
        counter(&h, "requests_converted", &[d, ("model", "other")]),
        70
    );
    assert!(h.metrics().all().iter().all(|m| !m.name.contains("junk-")));
}
