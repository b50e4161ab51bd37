//! The release bridge module in the harness, Anthropic client → OpenAI
//! upstream (docs/anthropic_client.md, docs/exchange.md#classifying-the-upstreams-answer): converted requests, responses in
//! every chunking, configurations, local replies.

mod common;

use common::*;
use host_harness::{Action, Chunking, Host, LocalReplyPath, LogLevel};
use serde_json::{json, Value};

/// Message ids the bridge invents contain the context id; make them equal.
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

// ---------------------------------------------------------------- requests

fn converted_request(
    h: &mut Host,
    path: &str,
    body: &[u8],
    chunking: &Chunking,
) -> (Vec<(String, String)>, Value, Vec<Action>) {
    let headers = anthropic_headers(path, Some(body.len()));
    let mut s = h.http_stream();
    let actions = s
        .request(&pairs(&headers), body, chunking)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        s.local_response().is_none(),
        "answered locally: {:?}",
        s.local_response()
    );
    assert!(
        !s.request_stalled_at_headers(),
        "Pause from request headers stalls the request in Envoy"
    );
    assert!(
        s.request_complete(),
        "the converted request never ended ({chunking:?})"
    );
    let out_headers = s
        .request_headers_out()
        .expect("headers forwarded")
        .to_pairs();
    let out: Value = serde_json::from_slice(s.request_body_out()).unwrap_or_else(|e| {
        panic!(
            "forwarded body is not JSON ({e}): {}",
            String::from_utf8_lossy(s.request_body_out())
        )
    });
    (out_headers, out, actions)
}

fn get<'a>(h: &'a [(String, String)], k: &str) -> Option<&'a str> {
    h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

#[test]
fn request_headers_are_converted() {
    let mut h = openai_host();
    let body = simple_request(true);
    let (out, _, actions) =
        converted_request(&mut h, "/v1/messages?beta=true", &body, &Chunking::Whole);
    assert_eq!(
        actions[0],
        Action::Continue,
        "request headers must Continue"
    );
    assert_eq!(get(&out, ":path"), Some("/v1/chat/completions"));
    assert_eq!(get(&out, "authorization"), Some("Bearer sk-test-key"));
    for gone in [
        "x-api-key",
        "anthropic-version",
        "anthropic-beta",
        "x-stainless-lang",
        "x-stainless-os",
        "accept-encoding",
        "content-length",
    ] {
        assert_eq!(get(&out, gone), None, "{gone} must be removed: {out:?}");
    }
    assert_eq!(get(&out, ":method"), Some("POST"));
    assert_eq!(get(&out, ":authority"), Some("bridge.local"));
    assert_eq!(get(&out, "user-agent"), Some("Anthropic/Python 0.40.0"));
    assert_eq!(get(&out, "content-type"), Some("application/json"));
    assert_clean(&h);
}

#[test]
fn request_path_prefix_is_kept_and_upstream_path_wins() {
    let mut h = openai_host();
    let body = simple_request(false);
    let (out, _, _) =
        converted_request(&mut h, "/gw/anthropic/v1/messages", &body, &Chunking::Whole);
    assert_eq!(
        get(&out, ":path"),
        Some("/gw/anthropic/v1/chat/completions")
    );

    let mut h = host(
        r#"{"upstream_protocol":"openai","upstream_path":"/openai/deployments/x/chat/completions?api-version=1"}"#,
    );
    let (out, _, _) = converted_request(&mut h, "/v1/messages?beta=true", &body, &Chunking::Whole);
    assert_eq!(
        get(&out, ":path"),
        Some("/openai/deployments/x/chat/completions?api-version=1")
    );
    assert_clean(&h);
}

#[test]
fn existing_authorization_is_kept() {
    let mut h = openai_host();
    let body = simple_request(false);
    let mut headers = anthropic_headers("/v1/messages", Some(body.len()));
    headers.push(("authorization".into(), "Bearer upstream-token".into()));
    let mut s = h.http_stream();
    s.request(&pairs(&headers), &body, &Chunking::Whole)
        .unwrap();
    let out = s.request_headers_out().unwrap();
    assert_eq!(out.get_all("authorization"), vec!["Bearer upstream-token"]);
    assert!(!out.contains("x-api-key"));
}

#[test]
fn request_body_is_converted() {
    let mut h = openai_host();
    let (_, out, _) = converted_request(
        &mut h,
        "/v1/messages",
        &simple_request(true),
        &Chunking::Whole,
    );
    assert_eq!(out["model"], "claude-sonnet-4-5");
    assert_eq!(out["max_completion_tokens"], 1024);
    assert!(out.get("max_tokens").is_none(), "never both: {out}");
    assert_eq!(out["stream"], true);
    assert_eq!(out["stream_options"]["include_usage"], true);
    assert_eq!(
        out["messages"][0],
        json!({"role": "system", "content": "You are terse."})
    );
    assert_eq!(
        out["messages"][1],
        json!({"role": "user", "content": "What is the capital of the UK?"})
    );
    assert_clean(&h);
}

