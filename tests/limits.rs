//! The limits, each with its protocol-native error, where the other tier-1
//! files do not already pin them: the default SSE line bound (8 MiB) in both
//! stream directions, JSON nesting in OpenAI requests and in upstream bodies
//! of both protocols, and `max_request_bytes` for OpenAI clients.

mod common;

use anthropic_openai_bridge::config::Config;
use anthropic_openai_bridge::convert::anthropic_client::response::{
    convert_response as to_anthropic_message, ResponseContext as AnthropicCtx,
};
use anthropic_openai_bridge::convert::anthropic_client::stream::StreamConverter as ToAnthropic;
use anthropic_openai_bridge::convert::openai_client::request::convert_request as convert_openai_request;
use anthropic_openai_bridge::convert::openai_client::response::{
    convert_response as to_openai_completion, ResponseContext as OpenAiCtx,
};
use anthropic_openai_bridge::convert::openai_client::stream::StreamConverter as ToOpenAi;
use anthropic_openai_bridge::exchange::{Exchange, Verdict};
use anthropic_openai_bridge::sse::MAX_LINE_BYTES;
use common::*;
use serde_json::Value;
use std::rc::Rc;

fn anthropic_ctx() -> AnthropicCtx {
    AnthropicCtx {
        model: "gpt".to_string(),
        fallback_id: "msg_fb".to_string(),
        ..Default::default()
    }
}

fn openai_ctx() -> OpenAiCtx {
    OpenAiCtx {
        model: "claude".to_string(),
        created: 1,
        fallback_id: "chatcmpl-fb".to_string(),
        include_usage: true,
    }
}

/// A line one byte over the default bound, fed in 64 KiB pieces as Envoy
/// delivers a body, after a valid start; then more input.
fn overlong_line_pieces(head: &str) -> Vec<Vec<u8>> {
    let mut pieces = vec![head.as_bytes().to_vec(), b"data: ".to_vec()];
    let mut left = MAX_LINE_BYTES + 1 - "data: ".len();
    while left > 0 {
        let n = left.min(64 * 1024);
        pieces.push(vec![b'x'; n]);
        left -= n;
    }
    pieces.push(b"\n\ndata: [DONE]\n\n".to_vec());
    pieces
}

#[test]
fn an_sse_line_over_the_default_bound_is_an_anthropic_error_event() {
    assert_eq!(MAX_LINE_BYTES, 8 * 1024 * 1024);
    let head =
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"}}]}\n\n";
    let mut converter = ToAnthropic::new(anthropic_ctx());
    let mut out = Vec::new();
    for piece in overlong_line_pieces(head) {
        converter.push(&piece, &mut out);
    }
    converter.finish(&mut out);
    let message = check_anthropic_stream(&out);
    assert_eq!(message.blocks[0].text, "ok");
    let (kind, text) = message.error.expect("an error event");
    assert_eq!(kind, "api_error");
    assert!(text.contains("longer than 8388608 bytes"), "{text}");
    // Nothing of the overlong line was kept in the output.
    assert!(out.len() < 4096, "{} bytes of output", out.len());
}

#[test]
fn an_sse_line_over_the_default_bound_is_an_openai_error_chunk() {
    let head = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\",\"content\":[],\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n";
    let mut converter = ToOpenAi::new(openai_ctx());
    let mut out = Vec::new();
    for piece in overlong_line_pieces(head) {
        converter.push(&piece, &mut out);
    }
    converter.finish(&mut out);
    let chunks = check_openai_stream(&out);
    let error = chunks.error.expect("an error chunk");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("longer than 8388608 bytes"),
        "{error}"
    );
    assert!(!chunks.done);
    assert!(out.len() < 4096, "{} bytes of output", out.len());
}

