//! `/v1/messages/count_tokens` through the release module, in each
//! `count_tokens` mode (the estimate's values are measured natively, in
//! tests/count_tokens.rs).

mod common;

use common::*;
use host_harness::Chunking;
use serde_json::{json, Value};

const PATH: &str = "/v1/messages/count_tokens?beta=true";

fn body(text: &str) -> Vec<u8> {
    json!({"model": "claude-sonnet-4-5", "system": "Be brief",
           "messages": [{"role": "user", "content": text}]})
    .to_string()
    .into_bytes()
}

/// The estimate mode's answer for `text`, checking nothing went upstream
/// but headers without credentials.
fn estimated(h: &mut host_harness::Host, text: &str, chunking: &Chunking) -> u64 {
    let req = body(text);
    let headers = anthropic_headers(PATH, Some(req.len()));
    let mut s = h.http_stream();
    s.request(&pairs(&headers), &req, chunking)
        .unwrap_or_else(|e| panic!("{e}"));
    let reply = s.local_response().expect("answered locally").clone();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert!(s.request_body_out().is_empty(), "the body went upstream");
    assert!(!s.request_complete());
    if let Some(out) = s.request_headers_out() {
        assert_eq!(out.get("x-api-key"), None);
        assert_eq!(out.get("authorization"), None);
    }
    let answer: Value = serde_json::from_slice(&reply.body).unwrap();
    let object = answer.as_object().unwrap();
    assert_eq!(object.len(), 1, "{answer}");
    answer["input_tokens"].as_u64().unwrap()
}

#[test]
fn the_estimate_is_answered_by_the_module_without_the_upstream() {
    let mut h = openai_host();
    let short = estimated(&mut h, "Hello, world", &Chunking::Whole);
    let long = estimated(&mut h, &"Hello, world. ".repeat(100), &Chunking::Bytes(7));
    assert!(short >= 10, "3 per message, roles, text, priming: {short}");
    assert!(long > short + 200, "{short} → {long}");
    assert_eq!(
        estimated(&mut h, "Hello, world", &Chunking::Bytes(1)),
        short,
        "the count does not depend on how the body arrives"
    );
    assert_clean(&h);
}

#[test]
fn upstream_mode_answers_the_completions_prompt_tokens() {
    let mut h = host(r#"{"upstream_protocol":"openai","count_tokens":"upstream"}"#);
    let req = body("Hello, world");
    let headers = anthropic_headers(PATH, Some(req.len()));
    let completion = br#"{"id":"c","object":"chat.completion","created":1,"model":"gpt-4.1","choices":[{"index":0,"message":{"role":"assistant","content":"H"},"finish_reason":"length"}],"usage":{"prompt_tokens":17,"completion_tokens":1,"total_tokens":18}}"#;
    let o = exchange_with(
        &mut h,
        &headers,
        &req,
        JSON_200,
        completion,
        &Chunking::Bytes(9),
    );
    let sent: Value = serde_json::from_slice(&o.request_body).unwrap();
    assert_eq!(sent["max_completion_tokens"], 1);
    assert_eq!(sent.get("stream"), None);
    let out = o.request_headers.clone().unwrap();
    let path = out
        .iter()
        .find(|(k, _)| k == ":path")
        .map(|(_, v)| v.as_str());
    assert_eq!(path, Some("/v1/chat/completions"));
    assert_eq!(o.status, Some(200));
    assert_eq!(o.response_header("content-type"), Some("application/json"));
    let answer: Value = serde_json::from_slice(&o.response_body).unwrap();
    assert_eq!(answer, json!({"input_tokens": 17}));
    assert_clean(&h);
}

#[test]
fn passthrough_mode_forwards_count_tokens_untouched() {
    let mut h = host(r#"{"upstream_protocol":"openai","count_tokens":"passthrough"}"#);
    let req = body("Hello, world");
    let headers = anthropic_headers(PATH, Some(req.len()));
    let upstream = br#"{"input_tokens":5}"#;
    let length = upstream.len().to_string();
    let response = [
        (":status", "200"),
        ("content-type", "application/json"),
        ("content-length", length.as_str()),
    ];
    let o = exchange_with(
        &mut h,
        &headers,
        &req,
        &response,
        upstream,
        &Chunking::Whole,
    );
    assert_eq!(o.request_body, req);
    assert_eq!(o.response_body, upstream);
    assert_clean(&h);
}

#[test]
fn bad_count_tokens_bodies_are_400s_in_anthropic_shape() {
    let mut h = openai_host();
    for bad in [&b"{"[..], br#"{"model":"m","messages":[]}"#] {
        let headers = anthropic_headers(PATH, Some(bad.len()));
        let mut s = h.http_stream();
        s.request(&pairs(&headers), bad, &Chunking::Whole)
            .unwrap_or_else(|e| panic!("{e}"));
        let reply = s.local_response().expect("a local 400").clone();
        assert_eq!(reply.status, 400);
        assert_eq!(anthropic_error(&reply.body).0, "invalid_request_error");
    }
    assert_clean(&h);
}
