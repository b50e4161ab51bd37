//! The Anthropic client → OpenAI Responses pair through the exchange (the
//! state machine `filter.rs` drives): routing, request headers and body out,
//! a streamed and a JSON answer back, upstream errors.

mod common;

use anthropic_openai_bridge::config::Config;
use anthropic_openai_bridge::convert::headers::HeaderEdit;
use anthropic_openai_bridge::exchange::{
    route_for, BodyMode, Exchange, LocalReply, Route, Verdict,
};
use common::*;
use serde_json::{json, Value};
use std::rc::Rc;

const RESPONSES: &str = r#"{"upstream_protocol":"openai_responses"}"#;

fn exchange(config: &str) -> Exchange {
    Exchange::new(
        Rc::new(Config::from_json(config.as_bytes()).unwrap()),
        "msg_fb".to_string(),
    )
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
        ("anthropic-version", "2023-06-01"),
        ("accept-encoding", "gzip, br"),
        ("content-type", "application/json"),
    ])
}

fn continued(verdict: Verdict) -> Vec<HeaderEdit> {
    match verdict {
        Verdict::Continue(edits) => edits,
        other => panic!("expected to continue, got {other:?}"),
    }
}

fn reply_json(reply: &LocalReply) -> Value {
    assert_eq!(reply.content_type, "application/json");
    serde_json::from_slice(&reply.body).unwrap()
}

/// Sends `request` through, returning the exchange and the upstream body.
fn sent(config: &str, request: &Value) -> (Exchange, Value) {
    let mut ex = exchange(config);
    continued(ex.on_request_headers(&request_headers("/v1/messages"), false));
    let body = ex
        .on_request_body(request.to_string().as_bytes())
        .unwrap_or_else(|reply| panic!("rejected: {}", String::from_utf8_lossy(&reply.body)));
    (ex, serde_json::from_slice(&body).unwrap())
}

fn converted(stream: bool) -> Exchange {
    let request = json!({"model": "gpt-test", "max_tokens": 100, "stream": stream,
        "messages": [{"role": "user", "content": "hi"}]});
    sent(RESPONSES, &request).0
}

fn answered(ex: &mut Exchange, status: &str, content_type: &str) -> Vec<HeaderEdit> {
    let response = headers(&[
        (":status", status),
        ("content-type", content_type),
        ("x-request-id", "req_77"),
        ("x-ratelimit-remaining-requests", "499"),
        ("x-ratelimit-reset-tokens", "1m30s"),
        ("retry-after", "7"),
    ]);
    continued(ex.on_response_headers(&response, false, 1_800_000_000))
}

#[test]
fn anthropic_messages_route_to_the_responses_pair_only_on_that_upstream() {
    use anthropic_openai_bridge::config::Protocol::*;
    let route = Route::AnthropicClientResponses;
    assert_eq!(route_for(OpenaiResponses, "POST", "/v1/messages"), route);
    assert_eq!(
        route_for(OpenaiResponses, "POST", "/proxy/v1/messages?beta=true"),
        route
    );
    assert_eq!(
        route_for(OpenaiResponses, "GET", "/v1/messages"),
        Route::Passthrough
    );
    assert_eq!(
        route_for(OpenaiResponses, "POST", "/v1/responses"),
        Route::Passthrough,
        "already the upstream's protocol"
    );
    assert_eq!(
        route_for(OpenaiResponses, "POST", "/v1/chat/completions"),
        Route::Passthrough
    );
    assert_eq!(
        route_for(Openai, "POST", "/v1/messages"),
        Route::AnthropicClient
    );
}

#[test]
fn request_headers_go_to_v1_responses_with_a_bearer_key() {
    let mut ex = exchange(RESPONSES);
    let edits =
        continued(ex.on_request_headers(&request_headers("/proxy/v1/messages?beta=true"), false));
    assert_eq!(ex.route(), Route::AnthropicClientResponses);
    assert!(ex.converts_request());
    assert!(edits.contains(&HeaderEdit::set(":path", "/proxy/v1/responses")));
    assert!(edits.contains(&HeaderEdit::set("authorization", "Bearer sk-1")));
    assert!(edits.contains(&HeaderEdit::remove("x-api-key")));
    assert!(edits.contains(&HeaderEdit::remove("anthropic-version")));
    assert!(edits.contains(&HeaderEdit::remove("accept-encoding")));

    let mut ex = exchange(
        r#"{"upstream_protocol":"openai_responses","upstream_path":"/openai/v1/responses"}"#,
    );
    let edits = continued(ex.on_request_headers(&request_headers("/v1/messages"), false));
    assert!(edits.contains(&HeaderEdit::set(":path", "/openai/v1/responses")));
}

