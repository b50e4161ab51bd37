//! Anthropic events → OpenAI chunks (docs/openai_client.md#stream-event-grammar):
//! every recorded stream against its golden output and against what its
//! events say, under every chunking; then each rule on its own.

mod common;

use anthropic_openai_bridge::convert::openai_client::response::ResponseContext;
use anthropic_openai_bridge::convert::openai_client::stream::StreamConverter;
use anthropic_openai_bridge::report::{StreamFailure, StreamOutcome};
use anthropic_openai_bridge::sse::SseParser;
use common::*;
use serde_json::{json, Value};

const RECORDED: &[&str] = &[
    "anthropic/stream-text-minimal.sse",
    "anthropic/stream-stop-sequence.sse",
    "anthropic/stream-thinking-signature.sse",
    "anthropic/stream-tool-use-parallel.sse",
    "anthropic/docs-stream-text.sse",
    "anthropic/docs-stream-text-then-tool-use.sse",
    "anthropic/stream-tool-use-input-json-delta.chunks.jsonl",
];

fn ctx(include_usage: bool) -> ResponseContext {
    ResponseContext {
        model: "claude-test".to_string(),
        created: 1_700_000_000,
        fallback_id: "msg_fallback".to_string(),
        include_usage,
    }
}

fn convert_pieces<'a>(ctx: ResponseContext, pieces: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut converter = StreamConverter::new(ctx);
    let mut out = Vec::new();
    for piece in pieces {
        converter.push(piece, &mut out);
    }
    converter.finish(&mut out);
    out
}

fn convert(input: &[u8]) -> Vec<u8> {
    convert_pieces(ctx(true), [input])
}

fn golden_name(fixture: &str) -> String {
    let stem = fixture
        .trim_end_matches(".sse")
        .trim_end_matches(".chunks.jsonl");
    format!("{stem}.to-openai.sse")
}

#[test]
fn recorded_streams_match_their_golden_output() {
    for name in RECORDED {
        let out = convert(&recorded_stream(name));
        check_openai_stream(&out);
        assert_golden(&golden_name(name), &out);
    }
}

#[test]
fn recorded_streams_lose_nothing() {
    for name in RECORDED {
        let input = recorded_stream(name);
        let facts = anthropic_stream_facts(&input);
        let got = check_openai_stream(&convert(&input));
        assert_eq!(got.id, facts.id, "{name}");
        assert_eq!(got.model, facts.model, "{name}");
        assert_eq!(got.created, 1_700_000_000, "{name}");
        assert_eq!(got.role, "assistant", "{name}");
        assert_eq!(got.content, facts.text, "{name}");
        let reasoning: String = facts.thinking.iter().map(|t| t.0.as_str()).collect();
        assert_eq!(got.reasoning, reasoning, "{name}");
        let blocks: Vec<(String, String)> = got
            .thinking_blocks
            .iter()
            .map(|b| {
                (
                    b["thinking"].as_str().unwrap().to_string(),
                    b["signature"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            blocks, facts.thinking,
            "{name}: thinking blocks keep their signatures"
        );
        assert_eq!(got.tools.len(), facts.tools.len(), "{name}");
        for (tool, (id, tool_name, input)) in got.tools.iter().zip(&facts.tools) {
            assert_eq!((&tool.1, &tool.2), (id, tool_name), "{name}");
            let expected: Value =
                serde_json::from_str(if input.is_empty() { "{}" } else { input }).unwrap();
            let arguments = if tool.3.is_empty() {
                "{}"
            } else {
                tool.3.as_str()
            };
            assert_eq!(
                serde_json::from_str::<Value>(arguments).unwrap(),
                expected,
                "{name}"
            );
        }
        let finish = match facts.stop_reason.as_deref() {
            Some("tool_use") => "tool_calls",
            Some("max_tokens") => "length",
            _ => "stop",
        };
        assert_eq!(got.finish_reason.as_deref(), Some(finish), "{name}");
        let usage = got.usage.unwrap();
        let prompt = facts.input_tokens + facts.cache_read + facts.cache_creation;
        assert_eq!(usage["prompt_tokens"], prompt, "{name}");
        assert_eq!(usage["completion_tokens"], facts.output_tokens, "{name}");
        assert_eq!(
            usage["total_tokens"],
            prompt + facts.output_tokens,
            "{name}"
        );
        assert_eq!(
            usage["prompt_tokens_details"]["cached_tokens"], facts.cache_read,
            "{name}"
        );
        assert!(got.done, "{name}");
    }
}

#[test]
fn every_split_gives_identical_output() {
    for name in RECORDED {
        let input = recorded_stream(name);
        let whole = convert(&input);
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            assert!(
                convert_pieces(ctx(true), [a, b]) == whole,
                "{name}: split at {split}"
            );
        }
        for size in [1, 2, 3, 7, 64, 1000] {
            assert!(
                convert_pieces(ctx(true), input.chunks(size)) == whole,
                "{name}: {size}-byte pieces"
            );
        }
    }
}

fn event(data: Value) -> String {
    format!(
        "event: {}\ndata: {data}\n\n",
        data["type"].as_str().unwrap()
    )
}

fn start() -> String {
    event(
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
        "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "cache_creation_input_tokens": 2, "output_tokens": 1}}}),
    )
}

fn block_start(index: u64, block: Value) -> String {
    event(json!({"type": "content_block_start", "index": index, "content_block": block}))
}

fn delta(index: u64, delta: Value) -> String {
    event(json!({"type": "content_block_delta", "index": index, "delta": delta}))
}

fn stop(index: u64) -> String {
    event(json!({"type": "content_block_stop", "index": index}))
}

fn end(stop_reason: &str, output_tokens: u64) -> String {
    event(
        json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null}, "usage": {"output_tokens": output_tokens}}),
    ) + &event(json!({"type": "message_stop"}))
}

