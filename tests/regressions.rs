//! Inputs the fuzzers (fuzz/) and property tests (tests/properties.rs)
//! found, reduced to the smallest case, one test each: each one failed
//! before its fix.

mod common;

use anthropic_openai_bridge::convert::openai_client::response::{
    convert_response, ResponseContext,
};
use anthropic_openai_bridge::convert::openai_client::stream::{message_as_stream, StreamConverter};
use common::*;
use serde_json::{json, Value};

fn openai_ctx(include_usage: bool) -> ResponseContext {
    ResponseContext {
        model: "claude-test".to_string(),
        created: 1_700_000_000,
        fallback_id: "msg_fallback".to_string(),
        include_usage,
    }
}

fn anthropic_events(events: &[Value]) -> Vec<u8> {
    let mut out = String::new();
    for event in events {
        out.push_str(&format!(
            "event: {}\ndata: {event}\n\n",
            event["type"].as_str().unwrap()
        ));
    }
    out.into_bytes()
}

fn to_openai_stream(input: &[u8]) -> Vec<u8> {
    let mut converter = StreamConverter::new(openai_ctx(true));
    let mut out = Vec::new();
    converter.push(input, &mut out);
    converter.finish(&mut out);
    out
}

fn message_start() -> Value {
    json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
        "model": "claude-x", "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": 5, "output_tokens": 1}}})
}

/// Found by `openai_client_stream`: a block that starts after
/// `message_delta` (a misbehaving upstream, or a corrupted event in
/// between) is still converted, so the OpenAI client gets content chunks
/// after the chunk that carried `finish_reason`, which the chunk grammar
/// (and the SDKs' accumulators) do not allow. Expected: like the other
/// direction ("chunks after that are ignored"), content after the finish is
/// dropped and the stream still ends with the usage chunk and `[DONE]`.
#[test]
fn openai_client_stream_ignores_blocks_after_message_delta() {
    let input = anthropic_events(&[
        message_start(),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 3}}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "late"}}),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "message_stop"}),
    ]);
    let chunks = check_openai_stream(&to_openai_stream(&input));
    assert_eq!(chunks.content, "Hello");
    assert_eq!(chunks.finish_reason.as_deref(), Some("stop"));
    assert!(chunks.done);
}

/// Found by `openai_client_response` and `openai_client_stream`: a
/// `tool_use` block without `id` (or `name`) becomes an OpenAI tool call
/// without one; the openai-node SDK's stream helper throws `missing
/// choices[0].tool_calls[0].id` on it. The Anthropic-client direction
/// invents an id when the upstream gives none (`tool_fallback_id`).
/// Expected: every tool call the client gets has a string `id` and
/// `function.name`, streaming or not.
#[test]
fn openai_client_tool_calls_always_have_an_id_and_a_name() {
    let message = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
        "content": [{"type": "tool_use", "input": {"city": "Paris"}}],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 5, "output_tokens": 7}});
    let body = serde_json::to_vec(&message).unwrap();
    let (completion, _) = convert_response(&body, &openai_ctx(false));
    let completion: Value = serde_json::from_slice(&completion).unwrap();
    let call = &completion["choices"][0]["message"]["tool_calls"][0];
    assert!(call["id"].is_string(), "non-streaming: {call}");
    assert!(
        call["function"]["name"].is_string(),
        "non-streaming: {call}"
    );

    let parsed = serde_json::from_slice(&body).unwrap();
    check_openai_stream(&message_as_stream(parsed, &openai_ctx(false)));

    let input = anthropic_events(&[
        message_start(),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "input": {}}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{}"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 3}}),
        json!({"type": "message_stop"}),
    ]);
    let chunks = check_openai_stream(&to_openai_stream(&input));
    assert_eq!(chunks.tools.len(), 1);
}