#[test]
fn the_request_body_is_a_stateless_responses_request() {
    let request = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 200000,
        "system": [{"type": "text", "text": "Be brief."}],
        "metadata": {"user_id": "user_abc"},
        "thinking": {"type": "enabled", "budget_tokens": 4096},
        "tools": [{"name": "Bash", "description": "run", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}],
        "messages": [
            {"role": "user", "content": "list files"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "I should run ls", "signature": "aob2.ENC-FIRST"},
                {"type": "tool_use", "id": "call_1", "name": "Bash", "input": {"command": "ls"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "a.txt"}
            ]}
        ]
    });
    let (ex, body) = sent(
        r#"{"upstream_protocol":"openai_responses","model_map":{"claude-*":"gpt-5-codex"},"max_tokens_limit":32768}"#,
        &request,
    );
    assert_eq!(body["model"], "gpt-5-codex");
    assert_eq!(body["store"], false);
    assert_eq!(body["include"], json!(["reasoning.encrypted_content"]));
    assert_eq!(body["instructions"], "Be brief.");
    assert_eq!(body["max_output_tokens"], 32768);
    assert_eq!(body["reasoning"]["summary"], "auto");
    assert!(body.get("previous_response_id").is_none());
    assert!(body.get("messages").is_none() && body.get("max_tokens").is_none());
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "name": "Bash", "description": "run", "strict": false,
            "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}}])
    );
    let input = body["input"].as_array().unwrap();
    let kinds: Vec<&str> = input.iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "message",
            "reasoning",
            "function_call",
            "function_call_output"
        ]
    );
    assert!(input.iter().all(|item| item.get("id").is_none()));
    assert_eq!(input[1]["encrypted_content"], "ENC-FIRST");
    assert_eq!(
        input[1]["summary"],
        json!([{"type": "summary_text", "text": "I should run ls"}])
    );
    assert_eq!(input[2]["call_id"], "call_1");
    assert_eq!(input[2]["arguments"], r#"{"command":"ls"}"#);
    assert_eq!(input[3]["output"], "a.txt");
    assert_eq!(
        ex.report().direction.map(|d| d.as_str()),
        Some("anthropic_client_responses")
    );
    assert_eq!(ex.report().model.as_deref(), Some("gpt-5-codex"));
}

#[test]
fn bad_requests_get_a_local_400_in_anthropic_shape() {
    let mut ex = exchange(RESPONSES);
    continued(ex.on_request_headers(&request_headers("/v1/messages"), false));
    let reply = ex.on_request_body(b"{\"model\":").unwrap_err();
    assert_eq!(reply.status, 400);
    let body = reply_json(&reply);
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(ex.response_body_mode(), BodyMode::Passthrough);
}

#[test]
fn a_reasoning_stream_is_converted_chunk_by_chunk() {
    let input = fixture("responses/stream-reasoning-summary-encrypted.sse");
    let expected = fixture("responses/stream-reasoning-summary-encrypted.to-anthropic.sse");
    for pieces in [1, 2, 7, 64] {
        let mut ex = converted(true);
        let edits = answered(&mut ex, "200", "text/event-stream; charset=utf-8");
        assert!(edits.contains(&HeaderEdit::set(
            "content-type",
            "text/event-stream; charset=utf-8"
        )));
        assert!(edits.contains(&HeaderEdit::set("request-id", "req_77")));
        assert!(edits.contains(&HeaderEdit::set(
            "anthropic-ratelimit-requests-remaining",
            "499"
        )));
        assert_eq!(ex.response_body_mode(), BodyMode::Stream);
        let size = input.len().div_ceil(pieces);
        let mut out = Vec::new();
        for chunk in input.chunks(size) {
            out.extend(ex.on_stream_chunk(chunk, false));
        }
        out.extend(ex.on_stream_chunk(b"", true));
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&expected),
            "{pieces} pieces"
        );
        let got = check_anthropic_stream(&out);
        assert_eq!(got.blocks[0].kind, "thinking");
        assert!(got.blocks[0].signature.starts_with("aob2.gAAAAAB"));
        assert_eq!(got.stop_reason.as_deref(), Some("end_turn"));
        let tokens = ex.report().tokens.unwrap();
        assert_eq!(tokens.output, got.usage["output_tokens"].as_u64().unwrap());
    }
}

#[test]
fn a_function_call_stream_ends_in_tool_use() {
    let mut ex = converted(true);
    answered(&mut ex, "200", "text/event-stream");
    let mut out = ex.on_stream_chunk(&fixture("responses/stream-function-call.sse"), false);
    out.extend(ex.on_stream_chunk(b"", true));
    assert_golden("responses/stream-function-call.to-anthropic.sse", &out);
    let got = check_anthropic_stream(&out);
    assert_eq!(got.stop_reason.as_deref(), Some("tool_use"));
    assert!(got
        .blocks
        .iter()
        .any(|b| b.kind == "tool_use" && b.id.starts_with("call_")));
}

