//! The release bridge module in the harness, OpenAI Responses API client
//! (Codex CLI, the openai SDK's `client.responses`) → Anthropic upstream
//! (issue 14): Codex's recorded request converted, recorded Anthropic
//! streams converted into the Responses grammar (checked by the strict
//! checker the native tests use) identically in every chunking, and whole
//! answers and errors in the OpenAI shapes.

mod common;

#[path = "../../common/responses.rs"]
#[allow(dead_code)]
mod responses;

use common::*;
use host_harness::{Chunking, Host};
use responses::try_check_responses_stream;
use serde_json::{json, Value};

fn anthropic_host() -> Host {
    host(ANTHROPIC_UPSTREAM)
}

const SSE_ANTHROPIC: &[(&str, &str)] = &[
    (":status", "200"),
    ("content-type", "text/event-stream; charset=utf-8"),
    ("request-id", "req_anthropic_1"),
    ("anthropic-ratelimit-requests-remaining", "49"),
];

/// Codex 0.171's recorded request (fixtures/responses/requests): its
/// headers as received, the key placeholder replaced, and its body.
fn codex_request(name: &str) -> (Vec<(String, String)>, Vec<u8>) {
    let recorded: Value = serde_json::from_slice(&fixture(&format!(
        "responses/requests/codex-0.171.0-{name}.json"
    )))
    .unwrap();
    let body = recorded["body"].to_string().into_bytes();
    let mut headers = vec![
        (":method".to_string(), "POST".to_string()),
        (":scheme".to_string(), "http".to_string()),
        (":authority".to_string(), "bridge.local".to_string()),
        (":path".to_string(), "/v1/responses".to_string()),
    ];
    for pair in recorded["headers"].as_array().unwrap() {
        let (name, value) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        let value = match name {
            "host" => continue,
            "authorization" => "Bearer sk-ant-codex",
            "content-length" => &body.len().to_string(),
            _ => value,
        };
        headers.push((name.to_string(), value.to_string()));
    }
    (headers, body)
}

fn responses_headers(body_len: usize) -> Vec<(String, String)> {
    [
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", "bridge.local"),
        (":path", "/v1/responses"),
        ("content-type", "application/json"),
        ("authorization", "Bearer sk-ant-sdk"),
        ("openai-organization", "org-1"),
        ("x-stainless-lang", "python"),
        ("content-length", &body_len.to_string()),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect()
}

fn get<'a>(h: &'a [(String, String)], k: &str) -> Option<&'a str> {
    h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

#[test]
fn codexs_request_reaches_the_upstream_as_an_anthropic_request() {
    let mut h = anthropic_host();
    let (headers, body) = codex_request("shell-round-trip-1");
    let o = exchange_with(
        &mut h,
        &headers,
        &body,
        SSE_ANTHROPIC,
        &recorded_stream("anthropic/stream-text-minimal.sse"),
        &Chunking::Whole,
    );
    let out = o.request_headers.clone().expect("request headers sent on");
    assert_eq!(get(&out, ":path"), Some("/v1/messages"));
    assert_eq!(get(&out, "x-api-key"), Some("sk-ant-codex"));
    assert_eq!(get(&out, "anthropic-version"), Some("2023-06-01"));
    for gone in [
        "authorization",
        "accept-encoding",
        "x-codex-turn-metadata",
        "x-codex-window-id",
        "session-id",
        "thread-id",
        "originator",
    ] {
        assert_eq!(get(&out, gone), None, "{gone}");
    }
    let sent: Value = serde_json::from_slice(&o.request_body).unwrap();
    assert_eq!(sent["stream"], true);
    assert!(sent["tools"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "exec_command"));
    let messages = sent["messages"].as_array().unwrap();
    let (assistant, results) = (&messages[messages.len() - 2], &messages[messages.len() - 1]);
    let call = assistant["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "tool_use")
        .unwrap();
    assert_eq!(results["content"][0]["type"], "tool_result");
    assert_eq!(results["content"][0]["tool_use_id"], call["id"]);
    assert_eq!(
        o.request_body
            .windows(9)
            .filter(|w| w == b"ephemeral")
            .count(),
        4,
        "prompt-cache breakpoints: last tool, system, last two user turns"
    );
    assert_eq!(o.status, Some(200));
    let got = try_check_responses_stream(&o.response_body)
        .unwrap_or_else(|e| panic!("{e}\n{}", o.body_text()));
    assert_eq!(got.terminal, "response.completed");
    assert_eq!(o.response_header("x-request-id"), Some("req_anthropic_1"));
    assert_eq!(
        o.response_header("x-ratelimit-remaining-requests"),
        Some("49")
    );
    assert_clean(&h);
}

/// The output with each per-request fallback id (`…bridge_<n>`, used when
/// the upstream's stream names no message id) replaced by `bridge_N`.
fn normalize(out: &[u8]) -> String {
    let text = String::from_utf8_lossy(out);
    let mut normal = String::with_capacity(text.len());
    let mut rest: &str = &text;
    while let Some(i) = rest.find("bridge_") {
        normal.push_str(&rest[..i + "bridge_".len()]);
        rest = &rest[i + "bridge_".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_hexdigit() || c == '_'))
            .unwrap_or(rest.len());
        normal.push('N');
        rest = &rest[end..];
    }
    normal.push_str(rest);
    normal
}

