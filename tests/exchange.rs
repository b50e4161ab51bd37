//! The per-request state machine `filter.rs` drives: routing, header edits,
//! local replies, and how each kind of response is converted.

mod common;

use anthropic_openai_bridge::config::Config;
use anthropic_openai_bridge::convert::headers::HeaderEdit;
use anthropic_openai_bridge::exchange::{
    route_for, BodyMode, Exchange, LocalReply, Route, Verdict,
};
use anthropic_openai_bridge::report::ClientErrorKind;
use common::*;
use serde_json::{json, Value};
use std::rc::Rc;

fn exchange(config: &str) -> Exchange {
    Exchange::new(
        Rc::new(Config::from_json(config.as_bytes()).unwrap()),
        "msg_fb".to_string(),
    )
}

fn openai_upstream() -> Exchange {
    exchange(r#"{"upstream_protocol":"openai"}"#)
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn request_headers(path: &str) -> Vec<(String, String)> {
    headers(&[
        (":method", "POST"),
        (":path", path),
        ("x-api-key", "sk-1"),
        ("content-type", "application/json"),
    ])
}

fn reply_json(reply: &LocalReply) -> Value {
    assert_eq!(reply.content_type, "application/json");
    serde_json::from_slice(&reply.body).unwrap()
}

/// Runs a request through to the point the response arrives.
fn converted(stream: bool) -> Exchange {
    let mut ex = openai_upstream();
    assert!(matches!(
        ex.on_request_headers(&request_headers("/v1/messages"), false),
        Verdict::Continue(_)
    ));
    let body = json!({"model": "claude", "max_tokens": 10, "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
    ex.on_request_body(body.to_string().as_bytes()).unwrap();
    ex
}

#[test]
fn routes_follow_path_method_and_upstream() {
    use anthropic_openai_bridge::config::Protocol::*;
    assert_eq!(
        route_for(Openai, "POST", "/v1/messages"),
        Route::AnthropicClient
    );
    assert_eq!(
        route_for(Openai, "POST", "/v1/messages?beta=true"),
        Route::AnthropicClient
    );
    assert_eq!(
        route_for(Openai, "POST", "/proxy/v1/messages"),
        Route::AnthropicClient
    );
    assert_eq!(route_for(Openai, "GET", "/v1/messages"), Route::Passthrough);
    assert_eq!(
        route_for(Openai, "POST", "/v1/messages/count_tokens"),
        Route::CountTokens
    );
    assert_eq!(
        route_for(Openai, "POST", "/v1/chat/completions"),
        Route::Passthrough,
        "already the upstream's protocol"
    );
    assert_eq!(route_for(Openai, "POST", "/v1/models"), Route::Passthrough);
    assert_eq!(
        route_for(Anthropic, "POST", "/v1/messages"),
        Route::Passthrough
    );
}

#[test]
fn passthrough_requests_are_not_touched() {
    let mut ex = openai_upstream();
    let verdict = ex.on_request_headers(&request_headers("/v1/chat/completions"), false);
    assert_eq!(verdict, Verdict::Continue(vec![]));
    assert!(!ex.converts_request());
    let response = headers(&[(":status", "200"), ("content-type", "application/json")]);
    assert_eq!(
        ex.on_response_headers(&response, false, 0),
        Verdict::Continue(vec![])
    );
    assert_eq!(ex.response_body_mode(), BodyMode::Passthrough);
}

#[test]
fn converted_request_headers_and_body() {
    let mut ex = openai_upstream();
    let Verdict::Continue(edits) =
        ex.on_request_headers(&request_headers("/v1/messages?beta=true"), false)
    else {
        panic!("expected to continue");
    };
    assert!(edits.contains(&HeaderEdit::set(":path", "/v1/chat/completions")));
    assert!(edits.contains(&HeaderEdit::set("authorization", "Bearer sk-1")));
    assert!(edits.contains(&HeaderEdit::remove("x-api-key")));
    assert!(ex.converts_request());
    let body = ex
        .on_request_body(
            br#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#,
        )
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["messages"], json!([{"role": "user", "content": "hi"}]));
}

#[test]
fn bad_bodies_get_a_local_400_in_anthropic_shape() {
    let mut ex = openai_upstream();
    ex.on_request_headers(&request_headers("/v1/messages"), false);
    let reply = ex.on_request_body(b"{oops").unwrap_err();
    assert_eq!(reply.status, 400);
    let body = reply_json(&reply);
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("malformed JSON"));
    // The local reply then passes back through the response callbacks untouched.
    let response = headers(&[(":status", "400"), ("content-type", "application/json")]);
    assert_eq!(
        ex.on_response_headers(&response, false, 0),
        Verdict::Continue(vec![])
    );
    assert_eq!(ex.response_body_mode(), BodyMode::Passthrough);
}

#[test]
fn oversized_requests_get_a_413_from_headers_or_buffered_size() {
    let mut ex = exchange(r#"{"upstream_protocol":"openai","max_request_bytes":100}"#);
    let mut h = request_headers("/v1/messages");
    h.push(("content-length".into(), "101".into()));
    let Verdict::Reply(reply) = ex.on_request_headers(&h, false) else {
        panic!("expected a 413");
    };
    assert_eq!(reply.status, 413);
    assert_eq!(reply_json(&reply)["error"]["type"], "request_too_large");

    let mut ex = exchange(r#"{"upstream_protocol":"openai","max_request_bytes":100}"#);
    ex.on_request_headers(&request_headers("/v1/messages"), false);
    assert_eq!(ex.check_request_size(100), None);
    assert_eq!(ex.check_request_size(101).map(|r| r.status), Some(413));
}

#[test]
fn a_request_without_a_body_is_a_400() {
    let mut ex = openai_upstream();
    let Verdict::Reply(reply) = ex.on_request_headers(&request_headers("/v1/messages"), true)
    else {
        panic!("expected a 400");
    };
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply_json(&reply)["error"]["message"],
        "request body is required"
    );
    assert_eq!(ex.report().client_error, Some(ClientErrorKind::MissingBody));
}

/// A body announced empty, or one that ends without a byte (chunked), is
/// counted as `missing_body`, in the client's protocol, like headers-only.
#[test]
fn an_empty_body_is_a_missing_body() {
    let mut ex = exchange(r#"{"upstream_protocol":"anthropic"}"#);
    let mut h = request_headers("/v1/chat/completions");
    h.push(("content-length".into(), "0".into()));
    let Verdict::Reply(reply) = ex.on_request_headers(&h, false) else {
        panic!("expected a 400");
    };
    assert_eq!(reply.status, 400);
    assert_eq!(reply_json(&reply)["error"]["type"], "invalid_request_error");
    assert_eq!(ex.report().client_error, Some(ClientErrorKind::MissingBody));

    let mut ex = openai_upstream();
    assert!(matches!(
        ex.on_request_headers(&request_headers("/v1/messages"), false),
        Verdict::Continue(_)
    ));
    let reply = ex.on_request_body(b"").unwrap_err();
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply_json(&reply),
        json!({"type": "error", "error": {"type": "invalid_request_error", "message": "request body is required"}})
    );
    assert_eq!(ex.report().client_error, Some(ClientErrorKind::MissingBody));
    assert!(!ex.converts_request());
}

#[test]
fn a_completion_is_buffered_and_replaced_whole() {
    let mut ex = converted(false);
    let response = headers(&[
        (":status", "200"),
        ("content-type", "application/json"),
        ("content-length", "300"),
        ("x-request-id", "req_9"),
    ]);
    let Verdict::Continue(edits) = ex.on_response_headers(&response, false, 0) else {
        panic!()
    };
    assert!(edits.contains(&HeaderEdit::remove("content-length")));
    assert!(edits.contains(&HeaderEdit::set("request-id", "req_9")));
    assert_eq!(ex.response_body_mode(), BodyMode::Buffer);
    let body: Value =
        serde_json::from_slice(&ex.on_buffered_response(&fixture("openai/chat-text.json")))
            .unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["content"][0]["type"], "text");
}

#[test]
fn a_stream_is_converted_chunk_by_chunk() {
    let mut ex = converted(true);
    let response = headers(&[
        (":status", "200"),
        ("content-type", "text/event-stream; charset=utf-8"),
    ]);
    let Verdict::Continue(edits) = ex.on_response_headers(&response, false, 0) else {
        panic!()
    };
    assert!(edits.contains(&HeaderEdit::set(
        "content-type",
        "text/event-stream; charset=utf-8"
    )));
    assert_eq!(ex.response_body_mode(), BodyMode::Stream);
    let input = fixture("openai/stream-text-include-usage-gpt4o-mini.sse");
    let (a, b) = input.split_at(input.len() / 2);
    let mut out = ex.on_stream_chunk(a, false);
    out.extend(ex.on_stream_chunk(b, false));
    out.extend(ex.on_stream_chunk(b"", true));
    let got = check_anthropic_stream(&out);
    assert_eq!(got.stop_reason.as_deref(), Some("end_turn"));
}

#[test]
fn a_json_completion_for_a_streaming_request_is_sent_as_a_stream() {
    let mut ex = converted(true);
    let response = headers(&[(":status", "200"), ("content-type", "application/json")]);
    let Verdict::Continue(edits) = ex.on_response_headers(&response, false, 0) else {
        panic!()
    };
    assert!(edits.contains(&HeaderEdit::set(
        "content-type",
        "text/event-stream; charset=utf-8"
    )));
    assert_eq!(ex.response_body_mode(), BodyMode::Buffer);
    let out = ex.on_buffered_response(&fixture("openai/chat-tool-calls-parallel.json"));
    let got = check_anthropic_stream(&out);
    let names: Vec<&str> = got.blocks.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["GetWeatherArgs", "get_stock_price"]);
    assert_eq!(got.stop_reason.as_deref(), Some("tool_use"));
    assert_eq!(
        serde_json::from_str::<Value>(&got.blocks[0].text).unwrap(),
        json!({"city": "Edinburgh", "country": "GB", "units": "c"})
    );
}

#[test]
fn upstream_errors_keep_their_status_and_retry_after() {
    for (status, kind) in [
        ("400", "invalid_request_error"),
        ("401", "authentication_error"),
        ("429", "rate_limit_error"),
        ("500", "api_error"),
        ("503", "overloaded_error"),
    ] {
        let mut ex = converted(true);
        let response = headers(&[
            (":status", status),
            ("content-type", "application/json"),
            ("retry-after", "7"),
        ]);
        let Verdict::Continue(edits) = ex.on_response_headers(&response, false, 0) else {
            panic!()
        };
        assert!(
            !edits
                .iter()
                .any(|e| matches!(e, HeaderEdit::Set(n, _) if n == ":status")),
            "status {status} is kept"
        );
        assert!(!edits.iter().any(
            |e| matches!(e, HeaderEdit::Set(n, _) | HeaderEdit::Remove(n) if n == "retry-after")
        ));
        assert!(
            edits.contains(&HeaderEdit::set("content-type", "application/json")),
            "a streaming request gets a JSON error"
        );
        let body: Value = serde_json::from_slice(
            &ex.on_buffered_response(&fixture("openai/error-429-openrouter-upstream.json")),
        )
        .unwrap();
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], kind);
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Provider returned error"));
    }
}

