//! OpenAI chunks → Anthropic events (docs/anthropic_client.md#stream-event-grammar):
//! every recorded stream against its golden output and against what its
//! chunks say, under every chunking; then each rule on its own.

mod common;

use anthropic_openai_bridge::convert::anthropic_client::response::ResponseContext;
use anthropic_openai_bridge::convert::anthropic_client::stream::StreamConverter;
use anthropic_openai_bridge::convert::tool_names::ToolNames;
use anthropic_openai_bridge::report::{StreamFailure, StreamOutcome};
use anthropic_openai_bridge::sse::SseParser;
use common::*;
use serde_json::{json, Value};

/// Every recorded OpenAI-compatible stream.
const RECORDED: &[&str] = &[
    "openai/stream-text.sse",
    "openai/stream-text-include-usage-gpt4o-mini.sse",
    "openai/stream-usage-include-usage.sse",
    "openai/stream-finish-length.sse",
    "openai/stream-tool-call-single.sse",
    "openai/stream-tool-calls-parallel.sse",
    "openai/deepseek-stream-reasoning-content.sse",
    "openai/openrouter-stream-reasoning-anthropic.sse",
    "openai/openrouter-stream-usage-empty-choices.sse",
    "openai/deepseek-stream-reasoning-tool-call.chunks.jsonl",
    "openai/deepseek-stream-text-length.chunks.jsonl",
    "openai/groq-stream-reasoning.chunks.jsonl",
];

fn ctx() -> ResponseContext {
    ResponseContext {
        tool_names: ToolNames::default(),
        model: "gpt-test".to_string(),
        fallback_id: "msg_fallback".to_string(),
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
    convert_pieces(ctx(), [input])
}

fn convert_str(input: &str) -> Reassembled {
    check_anthropic_stream(&convert(input.as_bytes()))
}

fn golden_name(fixture: &str) -> String {
    let stem = fixture
        .trim_end_matches(".sse")
        .trim_end_matches(".chunks.jsonl");
    format!("{stem}.to-anthropic.sse")
}

#[test]
fn recorded_streams_match_their_golden_output() {
    for name in RECORDED {
        let out = convert(&recorded_stream(name));
        check_anthropic_stream(&out);
        assert_golden(&golden_name(name), &out);
    }
}

/// The converted stream carries exactly what the chunks said.
#[test]
fn recorded_streams_lose_nothing() {
    for name in RECORDED {
        let input = recorded_stream(name);
        let facts = openai_stream_facts(&input);
        let got = check_anthropic_stream(&convert(&input));
        let text_of = |kind: &str| -> String {
            got.blocks
                .iter()
                .filter(|b| b.kind == kind)
                .map(|b| b.text.as_str())
                .collect()
        };
        assert_eq!(text_of("text"), facts.content, "{name}: text");
        assert_eq!(text_of("thinking"), facts.reasoning, "{name}: thinking");
        let tools: Vec<_> = got.blocks.iter().filter(|b| b.kind == "tool_use").collect();
        assert_eq!(tools.len(), facts.tools.len(), "{name}: tool calls");
        for (block, (_, id, tool_name, arguments)) in tools.iter().zip(&facts.tools) {
            assert_eq!(&block.id, id, "{name}");
            assert_eq!(&block.name, tool_name, "{name}");
            let expected: Value = serde_json::from_str(arguments).unwrap();
            assert_eq!(
                serde_json::from_str::<Value>(&block.text).unwrap(),
                expected,
                "{name}"
            );
        }
        assert!(got.error.is_none(), "{name}: {:?}", got.error);
        let expected_stop = match facts.finish_reason.as_deref() {
            Some("length") => "max_tokens",
            Some("tool_calls") => "tool_use",
            _ => "end_turn",
        };
        assert_eq!(got.stop_reason.as_deref(), Some(expected_stop), "{name}");
        if let Some(usage) = &facts.usage {
            let cached = usage["prompt_tokens_details"]["cached_tokens"]
                .as_u64()
                .unwrap_or(0);
            let prompt = usage["prompt_tokens"].as_u64().unwrap();
            assert_eq!(got.usage["input_tokens"], prompt - cached, "{name}");
            assert_eq!(got.usage["cache_read_input_tokens"], cached, "{name}");
            assert_eq!(
                got.usage["output_tokens"], usage["completion_tokens"],
                "{name}"
            );
        }
        // A stream that opens with a keep-alive comment is started at once
        // (the comment becomes a ping), before the upstream named itself.
        let (id, model) = match input.first() {
            Some(b':') => ("msg_fallback", "gpt-test"),
            _ => (facts.id.as_str(), facts.model.as_str()),
        };
        assert_eq!(got.id, id, "{name}");
        assert_eq!(got.model, model, "{name}");
        for block in got.blocks.iter().filter(|b| b.kind == "thinking") {
            assert!(
                block.signature.starts_with("aob1."),
                "{name}: {}",
                block.signature
            );
        }
    }
}

/// Any chunking of the same bytes gives the same output: two pieces split
/// at every offset (for the long recordings, densely at both ends and at a
/// stride in between), one byte at a time, and fixed sizes.
#[test]
fn every_split_gives_identical_output() {
    for name in RECORDED {
        let input = recorded_stream(name);
        let whole = convert(&input);
        let offsets: Vec<usize> = if input.len() <= 20_000 {
            (0..=input.len()).collect()
        } else {
            (0..2048)
                .chain((2048..input.len() - 2048).step_by(127))
                .chain(input.len() - 2048..=input.len())
                .collect()
        };
        for split in offsets {
            let (a, b) = input.split_at(split);
            assert!(
                convert_pieces(ctx(), [a, b]) == whole,
                "{name}: split at {split}"
            );
        }
        for size in [1, 2, 3, 7, 64, 1000] {
            assert!(
                convert_pieces(ctx(), input.chunks(size)) == whole,
                "{name}: {size}-byte pieces"
            );
        }
    }
}

/// Windows line endings and bare `\r` do not change the events.
#[test]
fn line_endings_do_not_matter() {
    for name in [
        "openai/stream-tool-calls-parallel.sse",
        "openai/openrouter-stream-reasoning-anthropic.sse",
    ] {
        let input = String::from_utf8(recorded_stream(name)).unwrap();
        let whole = convert(input.as_bytes());
        for ending in ["\r\n", "\r"] {
            let other = input.replace('\n', ending);
            assert!(convert(other.as_bytes()) == whole, "{name} with {ending:?}");
        }
    }
}

fn chunk(delta: Value) -> String {
    chunk_with(delta, Value::Null)
}

fn chunk_with(delta: Value, finish: Value) -> String {
    let c = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    format!("data: {c}\n\n")
}

fn usage_chunk(prompt: u64, cached: u64, completion: u64) -> String {
    let c = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o", "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                  "prompt_tokens_details": {"cached_tokens": cached}}});
    format!("data: {c}\n\n")
}

