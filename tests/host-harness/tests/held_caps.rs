//! Issue 12, point 1, exactly as reported, against the release module: an
//! upstream stream that would make the module hold data without bound ends
//! with the protocol's error once `max_held_bytes` (16 MiB by default) is
//! reached; the VM never traps, its memory stays far below what the attack
//! would have taken, the failure is counted, and the next request on the
//! same VM is served normally.

mod common;

use common::*;
use host_harness::{Chunking, Host, MetricKind};
use serde_json::json;

const MIB: usize = 1024 * 1024;
/// 16 MiB held, plus the callbacks' own copies of a chunk and the
/// allocator's slack: what the module may grow to under either attack
/// (the attacks themselves are 200 MB and 400 MB).
const MEMORY_BOUND: usize = 64 * MIB;

fn counter(h: &Host, name: &str) -> i64 {
    h.metrics()
        .get(name)
        .filter(|m| m.kind == MetricKind::Counter)
        .map_or(0, |m| m.value)
}

fn anthropic_event(event: &str, data: serde_json::Value) -> Vec<u8> {
    format!("event: {event}\ndata: {data}\n\n").into_bytes()
}

/// 2,000 × 100 KB `thinking_delta` events in one thinking block, for an
/// OpenAI client (thinking is collected for `thinking_blocks`).
#[test]
fn a_thinking_flood_for_an_openai_client_ends_in_an_error_chunk() {
    let mut h = host(ANTHROPIC_UPSTREAM);
    let before = h.memory_size();
    let req = openai_request(true, false);
    let headers = openai_headers("/v1/chat/completions", Some(req.len()));
    let mut s = h.http_stream();
    s.request(&pairs(&headers), &req, &Chunking::Whole).unwrap();
    s.response_headers(SSE_200, false).unwrap();
    s.response_body(
        &anthropic_event(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message",
                "role": "assistant", "model": "claude", "content": [],
                "usage": {"input_tokens": 1, "output_tokens": 1}}}),
        ),
        false,
    )
    .unwrap();
    s.response_body(
        &anthropic_event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "thinking", "thinking": ""}}),
        ),
        false,
    )
    .unwrap();
    let delta = anthropic_event(
        "content_block_delta",
        json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "t".repeat(100_000)}}),
    );
    for _ in 0..2000 {
        s.response_body(&delta, false)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    s.response_body(
        b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        true,
    )
    .unwrap();
    assert!(s.response_complete());
    let items = parse_openai_sse(s.response_body_out()).unwrap();
    check_openai_stream(&items).unwrap();
    let Some(OpenAiItem::Chunk(last)) = items.last() else {
        panic!("no final chunk");
    };
    let message = last["error"]["message"].as_str().unwrap();
    assert!(message.contains("max_held_bytes"), "{message}");
    assert!(!items.contains(&OpenAiItem::Done));
    // What reached the client: the reasoning up to the cap, no more.
    let reasoning: usize = items
        .iter()
        .filter_map(|i| match i {
            OpenAiItem::Chunk(c) => c["choices"][0]["delta"]["reasoning_content"].as_str(),
            _ => None,
        })
        .map(str::len)
        .sum();
    assert!((15 * MIB..=16 * MIB).contains(&reasoning), "{reasoning}");
    s.finish().unwrap();
    drop(s);
    assert_clean(&h);
    let after = h.memory_size();
    assert!(
        after < MEMORY_BOUND,
        "wasm memory {before} -> {after} bytes"
    );
    assert_eq!(
        counter(
            &h,
            "aob.streams_ended_by_error.direction=.=openai_client;.;reason=.=over_held_limit;.;"
        ),
        1
    );
    // The same VM serves the next request, converted as a fresh VM would.
    let sse = recorded_stream("anthropic/docs-stream-text.sse");
    let got = openai_exchange(&mut h, &req, SSE_200, &sse, &Chunking::Bytes(64));
    let want = openai_exchange(
        &mut host(ANTHROPIC_UPSTREAM),
        &req,
        SSE_200,
        &sse,
        &Chunking::Bytes(64),
    );
    assert_eq!(got.response_body, want.response_body);
    assert!(got.body_text().ends_with("data: [DONE]\n\n"));
    assert_clean(&h);
}