fn text_block(index: u64, text: &str) -> String {
    block_start(index, json!({"type": "text", "text": ""}))
        + &delta(index, json!({"type": "text_delta", "text": text}))
        + &stop(index)
}

fn tool_block(index: u64, id: &str, name: &str, parts: &[&str]) -> String {
    let mut s = block_start(
        index,
        json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
    );
    for part in parts {
        s += &delta(
            index,
            json!({"type": "input_json_delta", "partial_json": part}),
        );
    }
    s + &stop(index)
}

fn run(input: &str, include_usage: bool) -> Chunks {
    check_openai_stream(&convert_pieces(ctx(include_usage), [input.as_bytes()]))
}

#[test]
fn tool_calls_are_numbered_over_tool_blocks_only() {
    let input = [
        start(),
        text_block(0, "Checking."),
        tool_block(1, "toolu_a", "get_weather", &["", "{\"city\":", "\"Paris\"}"]),
        block_start(2, json!({"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}})),
        delta(2, json!({"type": "input_json_delta", "partial_json": "{\"query\":\"x\"}"})),
        stop(2),
        block_start(3, json!({"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []})),
        stop(3),
        text_block(4, " Found it."),
        delta(4, json!({"type": "citations_delta", "citation": {"type": "web_search_result_location"}})),
        tool_block(5, "toolu_b", "get_time", &[]),
        end("tool_use", 30),
    ]
    .concat();
    let got = run(&input, false);
    assert_eq!(got.content, "Checking. Found it.");
    assert_eq!(
        got.tools,
        vec![
            (
                0,
                "toolu_a".into(),
                "get_weather".into(),
                "{\"city\":\"Paris\"}".into()
            ),
            (1, "toolu_b".into(), "get_time".into(), String::new()),
        ]
    );
    assert_eq!(got.finish_reason.as_deref(), Some("tool_calls"));
}

#[test]
fn usage_chunk_only_when_asked_for() {
    let input = [start(), text_block(0, "hi"), end("end_turn", 7)].concat();
    let with = run(&input, true);
    assert_eq!(
        with.usage,
        Some(
            json!({"prompt_tokens": 17, "completion_tokens": 7, "total_tokens": 24, "prompt_tokens_details": {"cached_tokens": 5}})
        )
    );
    let without = run(&input, false);
    assert_eq!(without.usage, None);
    assert!(without.done);
}

#[test]
fn each_stop_reason_maps() {
    for (stop_reason, finish) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ] {
        let got = run(
            &[start(), text_block(0, "x"), end(stop_reason, 1)].concat(),
            false,
        );
        assert_eq!(got.finish_reason.as_deref(), Some(finish), "{stop_reason}");
    }
}

#[test]
fn thinking_streams_as_reasoning_and_comes_back_signed() {
    let input = [
        start(),
        text_block(0, "Let me think."),
        block_start(
            1,
            json!({"type": "thinking", "thinking": "", "signature": ""}),
        ),
        delta(1, json!({"type": "thinking_delta", "thinking": "Step 1. "})),
        delta(1, json!({"type": "thinking_delta", "thinking": "Step 2."})),
        delta(
            1,
            json!({"type": "signature_delta", "signature": "EqQBCgIYAhIM"}),
        ),
        stop(1),
        block_start(
            2,
            json!({"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3p"}),
        ),
        stop(2),
        text_block(3, "Answer."),
        end("end_turn", 9),
    ]
    .concat();
    let got = run(&input, false);
    assert_eq!(got.reasoning, "Step 1. Step 2.");
    assert_eq!(got.content, "Let me think.Answer.");
    assert_eq!(
        got.thinking_blocks,
        vec![
            json!({"type": "thinking", "thinking": "Step 1. Step 2.", "signature": "EqQBCgIYAhIM"}),
            json!({"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3p"}),
        ]
    );
}

#[test]
fn pings_become_comments() {
    let input = [
        start(),
        event(json!({"type": "ping"})),
        text_block(0, "x"),
        ": keepalive\n\n".to_string(),
        end("end_turn", 1),
    ]
    .concat();
    let out = String::from_utf8(convert_pieces(ctx(false), [input.as_bytes()])).unwrap();
    assert_eq!(out.matches(": ping\n\n").count(), 2);
    assert_eq!(run(&input, false).pings, 2);
}

#[test]
fn an_error_event_becomes_an_error_chunk_and_ends_the_stream() {
    let input = [
        start(),
        text_block(0, "partial"),
        event(json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})),
        text_block(1, "ignored"),
    ]
    .concat();
    let got = run(&input, true);
    assert_eq!(got.content, "partial");
    assert_eq!(
        got.error,
        Some(
            json!({"message": "Overloaded", "type": "server_error", "param": null, "code": "overloaded_error"})
        )
    );
    assert!(!got.done, "no [DONE] after an error");
    let docs = check_openai_stream(&convert(&fixture(
        "anthropic/docs-stream-error-overloaded.sse",
    )));
    assert_eq!(docs.error.unwrap()["code"], "overloaded_error");
}

#[test]
fn a_stream_that_stops_early_is_an_error() {
    for input in [[start(), text_block(0, "half")].concat(), String::new(), [start(), text_block(0, "x"), event(json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}}))].concat()] {
        let got = run(&input, true);
        let error = got.error.unwrap_or_else(|| panic!("no error for {input:?}"));
        assert_eq!(error["message"], "upstream stream ended before completion");
        assert!(!got.done);
    }
}