fn tool(index: u64, id: Option<&str>, name: Option<&str>, args: &str) -> Value {
    let mut call = json!({"index": index, "function": {"arguments": args}});
    if let Some(id) = id {
        call["id"] = json!(id);
        call["type"] = json!("function");
    }
    if let Some(name) = name {
        call["function"]["name"] = json!(name);
    }
    json!({"tool_calls": [call]})
}

const DONE: &str = "data: [DONE]\n\n";

#[test]
fn thinking_then_text_then_tool_are_separate_blocks_in_order() {
    let input = [
        chunk(json!({"role": "assistant", "content": null, "reasoning_content": "Let me "})),
        chunk(json!({"reasoning_content": "think."})),
        chunk(json!({"content": "Checking."})),
        chunk(tool(0, Some("call_1"), Some("get_weather"), "{\"city\":")),
        chunk(tool(0, None, None, "\"Paris\"}")),
        chunk_with(json!({}), json!("tool_calls")),
        usage_chunk(100, 40, 20),
        DONE.to_string(),
    ]
    .concat();
    let got = convert_str(&input);
    let kinds: Vec<&str> = got.blocks.iter().map(|b| b.kind.as_str()).collect();
    assert_eq!(kinds, ["thinking", "text", "tool_use"]);
    assert_eq!(got.blocks[0].text, "Let me think.");
    assert_eq!(
        got.blocks[0].signature,
        anthropic_openai_bridge::convert::signature::sign("Let me think.")
    );
    assert_eq!(got.blocks[2].name, "get_weather");
    assert_eq!(got.blocks[2].text, "{\"city\":\"Paris\"}");
    assert_eq!(got.stop_reason.as_deref(), Some("tool_use"));
    assert_eq!(
        got.usage,
        json!({"input_tokens": 60, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 40, "output_tokens": 20})
    );
}

#[test]
fn text_after_a_tool_opens_a_new_block() {
    let input = [
        chunk(json!({"content": "a"})),
        chunk(tool(0, Some("c1"), Some("f"), "{}")),
        chunk(json!({"content": "b"})),
        chunk_with(json!({}), json!("stop")),
        DONE.to_string(),
    ]
    .concat();
    let kinds: Vec<String> = convert_str(&input)
        .blocks
        .into_iter()
        .map(|b| b.kind + ":" + &b.text)
        .collect();
    assert_eq!(kinds, ["text:a", "tool_use:{}", "text:b"]);
}

