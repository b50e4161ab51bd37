//! The release bridge module in the harness, OpenAI client → Anthropic
//! upstream (docs/openai_client.md, docs/exchange.md#classifying-the-upstreams-answer).

mod common;

use common::*;
use host_harness::{Action, Chunking, Host, LocalReplyPath};
use serde_json::{json, Value};

fn normalize(out: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(out);
    let mut r = String::with_capacity(s.len());
    let mut rest: &str = &s;
    while let Some(i) = rest.find("msg_bridge_") {
        r.push_str(&rest[..i + "msg_bridge_".len()]);
        rest = &rest[i + "msg_bridge_".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_hexdigit() || c == '_'))
            .unwrap_or(rest.len());
        r.push('N');
        rest = &rest[end..];
    }
    r.push_str(rest);
    r.into_bytes()
}

fn anthropic_host() -> Host {
    host(ANTHROPIC_UPSTREAM)
}

fn get<'a>(h: &'a [(String, String)], k: &str) -> Option<&'a str> {
    h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

fn converted(
    h: &mut Host,
    headers: &[(String, String)],
    body: &[u8],
    chunking: &Chunking,
) -> (Vec<(String, String)>, Value) {
    let mut s = h.http_stream();
    let actions = s
        .request(&pairs(headers), body, chunking)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(actions[0], Action::Continue);
    assert!(
        s.local_response().is_none(),
        "answered locally: {:?}",
        s.local_response().map(|l| l.body_str())
    );
    assert!(s.request_complete(), "{chunking:?}");
    let out_headers = s.request_headers_out().unwrap().to_pairs();
    let out: Value = serde_json::from_slice(s.request_body_out()).unwrap();
    (out_headers, out)
}

const SSE_ANTHROPIC: &[(&str, &str)] = &[
    (":status", "200"),
    ("content-type", "text/event-stream; charset=utf-8"),
    ("request-id", "req_anthropic_1"),
    ("anthropic-ratelimit-requests-remaining", "49"),
];

// ---------------------------------------------------------------- requests

#[test]
fn request_headers_are_converted() {
    let mut h = anthropic_host();
    let body = openai_request(true, true);
    let headers = openai_headers("/v1/chat/completions?x=1", Some(body.len()));
    let (out, _) = converted(&mut h, &headers, &body, &Chunking::Whole);
    assert_eq!(get(&out, ":path"), Some("/v1/messages"));
    assert_eq!(get(&out, "x-api-key"), Some("sk-openai-key"));
    assert_eq!(get(&out, "anthropic-version"), Some("2023-06-01"));
    for gone in [
        "authorization",
        "openai-organization",
        "openai-project",
        "x-stainless-lang",
        "x-stainless-retry-count",
        "accept-encoding",
        "content-length",
    ] {
        assert_eq!(get(&out, gone), None, "{gone} must be removed: {out:?}");
    }
    assert_eq!(get(&out, "user-agent"), Some("OpenAI/Python 1.50.0"));
    assert_clean(&h);
}

#[test]
fn request_headers_follow_the_configuration() {
    let mut h = host(
        r#"{"upstream_protocol":"anthropic","upstream_auth":"bearer","anthropic_version":"2099-01-01",
            "upstream_path":"/anthropic/v1/messages"}"#,
    );
    let body = openai_request(false, false);
    let mut headers = openai_headers("/gw/v1/chat/completions", Some(body.len()));
    let (out, _) = converted(&mut h, &headers, &body, &Chunking::Whole);
    assert_eq!(get(&out, ":path"), Some("/anthropic/v1/messages"));
    assert_eq!(get(&out, "authorization"), Some("Bearer sk-openai-key"));
    assert_eq!(get(&out, "x-api-key"), None);
    assert_eq!(get(&out, "anthropic-version"), Some("2099-01-01"));
    // A client's own anthropic-version wins; the prefix is kept by default.
    let mut h = anthropic_host();
    headers.push(("anthropic-version".into(), "2023-01-01".into()));
    let (out, _) = converted(&mut h, &headers, &body, &Chunking::Whole);
    assert_eq!(get(&out, "anthropic-version"), Some("2023-01-01"));
    assert_eq!(get(&out, ":path"), Some("/gw/v1/messages"));
    assert_clean(&h);
}