#[test]
fn request_body_follows_the_configuration() {
    let mut h = host(
        r#"{"upstream_protocol":"openai","model_map":{"claude-sonnet-4-5*":"gpt-4.1","*":"gpt-4o-mini"},
            "max_tokens_field":"max_tokens","max_tokens_limit":100}"#,
    );
    let (_, out, _) = converted_request(
        &mut h,
        "/v1/messages",
        &simple_request(false),
        &Chunking::Whole,
    );
    assert_eq!(out["model"], "gpt-4.1");
    assert_eq!(out["max_tokens"], 100);
    assert!(out.get("max_completion_tokens").is_none(), "{out}");
    let other = serde_json::to_vec(&json!({
        "model": "claude-haiku-4-5", "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}]
    }))
    .unwrap();
    let (_, out, _) = converted_request(&mut h, "/v1/messages", &other, &Chunking::Whole);
    assert_eq!(out["model"], "gpt-4o-mini");
    assert_eq!(out["max_tokens"], 10);
    assert_clean(&h);
}

/// A Claude-Code-like request: tools with invalid names, tool history,
/// images, thinking, metadata — the shape that matters in production.
fn rich_request() -> Vec<u8> {
    let tools: Vec<Value> = (0..30)
        .map(|i| {
            json!({
                "name": if i == 0 { "mcp__server.tool/with:bad chars".to_string() } else { format!("tool_{i}") },
                "description": "x".repeat(200),
                "input_schema": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            })
        })
        .collect();
    serde_json::to_vec(&json!({
        "model": "claude-opus-4-1",
        "max_tokens": 32000,
        "stream": true,
        "temperature": 0,
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=1.0; cch=abc123;"},
            {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
        ],
        "metadata": {"user_id": "user_42"},
        "thinking": {"type": "enabled", "budget_tokens": 10000},
        "tools": tools,
        "tool_choice": {"type": "auto"},
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "Look at this"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig-from-elsewhere"},
                {"type": "text", "text": "Calling a tool."},
                {"type": "tool_use", "id": "toolu_1", "name": "mcp__server.tool/with:bad chars", "input": {"a": "b"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "result text", "is_error": true},
                {"type": "text", "text": "continue " .repeat(1000)},
            ]},
        ],
    }))
    .unwrap()
}

