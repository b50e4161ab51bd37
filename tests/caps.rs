//! Bounded memory (issue 12, point 1): what a stream converter holds across
//! events stays under `max_held_bytes`, parser and handler together, and
//! passing it ends the stream with the protocol's error; a buffered answer
//! over `max_response_bytes` is a 502 in the client's format.

mod common;

use anthropic_openai_bridge::config::Config;
use anthropic_openai_bridge::convert::anthropic_client::response::ResponseContext as AnthropicCtx;
use anthropic_openai_bridge::convert::anthropic_client::stream::StreamConverter as ToAnthropic;
use anthropic_openai_bridge::convert::openai_client::response::ResponseContext as OpenAiCtx;
use anthropic_openai_bridge::convert::openai_client::stream::StreamConverter as ToOpenAi;
use anthropic_openai_bridge::convert::tool_names::ToolNames;
use anthropic_openai_bridge::exchange::{BodyMode, Exchange, Verdict};
use anthropic_openai_bridge::report::{StreamFailure, StreamOutcome};
use common::*;
use serde_json::{json, Value};
use std::rc::Rc;

const CAP: usize = 1024 * 1024;

fn anthropic_ctx() -> AnthropicCtx {
    AnthropicCtx {
        tool_names: ToolNames::default(),
        model: "gpt-test".to_string(),
        fallback_id: "msg_fallback".to_string(),
    }
}

fn openai_ctx() -> OpenAiCtx {
    OpenAiCtx {
        model: "claude-test".to_string(),
        created: 1_700_000_000,
        fallback_id: "msg_fallback".to_string(),
        include_usage: false,
    }
}

fn chunk(delta: Value) -> Vec<u8> {
    let chunk = json!({"id": "c1", "model": "gpt", "choices": [{"index": 0, "delta": delta}]});
    format!("data: {chunk}\n\n").into_bytes()
}

/// Call 0 opens and never completes its arguments, so every fragment of
/// call 1 is held until call 0's block can close.
fn argument_flood_head() -> Vec<u8> {
    let mut head = chunk(json!({"role": "assistant", "content": null}));
    head.extend(chunk(
        json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
        "function": {"name": "first", "arguments": "{\"a\": "}}]}),
    ));
    head.extend(chunk(
        json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
        "function": {"name": "second", "arguments": "{\"b\": \""}}]}),
    ));
    head
}

fn argument_fragment(size: usize) -> Vec<u8> {
    let fragment = "x".repeat(size);
    chunk(json!({"tool_calls": [{"index": 1, "function": {"arguments": fragment}}]}))
}

#[test]
fn held_tool_arguments_past_the_cap_end_the_stream_with_an_error_event() {
    let mut converter = ToAnthropic::with_cap(anthropic_ctx(), CAP);
    let mut out = Vec::new();
    converter.push(&argument_flood_head(), &mut out);
    let fragment = argument_fragment(10_000);
    let mut pushes = 0;
    while !converter.is_done() && pushes < 1000 {
        converter.push(&fragment, &mut out);
        assert!(
            converter.held_bytes() <= CAP,
            "held {}",
            converter.held_bytes()
        );
        pushes += 1;
    }
    assert!(converter.is_done(), "the cap never fired");
    // About CAP / 10,000 fragments fit; the cap fired at the first that did not.
    assert!((95..=105).contains(&pushes), "{pushes} pushes");
    assert_eq!(
        converter.handler().failure(),
        Some(StreamFailure::OverHeldLimit)
    );
    assert_eq!(converter.held_bytes(), 0, "what was held is released");
    let (kind, message) = check_anthropic_stream_with(&out, false).error.unwrap();
    assert_eq!(kind, "api_error");
    let (name, _) = events(&out).pop().unwrap();
    assert_eq!(name, "error");
    assert!(message.contains("max_held_bytes"), "{message}");
    assert!(message.contains(&CAP.to_string()), "{message}");
    let mut after = Vec::new();
    converter.push(&fragment, &mut after);
    converter.finish(&mut after);
    assert!(after.is_empty(), "nothing after the error");
}