#[test]
fn parallel_calls_in_sequence_stream_without_holding() {
    let input = [
        chunk(tool(0, Some("c0"), Some("a"), "{\"x\":")),
        chunk(tool(0, None, None, "1}")),
        chunk(tool(1, Some("c1"), Some("b"), "{\"y\":")),
    ]
    .concat();
    let mut converter = StreamConverter::new(ctx());
    let mut out = Vec::new();
    converter.push(input.as_bytes(), &mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("\"partial_json\":\"{\\\"y\\\":\""),
        "call 1 must stream once call 0 is complete:\n{text}"
    );
    assert!(text.contains("\"content_block_stop\",\"index\":0"));
}

#[test]
fn interleaved_calls_are_held_until_their_block_opens() {
    let input = [
        chunk(tool(0, Some("c0"), Some("a"), "{\"x\":")),
        chunk(tool(1, Some("c1"), Some("b"), "{\"y\":")),
        chunk(tool(0, None, None, "1}")),
        chunk(tool(1, None, None, "2}")),
        chunk(tool(2, Some("c2"), Some("c"), "")),
        chunk_with(json!({}), json!("tool_calls")),
        DONE.to_string(),
    ]
    .concat();
    let got = convert_str(&input);
    let tools: Vec<(String, String, String)> = got
        .blocks
        .iter()
        .map(|b| (b.id.clone(), b.name.clone(), b.text.clone()))
        .collect();
    assert_eq!(
        tools,
        [
            ("c0".into(), "a".into(), "{\"x\":1}".into()),
            ("c1".into(), "b".into(), "{\"y\":2}".into()),
            ("c2".into(), "c".into(), "{}".into()),
        ]
    );
}

#[test]
fn a_tool_without_arguments_gets_an_empty_object() {
    let input = [
        chunk(tool(0, Some("c0"), Some("now"), "")),
        chunk_with(json!({}), json!("tool_calls")),
        DONE.to_string(),
    ]
    .concat();
    let out = String::from_utf8(convert(input.as_bytes())).unwrap();
    assert!(
        out.contains("{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}"),
        "{out}"
    );
    assert_eq!(convert_str(&input).blocks[0].text, "{}");
}

#[test]
fn sanitized_tool_names_are_restored() {
    let ctx = ResponseContext {
        tool_names: ToolNames::new(["files.read"]),
        ..ctx()
    };
    let input = [
        chunk(tool(0, Some("c0"), Some("files_read"), "{}")),
        chunk_with(json!({}), json!("tool_calls")),
        DONE.to_string(),
    ]
    .concat();
    let got = check_anthropic_stream(&convert_pieces(ctx, [input.as_bytes()]));
    assert_eq!(got.blocks[0].name, "files.read");
}

#[test]
fn empty_and_null_finish_reasons_are_ignored() {
    for ignored in [json!(null), json!(""), json!("null"), json!("  ")] {
        let input = [
            chunk_with(json!({"content": "a"}), ignored.clone()),
            chunk(json!({"content": "b"})),
            chunk_with(json!({}), json!("length")),
            DONE.to_string(),
        ]
        .concat();
        let got = convert_str(&input);
        assert_eq!(got.blocks.len(), 1, "{ignored}");
        assert_eq!(got.blocks[0].text, "ab");
        assert_eq!(got.stop_reason.as_deref(), Some("max_tokens"));
    }
}

#[test]
fn each_finish_reason_maps() {
    for (finish, stop) in [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "refusal"),
        ("something_new", "end_turn"),
    ] {
        let input = [
            chunk_with(json!({"content": "x"}), json!(finish)),
            DONE.to_string(),
        ]
        .concat();
        assert_eq!(
            convert_str(&input).stop_reason.as_deref(),
            Some(stop),
            "{finish}"
        );
    }
}