#[test]
fn request_body_is_identical_in_every_chunking() {
    let mut h = openai_host();
    let body = rich_request();
    let (_, whole, _) = converted_request(&mut h, "/v1/messages", &body, &Chunking::Whole);
    for c in [
        Chunking::Count(50),
        Chunking::Bytes(1),
        Chunking::Bytes(4096),
        Chunking::Whole.then_empty_eos(),
        Chunking::Count(50).then_empty_eos(),
    ] {
        let headers = anthropic_headers("/v1/messages", Some(body.len()));
        let mut s = h.http_stream();
        let actions = s.request(&pairs(&headers), &body, &c).unwrap();
        let n = actions.len();
        assert!(
            actions[1..n - 1].iter().all(|a| *a == Action::Pause),
            "every body callback before end_of_stream must Pause: {c:?}"
        );
        assert_eq!(actions[n - 1], Action::Continue);
        let out: Value = serde_json::from_slice(s.request_body_out()).unwrap();
        assert_eq!(out, whole, "{c:?}");
        assert_eq!(s.request_body_callbacks(), n - 1);
    }
    // The tool name was sanitized the same way in tools and in history.
    let name = whole["tools"][0]["function"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        name.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        "{name}"
    );
    let hist = whole["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|m| m["tool_calls"][0]["function"]["name"].as_str())
        .unwrap();
    assert_eq!(hist, name);
    assert_clean(&h);
}

#[test]
fn nothing_is_forwarded_before_end_of_stream() {
    let mut h = openai_host();
    let body = simple_request(false);
    let headers = anthropic_headers("/v1/messages", None);
    let mut s = h.http_stream();
    assert_eq!(
        s.request_headers(&pairs(&headers), false).unwrap(),
        Action::Continue
    );
    let (a, b) = body.split_at(body.len() / 2);
    assert_eq!(s.request_body(a, false).unwrap(), Action::Pause);
    assert!(s.request_body_out().is_empty());
    assert_eq!(s.request_buffered(), a, "Envoy holds the paused bytes");
    assert_eq!(s.request_body(b, false).unwrap(), Action::Pause);
    assert_eq!(s.request_body(b"", true).unwrap(), Action::Continue);
    assert!(!s.request_body_out().is_empty());
    assert!(s.request_complete());
}

#[test]
fn other_requests_pass_through_untouched() {
    let mut h = openai_host();
    let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#;
    for (method, path) in [
        ("POST", "/v1/chat/completions"),
        ("GET", "/v1/models"),
        ("POST", "/v1/messages/batches"),
        ("POST", "/v1/embeddings"),
    ] {
        let headers = vec![
            (":method", method),
            (":path", path),
            (":authority", "x"),
            ("x-api-key", "k"),
            ("content-length", "62"),
            ("accept-encoding", "gzip"),
        ];
        let mut s = h.http_stream();
        s.request(&headers, body, &Chunking::Bytes(1)).unwrap();
        let out = s.request_headers_out().unwrap();
        assert_eq!(out.get(":path"), Some(path));
        assert_eq!(out.get("x-api-key"), Some("k"));
        assert_eq!(out.get("content-length"), Some("62"));
        assert_eq!(s.request_body_out(), body, "{method} {path}");
        s.response(
            &[
                (":status", "200"),
                ("content-type", "application/json"),
                ("content-length", "8"),
            ],
            b"{\"a\":1}\n",
            &Chunking::Bytes(1),
        )
        .unwrap();
        assert_eq!(s.response_body_out(), b"{\"a\":1}\n");
        assert_eq!(
            s.response_headers_out().unwrap().get("content-length"),
            Some("8")
        );
    }
    assert_clean(&h);
}

// ---------------------------------------------------------------- streaming responses

fn stream_outputs_match(name: &str) {
    let mut h = openai_host();
    let sse = recorded_stream(name);
    let req = simple_request(true);
    let whole = exchange(&mut h, &req, SSE_200, &sse, &Chunking::Whole);
    assert_eq!(whole.status, Some(200));
    assert!(whole.response_complete);
    assert_eq!(
        whole.response_header("content-type"),
        Some("text/event-stream; charset=utf-8")
    );
    assert_eq!(whole.response_header("content-length"), None);
    let events = parse_anthropic_sse(&whole.response_body)
        .unwrap_or_else(|e| panic!("{name}: {e}\n{}", whole.body_text()));
    check_anthropic_stream(&events)
        .unwrap_or_else(|e| panic!("{name}: {e}\n{}", whole.body_text()));
    let want = normalize(&whole.response_body);
    for c in chunkings(sse.len()) {
        let o = exchange(&mut h, &req, SSE_200, &sse, &c);
        let got = normalize(&o.response_body);
        assert!(
            got == want,
            "{name} with {c:?}: {}",
            first_difference(&got, &want)
        );
        assert_eq!(o.response_headers, whole.response_headers, "{name} {c:?}");
        assert!(o.response_complete, "{name} {c:?}");
    }
    assert_clean(&h);
}

macro_rules! stream_tests {
    ($($test:ident => $file:literal,)*) => {$(
        #[test]
        fn $test() {
            stream_outputs_match($file);
        }
    )*};
}

stream_tests! {
    stream_text_every_chunking => "openai/stream-text.sse",
    stream_text_usage_every_chunking => "openai/stream-text-include-usage-gpt4o-mini.sse",
    stream_finish_length_every_chunking => "openai/stream-finish-length.sse",
    stream_usage_only_every_chunking => "openai/stream-usage-include-usage.sse",
    stream_tool_call_every_chunking => "openai/stream-tool-call-single.sse",
    stream_parallel_tools_every_chunking => "openai/stream-tool-calls-parallel.sse",
    stream_openrouter_reasoning_every_chunking => "openai/openrouter-stream-reasoning-anthropic.sse",
    stream_openrouter_empty_choices_every_chunking => "openai/openrouter-stream-usage-empty-choices.sse",
    stream_deepseek_reasoning_every_chunking => "openai/deepseek-stream-reasoning-content.sse",
    stream_deepseek_tool_call_every_chunking => "openai/deepseek-stream-reasoning-tool-call.chunks.jsonl",
    stream_deepseek_length_every_chunking => "openai/deepseek-stream-text-length.chunks.jsonl",
    stream_groq_reasoning_every_chunking => "openai/groq-stream-reasoning.chunks.jsonl",
}

#[test]
fn stream_events_go_out_in_the_callback_that_completes_them() {
    // docs/protocols.md#sse-framing: no buffering beyond the unfinished line.
    let mut h = openai_host();
    let sse = recorded_stream("openai/stream-text-include-usage-gpt4o-mini.sse");
    let headers = anthropic_headers("/v1/messages", None);
    let mut s = h.http_stream();
    s.request(&pairs(&headers), &simple_request(true), &Chunking::Whole)
        .unwrap();
    s.response_headers(SSE_200, false).unwrap();
    let text = std::str::from_utf8(&sse).unwrap();
    let mut sent = 0;
    for (i, event) in text.split_inclusive("\n\n").enumerate() {
        let before = s.response_body_out().len();
        assert_eq!(
            s.response_body(event.as_bytes(), false).unwrap(),
            Action::Continue
        );
        sent += event.len();
        if i > 0 && event.starts_with("data: {") {
            assert!(
                s.response_body_out().len() > before,
                "event {i} produced nothing in its own callback: {event:?}"
            );
        }
    }
    assert_eq!(sent, sse.len());
    s.response_body(b"", true).unwrap();
    let events = parse_anthropic_sse(s.response_body_out()).unwrap();
    check_anthropic_stream(&events).unwrap();
}

#[test]
fn response_headers_are_converted() {
    let mut h = openai_host();
    let sse = recorded_stream("openai/stream-usage-include-usage.sse");
    let headers = [
        (":status", "200"),
        ("content-type", "text/event-stream"),
        ("content-length", "1129"),
        ("x-request-id", "req_abc"),
        ("x-ratelimit-remaining-requests", "99"),
        ("x-ratelimit-limit-tokens", "1000"),
        ("retry-after", "5"),
    ];
    let o = exchange(
        &mut h,
        &simple_request(true),
        &headers,
        &sse,
        &Chunking::Whole,
    );
    assert_eq!(o.response_header("content-length"), None);
    assert_eq!(o.response_header("request-id"), Some("req_abc"));
    assert_eq!(
        o.response_header("anthropic-ratelimit-requests-remaining"),
        Some("99")
    );
    assert_eq!(
        o.response_header("anthropic-ratelimit-tokens-limit"),
        Some("1000")
    );
    assert_eq!(o.response_header("retry-after"), Some("5"));
    assert_clean(&h);
}

#[test]
fn interleaved_streams_do_not_mix() {
    let mut h = openai_host();
    let req = simple_request(true);
    let a_sse = recorded_stream("openai/stream-tool-calls-parallel.sse");
    let b_sse = recorded_stream("openai/stream-text.sse");
    let a_solo = exchange(&mut h, &req, SSE_200, &a_sse, &Chunking::Whole).response_body;
    let b_solo = exchange(&mut h, &req, SSE_200, &b_sse, &Chunking::Whole).response_body;
    let headers = anthropic_headers("/v1/messages", None);
    let (a, b) = (h.open_stream(), h.open_stream());
    for id in [a, b] {
        let mut s = h.attach(id).unwrap();
        s.request(&pairs(&headers), &req, &Chunking::Whole).unwrap();
        s.response_headers(SSE_200, false).unwrap();
    }
    let (ac, bc): (Vec<&[u8]>, Vec<&[u8]>) =
        (a_sse.chunks(37).collect(), b_sse.chunks(53).collect());
    for i in 0..ac.len().max(bc.len()) {
        if let Some(c) = ac.get(i) {
            h.attach(a).unwrap().response_body(c, false).unwrap();
        }
        if let Some(c) = bc.get(i) {
            h.attach(b).unwrap().response_body(c, false).unwrap();
        }
    }
    h.attach(a).unwrap().response_body(b"", true).unwrap();
    h.attach(b).unwrap().response_body(b"", true).unwrap();
    let a_out = normalize(h.attach(a).unwrap().response_body_out());
    let b_out = normalize(h.attach(b).unwrap().response_body_out());
    assert!(
        a_out == normalize(&a_solo),
        "{}",
        first_difference(&a_out, &normalize(&a_solo))
    );
    assert!(
        b_out == normalize(&b_solo),
        "{}",
        first_difference(&b_out, &normalize(&b_solo))
    );
    h.end_stream(a).unwrap();
    h.end_stream(b).unwrap();
    assert_clean(&h);
}

// ---------------------------------------------------------------- non-streaming responses

fn completion_outputs_match(name: &str) {
    let mut h = openai_host();
    let body = fixture(name);
    let req = simple_request(false);
    let whole = exchange(&mut h, &req, JSON_200, &body, &Chunking::Whole);
    assert_eq!(whole.status, Some(200), "{name}");
    assert_eq!(
        whole.response_header("content-type"),
        Some("application/json")
    );
    assert_eq!(whole.response_header("content-length"), None, "{name}");
    let msg: Value = serde_json::from_slice(&whole.response_body)
        .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {}", whole.body_text()));
    assert_eq!(msg["type"], "message", "{name}: {msg}");
    assert_eq!(msg["role"], "assistant");
    assert!(msg["content"].is_array(), "{name}: {msg}");
    assert!(msg["stop_reason"].is_string(), "{name}: {msg}");
    assert!(msg["usage"]["input_tokens"].is_u64(), "{name}: {msg}");
    let want = normalize(&whole.response_body);
    for c in [
        Chunking::Count(50),
        Chunking::Bytes(1),
        Chunking::Bytes(13),
        Chunking::Count(2).then_empty_eos(),
        Chunking::Whole.then_empty_eos(),
    ] {
        let headers = anthropic_headers("/v1/messages", None);
        let mut s = h.http_stream();
        s.request(&pairs(&headers), &req, &Chunking::Whole).unwrap();
        let actions = s.response(JSON_200, &body, &c).unwrap();
        let n = actions.len();
        assert!(
            actions[1..n - 1].iter().all(|a| *a == Action::Pause),
            "{name} {c:?}: the body must be held until end_of_stream: {actions:?}"
        );
        assert_eq!(actions[n - 1], Action::Continue, "{name} {c:?}");
        let got = normalize(s.response_body_out());
        assert!(
            got == want,
            "{name} {c:?}: {}",
            first_difference(&got, &want)
        );
    }
    // Nothing leaves before the end.
    let headers = anthropic_headers("/v1/messages", None);
    let mut s = h.http_stream();
    s.request(&pairs(&headers), &req, &Chunking::Whole).unwrap();
    s.response_headers(JSON_200, false).unwrap();
    s.response_body(&body[..body.len() / 2], false).unwrap();
    assert!(
        s.response_body_out().is_empty(),
        "{name}: output before end_of_stream"
    );
    drop(s);
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
    completion_text_many_callbacks => "openai/chat-text.json",
    completion_text_nano_many_callbacks => "openai/chat-text-gpt41-nano.json",
    completion_tool_call_many_callbacks => "openai/chat-tool-call.json",
    completion_parallel_tools_many_callbacks => "openai/chat-tool-calls-parallel.json",
    completion_deepseek_reasoning_many_callbacks => "openai/deepseek-chat-reasoning.json",
    completion_ollama_reasoning_many_callbacks => "openai/ollama-chat-reasoning.json",
    completion_azure_many_callbacks => "openai/azure-chat-text.json",
    completion_azure_filters_many_callbacks => "openai/azure-chat-text-filters.json",
    completion_azure_content_filter_many_callbacks => "openai/azure-chat-finish-content-filter.json",
}

// ---------------------------------------------------------------- upstream errors

fn upstream_error(name: &str, status: u16, stream: bool) {
    let mut h = openai_host();
    let body = fixture(name);
    let st = status.to_string();
    let headers = [
        (":status", st.as_str()),
        ("content-type", "application/json"),
        ("retry-after", "3"),
    ];
    let o = exchange(
        &mut h,
        &simple_request(stream),
        &headers,
        &body,
        &Chunking::Bytes(5),
    );
    assert_eq!(o.status, Some(status), "{name}: status kept");
    assert_eq!(
        o.response_header("content-type"),
        Some("application/json"),
        "{name}"
    );
    assert_eq!(o.response_header("retry-after"), Some("3"), "{name}");
    let (t, m) = anthropic_error(&o.response_body);
    assert_eq!(t, anthropic_error_type(status), "{name}");
    assert!(!m.is_empty(), "{name}");
    let whole = exchange(
        &mut h,
        &simple_request(stream),
        &headers,
        &body,
        &Chunking::Whole,
    );
    assert_eq!(
        normalize(&whole.response_body),
        normalize(&o.response_body),
        "{name}"
    );
    assert_clean(&h);
}

#[test]
fn upstream_errors_become_anthropic_errors() {
    for (name, status) in [
        ("openai/error-400-empty-messages.json", 400),
        ("openai/error-400-unsupported-parameter.json", 400),
        ("openai/error-400-unsupported-value.json", 400),
        ("openai/error-404-model-not-found.json", 404),
        ("openai/error-429-openrouter-upstream.json", 429),
        ("openai/azure-error-400-content-filter.json", 400),
        ("openai/azure-error-401.json", 401),
        ("openai/azure-error-404-deployment-not-found.json", 404),
    ] {
        upstream_error(name, status, false);
        // A streaming request answered with a JSON error is an error, not a stream.
        upstream_error(name, status, true);
    }
}

#[test]
fn non_json_upstream_errors_become_messages() {
    let mut h = openai_host();
    for (status, ct) in [(502u16, "text/html"), (503, "text/plain"), (500, "")] {
        let st = status.to_string();
        let page = format!("<html><body>{}</body></html>", "bad gateway ".repeat(500));
        let mut headers = vec![(":status", st.as_str())];
        if !ct.is_empty() {
            headers.push(("content-type", ct));
        }
        let o = exchange(
            &mut h,
            &simple_request(true),
            &headers,
            page.as_bytes(),
            &Chunking::Bytes(64),
        );
        assert_eq!(o.status, Some(status));
        let (t, m) = anthropic_error(&o.response_body);
        assert_eq!(t, anthropic_error_type(status));
        assert!(
            m.len() <= 1024 + 64,
            "message truncated to about 1 KiB, got {}",
            m.len()
        );
    }
    assert_clean(&h);
}

// ---------------------------------------------------------------- configuration

#[test]
fn valid_configurations_are_accepted() {
    for cfg in [
        r#"{"upstream_protocol":"openai"}"#,
        r#"{"upstream_protocol":"anthropic"}"#,
        r#"{"upstream_protocol":"openai","model_map":{"claude-sonnet-4-5*":"gpt-4.1","*":"gpt-4o-mini"},"max_tokens_field":"max_completion_tokens","max_tokens_limit":16384}"#,
        r#"{"upstream_protocol":"openai","max_tokens_field":"max_tokens","max_request_bytes":1048576,"upstream_path":"/x/v1/chat/completions"}"#,
        r#"{"upstream_protocol":"anthropic","upstream_path":"/anthropic/v1/messages","default_max_tokens":4096,"anthropic_version":"2023-06-01","upstream_auth":"x-api-key"}"#,
        r#"{"upstream_protocol":"anthropic","upstream_auth":"bearer"}"#,
        " {\n \"upstream_protocol\" : \"openai\" } \n",
    ] {
        let mut h = Host::new(bridge_wasm()).unwrap();
        assert_eq!(
            h.start(cfg),
            Ok(true),
            "{cfg}:\n{}",
            logs(&h, LogLevel::Debug)
        );
        assert_clean(&h);
    }
}

#[test]
fn invalid_configurations_are_rejected_at_start() {
    let cases: &[(&[u8], &str)] = &[
        (b"", ""),
        (b"{}", "upstream_protocol"),
        (b"null", ""),
        (b"[]", ""),
        (b"\"openai\"", ""),
        (b"not json", ""),
        (b"{\"upstream_protocol\":\"openai\"", ""),
        (br#"{"upstream_protocol":"grpc"}"#, "upstream_protocol"),
        (br#"{"upstream_protocol":42}"#, "upstream_protocol"),
        (
            br#"{"upstream_protocol":"openai","modle_map":{}}"#,
            "modle_map",
        ),
        (
            br#"{"upstream_protocol":"openai","max_tokens_field":"max_toks"}"#,
            "max_tokens_field",
        ),
        (
            br#"{"upstream_protocol":"openai","max_tokens_limit":"big"}"#,
            "max_tokens_limit",
        ),
        (
            br#"{"upstream_protocol":"openai","max_tokens_limit":-1}"#,
            "max_tokens_limit",
        ),
        (
            br#"{"upstream_protocol":"openai","model_map":["a"]}"#,
            "model_map",
        ),
        (
            br#"{"upstream_protocol":"openai","model_map":{"a":1}}"#,
            "model_map",
        ),
        (
            br#"{"upstream_protocol":"anthropic","upstream_auth":"basic"}"#,
            "upstream_auth",
        ),
        (
            br#"{"upstream_protocol":"anthropic","default_max_tokens":"many"}"#,
            "default_max_tokens",
        ),
        (
            br#"{"upstream_protocol":"openai","max_request_bytes":-5}"#,
            "max_request_bytes",
        ),
        (b"{\"upstream_protocol\":\"open\xffai\"}", ""),
    ];
    for (cfg, field) in cases {
        let shown = String::from_utf8_lossy(cfg);
        let mut h = Host::new(bridge_wasm()).unwrap();
        match h.start_with(b"", cfg) {
            Ok(false) => {}
            Ok(true) => panic!("configuration {shown} must be rejected"),
            Err(e) => panic!("configuration {shown} trapped instead of being rejected: {e}"),
        }
        let errors = logs(&h, LogLevel::Warn);
        assert!(!errors.is_empty(), "{shown}: rejected without a log line");
        assert!(
            errors.contains(field),
            "{shown}: the log should name `{field}`:\n{errors}"
        );
        assert_clean(&h);
    }
}

// ---------------------------------------------------------------- local replies

fn local_reply(
    h: &mut Host,
    body: &[u8],
    chunking: &Chunking,
    want_status: u32,
) -> (String, String) {
    let headers = anthropic_headers("/v1/messages", None);
    let mut s = h.http_stream();
    s.request(&pairs(&headers), body, chunking)
        .unwrap_or_else(|e| panic!("{e}"));
    let shown = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
    let lr = s
        .local_response()
        .unwrap_or_else(|| {
            panic!(
                "no local reply for {shown}; forwarded {}",
                String::from_utf8_lossy(s.request_body_out())
            )
        })
        .clone();
    assert_eq!(lr.status, want_status, "{shown}: {}", lr.body_str());
    assert_eq!(
        lr.header("content-type"),
        Some("application/json"),
        "{shown}"
    );
    assert!(
        s.request_body_out().is_empty(),
        "{shown}: a body went upstream"
    );
    assert!(
        !s.request_complete(),
        "{shown}: the upstream request completed"
    );
    // The reply passes back through the module's response callbacks (Envoy
    // runs local replies through the encoder chain) and must come out as sent.
    assert_eq!(s.local_reply_path(), Some(LocalReplyPath::ViaFilterChain));
    assert_eq!(s.response_status(), Some(want_status as u16), "{shown}");
    assert_eq!(
        s.response_body_out(),
        &lr.body[..],
        "{shown}: the module changed its own reply"
    );
    assert_eq!(
        s.response_headers_out().unwrap().get("content-type"),
        Some("application/json")
    );
    assert!(s.response_complete());
    anthropic_error(&lr.body)
}

#[test]
fn bad_bodies_are_answered_locally_in_anthropic_shape() {
    let mut h = openai_host();
    let cases: &[&[u8]] = &[
        b"{",
        b"not json at all",
        b"[]",
        b"null",
        b"{}",
        br#"{"model":"m","max_tokens":1}"#,
        br#"{"model":"m","max_tokens":1,"messages":"hi"}"#,
        br#"{"model":"m","max_tokens":1,"messages":[]}"#,
        br#"{"model":"m","max_tokens":1,"messages":[1]}"#,
        br#"{"model":"m","max_tokens":1,"messages":[{"role":"robot","content":"x"}]}"#,
        br#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":5}]}"#,
        br#"{"model":"m","max_tokens":1,"messages":[{"content":"no role"}]}"#,
    ];
    for body in cases {
        for c in [Chunking::Whole, Chunking::Bytes(1).then_empty_eos()] {
            let (t, m) = local_reply(&mut h, body, &c, 400);
            assert_eq!(t, "invalid_request_error");
            assert!(!m.is_empty());
        }
    }
    // The index of the bad message is named.
    let (_, m) = local_reply(
        &mut h,
        br#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"a"},{"role":"tool","content":"x"}]}"#,
        &Chunking::Whole,
        400,
    );
    assert!(m.contains('1'), "message should name index 1: {m}");
    // The VM still converts a good request afterwards.
    let (_, out, _) = converted_request(
        &mut h,
        "/v1/messages",
        &simple_request(false),
        &Chunking::Whole,
    );
    assert_eq!(out["model"], "claude-sonnet-4-5");
    assert_clean(&h);
}

#[test]
fn oversized_requests_get_413() {
    let mut h = host(r#"{"upstream_protocol":"openai","max_request_bytes":1000}"#);
    // Declared too large: answered from the headers, nothing goes upstream.
    let headers = anthropic_headers("/v1/messages", Some(5000));
    let mut s = h.http_stream();
    s.request_headers(&pairs(&headers), false).unwrap();
    let lr = s.local_response().expect("413 from the headers").clone();
    assert_eq!(lr.status, 413);
    assert_eq!(anthropic_error(&lr.body).0, "request_too_large");
    assert!(s.request_headers_out().is_none(), "headers went upstream");
    assert_eq!(
        s.request_body(&[b' '; 100], true).unwrap(),
        Action::NotDelivered
    );
    drop(s);
    // Not declared (chunked), found out while buffering.
    let mut big = simple_request(false);
    big.truncate(big.len() - 1);
    big.extend_from_slice(br#","metadata":{"user_id":""#);
    big.extend(std::iter::repeat_n(b'x', 3000));
    big.extend_from_slice(b"\"}}");
    let (t, _) = local_reply(&mut h, &big, &Chunking::Bytes(100), 413);
    assert_eq!(t, "request_too_large");
    assert_clean(&h);
}

#[test]
fn a_body_is_required() {
    let mut h = openai_host();
    let headers = anthropic_headers("/v1/messages", None);
    let mut s = h.http_stream();
    s.request_headers(&pairs(&headers), true).unwrap();
    let lr = s
        .local_response()
        .expect("a converted request needs a body")
        .clone();
    assert_eq!(lr.status, 400);
    assert_eq!(anthropic_error(&lr.body).0, "invalid_request_error");
    drop(s);
    assert_clean(&h);
}

// ---------------------------------------------------------------- the VM over time

#[test]
fn memory_does_not_grow_across_requests() {
    let mut h = openai_host();
    let req = rich_request();
    let sse = recorded_stream("openai/stream-tool-calls-parallel.sse");
    for _ in 0..50 {
        exchange(&mut h, &req, SSE_200, &sse, &Chunking::Bytes(100));
    }
    let after_warmup = h.memory_size();
    for _ in 0..300 {
        exchange(&mut h, &req, SSE_200, &sse, &Chunking::Bytes(100));
    }
    let after = h.memory_size();
    assert!(
        after <= after_warmup + 1024 * 1024,
        "guest memory grew from {after_warmup} to {after} bytes over 300 requests"
    );
    assert_eq!(h.live_streams(), 0);
    assert_clean(&h);
}

#[test]
fn module_exports_and_imports_are_as_expected() {
    let h = openai_host();
    assert_eq!(h.abi_version(), "proxy_abi_version_0_2_1");
    assert!(h.missing_exports().is_empty(), "{:?}", h.missing_exports());
    for i in h.imports() {
        assert!(
            i.starts_with("env.proxy_") || i.starts_with("wasi_snapshot_preview1."),
            "unexpected import {i}"
        );
    }
}

// ---------------------------------------------------------------- trailers

/// An HTTP/2 peer may end a message with trailers instead of end_of_stream
/// on the last data frame: the last body callback then has end_of_stream
/// false, and the trailers callback is the end.
fn response_with_trailers(
    h: &mut Host,
    req: &[u8],
    headers: &[(&str, &str)],
    body: &[u8],
) -> Outcome {
    let rh = anthropic_headers("/v1/messages", None);
    let mut s = h.http_stream();
    s.request(&pairs(&rh), req, &Chunking::Whole).unwrap();
    s.response_headers(headers, false).unwrap();
    for c in body.chunks(100) {
        s.response_body(c, false).unwrap();
    }
    s.response_trailers(&[("x-upstream-trailer", "1")]).unwrap();
    Outcome {
        request_headers: None,
        request_body: Vec::new(),
        status: s.response_status(),
        response_headers: s.response_headers_out().map(|m| m.to_pairs()),
        response_body: s.response_body_out().to_vec(),
        local_status: s.local_response().map(|l| l.status),
        response_complete: s.response_complete(),
    }
}

#[test]
fn a_stream_ending_with_trailers_is_converted() {
    let mut h = openai_host();
    let sse = recorded_stream("openai/stream-tool-calls-parallel.sse");
    let want = exchange(
        &mut h,
        &simple_request(true),
        SSE_200,
        &sse,
        &Chunking::Whole,
    );
    let got = response_with_trailers(&mut h, &simple_request(true), SSE_200, &sse);
    assert!(got.response_complete);
    let (g, w) = (
        normalize(&got.response_body),
        normalize(&want.response_body),
    );
    assert!(g == w, "{}", first_difference(&g, &w));
    assert_clean(&h);
}

/// The module holds a buffered body until an end_of_stream body callback;
/// when trailers end the message instead, it never converts, and Envoy
/// forwards the raw OpenAI JSON to the Anthropic client. (The buffered body
/// is readable and replaceable in the trailers callback, as in Envoy.)
#[test]
fn a_completion_ending_with_trailers_is_converted() {
    let mut h = openai_host();
    let body = fixture("openai/chat-tool-call.json");
    let want = exchange(
        &mut h,
        &simple_request(false),
        JSON_200,
        &body,
        &Chunking::Whole,
    );
    let got = response_with_trailers(&mut h, &simple_request(false), JSON_200, &body);
    assert!(got.response_complete);
    let (g, w) = (
        normalize(&got.response_body),
        normalize(&want.response_body),
    );
    assert!(g == w, "{}", first_difference(&g, &w));
    assert_clean(&h);
}

/// Same for a request body that ends with trailers: the Anthropic body goes
/// to the OpenAI upstream unconverted.
#[test]
fn a_request_ending_with_trailers_is_converted() {
    let mut h = openai_host();
    let body = simple_request(true);
    let (_, want, _) = converted_request(&mut h, "/v1/messages", &body, &Chunking::Whole);
    let headers = anthropic_headers("/v1/messages", None);
    let mut s = h.http_stream();
    s.request_headers(&pairs(&headers), false).unwrap();
    for c in body.chunks(50) {
        s.request_body(c, false).unwrap();
    }
    s.request_trailers(&[("x-client-trailer", "1")]).unwrap();
    assert!(s.request_complete());
    let got: Value = serde_json::from_slice(s.request_body_out())
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(s.request_body_out())));
    assert_eq!(got, want);
    drop(s);
    assert_clean(&h);
}

// ---------------------------------------------------------------- streams cut short

#[test]
fn streams_cut_short_leave_the_vm_healthy() {
    let mut h = openai_host();
    let req = simple_request(true);
    let sse = recorded_stream("openai/stream-tool-calls-parallel.sse");
    let headers = anthropic_headers("/v1/messages", None);
    // The client goes away mid-request, mid-response, and before any response.
    for cut in [0, 1, req.len() / 2] {
        let mut s = h.http_stream();
        s.request_headers(&pairs(&headers), false).unwrap();
        if cut > 0 {
            s.request_body(&req[..cut], false).unwrap();
        }
        s.finish()
            .unwrap_or_else(|e| panic!("abort after {cut} request bytes: {e}"));
    }
    for cut in [0, 1, 100, sse.len() / 2, sse.len() - 1] {
        let mut s = h.http_stream();
        s.request(&pairs(&headers), &req, &Chunking::Whole).unwrap();
        s.response_headers(SSE_200, false).unwrap();
        s.response_body(&sse[..cut], false).unwrap();
        s.finish()
            .unwrap_or_else(|e| panic!("abort after {cut} response bytes: {e}"));
    }
    let mut s = h.http_stream();
    s.request(&pairs(&headers), &req, &Chunking::Whole).unwrap();
    s.finish().unwrap();
    drop(s);
    let o = exchange(&mut h, &req, SSE_200, &sse, &Chunking::Bytes(9));
    check_anthropic_stream(&parse_anthropic_sse(&o.response_body).unwrap()).unwrap();
    assert_eq!(h.live_streams(), 0);
    assert_clean(&h);
}

/// An upstream (or a proxy in front of it) may answer from the request
/// headers alone — a 401 for a bad key — while the bridge still holds the
/// request body. The error must still reach the client in its own shape.
///
/// The module only learns it is converting once the request body has been
/// converted, so such a response passes through in the upstream's shape.
#[test]
fn an_early_upstream_error_is_converted() {
    let mut h = openai_host();
    let req = simple_request(false);
    let headers = anthropic_headers("/v1/messages", None);
    let mut s = h.http_stream();
    s.request_headers(&pairs(&headers), false).unwrap();
    assert_eq!(s.request_body(&req[..10], false).unwrap(), Action::Pause);
    s.response(
        &[(":status", "401"), ("content-type", "application/json")],
        &fixture("openai/azure-error-401.json"),
        &Chunking::Whole,
    )
    .unwrap();
    assert_eq!(s.response_status(), Some(401));
    let (t, _) = anthropic_error(s.response_body_out());
    assert_eq!(t, "authentication_error");
    drop(s);
    assert_clean(&h);
}