#[test]
fn an_html_answer_with_200_becomes_a_502() {
    let mut ex = converted(false);
    let response = headers(&[(":status", "200"), ("content-type", "text/html")]);
    let Verdict::Continue(edits) = ex.on_response_headers(&response, false, 0) else {
        panic!()
    };
    assert!(edits.contains(&HeaderEdit::set(":status", "502")));
    let body: Value =
        serde_json::from_slice(&ex.on_buffered_response(b"<html>captive portal</html>")).unwrap();
    assert_eq!(body["error"]["type"], "api_error");
    assert_eq!(
        body["error"]["message"],
        "upstream answered with unexpected content-type `text/html`: <html>captive portal</html>"
    );
}

#[test]
fn an_empty_2xx_response_is_a_502() {
    let mut ex = converted(false);
    let Verdict::Reply(reply) = ex.on_response_headers(&headers(&[(":status", "200")]), true, 0)
    else {
        panic!()
    };
    assert_eq!(reply.status, 502);
    assert_eq!(
        reply_json(&reply)["error"]["message"],
        "upstream returned an empty response"
    );
}

#[test]
fn rate_limit_reset_durations_become_timestamps() {
    let mut ex = converted(false);
    let response = headers(&[
        (":status", "200"),
        ("content-type", "application/json"),
        ("x-ratelimit-reset-tokens", "1m30s"),
    ]);
    let Verdict::Continue(edits) = ex.on_response_headers(&response, false, 1_800_000_000) else {
        panic!()
    };
    assert!(edits.contains(&HeaderEdit::set(
        "anthropic-ratelimit-tokens-reset",
        "2027-01-15T08:01:30Z"
    )));
}