#[test]
fn usage_in_the_finish_chunk_ends_the_message_at_once() {
    let c = json!({"id": "x", "model": "m", "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}});
    let mut converter = StreamConverter::new(ctx());
    let mut out = Vec::new();
    converter.push(format!("data: {c}\n\n").as_bytes(), &mut out);
    assert!(
        converter.is_done(),
        "message_stop must be written without waiting for [DONE]"
    );
    let got = check_anthropic_stream(&out);
    assert_eq!(got.usage["input_tokens"], 5);
    assert_eq!(got.usage["output_tokens"], 1);
}

#[test]
fn a_later_usage_only_chunk_is_waited_for() {
    let mut converter = StreamConverter::new(ctx());
    let mut out = Vec::new();
    converter.push(
        chunk_with(json!({"content": "hi"}), json!("stop")).as_bytes(),
        &mut out,
    );
    assert!(!converter.is_done());
    assert!(!String::from_utf8_lossy(&out).contains("message_delta"));
    converter.push(usage_chunk(50, 10, 3).as_bytes(), &mut out);
    assert!(converter.is_done());
    let got = check_anthropic_stream(&out);
    assert_eq!(got.usage["input_tokens"], 40);
    assert_eq!(got.usage["cache_read_input_tokens"], 10);
}

#[test]
fn usage_that_never_comes_ends_at_done_or_end_of_body() {
    for tail in [DONE, ""] {
        let input = [
            chunk_with(json!({"content": "hi"}), json!("stop")),
            tail.to_string(),
        ]
        .concat();
        let got = convert_str(&input);
        assert_eq!(
            got.stop_reason.as_deref(),
            Some("end_turn"),
            "tail {tail:?}"
        );
        assert_eq!(got.usage["output_tokens"], 0);
    }
}

#[test]
fn chunks_after_message_stop_are_ignored() {
    let input = [
        chunk_with(json!({"content": "hi"}), json!("stop")),
        usage_chunk(1, 0, 1),
        chunk(json!({"content": "late"})),
        chunk_with(json!({}), json!("stop")),
        DONE.to_string(),
    ]
    .concat();
    let got = convert_str(&input);
    assert_eq!(got.blocks.len(), 1);
    assert_eq!(got.blocks[0].text, "hi");
}

#[test]
fn comments_become_pings() {
    let input = [
        ": OPENROUTER PROCESSING\n\n".to_string(),
        chunk(json!({"content": "a"})),
        ": keep-alive\n\n".into(),
    ]
    .concat()
        + &chunk_with(json!({}), json!("stop"))
        + DONE;
    let got = convert_str(&input);
    assert_eq!(got.pings, 2, "one ping per comment after the initial ping");
    assert_eq!(got.blocks[0].text, "a");
}

#[test]
fn role_only_empty_choices_and_null_usage_chunks_do_not_break_the_stream() {
    let input = [
        "data: {\"id\":\"\",\"object\":\"\",\"created\":0,\"model\":\"\",\"choices\":[],\"prompt_filter_results\":[]}\n\n".to_string(),
        chunk(json!({"role": "assistant", "content": ""})),
        "data: {\"id\":\"chatcmpl-1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":null}],\"usage\":null}\n\n".into(),
        chunk_with(json!({}), json!("stop")),
        DONE.into(),
    ]
    .concat();
    let got = convert_str(&input);
    assert_eq!(
        got.id, "chatcmpl-1",
        "the Azure preamble chunk must not start the message"
    );
    assert_eq!(got.blocks.len(), 1);
    assert_eq!(got.blocks[0].text, "x");
}

#[test]
fn refusals_stream_as_text_and_stop_as_refusal() {
    let input = [
        chunk(json!({"refusal": "I can't "})),
        chunk(json!({"refusal": "help with that."})),
        chunk_with(json!({}), json!("stop")),
        DONE.to_string(),
    ]
    .concat();
    let got = convert_str(&input);
    assert_eq!(got.blocks[0].text, "I can't help with that.");
    assert_eq!(got.stop_reason.as_deref(), Some("refusal"));
}

#[test]
fn vllm_stop_strings_become_stop_sequence() {
    let c = json!({"id": "x", "model": "m", "choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": "stop", "stop_reason": "```"}]});
    let got = convert_str(&format!("data: {c}\n\n{DONE}"));
    assert_eq!(got.stop_reason.as_deref(), Some("stop_sequence"));
    assert_eq!(got.stop_sequence.as_deref(), Some("```"));
    let c = json!({"id": "x", "model": "m", "choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": "stop", "stop_reason": 151645}]});
    let got = convert_str(&format!("data: {c}\n\n{DONE}"));
    assert_eq!(got.stop_reason.as_deref(), Some("end_turn"));
    assert_eq!(got.stop_sequence, None);
}

#[test]
fn an_error_chunk_becomes_an_error_event_and_ends_the_stream() {
    let error = json!({"error": {"message": "Rate limit exceeded", "code": 429}});
    let input = [
        chunk(json!({"content": "partial"})),
        format!("data: {error}\n\n"),
        chunk(json!({"content": "ignored"})),
    ]
    .concat();
    let got = convert_str(&input);
    assert_eq!(
        got.error,
        Some((
            "rate_limit_error".to_string(),
            "Rate limit exceeded".to_string()
        ))
    );
    assert_eq!(got.blocks[0].text, "partial");
    assert_eq!(got.stop_reason, None);
}