fn stream_outputs_match(name: &str) -> responses::ResponsesStream {
    let mut h = anthropic_host();
    let (headers, body) = codex_request("plain-0");
    let sse = recorded_stream(name);
    let whole = exchange_with(
        &mut h,
        &headers,
        &body,
        SSE_ANTHROPIC,
        &sse,
        &Chunking::Whole,
    );
    assert_eq!(whole.status, Some(200), "{name}");
    assert!(whole.response_complete);
    assert!(whole
        .response_header("content-type")
        .is_some_and(|t| t.starts_with("text/event-stream")));
    let got = try_check_responses_stream(&whole.response_body)
        .unwrap_or_else(|e| panic!("{name}: {e}\n{}", whole.body_text()));
    for c in chunkings(sse.len()) {
        let o = exchange_with(&mut h, &headers, &body, SSE_ANTHROPIC, &sse, &c);
        let (got, want) = (normalize(&o.response_body), normalize(&whole.response_body));
        assert!(
            got == want,
            "{name} with {c:?}: {}",
            first_difference(got.as_bytes(), want.as_bytes())
        );
        assert!(o.response_complete, "{name} {c:?}");
    }
    assert_clean(&h);
    got
}

#[test]
fn a_text_then_tool_use_stream_is_the_responses_grammar_in_every_chunking() {
    let got = stream_outputs_match("anthropic/docs-stream-text-then-tool-use.sse");
    assert_eq!(got.terminal, "response.completed");
    assert!(!got.text().is_empty());
    let calls = got.items_of("function_call");
    assert_eq!(calls.len(), 1);
    assert!(calls[0]["call_id"].as_str().unwrap().starts_with("toolu_"));
    let usage = &got.response["usage"];
    assert_eq!(
        usage["total_tokens"],
        usage["input_tokens"].as_u64().unwrap() + usage["output_tokens"].as_u64().unwrap()
    );
}

#[test]
fn a_thinking_stream_carries_its_signature_in_every_chunking() {
    let got = stream_outputs_match("anthropic/stream-thinking-signature.sse");
    let reasoning = got.items_of("reasoning");
    assert_eq!(reasoning.len(), 1);
    assert!(reasoning[0]["encrypted_content"]
        .as_str()
        .unwrap()
        .starts_with("aobt1."));
    assert!(!reasoning[0]["summary"][0]["text"]
        .as_str()
        .unwrap()
        .is_empty());
}

#[test]
fn an_error_event_mid_stream_is_response_failed_in_every_chunking() {
    let got = stream_outputs_match("anthropic/docs-stream-error-overloaded.sse");
    assert_eq!(got.terminal, "response.failed");
    assert_eq!(got.response["error"]["code"], "server_error");
}

#[test]
fn a_whole_message_is_a_response_object() {
    let mut h = anthropic_host();
    let req = serde_json::to_vec(&json!({"model": "claude-sonnet-4-5", "input": "hi"})).unwrap();
    let o = exchange_with(
        &mut h,
        &responses_headers(req.len()),
        &req,
        JSON_200,
        &fixture("anthropic/msg-tool-use.json"),
        &Chunking::Bytes(7),
    );
    let out = o.request_headers.unwrap();
    assert_eq!(get(&out, "openai-organization"), None);
    assert_eq!(get(&out, "x-stainless-lang"), None);
    let response: Value = serde_json::from_slice(&o.response_body).unwrap();
    assert_eq!(response["object"], "response");
    assert_eq!(response["status"], "completed");
    let message: Value = serde_json::from_slice(&fixture("anthropic/msg-tool-use.json")).unwrap();
    let uses: Vec<&Value> = message["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "tool_use")
        .collect();
    let calls: Vec<&Value> = response["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "function_call")
        .collect();
    assert_eq!(calls.len(), uses.len());
    for (call, used) in calls.iter().zip(&uses) {
        assert_eq!(call["call_id"], used["id"]);
        assert_eq!(call["name"], used["name"]);
        let arguments: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(arguments, used["input"]);
    }
    assert_clean(&h);
}

#[test]
fn upstream_errors_are_openai_errors_with_codexs_codes() {
    let mut h = anthropic_host();
    let req =
        serde_json::to_vec(&json!({"model": "claude-sonnet-4-5", "input": "hi", "stream": true}))
            .unwrap();
    let error = br#"{"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}}"#;
    let o = exchange_with(
        &mut h,
        &responses_headers(req.len()),
        &req,
        &[
            (":status", "429"),
            ("content-type", "application/json"),
            ("retry-after", "7"),
        ],
        error,
        &Chunking::Whole,
    );
    assert_eq!(o.status, Some(429));
    assert_eq!(o.response_header("retry-after"), Some("7"));
    let body: Value = serde_json::from_slice(&o.response_body).unwrap();
    assert_eq!(
        body,
        json!({"error": {"message": "Slow down. Please try again in 7s.", "type": "rate_limit_error", "param": null, "code": "rate_limit_exceeded"}})
    );

    let stateful = br#"{"model":"m","input":"hi","previous_response_id":"resp_1"}"#;
    let o = exchange_with(
        &mut h,
        &responses_headers(stateful.len()),
        stateful,
        JSON_200,
        b"",
        &Chunking::Whole,
    );
    assert_eq!(o.local_status, Some(400));
    let body: Value = serde_json::from_slice(&o.response_body).unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("keeps no conversation state"));
}