#[test]
fn the_same_arguments_under_the_cap_arrive_whole() {
    let mut converter = ToAnthropic::with_cap(anthropic_ctx(), CAP);
    let mut out = Vec::new();
    converter.push(&argument_flood_head(), &mut out);
    for _ in 0..50 {
        converter.push(&argument_fragment(10_000), &mut out);
    }
    assert!(
        converter.held_bytes() > 500_000,
        "call 1's fragments are held"
    );
    converter.push(
        &chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]})),
        &mut out,
    );
    converter.push(
        &chunk(json!({"tool_calls": [{"index": 1, "function": {"arguments": "\"}"}}]})),
        &mut out,
    );
    converter.push(b"data: [DONE]\n\n", &mut out);
    converter.finish(&mut out);
    assert_eq!(converter.handler().failure(), None);
    assert!(
        converter.held_bytes() < 1024,
        "held {}",
        converter.held_bytes()
    );
    let message = check_anthropic_stream_with(&out, false);
    assert_eq!(message.error, None);
    assert_eq!(message.blocks.len(), 2);
    assert_eq!(message.blocks[0].text, "{\"a\": 1}");
    assert_eq!(
        message.blocks[1].text,
        format!("{{\"b\": \"{}\"}}", "x".repeat(500_000))
    );
}

#[test]
fn many_tool_slots_count_against_the_cap() {
    let mut converter = ToAnthropic::with_cap(anthropic_ctx(), 64 * 1024);
    let mut out = Vec::new();
    converter.push(&argument_flood_head(), &mut out);
    for index in 2..100_000 {
        let call = json!({"tool_calls": [{"index": index, "function": {"arguments": "{"}}]});
        converter.push(&chunk(call), &mut out);
        assert!(converter.held_bytes() <= 64 * 1024);
        if converter.is_done() {
            break;
        }
    }
    assert_eq!(
        converter.handler().failure(),
        Some(StreamFailure::OverHeldLimit)
    );
}

fn thinking_flood_head() -> Vec<u8> {
    concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",",
        "\"role\":\"assistant\",\"model\":\"claude\",\"content\":[],",
        "\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,",
        "\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n",
    )
    .as_bytes()
    .to_vec()
}

fn thinking_delta(size: usize) -> Vec<u8> {
    let delta = json!({"type": "content_block_delta", "index": 0,
        "delta": {"type": "thinking_delta", "thinking": "t".repeat(size)}});
    format!("event: content_block_delta\ndata: {delta}\n\n").into_bytes()
}

#[test]
fn collected_thinking_past_the_cap_ends_the_stream_with_an_error_chunk() {
    let mut converter = ToOpenAi::with_cap(openai_ctx(), CAP);
    let mut out = Vec::new();
    converter.push(&thinking_flood_head(), &mut out);
    let delta = thinking_delta(100_000);
    let mut pushes = 0;
    while !converter.is_done() && pushes < 2000 {
        converter.push(&delta, &mut out);
        assert!(
            converter.held_bytes() <= CAP,
            "held {}",
            converter.held_bytes()
        );
        pushes += 1;
    }
    assert!((9..=11).contains(&pushes), "{pushes} pushes");
    assert_eq!(
        converter.handler().failure(),
        Some(StreamFailure::OverHeldLimit)
    );
    assert_eq!(converter.held_bytes(), 0);
    let chunks = check_openai_stream(&out);
    let error = chunks.error.expect("an error chunk");
    assert!(!chunks.done, "no [DONE] after an error");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("max_held_bytes"), "{message}");
    assert_eq!(error["code"], "api_error");
}

#[test]
fn thinking_sent_with_the_finish_chunk_is_no_longer_held() {
    let mut converter = ToOpenAi::with_cap(openai_ctx(), CAP);
    let mut out = Vec::new();
    converter.push(&thinking_flood_head(), &mut out);
    for _ in 0..5 {
        converter.push(&thinking_delta(100_000), &mut out);
    }
    assert!(converter.held_bytes() >= 500_000);
    converter.push(
        concat!(
            "event: message_delta\n",
            "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},",
            "\"usage\":{\"output_tokens\":5}}\n\n"
        )
        .as_bytes(),
        &mut out,
    );
    assert!(
        converter.held_bytes() < 1024,
        "held {}",
        converter.held_bytes()
    );
    // A second thinking block may again use the whole cap.
    converter.push(
        b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        &mut out,
    );
    converter.finish(&mut out);
    let chunks = check_openai_stream(&out);
    assert!(chunks.done);
    assert_eq!(converter.handler().failure(), None);
}