#[test]
fn an_adaptive_text_block_before_thinking_is_kept_in_order() {
    let input = [
        start(),
        text_block(0, "Sure."),
        block_start(
            1,
            json!({"type": "thinking", "thinking": "", "signature": ""}),
        ),
        delta(1, json!({"type": "thinking_delta", "thinking": "hmm"})),
        delta(1, json!({"type": "signature_delta", "signature": "sig"})),
        stop(1),
        text_block(2, " Done."),
        end("end_turn", 3),
    ]
    .concat();
    let out = String::from_utf8(convert_pieces(ctx(false), [input.as_bytes()])).unwrap();
    let content_at = out.find("\"content\":\"Sure.\"").unwrap();
    let reasoning_at = out.find("\"reasoning_content\":\"hmm\"").unwrap();
    let done_at = out.find("\"content\":\" Done.\"").unwrap();
    assert!(content_at < reasoning_at && reasoning_at < done_at);
}

#[test]
fn unknown_events_and_fields_are_tolerated() {
    let input = [
        start(),
        event(json!({"type": "future_event", "x": 1})),
        block_start(0, json!({"type": "text", "text": "", "citations": [], "new_field": true})),
        delta(0, json!({"type": "text_delta", "text": "ok", "extra": 1})),
        stop(0),
        event(json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null, "stop_details": null}, "usage": {"output_tokens": 1, "server_tool_use": {"web_search_requests": 0}}})),
        event(json!({"type": "message_stop"})),
    ]
    .concat();
    let got = run(&input, false);
    assert_eq!(got.content, "ok");
    assert!(got.done);
}

#[test]
fn an_overlong_line_is_an_error() {
    let mut converter = StreamConverter::with_parser(ctx(false), SseParser::new(512));
    let mut out = Vec::new();
    converter.push(start().as_bytes(), &mut out);
    converter.push(format!("data: {}", "x".repeat(600)).as_bytes(), &mut out);
    converter.finish(&mut out);
    let got = check_openai_stream(&out);
    assert!(got.error.unwrap()["message"]
        .as_str()
        .unwrap()
        .contains("longer than 512 bytes"));
}

#[test]
fn a_block_before_message_start_fixes_the_stream_identity() {
    let input = [
        text_block(0, "early"),
        start(),
        text_block(1, " late"),
        end("end_turn", 2),
    ]
    .concat();
    let got = run(&input, true);
    assert_eq!(
        got.id, "msg_fallback",
        "every chunk keeps the id the stream started with"
    );
    assert_eq!(got.model, "claude-test");
    assert_eq!(got.content, "early late");
    assert_eq!(
        got.usage.unwrap()["prompt_tokens"],
        17,
        "message_start usage still counts"
    );
}

#[test]
fn a_stream_cut_mid_line_is_incomplete_not_invalid() {
    let text = text_block(0, "hello");
    let input = [start(), text[..text.len() - 10].to_string()].concat();
    let mut converter = StreamConverter::new(ctx(false));
    let mut out = Vec::new();
    converter.push(input.as_bytes(), &mut out);
    converter.finish(&mut out);
    let got = check_openai_stream(&out);
    assert_eq!(
        got.error.unwrap()["message"],
        "upstream stream ended before completion"
    );
    assert_eq!(
        converter.handler().failure(),
        Some(StreamFailure::Incomplete)
    );
}