fn nested(depth: usize, inner: &str) -> String {
    format!("{}{inner}{}", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn deep_nesting_in_an_openai_request_is_a_400() {
    let config = Config::from_json(br#"{"upstream_protocol":"anthropic"}"#).unwrap();
    // Replayed thinking blocks are content blocks, which nest.
    let blocks = format!(
        "{}\"x\"{}",
        "[{\"type\":\"thinking\",\"content\":".repeat(200),
        "}]".repeat(200)
    );
    let body = format!(
        "{{\"model\":\"m\",\"messages\":[{{\"role\":\"user\",\"content\":\"a\"}},{{\"role\":\"assistant\",\"content\":\"b\",\"thinking_blocks\":{blocks}}}]}}"
    );
    let error = convert_openai_request(body.as_bytes(), &config).unwrap_err();
    assert_eq!(error.status, 400);
    assert!(
        error.message.contains("recursion limit"),
        "{}",
        error.message
    );
    // A field the bridge drops (`seed`) is skipped without recursion, at
    // any depth; one it passes through uninterpreted (tool parameters)
    // reaches the upstream as sent.
    let deep = nested(100_000, "1");
    let body = format!("{{\"model\":\"m\",\"messages\":[{{\"role\":\"user\",\"content\":\"a\"}}],\"seed\":{deep}}}");
    let converted = convert_openai_request(body.as_bytes(), &config).unwrap();
    assert!(!String::from_utf8(converted.body).unwrap().contains("[["));
    let schema = format!("{{\"a\":{}}}", nested(10_000, "1"));
    let body = format!("{{\"model\":\"m\",\"messages\":[{{\"role\":\"user\",\"content\":\"a\"}}],\"tools\":[{{\"type\":\"function\",\"function\":{{\"name\":\"f\",\"parameters\":{schema}}}}}]}}");
    let converted = convert_openai_request(body.as_bytes(), &config).unwrap();
    let text = String::from_utf8(converted.body).unwrap();
    assert!(text.contains(&format!("\"input_schema\":{schema}")));
}

#[test]
fn deep_nesting_in_upstream_bodies_is_an_error_body_not_a_crash() {
    let deep = nested(100_000, "");
    let (body, tokens) = to_anthropic_message(deep.as_bytes(), &anthropic_ctx());
    assert!(tokens.is_none());
    let value: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(value["type"], "error");
    let (body, tokens) = to_openai_completion(deep.as_bytes(), &openai_ctx());
    assert!(tokens.is_none());
    let value: Value = serde_json::from_slice(&body).unwrap();
    assert!(value["error"]["message"].is_string());

    // A stream chunk nested past the limit is an error event.
    let mut converter = ToAnthropic::new(anthropic_ctx());
    let mut out = Vec::new();
    converter.push(format!("data: {deep}\n\n").as_bytes(), &mut out);
    converter.finish(&mut out);
    let message = check_anthropic_stream(&out);
    assert!(message.error.is_some());
}

#[test]
fn openai_clients_get_a_413_from_content_length_or_buffered_size() {
    let config =
        Config::from_json(br#"{"upstream_protocol":"anthropic","max_request_bytes":100}"#).unwrap();
    let headers = |length: Option<&str>| {
        let mut h = vec![
            (":method".to_string(), "POST".to_string()),
            (":path".to_string(), "/v1/chat/completions".to_string()),
            ("authorization".to_string(), "Bearer t".to_string()),
        ];
        if let Some(length) = length {
            h.push(("content-length".to_string(), length.to_string()));
        }
        h
    };
    let mut ex = Exchange::new(Rc::new(config.clone()), "fb".to_string());
    let Verdict::Reply(reply) = ex.on_request_headers(&headers(Some("101")), false) else {
        panic!("expected a 413 from content-length");
    };
    assert_eq!(reply.status, 413);
    let error: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("100 bytes"));

    // Chunked (no content-length): decided on the bytes buffered so far.
    let mut ex = Exchange::new(Rc::new(config), "fb".to_string());
    assert!(matches!(
        ex.on_request_headers(&headers(None), false),
        Verdict::Continue(_)
    ));
    assert_eq!(ex.check_request_size(100), None);
    let reply = ex
        .check_request_size(101)
        .expect("a 413 once over the limit");
    assert_eq!(reply.status, 413);
    let error: Value = serde_json::from_slice(&reply.body).unwrap();
    assert!(error["error"]["message"].is_string());
    // The whole body is checked again when it is converted.
    let big = format!(
        "{{\"model\":\"m\",\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}}]}}",
        "x".repeat(200)
    );
    assert_eq!(ex.on_request_body(big.as_bytes()).unwrap_err().status, 413);
}