#[test]
fn one_event_larger_than_the_cap_is_the_parsers_share() {
    let mut converter = ToOpenAi::with_cap(openai_ctx(), 64 * 1024);
    let mut out = Vec::new();
    converter.push(&thinking_flood_head(), &mut out);
    let delta = thinking_delta(70_000);
    for piece in delta.chunks(4096) {
        converter.push(piece, &mut out);
        assert!(converter.held_bytes() <= 64 * 1024);
    }
    assert_eq!(
        converter.handler().failure(),
        Some(StreamFailure::OverHeldLimit)
    );
    assert!(check_openai_stream(&out).error.is_some());
}

fn exchange(config: &str) -> Exchange {
    Exchange::new(
        Rc::new(Config::from_json(config.as_bytes()).unwrap()),
        "msg_fb".to_string(),
    )
}

fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// An Anthropic client's request converted for an OpenAI upstream.
fn anthropic_client(config: &str, stream: bool) -> Exchange {
    let mut ex = exchange(config);
    let headers = pairs(&[
        (":method", "POST"),
        (":path", "/v1/messages"),
        ("x-api-key", "sk-1"),
    ]);
    assert!(matches!(
        ex.on_request_headers(&headers, false),
        Verdict::Continue(_)
    ));
    let body = json!({"model": "claude", "max_tokens": 10, "stream": stream,
        "messages": [{"role": "user", "content": "hi"}]});
    ex.on_request_body(body.to_string().as_bytes()).unwrap();
    ex
}

fn counter_names(ex: &Exchange) -> Vec<String> {
    ex.report()
        .counters("claude")
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn the_exchange_uses_max_held_bytes_and_counts_the_reason() {
    let mut ex = anthropic_client(
        r#"{"upstream_protocol":"openai","max_held_bytes":65536}"#,
        true,
    );
    let headers = pairs(&[(":status", "200"), ("content-type", "text/event-stream")]);
    assert!(matches!(
        ex.on_response_headers(&headers, false, 0),
        Verdict::Continue(_)
    ));
    let mut out = ex.on_stream_chunk(&argument_flood_head(), false);
    for _ in 0..10 {
        out.extend(ex.on_stream_chunk(&argument_fragment(10_000), false));
    }
    let (_, message) = check_anthropic_stream_with(&out, false).error.unwrap();
    assert!(message.contains("65536"), "{message}");
    assert!(counter_names(&ex).contains(
        &"aob.streams_ended_by_error.direction=.=anthropic_client;.;reason=.=over_held_limit;.;"
            .to_string()
    ));
}

const LIMITED: &str = r#"{"upstream_protocol":"openai","max_response_bytes":1000}"#;

#[test]
fn a_content_length_over_max_response_bytes_is_a_502_before_headers_go_out() {
    for (stream, content_type) in [(false, "application/json"), (true, "application/json")] {
        let mut ex = anthropic_client(LIMITED, stream);
        let headers = pairs(&[
            (":status", "200"),
            ("content-type", content_type),
            ("content-length", "1001"),
        ]);
        let Verdict::Reply(reply) = ex.on_response_headers(&headers, false, 0) else {
            panic!("expected a local reply");
        };
        assert_eq!(reply.status, 502);
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "api_error");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("1001 bytes"), "{message}");
        assert!(message.contains("max_response_bytes: 1000"), "{message}");
        assert!(counter_names(&ex).contains(
            &"aob.upstream_errors.direction=.=anthropic_client;.;status_class=.=5xx;.;".to_string()
        ));
    }
    // Exactly the limit converts.
    let mut ex = anthropic_client(LIMITED, false);
    let headers = pairs(&[(":status", "200"), ("content-length", "1000")]);
    assert!(matches!(
        ex.on_response_headers(&headers, false, 0),
        Verdict::Continue(_)
    ));
}

#[test]
fn an_upstream_error_over_the_limit_keeps_its_status() {
    let mut ex = anthropic_client(LIMITED, false);
    let headers = pairs(&[(":status", "429"), ("content-length", "5000000")]);
    let Verdict::Reply(reply) = ex.on_response_headers(&headers, false, 0) else {
        panic!("expected a local reply");
    };
    assert_eq!(reply.status, 429);
    let body: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");
}