fn openai_chunk(delta: serde_json::Value) -> Vec<u8> {
    let chunk = json!({"id": "c1", "model": "gpt", "choices": [{"index": 0, "delta": delta}]});
    format!("data: {chunk}\n\n").into_bytes()
}

/// 400 MB of argument fragments for a tool call that is not the open block,
/// for an Anthropic client. The 100 KB chunk is built once and sent 4,000
/// times: the harness holds one chunk, not 400 MB.
#[test]
fn an_argument_flood_for_an_anthropic_client_ends_in_an_error_event() {
    let mut h = openai_host();
    let before = h.memory_size();
    let req = simple_request(true);
    let headers = anthropic_headers("/v1/messages", Some(req.len()));
    let mut s = h.http_stream();
    s.request(&pairs(&headers), &req, &Chunking::Whole).unwrap();
    s.response_headers(SSE_200, false).unwrap();
    let mut head = openai_chunk(json!({"role": "assistant", "content": null}));
    head.extend(openai_chunk(
        json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
            "function": {"name": "first", "arguments": "{\"a\": "}}]}),
    ));
    head.extend(openai_chunk(
        json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
            "function": {"name": "second", "arguments": ""}}]}),
    ));
    s.response_body(&head, false).unwrap();
    let fragment = openai_chunk(
        json!({"tool_calls": [{"index": 1, "function": {"arguments": "x".repeat(100_000)}}]}),
    );
    for _ in 0..4000 {
        s.response_body(&fragment, false)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    s.response_body(b"data: [DONE]\n\n", true).unwrap();
    assert!(s.response_complete());
    let events = parse_anthropic_sse(s.response_body_out()).unwrap();
    check_anthropic_stream(&events).unwrap();
    let (name, error) = events.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(error["error"]["type"], "api_error");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("max_held_bytes"), "{message}");
    s.finish().unwrap();
    drop(s);
    assert_clean(&h);
    let after = h.memory_size();
    assert!(
        after < MEMORY_BOUND,
        "wasm memory {before} -> {after} bytes"
    );
    assert_eq!(
        counter(
            &h,
            "aob.streams_ended_by_error.direction=.=anthropic_client;.;reason=.=over_held_limit;.;"
        ),
        1
    );
    let sse = recorded_stream("openai/stream-tool-call-single.sse");
    let got = exchange(&mut h, &req, SSE_200, &sse, &Chunking::Bytes(3));
    let want = exchange(&mut openai_host(), &req, SSE_200, &sse, &Chunking::Bytes(3));
    assert_eq!(got.response_body, want.response_body);
    assert_clean(&h);
}

/// A 40 MB non-streaming answer without content-length: the module drops
/// its bytes as they come (the host never buffers past the limit) and the
/// end of the body is the error in the client's format.
#[test]
fn a_chunked_answer_over_max_response_bytes_is_dropped_not_buffered() {
    let mut h = openai_host();
    let req = simple_request(false);
    let headers = anthropic_headers("/v1/messages", Some(req.len()));
    let mut s = h.http_stream();
    s.request(&pairs(&headers), &req, &Chunking::Whole).unwrap();
    s.response_headers(
        &[(":status", "200"), ("content-type", "application/json")],
        false,
    )
    .unwrap();
    let piece = vec![b'y'; MIB];
    for _ in 0..40 {
        s.response_body(&piece, false).unwrap();
        assert!(s.response_buffered().len() <= 17 * MIB);
    }
    s.response_body(b"", true).unwrap();
    assert!(s.response_complete());
    let (kind, message) = anthropic_error(s.response_body_out());
    assert_eq!(kind, "api_error");
    assert!(
        message.contains("max_response_bytes: 16777216"),
        "{message}"
    );
    s.finish().unwrap();
    drop(s);
    assert_clean(&h);
    assert!(h.memory_size() < MEMORY_BOUND, "{}", h.memory_size());
    assert_still_serves_json(&mut h);
}

fn assert_still_serves_json(h: &mut Host) {
    let body = fixture("openai/chat-text.json");
    let req = simple_request(false);
    let got = exchange(h, &req, JSON_200, &body, &Chunking::Whole);
    assert_eq!(got.status, Some(200));
    let message: serde_json::Value = serde_json::from_slice(&got.response_body).unwrap();
    assert_eq!(message["type"], "message");
}