#[test]
fn request_body_is_converted_and_identical_in_every_chunking() {
    let mut h = anthropic_host();
    let body = serde_json::to_vec(&json!({
        "model": "gpt-4o",
        "stream": true,
        "temperature": 1.7,
        "stop": ["END", "  "],
        "user": "u-1",
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "d",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "tool_choice": "required",
        "parallel_tool_calls": false,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "Use metric units."},
            {"role": "user", "content": [{"type": "text", "text": "Weather?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "user", "content": "thanks " .repeat(500)},
        ],
    }))
    .unwrap();
    let headers = openai_headers("/v1/chat/completions", None);
    let (_, whole) = converted(&mut h, &headers, &body, &Chunking::Whole);
    assert_eq!(whole["model"], "gpt-4o");
    assert_eq!(whole["max_tokens"], 4096, "default_max_tokens: {whole}");
    assert_eq!(whole["stream"], true);
    assert_eq!(whole["temperature"], 1.0, "clamped to [0, 1]");
    assert_eq!(whole["stop_sequences"], json!(["END"]));
    assert_eq!(whole["metadata"]["user_id"], "u-1");
    assert_eq!(whole["tool_choice"]["type"], "any");
    assert_eq!(whole["tool_choice"]["disable_parallel_tool_use"], true);
    assert_eq!(whole["tools"][0]["input_schema"]["type"], "object");
    let system = serde_json::to_string(&whole["system"]).unwrap();
    assert!(
        system.contains("Be brief.") && system.contains("Use metric units."),
        "{system}"
    );
    assert!(whole["messages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["role"] != "system"));
    for c in [
        Chunking::Count(50),
        Chunking::Bytes(1),
        Chunking::Whole.then_empty_eos(),
    ] {
        let (_, out) = converted(&mut h, &headers, &body, &c);
        assert_eq!(out, whole, "{c:?}");
    }
    assert_clean(&h);
}

#[test]
fn anthropic_requests_pass_through_on_an_anthropic_upstream() {
    // A request already in the upstream's protocol is not touched.
    let mut h = anthropic_host();
    let body = simple_request(false);
    let headers = anthropic_headers("/v1/messages", Some(body.len()));
    let mut s = h.http_stream();
    s.request(&pairs(&headers), &body, &Chunking::Bytes(3))
        .unwrap();
    assert_eq!(s.request_body_out(), &body[..]);
    assert_eq!(
        s.request_headers_out().unwrap().get("x-api-key"),
        Some("sk-test-key")
    );
    drop(s);
    assert_clean(&h);
}

// ---------------------------------------------------------------- streaming

fn stream_outputs_match(name: &str, include_usage: bool) {
    let mut h = anthropic_host();
    let sse = recorded_stream(name);
    let req = openai_request(true, include_usage);
    let whole = openai_exchange(&mut h, &req, SSE_ANTHROPIC, &sse, &Chunking::Whole);
    assert_eq!(whole.status, Some(200), "{name}");
    assert!(whole.response_complete);
    assert_eq!(
        whole.response_header("content-type"),
        Some("text/event-stream; charset=utf-8")
    );
    assert_eq!(whole.response_header("content-length"), None);
    let items = parse_openai_sse(&whole.response_body)
        .unwrap_or_else(|e| panic!("{name}: {e}\n{}", whole.body_text()));
    check_openai_stream(&items).unwrap_or_else(|e| panic!("{name}: {e}\n{}", whole.body_text()));
    if include_usage && items.last() == Some(&OpenAiItem::Done) {
        let usage = items.iter().rev().find_map(|i| match i {
            OpenAiItem::Chunk(v) if v["choices"] == json!([]) => Some(v["usage"].clone()),
            _ => None,
        });
        assert!(
            usage.is_some_and(|u| u["prompt_tokens"].is_u64()),
            "{name}: include_usage asks for a usage chunk\n{}",
            whole.body_text()
        );
    }
    let want = normalize(&whole.response_body);
    for c in chunkings(sse.len()) {
        let o = openai_exchange(&mut h, &req, SSE_ANTHROPIC, &sse, &c);
        let got = normalize(&o.response_body);
        assert!(
            got == want,
            "{name} with {c:?}: {}",
            first_difference(&got, &want)
        );
        assert!(o.response_complete, "{name} {c:?}");
    }
    assert_clean(&h);
}

macro_rules! stream_tests {
    ($($test:ident => $file:literal, $usage:literal;)*) => {$(
        #[test]
        fn $test() {
            stream_outputs_match($file, $usage);
        }
    )*};
}

stream_tests! {
    stream_docs_text_every_chunking => "anthropic/docs-stream-text.sse", true;
    stream_docs_text_tool_use_every_chunking => "anthropic/docs-stream-text-then-tool-use.sse", false;
    stream_stop_sequence_every_chunking => "anthropic/stream-stop-sequence.sse", true;
    stream_text_minimal_every_chunking => "anthropic/stream-text-minimal.sse", false;
    stream_thinking_every_chunking => "anthropic/stream-thinking-signature.sse", true;
    stream_tool_use_parallel_every_chunking => "anthropic/stream-tool-use-parallel.sse", true;
    stream_tool_use_json_delta_every_chunking => "anthropic/stream-tool-use-input-json-delta.chunks.jsonl", false;
    stream_overloaded_error_every_chunking => "anthropic/docs-stream-error-overloaded.sse", true;
}

// ---------------------------------------------------------------- non-streaming

fn completion_outputs_match(name: &str) {
    let mut h = anthropic_host();
    let body = fixture(name);
    let req = openai_request(false, false);
    let whole = openai_exchange(&mut h, &req, JSON_200, &body, &Chunking::Whole);
    assert_eq!(whole.status, Some(200), "{name}");
    assert_eq!(
        whole.response_header("content-type"),
        Some("application/json")
    );
    assert_eq!(whole.response_header("content-length"), None);
    let v: Value = serde_json::from_slice(&whole.response_body)
        .unwrap_or_else(|e| panic!("{name}: {e}: {}", whole.body_text()));
    assert_eq!(v["object"], "chat.completion", "{name}: {v}");
    assert_eq!(v["choices"][0]["index"], 0);
    assert_eq!(
        v["choices"][0]["message"]["role"], "assistant",
        "{name}: {v}"
    );
    assert!(v["choices"][0]["finish_reason"].is_string(), "{name}: {v}");
    assert!(v["usage"]["prompt_tokens"].is_u64(), "{name}: {v}");
    let want = normalize(&whole.response_body);
    for c in [
        Chunking::Count(50),
        Chunking::Bytes(1),
        Chunking::Count(2).then_empty_eos(),
    ] {
        let headers = openai_headers("/v1/chat/completions", None);
        let mut s = h.http_stream();
        s.request(&pairs(&headers), &req, &Chunking::Whole).unwrap();
        let actions = s.response(JSON_200, &body, &c).unwrap();
        let n = actions.len();
        assert!(
            actions[1..n - 1].iter().all(|a| *a == Action::Pause),
            "{name} {c:?}: held until end_of_stream: {actions:?}"
        );
        let got = normalize(s.response_body_out());
        assert!(
            got == want,
            "{name} {c:?}: {}",
            first_difference(&got, &want)
        );
    }
    assert_clean(&h);
}

macro_rules! completion_tests {
    ($($test:ident => $file:literal,)*) => {$(
        #[test]
        fn $test() {
            completion_outputs_match($file);
        }
    )*};
}

completion_tests! {
    message_text_many_callbacks => "anthropic/msg-text.json",
    message_text_raw_many_callbacks => "anthropic/msg-text-raw.json",
    message_thinking_many_callbacks => "anthropic/msg-thinking-signature.json",
    message_redacted_thinking_many_callbacks => "anthropic/msg-redacted-thinking.json",
    message_tool_use_many_callbacks => "anthropic/msg-tool-use.json",
    message_tool_use_parallel_many_callbacks => "anthropic/msg-tool-use-parallel.json",
    message_cache_creation_many_callbacks => "anthropic/msg-cache-creation.json",
    message_cache_read_many_callbacks => "anthropic/msg-cache-read.json",
    message_cache_read_usage_many_callbacks => "anthropic/msg-cache-read-usage.json",
    message_max_tokens_many_callbacks => "anthropic/msg-max-tokens-bedrock.json",
}

// ---------------------------------------------------------------- errors

#[test]
fn upstream_errors_become_openai_errors() {
    let mut h = anthropic_host();
    let overloaded =
        br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    for (name, body, status, want_status) in [
        (
            "400",
            fixture("anthropic/error-400-invalid-request.json"),
            "400",
            400u16,
        ),
        (
            "404",
            fixture("anthropic/error-404-not-found.json"),
            "404",
            404,
        ),
        (
            "docs-400",
            fixture("anthropic/docs-error-400-invalid-request.json"),
            "400",
            400,
        ),
        ("529", overloaded.to_vec(), "529", 503),
        ("html-502", b"<html>bad gateway</html>".to_vec(), "502", 502),
    ] {
        for stream in [false, true] {
            let o = openai_exchange(
                &mut h,
                &openai_request(stream, true),
                &[(":status", status), ("content-type", "application/json")],
                &body,
                &Chunking::Bytes(7),
            );
            assert_eq!(o.status, Some(want_status), "{name} stream={stream}");
            assert_eq!(
                o.response_header("content-type"),
                Some("application/json"),
                "{name}"
            );
            let (_, m) = openai_error(&o.response_body);
            assert!(!m.is_empty(), "{name}");
        }
    }
    assert_clean(&h);
}

#[test]
fn bad_bodies_are_answered_locally_in_openai_shape() {
    let mut h = anthropic_host();
    let cases: &[&[u8]] = &[
        b"{",
        b"[]",
        b"{}",
        br#"{"model":"m","messages":[]}"#,
        br#"{"model":"m","messages":"hi"}"#,
        br#"{"model":"m","n":2,"messages":[{"role":"user","content":"hi"}]}"#,
        br#"{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}]}"#,
        br#"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{not json"}}]}]}"#,
    ];
    for body in cases {
        for c in [Chunking::Whole, Chunking::Bytes(1).then_empty_eos()] {
            let headers = openai_headers("/v1/chat/completions", None);
            let mut s = h.http_stream();
            s.request(&pairs(&headers), body, &c).unwrap();
            let shown = String::from_utf8_lossy(body);
            let lr = s
                .local_response()
                .unwrap_or_else(|| panic!("no local reply for {shown}"))
                .clone();
            assert_eq!(lr.status, 400, "{shown}: {}", lr.body_str());
            assert_eq!(lr.header("content-type"), Some("application/json"));
            let (t, _) = openai_error(&lr.body);
            assert_eq!(t, "invalid_request_error", "{shown}");
            assert!(s.request_body_out().is_empty());
            assert_eq!(s.local_reply_path(), Some(LocalReplyPath::ViaFilterChain));
            assert_eq!(
                s.response_body_out(),
                &lr.body[..],
                "{shown}: reply changed on its way out"
            );
        }
    }
    assert_clean(&h);
}

// ---------------------------------------------------------------- robustness

#[test]
fn malformed_openai_requests_and_anthropic_streams_never_trap() {
    let mut h = anthropic_host();
    let base = openai_request(true, true);
    let mut bodies: Vec<Vec<u8>> = (0..base.len())
        .step_by(7)
        .map(|c| base[..c].to_vec())
        .collect();
    let wrong = [
        json!(null),
        json!(1),
        json!("s"),
        json!([]),
        json!({}),
        json!([null]),
    ];
    for key in [
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "stream",
        "stream_options",
        "stop",
        "temperature",
        "tools",
        "tool_choice",
        "response_format",
        "reasoning_effort",
        "n",
        "user",
        "parallel_tool_calls",
    ] {
        for w in &wrong {
            let mut v: Value = serde_json::from_slice(&base).unwrap();
            v[key] = w.clone();
            bodies.push(serde_json::to_vec(&v).unwrap());
        }
    }
    for m in [
        json!({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:;base64,"}}]}),
        json!({"role": "user", "content": [{"type": "image_url", "image_url": {"url": 5}}]}),
        json!({"role": "user", "content": [{"type": "file", "file": {"file_data": "data:application/pdf;base64,%%"}}]}),
        json!({"role": "assistant", "tool_calls": [null, {"function": null}]}),
        json!({"role": "assistant", "thinking_blocks": [{"type": "thinking"}, 5]}),
        json!({"role": "tool"}),
        json!({"role": "function", "name": "f", "content": "x"}),
        json!({"role": "user", "content": "\u{0}\u{ffff}"}),
    ] {
        bodies.push(
            serde_json::to_vec(
                &json!({"model": "m", "messages": [{"role": "user", "content": "q"}, m]}),
            )
            .unwrap(),
        );
    }
    bodies.push("[".repeat(100_000).into_bytes());
    let mut bad = base.clone();
    bad.insert(20, 0xff);
    bodies.push(bad);
    for body in &bodies {
        let headers = openai_headers("/v1/chat/completions", None);
        let mut s = h.http_stream();
        if let Err(e) = s.request(&pairs(&headers), body, &Chunking::Whole) {
            panic!("{}: {e}", String::from_utf8_lossy(body));
        }
        match s.local_response() {
            Some(lr) => {
                assert!((400..500).contains(&lr.status));
                openai_error(&lr.body);
            }
            None => {
                assert!(s.request_complete());
                assert!(is_valid_json(s.request_body_out()).is_ok());
            }
        }
    }
    // Broken Anthropic streams.
    let sse = recorded_stream("anthropic/stream-tool-use-parallel.sse");
    let mut streams: Vec<Vec<u8>> = (1..sse.len())
        .step_by(37)
        .map(|c| sse[..c].to_vec())
        .collect();
    for l in [
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":7,\"content_block\":{\"type\":\"tool_use\"}}",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":99,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":5}}",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":null}",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":42},\"usage\":\"x\"}",
        "event: error\ndata: {\"type\":\"error\",\"error\":null}",
        "event: unknown\ndata: {\"type\":\"unknown\"}",
        "data: {",
        "data: [DONE]",
        ": comment",
    ] {
        streams.push(format!("{}{l}\n\n", String::from_utf8_lossy(&sse[..sse.len() / 2])).into_bytes());
        // Lines before a whole stream: see
        // `an_event_before_message_start_does_not_change_the_stream_identity`.
        streams.push(format!("{l}\n\n{}", String::from_utf8_lossy(&sse[sse.len() / 2..])).into_bytes());
    }
    streams.push(vec![0xff; 10_000]);
    for body in &streams {
        for c in [Chunking::Whole, Chunking::Bytes(5)] {
            let req = openai_request(true, true);
            let headers = openai_headers("/v1/chat/completions", None);
            let mut s = h.http_stream();
            s.request(&pairs(&headers), &req, &Chunking::Whole).unwrap();
            if let Err(e) = s.response(SSE_ANTHROPIC, body, &c) {
                panic!(
                    "stream {}: {e}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                );
            }
            assert!(s.response_complete());
            let items = parse_openai_sse(s.response_body_out()).unwrap_or_else(|e| panic!("{e}"));
            check_openai_stream(&items).unwrap_or_else(|e| {
                panic!(
                    "input {:?} ({c:?}): {e}\n{}",
                    String::from_utf8_lossy(&body[..body.len().min(160)]),
                    String::from_utf8_lossy(s.response_body_out())
                )
            });
        }
    }
    // Still serves.
    let o = openai_exchange(
        &mut h,
        &openai_request(true, true),
        SSE_ANTHROPIC,
        &sse,
        &Chunking::Bytes(2),
    );
    let fresh = openai_exchange(
        &mut anthropic_host(),
        &openai_request(true, true),
        SSE_ANTHROPIC,
        &sse,
        &Chunking::Bytes(2),
    );
    assert_eq!(normalize(&o.response_body), normalize(&fresh.response_body));
    assert_clean(&h);
}

/// docs/openai_client.md#client-events: every chunk of a stream has the same id, created and
/// model. An event the module turns into output before `message_start` (a
/// malformed `message_start`, a `content_block_start`…) makes it start the
/// stream with its fallback identity; the real `message_start` that follows
/// then switches to the upstream's id and model, and the role chunk is sent
/// twice.
#[test]
fn an_event_before_message_start_does_not_change_the_stream_identity() {
    let mut h = anthropic_host();
    let sse = recorded_stream("anthropic/stream-tool-use-parallel.sse");
    for first in [
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":null}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":7,\"content_block\":{\"type\":\"tool_use\"}}\n\n",
    ] {
        let mut body = first.as_bytes().to_vec();
        body.extend_from_slice(&sse);
        let o = openai_exchange(&mut h, &openai_request(true, true), SSE_ANTHROPIC, &body, &Chunking::Whole);
        let items = parse_openai_sse(&o.response_body).unwrap();
        check_openai_stream(&items).unwrap_or_else(|e| panic!("{first:?}: {e}\n{}", o.body_text()));
    }
}