fn anthropic_upstream() -> Exchange {
    exchange(r#"{"upstream_protocol":"anthropic"}"#)
}

fn converted_openai(stream: bool, include_usage: bool) -> Exchange {
    let mut ex = anthropic_upstream();
    let h = headers(&[
        (":method", "POST"),
        (":path", "/v1/chat/completions"),
        ("authorization", "Bearer sk-ant"),
    ]);
    assert!(matches!(
        ex.on_request_headers(&h, false),
        Verdict::Continue(_)
    ));
    let body = json!({"model": "gpt-4o", "stream": stream, "stream_options": {"include_usage": include_usage}, "messages": [{"role": "user", "content": "hi"}]});
    ex.on_request_body(body.to_string().as_bytes()).unwrap();
    ex
}

#[test]
fn openai_clients_route_to_an_anthropic_upstream() {
    use anthropic_openai_bridge::config::Protocol::*;
    assert_eq!(
        route_for(Anthropic, "POST", "/v1/chat/completions"),
        Route::OpenAiClient
    );
    assert_eq!(
        route_for(
            Anthropic,
            "POST",
            "/openai/v1/chat/completions?api-version=1"
        ),
        Route::OpenAiClient
    );
    assert_eq!(
        route_for(Anthropic, "POST", "/v1/messages"),
        Route::Passthrough,
        "already the upstream's protocol"
    );
    let mut ex = anthropic_upstream();
    let h = headers(&[
        (":method", "POST"),
        (":path", "/v1/chat/completions"),
        ("authorization", "Bearer sk-ant"),
    ]);
    let Verdict::Continue(edits) = ex.on_request_headers(&h, false) else {
        panic!()
    };
    assert!(edits.contains(&HeaderEdit::set(":path", "/v1/messages")));
    assert!(edits.contains(&HeaderEdit::set("x-api-key", "sk-ant")));
    assert!(edits.contains(&HeaderEdit::set("anthropic-version", "2023-06-01")));
}

#[test]
fn openai_clients_get_local_errors_in_openai_shape() {
    let mut ex = anthropic_upstream();
    let h = headers(&[(":method", "POST"), (":path", "/v1/chat/completions")]);
    ex.on_request_headers(&h, false);
    let reply = ex
        .on_request_body(br#"{"model":"m","messages":[],"n":1}"#)
        .unwrap_err();
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply_json(&reply),
        json!({"error": {"message": "messages: at least one message is required", "type": "invalid_request_error", "param": null, "code": null}})
    );
}

#[test]
fn overloaded_529_becomes_503_for_openai_clients() {
    let mut ex = converted_openai(true, false);
    let response = headers(&[
        (":status", "529"),
        ("content-type", "application/json"),
        ("request-id", "req_1"),
    ]);
    let Verdict::Continue(edits) = ex.on_response_headers(&response, false, 0) else {
        panic!()
    };
    assert!(edits.contains(&HeaderEdit::set(":status", "503")));
    assert!(edits.contains(&HeaderEdit::set("x-request-id", "req_1")));
    assert!(
        edits.contains(&HeaderEdit::set("content-type", "application/json")),
        "a streaming request gets a JSON error"
    );
    let body: Value = serde_json::from_slice(&ex.on_buffered_response(
        br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
    ))
    .unwrap();
    assert_eq!(
        body,
        json!({"error": {"message": "Overloaded", "type": "server_error", "param": null, "code": "overloaded_error"}})
    );
}

#[test]
fn openai_streams_and_completions_carry_the_host_clock() {
    let mut ex = converted_openai(false, false);
    let response = headers(&[(":status", "200"), ("content-type", "application/json")]);
    ex.on_response_headers(&response, false, 1_234_567);
    let body: Value =
        serde_json::from_slice(&ex.on_buffered_response(&fixture("anthropic/msg-text.json")))
            .unwrap();
    assert_eq!(body["created"], 1_234_567);

    let mut ex = converted_openai(true, true);
    let response = headers(&[(":status", "200"), ("content-type", "text/event-stream")]);
    ex.on_response_headers(&response, false, 7_654_321);
    assert_eq!(ex.response_body_mode(), BodyMode::Stream);
    let mut out = ex.on_stream_chunk(&fixture("anthropic/stream-text-minimal.sse"), false);
    out.extend(ex.on_stream_chunk(b"", true));
    let got = check_openai_stream(&out);
    assert_eq!(got.created, 7_654_321);
    assert!(got.usage.is_some(), "include_usage was asked for");
}

#[test]
fn a_json_message_for_a_streaming_openai_request_is_sent_as_chunks() {
    let mut ex = converted_openai(true, true);
    let response = headers(&[(":status", "200"), ("content-type", "application/json")]);
    let Verdict::Continue(edits) = ex.on_response_headers(&response, false, 5) else {
        panic!()
    };
    assert!(edits.contains(&HeaderEdit::set(
        "content-type",
        "text/event-stream; charset=utf-8"
    )));
    let got =
        check_openai_stream(&ex.on_buffered_response(&fixture("anthropic/msg-tool-use.json")));
    assert_eq!(got.tools.len(), 2);
    assert_eq!(got.tools[1].2, "get_time");
    assert_eq!(got.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(
        got.usage.unwrap()["completion_tokens"],
        fixture_json("anthropic/msg-tool-use.json")["usage"]["output_tokens"]
    );
    assert!(got.done);
}

#[test]
fn a_compressed_answer_is_a_502_not_garbage() {
    let mut ex = converted(true);
    let response = headers(&[
        (":status", "200"),
        ("content-type", "text/event-stream"),
        ("content-encoding", "gzip"),
    ]);
    let Verdict::Continue(edits) = ex.on_response_headers(&response, false, 0) else {
        panic!()
    };
    assert!(edits.contains(&HeaderEdit::set(":status", "502")));
    assert!(edits.contains(&HeaderEdit::remove("content-encoding")));
    assert!(edits.contains(&HeaderEdit::set("content-type", "application/json")));
    assert_eq!(ex.response_body_mode(), BodyMode::Buffer);
    let body: Value =
        serde_json::from_slice(&ex.on_buffered_response(b"\x1f\x8b\x08\x00binary")).unwrap();
    assert_eq!(body["error"]["type"], "api_error");
    assert_eq!(
        body["error"]["message"],
        "upstream returned HTTP 200 with a `gzip`-encoded body, which the bridge cannot decode"
    );
    assert_eq!(ex.report().upstream_error_status, Some(502));

    let mut ex = converted_openai(false, false);
    let response = headers(&[
        (":status", "429"),
        ("content-type", "application/json"),
        ("content-encoding", "br"),
    ]);
    let Verdict::Continue(edits) = ex.on_response_headers(&response, false, 0) else {
        panic!()
    };
    assert!(
        !edits
            .iter()
            .any(|e| matches!(e, HeaderEdit::Set(n, _) if n == ":status")),
        "the error status is kept"
    );
    let body: Value = serde_json::from_slice(&ex.on_buffered_response(b"\x00\x01")).unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("`br`-encoded"));

    let mut ex = converted(false);
    let identity = headers(&[
        (":status", "200"),
        ("content-type", "application/json"),
        ("content-encoding", "identity"),
    ]);
    ex.on_response_headers(&identity, false, 0);
    let body: Value =
        serde_json::from_slice(&ex.on_buffered_response(&fixture("openai/chat-text.json")))
            .unwrap();
    assert_eq!(body["type"], "message", "identity is no encoding");
}

#[test]
fn an_upstream_error_before_the_request_body_ended_is_still_converted() {
    let mut ex = openai_upstream();
    ex.on_request_headers(&request_headers("/v1/messages"), false);
    let response = headers(&[(":status", "401"), ("content-type", "application/json")]);
    let Verdict::Continue(_) = ex.on_response_headers(&response, false, 0) else {
        panic!()
    };
    assert_eq!(ex.response_body_mode(), BodyMode::Buffer);
    let body: Value =
        serde_json::from_slice(&ex.on_buffered_response(&fixture("openai/azure-error-401.json")))
            .unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "authentication_error");
}