#[test]
fn an_error_after_the_finish_reason_is_still_reported() {
    let error = json!({"error": {"message": "upstream failed", "type": "server_error"}});
    let input = [
        chunk_with(json!({"content": "a"}), json!("stop")),
        format!("data: {error}\n\n"),
    ]
    .concat();
    let got = convert_str(&input);
    assert_eq!(
        got.error,
        Some(("api_error".to_string(), "upstream failed".to_string()))
    );
}

#[test]
fn a_stream_that_stops_early_is_an_error_not_end_turn() {
    for input in [
        chunk(json!({"content": "half an ans"})),
        String::new(),
        ": ping\n\n".to_string(),
    ] {
        let got = convert_str(&input);
        assert_eq!(
            got.error,
            Some((
                "api_error".to_string(),
                "upstream stream ended before completion".to_string()
            )),
            "{input:?}"
        );
        assert_eq!(got.stop_reason, None);
    }
}

#[test]
fn done_without_a_finish_reason_completes_the_message() {
    let got = convert_str(&[chunk(json!({"content": "a"})), DONE.to_string()].concat());
    assert_eq!(got.stop_reason.as_deref(), Some("end_turn"));
    let got = convert_str(&[chunk(tool(0, Some("c"), Some("f"), "{}")), DONE.to_string()].concat());
    assert_eq!(got.stop_reason.as_deref(), Some("tool_use"));
}

#[test]
fn an_unparsable_chunk_is_an_error() {
    let got = convert_str(
        &[
            chunk(json!({"content": "a"})),
            "data: {not json\n\n".to_string(),
        ]
        .concat(),
    );
    let (kind, message) = got.error.unwrap();
    assert_eq!(kind, "api_error");
    assert!(
        message.starts_with("upstream sent an invalid stream chunk"),
        "{message}"
    );
}

#[test]
fn an_overlong_sse_line_is_an_error_not_unbounded_memory() {
    let mut converter = StreamConverter::with_parser(ctx(), SseParser::new(1024));
    let mut out = Vec::new();
    converter.push(chunk(json!({"content": "ok"})).as_bytes(), &mut out);
    converter.push(format!("data: {}", "x".repeat(2000)).as_bytes(), &mut out);
    converter.finish(&mut out);
    let got = check_anthropic_stream(&out);
    let (kind, message) = got.error.unwrap();
    assert_eq!(kind, "api_error");
    assert!(message.contains("longer than 1024 bytes"), "{message}");
}

#[test]
fn missing_ids_and_models_are_filled_in() {
    let input = "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n";
    let got = convert_str(input);
    assert_eq!(got.id, "msg_fallback");
    assert_eq!(got.model, "gpt-test");
    assert_eq!(got.blocks[0].id, "toolu_msg_fallback_0");
}

#[test]
fn reasoning_field_of_ollama_and_groq_is_thinking_too() {
    let input = [
        chunk(json!({"reasoning": "hmm"})),
        chunk_with(json!({"content": "ok"}), json!("stop")),
        DONE.into(),
    ]
    .concat();
    let got = convert_str(&input);
    assert_eq!(got.blocks[0].kind, "thinking");
    assert_eq!(got.blocks[0].text, "hmm");
    assert_eq!(got.blocks[1].text, "ok");
}

/// A body cut in the middle of a chunk is an unfinished stream, not a
/// malformed one; a complete chunk that does not parse is malformed.
#[test]
fn a_stream_cut_mid_line_is_incomplete_not_invalid() {
    let whole = chunk(json!({"content": "hello"}));
    let cut = [
        chunk(json!({"content": "a"})),
        whole[..whole.len() / 2].to_string(),
    ]
    .concat();
    let got = convert_str(&cut);
    assert_eq!(
        got.error,
        Some((
            "api_error".to_string(),
            "upstream stream ended before completion".to_string()
        ))
    );
    let mut converter = StreamConverter::new(ctx());
    let mut out = Vec::new();
    converter.push(cut.as_bytes(), &mut out);
    converter.finish(&mut out);
    assert_eq!(
        converter.handler().failure(),
        Some(StreamFailure::Incomplete)
    );

    let mut converter = StreamConverter::new(ctx());
    converter.push(b"data: {not json\n\n", &mut out);
    assert_eq!(converter.handler().failure(), Some(StreamFailure::Invalid));
}