#[test]
fn a_stream_cut_before_its_terminal_event_ends_in_an_error_event() {
    let input = fixture("responses/stream-text.sse");
    let cut = String::from_utf8_lossy(&input);
    let cut = &cut[..cut.find("event: response.completed").unwrap()];
    let mut ex = converted(true);
    answered(&mut ex, "200", "text/event-stream");
    let mut out = ex.on_stream_chunk(cut.as_bytes(), false);
    out.extend(ex.on_stream_chunk(b"", true));
    let got = check_anthropic_stream(&out);
    let (kind, _) = got.error.expect("an error event");
    assert_eq!(kind, "api_error");
    assert_eq!(got.stop_reason, None, "never a silent end_turn");
    assert!(ex.report().stream_failure.is_some());
}

#[test]
fn a_json_response_is_buffered_and_replaced_whole() {
    let mut ex = converted(false);
    let edits = answered(&mut ex, "200", "application/json");
    assert!(edits.contains(&HeaderEdit::set("request-id", "req_77")));
    assert!(edits.contains(&HeaderEdit::set(
        "anthropic-ratelimit-tokens-reset",
        "2027-01-15T08:01:30Z"
    )));
    assert_eq!(ex.response_body_mode(), BodyMode::Buffer);
    let out = ex.on_buffered_response(&fixture("responses/reasoning-encrypted-summary.json"));
    let body: Value = serde_json::from_slice(&out).unwrap();
    let upstream = fixture_json("responses/reasoning-encrypted-summary.json");
    let encrypted = upstream["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["type"] == "reasoning")
        .unwrap()["encrypted_content"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(body["type"], "message");
    assert_eq!(body["content"][0]["type"], "thinking");
    assert_eq!(body["content"][0]["signature"], format!("aob2.{encrypted}"));
    assert_eq!(
        body["usage"]["output_tokens"],
        upstream["usage"]["output_tokens"]
    );
    assert!(ex.report().upstream_accepted);
}

#[test]
fn a_json_response_to_a_streaming_request_is_sent_as_a_stream() {
    let mut ex = converted(true);
    let edits = answered(&mut ex, "200", "application/json");
    assert!(edits.contains(&HeaderEdit::set(
        "content-type",
        "text/event-stream; charset=utf-8"
    )));
    assert_eq!(ex.response_body_mode(), BodyMode::Buffer);
    let out = ex.on_buffered_response(&fixture("responses/function-calls-parallel.json"));
    let got = check_anthropic_stream(&out);
    let whole = fixture_json("responses/function-calls-parallel.to-anthropic.json");
    let names: Vec<&str> = got.blocks.iter().map(|b| b.name.as_str()).collect();
    let expected: Vec<&str> = whole["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["name"].as_str())
        .collect();
    assert_eq!(names, expected);
    assert!(names.len() >= 2);
    assert_eq!(got.stop_reason.as_deref(), Some("tool_use"));
}

#[test]
fn upstream_errors_keep_their_status_in_anthropic_shape() {
    for (status, kind) in [
        ("400", "invalid_request_error"),
        ("401", "authentication_error"),
        ("429", "rate_limit_error"),
        ("500", "api_error"),
        ("503", "overloaded_error"),
    ] {
        let mut ex = converted(true);
        let edits = answered(&mut ex, status, "application/json");
        assert!(!edits
            .iter()
            .any(|e| matches!(e, HeaderEdit::Set(n, _) if n == ":status")));
        assert!(
            edits.contains(&HeaderEdit::set("content-type", "application/json")),
            "a streaming request gets a JSON error"
        );
        assert!(!edits.iter().any(
            |e| matches!(e, HeaderEdit::Set(n, _) | HeaderEdit::Remove(n) if n == "retry-after")
        ));
        let out = ex.on_buffered_response(&fixture("responses/error-429-insufficient-quota.json"));
        let body: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], kind, "status {status}");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("You exceeded your current quota"));
        assert!(!ex.report().upstream_accepted);
    }
}

#[test]
fn a_response_failed_event_is_an_error_event() {
    let mut ex = converted(true);
    answered(&mut ex, "200", "text/event-stream");
    let mut out = ex.on_stream_chunk(
        &recorded_stream("responses/stream-error-insufficient-quota-failed.chunks.jsonl"),
        false,
    );
    out.extend(ex.on_stream_chunk(b"", true));
    let got = check_anthropic_stream(&out);
    assert!(got.error.is_some());
    assert_eq!(got.stop_reason, None);
}

#[test]
fn an_empty_2xx_response_is_a_502_in_anthropic_shape() {
    let mut ex = converted(false);
    let Verdict::Reply(reply) = ex.on_response_headers(&headers(&[(":status", "200")]), true, 0)
    else {
        panic!("expected a local reply")
    };
    assert_eq!(reply.status, 502);
    assert_eq!(reply_json(&reply)["error"]["type"], "api_error");
}