#[test]
fn a_headers_only_error_gets_a_body_in_the_clients_shape() {
    let mut ex = converted_openai(false, false);
    let Verdict::Reply(reply) = ex.on_response_headers(&headers(&[(":status", "529")]), true, 0)
    else {
        panic!()
    };
    assert_eq!(reply.status, 503);
    assert_eq!(
        reply_json(&reply)["error"]["message"],
        "upstream returned HTTP 529 with an empty body"
    );
    assert_eq!(ex.report().upstream_error_status, Some(503));
}

/// Envoy joins repeated `authorization` lines into one comma-separated
/// value and hands repeated `x-api-key` lines over as separate pairs: both
/// are a 400 in the client's shape, never a merged credential.
#[test]
fn a_credential_sent_twice_is_a_400_in_the_clients_shape() {
    let base = |path: &str| {
        vec![
            (":method".to_string(), "POST".to_string()),
            (":path".to_string(), path.to_string()),
        ]
    };
    let mut joined = base("/v1/chat/completions");
    joined.push(("authorization".into(), "Bearer A1,Bearer A2".into()));
    let mut ex = anthropic_upstream();
    let Verdict::Reply(reply) = ex.on_request_headers(&joined, false) else {
        panic!("joined authorization values were forwarded");
    };
    assert_eq!(reply.status, 400);
    let body = reply_json(&reply);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("authorization: sent more than once"));

    let mut twice = base("/v1/messages");
    twice.push(("x-api-key".into(), "k1".into()));
    twice.push(("X-Api-Key".into(), "k2".into()));
    let mut ex = openai_upstream();
    let Verdict::Reply(reply) = ex.on_request_headers(&twice, false) else {
        panic!("two x-api-key lines were forwarded");
    };
    let body = reply_json(&reply);
    assert_eq!(body["type"], "error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("x-api-key: sent more than once"));
    assert_eq!(
        ex.report().client_error.map(|k| k.as_str()),
        Some("invalid_request")
    );
}

