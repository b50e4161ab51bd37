//! A Responses API client on an Anthropic upstream through the exchange
//! state machine `filter.rs` drives (issue 14): routing, header edits, the
//! request converted, and each kind of answer converted through the pair's
//! contract.

mod common;

use anthropic_openai_bridge::config::Config;
use anthropic_openai_bridge::convert::headers::HeaderEdit;
use anthropic_openai_bridge::exchange::{route_for, BodyMode, Exchange, Route, Verdict};
use common::responses::check_responses_stream;
use common::*;
use serde_json::{json, Value};
use std::rc::Rc;

fn anthropic_upstream() -> Exchange {
    Exchange::new(
        Rc::new(Config::from_json(br#"{"upstream_protocol":"anthropic"}"#).unwrap()),
        "msg_fb".to_string(),
    )
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// The recorded Codex request (headers and body) as it reached the bridge.
fn codex_request(name: &str) -> (Vec<(String, String)>, Vec<u8>) {
    let recorded = fixture_json(&format!("responses/requests/{name}"));
    let mut h: Vec<(String, String)> = recorded["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_string(),
                p[1].as_str().unwrap().to_string(),
            )
        })
        .filter(|(n, _)| n != "host")
        .collect();
    h.push((":method".into(), "POST".into()));
    h.push((":path".into(), recorded["path"].as_str().unwrap().into()));
    (h, recorded["body"].to_string().into_bytes())
}

fn sent(ex: &mut Exchange, h: &[(String, String)], body: &[u8]) -> (Vec<HeaderEdit>, Value) {
    let Verdict::Continue(edits) = ex.on_request_headers(h, false) else {
        panic!("request headers refused")
    };
    let body = ex.on_request_body(body).unwrap();
    (edits, serde_json::from_slice(&body).unwrap())
}

#[test]
fn responses_requests_route_to_an_anthropic_upstream_only() {
    use anthropic_openai_bridge::config::Protocol::*;
    assert_eq!(
        route_for(Anthropic, "POST", "/v1/responses"),
        Route::ResponsesClient
    );
    assert_eq!(
        route_for(Anthropic, "POST", "/openai/v1/responses?api-version=1"),
        Route::ResponsesClient
    );
    assert_eq!(
        route_for(Anthropic, "GET", "/v1/responses"),
        Route::Passthrough
    );
    assert_eq!(
        route_for(Openai, "POST", "/v1/responses"),
        Route::Passthrough,
        "already the upstream's protocol"
    );
}

#[test]
fn codexs_request_becomes_an_anthropic_stream_request() {
    let mut ex = anthropic_upstream();
    let (h, body) = codex_request("codex-0.171.0-shell-round-trip-1.json");
    let (edits, sent) = sent(&mut ex, &h, &body);
    assert_eq!(ex.route(), Route::ResponsesClient);
    assert_eq!(
        ex.report().direction.map(|d| d.as_str()),
        Some("responses_client")
    );
    assert!(edits.contains(&HeaderEdit::set(":path", "/v1/messages")));
    assert!(edits.contains(&HeaderEdit::set("x-api-key", "<X_KEY>")));
    assert!(edits.contains(&HeaderEdit::set("anthropic-version", "2023-06-01")));
    for gone in [
        "authorization",
        "accept-encoding",
        "x-codex-turn-metadata",
        "session-id",
        "originator",
    ] {
        assert!(edits.contains(&HeaderEdit::remove(gone)), "{gone}");
    }
    assert_eq!(sent["stream"], true);
    let tools: Vec<&str> = sent["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(tools.contains(&"exec_command"), "{tools:?}");
    let last = sent["messages"].as_array().unwrap().last().unwrap();
    assert_eq!(last["role"], "user");
    assert_eq!(last["content"][0]["type"], "tool_result");
}

#[test]
fn a_stream_becomes_the_responses_grammar_with_the_host_clock() {
    let mut ex = anthropic_upstream();
    let (h, body) = codex_request("codex-0.171.0-plain-0.json");
    sent(&mut ex, &h, &body);
    let response = headers(&[
        (":status", "200"),
        ("content-type", "text/event-stream"),
        ("request-id", "req_9"),
        ("anthropic-ratelimit-requests-remaining", "49"),
    ]);
    let Verdict::Continue(edits) = ex.on_response_headers(&response, false, 1_700_000_123) else {
        panic!()
    };
    assert!(edits.contains(&HeaderEdit::set("x-request-id", "req_9")));
    assert!(edits.contains(&HeaderEdit::set("x-ratelimit-remaining-requests", "49")));
    assert_eq!(ex.response_body_mode(), BodyMode::Stream);
    let stream = recorded_stream("anthropic/docs-stream-text-then-tool-use.sse");
    let mut out = Vec::new();
    for piece in stream.chunks(29) {
        out.extend(ex.on_stream_chunk(piece, false));
    }
    out.extend(ex.on_stream_chunk(b"", true));
    let got = check_responses_stream(&out);
    assert_eq!(got.terminal, "response.completed");
    assert_eq!(got.response["created_at"], 1_700_000_123);
    assert!(got.id.starts_with("resp_"));
    let calls = got.items_of("function_call");
    assert_eq!(calls.len(), 1);
    assert!(calls[0]["id"].as_str().unwrap().starts_with("fc_"));
    assert!(!got.text().is_empty());
    assert!(ex.report().tokens.is_some());
}

#[test]
fn a_whole_message_is_a_response_object() {
    let mut ex = anthropic_upstream();
    let h = headers(&[
        (":method", "POST"),
        (":path", "/v1/responses"),
        ("authorization", "Bearer sk-ant"),
    ]);
    let body = json!({"model": "claude-sonnet-4-5", "input": "hi", "instructions": "Be brief."});
    let (_, sent) = sent(&mut ex, &h, body.to_string().as_bytes());
    assert_eq!(sent["messages"][0]["role"], "user");
    let response = headers(&[(":status", "200"), ("content-type", "application/json")]);
    ex.on_response_headers(&response, false, 42);
    assert_eq!(ex.response_body_mode(), BodyMode::Buffer);
    let message = fixture_json("anthropic/msg-cache-read.json");
    let out: Value =
        serde_json::from_slice(&ex.on_buffered_response(&fixture("anthropic/msg-cache-read.json")))
            .unwrap();
    assert_eq!(out["object"], "response");
    assert_eq!(out["status"], "completed");
    assert_eq!(out["created_at"], 42);
    let usage = &message["usage"];
    assert_eq!(
        out["usage"]["input_tokens_details"]["cached_tokens"],
        usage["cache_read_input_tokens"]
    );
}

#[test]
fn a_json_message_for_a_streaming_request_is_sent_as_events() {
    let mut ex = anthropic_upstream();
    let h = headers(&[(":method", "POST"), (":path", "/v1/responses")]);
    let body = json!({"model": "claude-sonnet-4-5", "input": "hi", "stream": true});
    sent(&mut ex, &h, body.to_string().as_bytes());
    let response = headers(&[(":status", "200"), ("content-type", "application/json")]);
    let Verdict::Continue(edits) = ex.on_response_headers(&response, false, 5) else {
        panic!()
    };
    assert!(edits
        .iter()
        .any(|e| matches!(e, HeaderEdit::Set(n, v) if n == "content-type" && v.starts_with("text/event-stream"))));
    let got =
        check_responses_stream(&ex.on_buffered_response(&fixture("anthropic/msg-tool-use.json")));
    assert_eq!(got.terminal, "response.completed");
    assert_eq!(got.items_of("function_call").len(), 2);
}

#[test]
fn upstream_errors_are_openai_errors_with_codexs_codes() {
    let mut ex = anthropic_upstream();
    let h = headers(&[(":method", "POST"), (":path", "/v1/responses")]);
    let body = json!({"model": "claude-sonnet-4-5", "input": "hi", "stream": true});
    sent(&mut ex, &h, body.to_string().as_bytes());
    let response = headers(&[
        (":status", "529"),
        ("content-type", "application/json"),
        ("retry-after", "7"),
    ]);
    let Verdict::Continue(edits) = ex.on_response_headers(&response, false, 0) else {
        panic!()
    };
    assert!(edits.contains(&HeaderEdit::set(":status", "503")));
    let out: Value = serde_json::from_slice(&ex.on_buffered_response(
        br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
    ))
    .unwrap();
    assert_eq!(
        out,
        json!({"error": {"message": "Overloaded", "type": "server_error", "param": null, "code": "server_error"}})
    );

    let mut ex = anthropic_upstream();
    sent(&mut ex, &h, body.to_string().as_bytes());
    let response = headers(&[(":status", "400"), ("content-type", "application/json")]);
    ex.on_response_headers(&response, false, 0);
    let out: Value = serde_json::from_slice(&ex.on_buffered_response(
        br#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#,
    ))
    .unwrap();
    assert_eq!(out["error"]["code"], "context_length_exceeded");
    assert_eq!(out["error"]["type"], "invalid_request_error");
}

#[test]
fn stateful_requests_get_a_local_400_in_openai_shape() {
    let mut ex = anthropic_upstream();
    let h = headers(&[(":method", "POST"), (":path", "/v1/responses")]);
    ex.on_request_headers(&h, false);
    let reply = ex
        .on_request_body(br#"{"model":"m","input":"hi","previous_response_id":"resp_1"}"#)
        .unwrap_err();
    assert_eq!(reply.status, 400);
    let body: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("keeps no conversation state"));
}

/// A streaming request answered with a 200 stream that `headers` start and
/// that fails with `error`: the converted stream.
fn failed_stream(response_headers: &[(&str, &str)], error: &str) -> Vec<u8> {
    let mut ex = anthropic_upstream();
    let h = headers(&[(":method", "POST"), (":path", "/v1/responses")]);
    let body = json!({"model": "claude-sonnet-4-5", "input": "hi", "stream": true});
    sent(&mut ex, &h, body.to_string().as_bytes());
    let mut response = headers(&[(":status", "200"), ("content-type", "text/event-stream")]);
    response.extend(headers(response_headers));
    ex.on_response_headers(&response, false, 9);
    assert_eq!(ex.response_body_mode(), BodyMode::Stream);
    let start = json!({"type": "message_start", "message": {"id": "msg_rl", "type": "message",
        "role": "assistant", "model": "claude-sonnet-4-5", "content": [], "stop_reason": null,
        "usage": {"input_tokens": 3, "output_tokens": 1}}});
    let stream = format!("event: message_start\ndata: {start}\n\nevent: error\ndata: {error}\n\n");
    let mut out = ex.on_stream_chunk(stream.as_bytes(), false);
    out.extend(ex.on_stream_chunk(b"", true));
    out
}

const RATE_LIMITED: &str =
    r#"{"type":"error","error":{"type":"rate_limit_error","message":"Slow down."}}"#;

#[test]
fn a_rate_limit_mid_stream_says_when_from_the_upstreams_retry_after() {
    let got = check_responses_stream(&failed_stream(&[("retry-after", "7")], RATE_LIMITED));
    assert_eq!(got.terminal, "response.failed");
    assert_eq!(got.response["created_at"], 9);
    assert_eq!(
        got.response["error"],
        json!({"code": "rate_limit_exceeded", "message": "Slow down. Please try again in 7s."})
    );

    // Only whole seconds up to a day are taken; the message is unchanged.
    for ignored in ["Wed, 21 Oct 2026 07:28:00 GMT", "86401", "1.5", "-3"] {
        let got = check_responses_stream(&failed_stream(&[("retry-after", ignored)], RATE_LIMITED));
        assert_eq!(got.response["error"]["message"], "Slow down.", "{ignored}");
        assert_eq!(got.response["error"]["code"], "rate_limit_exceeded");
    }
    let got = check_responses_stream(&failed_stream(&[], RATE_LIMITED));
    assert_eq!(got.response["error"]["message"], "Slow down.");

    // Other failures are not given a delay.
    let overloaded =
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    let got = check_responses_stream(&failed_stream(&[("retry-after", "7")], overloaded));
    assert_eq!(
        got.response["error"],
        json!({"code": "server_error", "message": "Overloaded"})
    );
}

#[test]
fn a_429_body_says_when_from_the_upstreams_retry_after() {
    for stream in [true, false] {
        let answer = |retry_after: &str| -> (Vec<HeaderEdit>, Value) {
            let mut ex = anthropic_upstream();
            let h = headers(&[(":method", "POST"), (":path", "/v1/responses")]);
            let body = json!({"model": "claude-sonnet-4-5", "input": "hi", "stream": stream});
            sent(&mut ex, &h, body.to_string().as_bytes());
            let response = headers(&[
                (":status", "429"),
                ("content-type", "application/json"),
                ("retry-after", retry_after),
            ]);
            let Verdict::Continue(edits) = ex.on_response_headers(&response, false, 0) else {
                panic!()
            };
            assert_eq!(ex.response_body_mode(), BodyMode::Buffer);
            let out = ex.on_buffered_response(RATE_LIMITED.as_bytes());
            (edits, serde_json::from_slice(&out).unwrap())
        };
        let (edits, out) = answer("12");
        assert_eq!(
            out,
            json!({"error": {"message": "Slow down. Please try again in 12s.",
                "type": "rate_limit_error", "param": null, "code": "rate_limit_exceeded"}}),
            "stream: {stream}"
        );
        assert!(!edits.iter().any(
            |e| matches!(e, HeaderEdit::Set(n, _) | HeaderEdit::Remove(n) if n == "retry-after" || n == ":status")
        ));
        let (_, out) = answer("tomorrow");
        assert_eq!(out["error"]["message"], "Slow down.", "stream: {stream}");
        assert_eq!(out["error"]["code"], "rate_limit_exceeded");
    }
}