#[test]
fn a_chunked_answer_over_the_limit_is_dropped_and_ends_as_the_error() {
    let completion = std::fs::read("fixtures/openai/chat-text.json").unwrap();
    for (stream, is_sse) in [(false, false), (true, true)] {
        let mut ex = anthropic_client(LIMITED, stream);
        let headers = pairs(&[(":status", "200"), ("content-type", "application/json")]);
        assert!(matches!(
            ex.on_response_headers(&headers, false, 0),
            Verdict::Continue(_)
        ));
        assert_eq!(ex.response_body_mode(), BodyMode::Buffer);
        assert!(!ex.response_over_limit(1000));
        assert!(ex.response_over_limit(1001));
        assert!(ex.response_over_limit(10), "dropped from then on");
        let body = ex.on_buffered_response(&completion);
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("max_response_bytes: 1000"), "{text}");
        if is_sse {
            let events = events(text.as_bytes());
            assert_eq!(events.len(), 1);
            assert_eq!(events[0].0, "error");
        } else {
            let error: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(error["type"], "error");
            assert_eq!(error["error"]["type"], "api_error");
        }
        assert_eq!(ex.report().upstream_error_status, Some(502));
        assert_eq!(ex.report().tokens, None);
    }
    // Under the limit the same answer converts.
    let mut ex = anthropic_client(
        r#"{"upstream_protocol":"openai","max_response_bytes":100000}"#,
        false,
    );
    let headers = pairs(&[(":status", "200"), ("content-type", "application/json")]);
    ex.on_response_headers(&headers, false, 0);
    assert!(!ex.response_over_limit(completion.len()));
    let message: Value = serde_json::from_slice(&ex.on_buffered_response(&completion)).unwrap();
    assert_eq!(message["type"], "message");
}

#[test]
fn streams_are_not_subject_to_max_response_bytes() {
    let mut ex = anthropic_client(LIMITED, true);
    let headers = pairs(&[(":status", "200"), ("content-type", "text/event-stream")]);
    ex.on_response_headers(&headers, false, 0);
    assert_eq!(ex.response_body_mode(), BodyMode::Stream);
    assert!(!ex.response_over_limit(1_000_000));
}

/// Where the cap fires does not depend on how the body is cut: every
/// recorded stream, under caps that end it early or not at all, gives the
/// same output whole and split anywhere, and never holds more than the cap.
#[test]
fn the_cap_fires_at_the_same_place_whatever_the_chunking() {
    let streams = [
        ("openai/stream-tool-calls-parallel.sse", true),
        (
            "openai/deepseek-stream-reasoning-tool-call.chunks.jsonl",
            true,
        ),
        ("openai/stream-text.sse", true),
        ("anthropic/stream-thinking-signature.sse", false),
        ("anthropic/docs-stream-text-then-tool-use.sse", false),
    ];
    let mut capped = 0;
    for (name, to_anthropic) in streams {
        let body = recorded_stream(name);
        for cap in [64, 300, 1000, 4000, usize::MAX] {
            let run = |pieces: &[&[u8]]| -> Vec<u8> {
                let mut out = Vec::new();
                if to_anthropic {
                    let mut c = ToAnthropic::with_cap(anthropic_ctx(), cap);
                    for piece in pieces {
                        c.push(piece, &mut out);
                        assert!(c.held_bytes() <= cap, "{name} cap {cap}");
                    }
                    c.finish(&mut out);
                } else {
                    let mut c = ToOpenAi::with_cap(openai_ctx(), cap);
                    for piece in pieces {
                        c.push(piece, &mut out);
                        assert!(c.held_bytes() <= cap, "{name} cap {cap}");
                    }
                    c.finish(&mut out);
                }
                out
            };
            let whole = run(&[&body]);
            if String::from_utf8_lossy(&whole).contains("max_held_bytes") {
                capped += 1;
            }
            for split in (0..=body.len()).step_by(5) {
                let (a, b) = body.split_at(split);
                assert_eq!(run(&[a, b]), whole, "{name} cap {cap} split at {split}");
            }
            let small: Vec<&[u8]> = body.chunks(3).collect();
            assert_eq!(run(&small), whole, "{name} cap {cap} in 3-byte pieces");
        }
    }
    assert!(
        capped >= 5,
        "the small caps must end some streams ({capped})"
    );
}