#[test]
fn the_report_keeps_a_safe_model_and_whether_the_upstream_accepted_it() {
    let mut ex = openai_upstream();
    ex.on_request_headers(&request_headers("/v1/messages"), false);
    let body = json!({"model": "m\ninjected_metric_line: 31337", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    ex.on_request_body(body.to_string().as_bytes()).unwrap();
    assert_eq!(
        ex.report().model.as_deref(),
        Some("m_injected_metric_line:_31337")
    );
    assert!(!ex.report().upstream_accepted);
    ex.on_response_headers(
        &headers(&[(":status", "404"), ("content-type", "application/json")]),
        false,
        0,
    );
    assert!(!ex.report().upstream_accepted);
    let mut ex = converted(false);
    ex.on_response_headers(
        &headers(&[(":status", "200"), ("content-type", "application/json")]),
        false,
        0,
    );
    assert!(ex.report().upstream_accepted);
}

/// The content-type set on the client's response, from the header edits.
fn content_type_of(verdict: Verdict) -> String {
    match verdict {
        Verdict::Continue(edits) => edits
            .into_iter()
            .find_map(|e| match e {
                HeaderEdit::Set(name, value) if name == "content-type" => Some(value),
                _ => None,
            })
            .expect("a converted response sets its content-type"),
        Verdict::Reply(reply) => reply.content_type.to_string(),
    }
}

/// Both real APIs send `text/event-stream; charset=utf-8` with streams and
/// `application/json` with JSON answers and errors: so does every reply path
/// of the bridge, in both directions.
#[test]
fn every_reply_path_sends_the_real_apis_content_type() {
    const SSE: &str = "text/event-stream; charset=utf-8";
    const JSON: &str = "application/json";
    let clients: [fn(bool) -> Exchange; 2] = [converted, |stream| converted_openai(stream, false)];
    for (direction, client) in clients.iter().enumerate() {
        let cases: [(bool, &str, &str, bool, &str); 7] = [
            (true, "200", "text/event-stream", false, SSE),
            (true, "200", "application/json", false, SSE),
            (false, "200", "application/json", false, JSON),
            (false, "429", "application/json", false, JSON),
            (true, "500", "text/html", false, JSON),
            (true, "200", "text/plain", false, JSON),
            (false, "200", "application/json", true, JSON),
        ];
        for (stream, status, upstream_type, empty, want) in cases {
            let mut ex = client(stream);
            let response = headers(&[(":status", status), ("content-type", upstream_type)]);
            let got = content_type_of(ex.on_response_headers(&response, empty, 0));
            assert_eq!(
                got, want,
                "direction {direction}, stream {stream}, upstream {status} {upstream_type}, empty {empty}"
            );
        }
        let mut ex = client(false);
        let bad = ex.on_request_body(b"{not json").unwrap_err();
        assert_eq!((bad.status, bad.content_type), (400, JSON));
    }
    let mut ex = exchange(r#"{"upstream_protocol":"openai","max_request_bytes":10}"#);
    let mut h = request_headers("/v1/messages");
    h.push(("content-length".into(), "11".into()));
    let Verdict::Reply(reply) = ex.on_request_headers(&h, false) else {
        panic!("expected a 413")
    };
    assert_eq!((reply.status, reply.content_type), (413, JSON));
}
