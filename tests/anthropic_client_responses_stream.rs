//! OpenAI Responses events → Anthropic events (Anthropic client on a
//! Responses upstream): every recorded stream against its golden output and
//! against what its events say, under every chunking; then each rule alone.

mod common;

use anthropic_openai_bridge::convert::anthropic_client::response::ResponseContext;
use anthropic_openai_bridge::convert::anthropic_client_responses::stream::{
    StreamConverter, MAX_HELD_BYTES,
};
use anthropic_openai_bridge::convert::signature::{reasoning_signature, sign};
use anthropic_openai_bridge::convert::tool_names::ToolNames;
use anthropic_openai_bridge::report::{StreamFailure, StreamOutcome};
use anthropic_openai_bridge::sse::SseParser;
use common::*;
use serde_json::{json, Value};

/// Every recorded Responses stream.
const RECORDED: &[&str] = &[
    "responses/stream-text.sse",
    "responses/stream-text-no-sequence-number.sse",
    "responses/stream-function-call.sse",
    "responses/stream-function-call-no-sequence-number.sse",
    "responses/stream-reasoning-summary-encrypted.sse",
    "responses/stream-custom-tool-call-reasoning.sse",
    "responses/stream-custom-tool-call-reasoning-turn2.sse",
    "responses/stream-web-search-reasoning.sse",
    "responses/stream-background-queued.sse",
    "responses/deepseek-stream-reasoning-text-function-call.sse",
    "responses/lmstudio-stream-reasoning-text-tool-call.chunks.jsonl",
    "responses/stream-error-insufficient-quota-failed.chunks.jsonl",
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

fn golden_name(fixture: &str) -> String {
    let stem = fixture
        .trim_end_matches(".sse")
        .trim_end_matches(".chunks.jsonl");
    format!("{stem}.to-anthropic.sse")
}

/// One output item as the events themselves say it, computed without the
/// bridge: the oracle the converted streams are checked against.
#[derive(Debug, Default, Clone)]
struct ItemFacts {
    output_index: u64,
    kind: String,
    text: String,
    call_id: String,
    name: String,
    encrypted: Option<String>,
    summary_index: Option<u64>,
}

#[derive(Debug, Default)]
struct StreamFacts {
    id: String,
    model: String,
    items: Vec<ItemFacts>,
    status: Option<String>,
    reason: Option<String>,
    usage: Option<Value>,
    refused: bool,
    failed: Option<String>,
}

fn stream_facts(sse: &[u8]) -> StreamFacts {
    let text = String::from_utf8_lossy(sse).replace("\r\n", "\n");
    let mut facts = StreamFacts::default();
    for line in text.lines() {
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let event: Value = serde_json::from_str(data.trim()).unwrap();
        let index = event["output_index"].as_u64();
        let item = |facts: &mut StreamFacts| -> Option<usize> {
            facts
                .items
                .iter()
                .position(|i| Some(i.output_index) == index)
        };
        let delta = event["delta"].as_str().unwrap_or("");
        match event["type"].as_str().unwrap() {
            "response.created" => {
                facts.id = event["response"]["id"].as_str().unwrap().to_string();
                facts.model = event["response"]["model"].as_str().unwrap().to_string();
            }
            "response.output_item.added" => {
                let raw = &event["item"];
                facts.items.push(ItemFacts {
                    output_index: index.unwrap(),
                    kind: raw["type"].as_str().unwrap().to_string(),
                    call_id: raw["call_id"].as_str().unwrap_or("").to_string(),
                    name: raw["name"].as_str().unwrap_or("").to_string(),
                    ..Default::default()
                });
            }
            "response.output_text.delta"
            | "response.function_call_arguments.delta"
            | "response.custom_tool_call_input.delta"
            | "response.reasoning_text.delta" => {
                let i = item(&mut facts).unwrap();
                facts.items[i].text.push_str(delta);
            }
            "response.refusal.delta" => {
                facts.refused = true;
                let i = item(&mut facts).unwrap();
                facts.items[i].text.push_str(delta);
            }
            "response.reasoning_summary_text.delta" => {
                let i = item(&mut facts).unwrap();
                let part = event["summary_index"].as_u64();
                let fact = &mut facts.items[i];
                if !delta.is_empty() {
                    if fact.summary_index.is_some() && fact.summary_index != part {
                        fact.text.push_str("\n\n");
                    }
                    fact.summary_index = part;
                    fact.text.push_str(delta);
                }
            }
            "response.output_item.done" => {
                let i = item(&mut facts).unwrap();
                let raw = &event["item"];
                let fact = &mut facts.items[i];
                fact.encrypted = raw["encrypted_content"].as_str().map(str::to_string);
                if fact.text.is_empty() {
                    fact.text = match fact.kind.as_str() {
                        "function_call" => raw["arguments"].as_str().unwrap_or("").to_string(),
                        "custom_tool_call" => raw["input"].as_str().unwrap_or("").to_string(),
                        "message" => raw["content"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|p| p["text"].as_str().unwrap_or(""))
                            .collect(),
                        _ => String::new(),
                    };
                }
            }
            "response.completed" | "response.incomplete" => {
                let response = &event["response"];
                facts.status = response["status"].as_str().map(str::to_string);
                facts.reason = response["incomplete_details"]["reason"]
                    .as_str()
                    .map(str::to_string);
                facts.usage = Some(response["usage"].clone());
            }
            "response.failed" | "error" => {
                facts.failed.get_or_insert_with(|| {
                    event["error"]["message"]
                        .as_str()
                        .or(event["message"].as_str())
                        .or(event["response"]["error"]["message"].as_str())
                        .unwrap()
                        .to_string()
                });
            }
            _ => {}
        }
    }
    facts
}

#[test]
fn recorded_streams_match_their_golden_output() {
    for name in RECORDED {
        let out = convert(&recorded_stream(name));
        check_anthropic_stream(&out);
        assert_golden(&golden_name(name), &out);
    }
}

/// The converted stream carries exactly what the events said: every item
/// in order, its text, call id, name, arguments and encrypted reasoning.
#[test]
fn recorded_streams_lose_nothing() {
    for name in RECORDED {
        let input = recorded_stream(name);
        let facts = stream_facts(&input);
        let got = check_anthropic_stream(&convert(&input));
        if let Some(message) = &facts.failed {
            let (_, got_message) = got.error.as_ref().unwrap();
            assert_eq!(got_message, message, "{name}");
            continue;
        }
        assert!(got.error.is_none(), "{name}: {:?}", got.error);
        assert_eq!(got.id, facts.id, "{name}");
        assert_eq!(got.model, facts.model, "{name}");
        let mut blocks = got.blocks.iter();
        let mut has_tools = false;
        for item in &facts.items {
            match item.kind.as_str() {
                "reasoning" if item.text.is_empty() && item.encrypted.is_none() => {}
                "reasoning" => {
                    let block = blocks.next().unwrap();
                    assert_eq!(block.kind, "thinking", "{name}");
                    assert_eq!(block.text, item.text, "{name}");
                    let signature = match &item.encrypted {
                        Some(encrypted) => reasoning_signature(encrypted),
                        None => sign(&item.text),
                    };
                    assert_eq!(block.signature, signature, "{name}");
                }
                "message" if item.text.is_empty() => {}
                "message" => {
                    let block = blocks.next().unwrap();
                    assert_eq!(block.kind, "text", "{name}");
                    assert_eq!(block.text, item.text, "{name}");
                }
                "function_call" | "custom_tool_call" => {
                    has_tools = true;
                    let block = blocks.next().unwrap();
                    assert_eq!(block.kind, "tool_use", "{name}");
                    assert_eq!(block.id, item.call_id, "{name}");
                    assert_eq!(block.name, item.name, "{name}");
                    let input: Value = serde_json::from_str(&block.text).unwrap();
                    let expected = match item.kind.as_str() {
                        "function_call" => serde_json::from_str(&item.text).unwrap(),
                        _ => json!({ "input": item.text }),
                    };
                    assert_eq!(input, expected, "{name}");
                }
                _ => {}
            }
        }
        assert!(blocks.next().is_none(), "{name}: extra blocks");
        let expected_stop = match (facts.refused, facts.status.as_deref()) {
            (true, _) => "refusal",
            (false, Some("incomplete")) => "max_tokens",
            _ if has_tools => "tool_use",
            _ => "end_turn",
        };
        assert_eq!(got.stop_reason.as_deref(), Some(expected_stop), "{name}");
        let usage = facts.usage.unwrap();
        let cached = usage["input_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap_or(0);
        assert_eq!(
            got.usage["input_tokens"],
            usage["input_tokens"].as_u64().unwrap() - cached,
            "{name}"
        );
        assert_eq!(got.usage["cache_read_input_tokens"], cached, "{name}");
        assert_eq!(got.usage["output_tokens"], usage["output_tokens"], "{name}");
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
        let offsets: Vec<usize> = if input.len() <= 40_000 {
            (0..=input.len()).collect()
        } else {
            (0..4096)
                .chain((4096..input.len() - 4096).step_by(61))
                .chain(input.len() - 4096..=input.len())
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

#[test]
fn line_endings_do_not_matter() {
    for name in [
        "responses/stream-custom-tool-call-reasoning.sse",
        "responses/deepseek-stream-reasoning-text-function-call.sse",
    ] {
        let input = String::from_utf8(recorded_stream(name)).unwrap();
        let whole = convert(input.as_bytes());
        for ending in ["\r\n", "\r"] {
            let other = input.replace('\n', ending);
            assert!(convert(other.as_bytes()) == whole, "{name} with {ending:?}");
        }
    }
}

// ------------------------------------------------------ synthetic streams

fn ev(event: Value) -> String {
    format!(
        "event: {}\ndata: {event}\n\n",
        event["type"].as_str().unwrap()
    )
}

fn created() -> String {
    ev(json!({"type": "response.created", "sequence_number": 0,
        "response": {"id": "resp_1", "object": "response", "created_at": 1, "status": "in_progress", "model": "gpt-5", "output": []}}))
}

fn added(index: u64, item: Value) -> String {
    ev(json!({"type": "response.output_item.added", "output_index": index, "item": item}))
}

fn done(index: u64, item: Value) -> String {
    ev(json!({"type": "response.output_item.done", "output_index": index, "item": item}))
}

fn delta(kind: &str, index: u64, text: &str) -> String {
    ev(
        json!({"type": kind, "output_index": index, "item_id": format!("it_{index}"), "delta": text}),
    )
}

fn summary(index: u64, part: u64, text: &str) -> String {
    ev(
        json!({"type": "response.reasoning_summary_text.delta", "output_index": index,
        "summary_index": part, "delta": text}),
    )
}

fn completed(status: &str, extra: Value) -> String {
    let mut response = json!({"id": "resp_1", "object": "response", "status": status, "model": "gpt-5", "output": [],
        "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 40},
                  "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 5}, "total_tokens": 120}});
    if let (Some(response), Some(extra)) = (response.as_object_mut(), extra.as_object()) {
        response.extend(extra.clone());
    }
    let kind = match status {
        "incomplete" => "response.incomplete",
        _ => "response.completed",
    };
    ev(json!({"type": kind, "response": response}))
}

fn run(events: &[String]) -> Reassembled {
    check_anthropic_stream(&convert(events.concat().as_bytes()))
}

fn reasoning(id: &str) -> Value {
    json!({"type": "reasoning", "id": id, "summary": []})
}

#[test]
fn reasoning_then_text_then_a_tool_call_keep_their_order() {
    let got = run(&[
        created(),
        added(0, reasoning("rs_1")),
        summary(0, 0, "Let me "),
        summary(0, 0, "think."),
        done(
            0,
            json!({"type": "reasoning", "id": "rs_1", "encrypted_content": "gAAA-enc",
            "summary": [{"type": "summary_text", "text": "Let me think."}]}),
        ),
        added(
            1,
            json!({"type": "message", "id": "msg_1", "role": "assistant", "content": []}),
        ),
        delta("response.output_text.delta", 1, "Checking."),
        done(
            1,
            json!({"type": "message", "id": "msg_1", "role": "assistant",
            "content": [{"type": "output_text", "text": "Checking."}]}),
        ),
        added(
            2,
            json!({"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather", "arguments": ""}),
        ),
        delta("response.function_call_arguments.delta", 2, "{\"city\":"),
        delta("response.function_call_arguments.delta", 2, "\"Paris\"}"),
        done(
            2,
            json!({"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
            "arguments": "{\"city\":\"Paris\"}"}),
        ),
        completed("completed", json!({})),
    ]);
    let kinds: Vec<&str> = got.blocks.iter().map(|b| b.kind.as_str()).collect();
    assert_eq!(kinds, ["thinking", "text", "tool_use"]);
    assert_eq!(got.blocks[0].text, "Let me think.");
    assert_eq!(got.blocks[0].signature, "aob2.gAAA-enc");
    assert_eq!(got.blocks[1].text, "Checking.");
    assert_eq!(
        (got.blocks[2].id.as_str(), got.blocks[2].name.as_str()),
        ("call_1", "get_weather")
    );
    assert_eq!(got.blocks[2].text, "{\"city\":\"Paris\"}");
    assert_eq!(got.stop_reason.as_deref(), Some("tool_use"));
    assert_eq!(
        got.usage,
        json!({"input_tokens": 60, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 40, "output_tokens": 20})
    );
    assert_eq!((got.id.as_str(), got.model.as_str()), ("resp_1", "gpt-5"));
}

/// The thinking block stays open until the item is done: its signature is
/// the encrypted content that only `output_item.done` carries in full.
#[test]
fn the_thinking_block_waits_for_the_encrypted_content() {
    let before_done = [
        created(),
        added(0, json!({"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "partial"})),
        summary(0, 0, "Hmm."),
    ]
    .concat();
    let mut converter = StreamConverter::new(ctx());
    let mut out = Vec::new();
    converter.push(before_done.as_bytes(), &mut out);
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.contains("thinking_delta"), "{text}");
    assert!(!text.contains("signature_delta"), "{text}");
    assert!(!text.contains("content_block_stop"), "{text}");
    let rest = [
        done(
            0,
            json!({"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "whole"}),
        ),
        completed("completed", json!({})),
    ]
    .concat();
    converter.push(rest.as_bytes(), &mut out);
    converter.finish(&mut out);
    let got = check_anthropic_stream(&out);
    assert_eq!(got.blocks[0].signature, "aob2.whole");
}

#[test]
fn summary_parts_are_separated_like_the_non_streaming_text() {
    let got = run(&[
        created(),
        added(0, reasoning("rs_1")),
        summary(0, 0, "**Plan**"),
        summary(0, 1, ""),
        summary(0, 1, "Then act."),
        done(
            0,
            json!({"type": "reasoning", "id": "rs_1", "encrypted_content": "e",
            "summary": [{"type": "summary_text", "text": "**Plan**"}, {"type": "summary_text", "text": "Then act."}]}),
        ),
        completed("completed", json!({})),
    ]);
    assert_eq!(got.blocks[0].text, "**Plan**\n\nThen act.");
}

/// Without encrypted content (DeepSeek, LM Studio stream raw reasoning
/// text), the thinking is signed by the bridge's digest of its text; a
/// reasoning item with neither text nor encrypted content gives no block.
#[test]
fn reasoning_without_encrypted_content() {
    let got = run(&[
        created(),
        added(0, reasoning("rs_1")),
        delta("response.reasoning_text.delta", 0, "raw "),
        delta("response.reasoning_text.delta", 0, "thought"),
        done(0, reasoning("rs_1")),
        added(1, reasoning("rs_2")),
        done(1, reasoning("rs_2")),
        completed("completed", json!({})),
    ]);
    assert_eq!(got.blocks.len(), 1);
    assert_eq!(got.blocks[0].text, "raw thought");
    assert_eq!(got.blocks[0].signature, sign("raw thought"));
}

/// An item that streamed no deltas is written from its done form.
#[test]
fn items_without_deltas_come_from_their_done_form() {
    let got = run(&[
        created(),
        added(
            0,
            json!({"type": "function_call", "call_id": "call_9", "name": "weather", "arguments": ""}),
        ),
        done(
            0,
            json!({"type": "function_call", "call_id": "call_9", "name": "weather", "arguments": "{\"a\":1}"}),
        ),
        added(
            1,
            json!({"type": "function_call", "call_id": "call_10", "name": "noargs", "arguments": ""}),
        ),
        done(
            1,
            json!({"type": "function_call", "call_id": "call_10", "name": "noargs", "arguments": ""}),
        ),
        added(
            2,
            json!({"type": "message", "role": "assistant", "content": []}),
        ),
        done(
            2,
            json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "late"}]}),
        ),
        completed("completed", json!({})),
    ]);
    assert_eq!(got.blocks[0].text, "{\"a\":1}");
    assert_eq!(got.blocks[1].text, "{}", "an empty call's input is {{}}");
    assert_eq!(got.blocks[2].text, "late");
}

#[test]
fn custom_tool_input_streams_as_an_escaped_json_string() {
    let got = run(&[
        created(),
        added(
            0,
            json!({"type": "custom_tool_call", "call_id": "call_c", "name": "apply_patch", "input": ""}),
        ),
        delta(
            "response.custom_tool_call_input.delta",
            0,
            "*** Begin \"Patch\"\n",
        ),
        delta("response.custom_tool_call_input.delta", 0, "\\ é"),
        done(
            0,
            json!({"type": "custom_tool_call", "call_id": "call_c", "name": "apply_patch", "input": "*** Begin \"Patch\"\n\\ é"}),
        ),
        completed("completed", json!({})),
    ]);
    let input: Value = serde_json::from_str(&got.blocks[0].text).unwrap();
    assert_eq!(input, json!({"input": "*** Begin \"Patch\"\n\\ é"}));
    assert_eq!(got.stop_reason.as_deref(), Some("tool_use"));
}

#[test]
fn tool_names_are_restored() {
    let mut ctx = ctx();
    ctx.tool_names = ToolNames::new(["files.read"]);
    let input = [
        created(),
        added(0, json!({"type": "function_call", "call_id": "c", "name": "files_read", "arguments": ""})),
        delta("response.function_call_arguments.delta", 0, "{}"),
        done(0, json!({"type": "function_call", "call_id": "c", "name": "files_read", "arguments": "{}"})),
        completed("completed", json!({})),
    ]
    .concat();
    let got = check_anthropic_stream(&convert_pieces(ctx, [input.as_bytes()]));
    assert_eq!(got.blocks[0].name, "files.read");
}

#[test]
fn incomplete_is_max_tokens_and_a_content_filter_is_a_refusal() {
    let text = [
        created(),
        added(
            0,
            json!({"type": "message", "role": "assistant", "content": []}),
        ),
        delta("response.output_text.delta", 0, "Mango sun"),
    ];
    let mut cut = text.to_vec();
    cut.push(completed(
        "incomplete",
        json!({"incomplete_details": {"reason": "max_output_tokens"}}),
    ));
    assert_eq!(run(&cut).stop_reason.as_deref(), Some("max_tokens"));
    let mut filtered = text.to_vec();
    filtered.push(completed(
        "incomplete",
        json!({"incomplete_details": {"reason": "content_filter"}}),
    ));
    assert_eq!(run(&filtered).stop_reason.as_deref(), Some("refusal"));
}

#[test]
fn a_refusal_is_text_with_stop_reason_refusal() {
    let got = run(&[
        created(),
        added(
            0,
            json!({"type": "message", "role": "assistant", "content": []}),
        ),
        ev(
            json!({"type": "response.refusal.delta", "output_index": 0, "content_index": 0, "delta": "I can't help."}),
        ),
        completed("completed", json!({})),
    ]);
    assert_eq!(got.blocks[0].text, "I can't help.");
    assert_eq!(got.stop_reason.as_deref(), Some("refusal"));
}

/// `response.failed`, an `error` event or a body that ends early is an
/// `event: error` after what was streamed, never a silent `end_turn`.
#[test]
fn failures_end_in_an_error_event() {
    let start = [
        created(),
        added(
            0,
            json!({"type": "message", "role": "assistant", "content": []}),
        ),
        delta("response.output_text.delta", 0, "partial"),
    ];
    let cases = [
        (
            ev(
                json!({"type": "response.failed", "response": {"id": "resp_1", "status": "failed",
                "error": {"code": "server_error", "message": "The model failed."}, "output": []}}),
            ),
            "api_error",
            "The model failed.",
            StreamFailure::UpstreamError,
        ),
        (
            ev(
                json!({"type": "error", "code": "rate_limit_exceeded", "message": "Slow down", "param": null}),
            ),
            "rate_limit_error",
            "Slow down",
            StreamFailure::UpstreamError,
        ),
        (
            String::new(),
            "api_error",
            "upstream stream ended before completion",
            StreamFailure::Incomplete,
        ),
        (
            "event: response.completed\ndata: {\"type\":\"response.comp".to_string(),
            "api_error",
            "upstream stream ended before completion",
            StreamFailure::Incomplete,
        ),
    ];
    for (last, kind, message, failure) in cases {
        let input = [start.concat(), last].concat();
        let mut converter = StreamConverter::new(ctx());
        let mut out = Vec::new();
        converter.push(input.as_bytes(), &mut out);
        converter.finish(&mut out);
        let got = check_anthropic_stream(&out);
        assert_eq!(got.blocks[0].text, "partial");
        assert_eq!(
            got.error,
            Some((kind.to_string(), message.to_string())),
            "{message}"
        );
        assert_eq!(converter.handler().failure(), Some(failure));
    }
}

#[test]
fn garbage_mid_stream_is_an_invalid_stream_error() {
    let input = [created(), "data: {not json\n\n".to_string()].concat();
    let got = check_anthropic_stream(&convert(input.as_bytes()));
    let (kind, message) = got.error.unwrap();
    assert_eq!(kind, "api_error");
    assert!(
        message.starts_with("upstream sent an invalid stream event"),
        "{message}"
    );
}

#[test]
fn keep_alives_and_unknown_events_are_skipped() {
    let plain = [
        created(),
        added(
            0,
            json!({"type": "message", "role": "assistant", "content": []}),
        ),
        delta("response.output_text.delta", 0, "hi"),
        completed("completed", json!({})),
    ];
    let noisy = [
        ": keep-alive\n\n".to_string(),
        created(),
        ev(json!({"type": "response.in_progress", "response": {"id": "resp_1", "output": []}})),
        added(
            0,
            json!({"type": "web_search_call", "id": "ws_1", "status": "in_progress"}),
        ),
        ev(
            json!({"type": "response.web_search_call.searching", "output_index": 0, "item_id": "ws_1"}),
        ),
        done(
            0,
            json!({"type": "web_search_call", "id": "ws_1", "action": {"type": "search", "query": "q"}}),
        ),
        ": keep-alive\n\n".to_string(),
        added(
            1,
            json!({"type": "message", "role": "assistant", "content": []}),
        ),
        ev(
            json!({"type": "response.content_part.added", "output_index": 1, "part": {"type": "output_text", "text": ""}}),
        ),
        delta("response.output_text.delta", 1, "hi"),
        ev(
            json!({"type": "response.output_text.annotation.added", "output_index": 1, "annotation": {"type": "url_citation"}}),
        ),
        ev(
            json!({"type": "response.shell_call_output_content.delta", "output_index": 1, "delta": {"stdout": "x"}}),
        ),
        completed("completed", json!({})),
    ];
    let plain = run(&plain);
    let noisy = run(&noisy);
    assert_eq!(noisy.blocks, plain.blocks);
    assert_eq!(noisy.pings, 0);
    assert_eq!(noisy.stop_reason.as_deref(), Some("end_turn"));
}

/// Deltas of an item behind the open one are held and written, in order,
/// when its block opens; they never mix into the open block.
#[test]
fn interleaved_items_are_held_and_never_mixed() {
    let got = run(&[
        created(),
        added(
            0,
            json!({"type": "function_call", "call_id": "a", "name": "f", "arguments": ""}),
        ),
        added(
            1,
            json!({"type": "function_call", "call_id": "b", "name": "g", "arguments": ""}),
        ),
        delta("response.function_call_arguments.delta", 1, "{\"y\":"),
        delta("response.function_call_arguments.delta", 0, "{\"x\":1}"),
        delta("response.function_call_arguments.delta", 1, "2}"),
        done(
            1,
            json!({"type": "function_call", "call_id": "b", "name": "g", "arguments": "{\"y\":2}"}),
        ),
        done(
            0,
            json!({"type": "function_call", "call_id": "a", "name": "f", "arguments": "{\"x\":1}"}),
        ),
        completed("completed", json!({})),
    ]);
    let calls: Vec<(&str, &str)> = got
        .blocks
        .iter()
        .map(|b| (b.id.as_str(), b.text.as_str()))
        .collect();
    assert_eq!(calls, [("a", "{\"x\":1}"), ("b", "{\"y\":2}")]);
}

#[test]
fn held_bytes_are_bounded() {
    let big = "x".repeat(1024 * 1024);
    let mut events = vec![
        created(),
        added(
            0,
            json!({"type": "message", "role": "assistant", "content": []}),
        ),
        added(
            1,
            json!({"type": "message", "role": "assistant", "content": []}),
        ),
    ];
    for _ in 0..=(MAX_HELD_BYTES / big.len()) {
        events.push(delta("response.output_text.delta", 1, &big));
    }
    events.push(completed("completed", json!({})));
    let mut converter = StreamConverter::new(ctx());
    let mut out = Vec::new();
    converter.push(events.concat().as_bytes(), &mut out);
    converter.finish(&mut out);
    let got = check_anthropic_stream(&out);
    let (_, message) = got.error.unwrap();
    assert!(
        message.contains("bytes of output items to hold"),
        "{message}"
    );
    assert_eq!(converter.handler().failure(), Some(StreamFailure::Invalid));
    assert!(out.len() < 4096, "nothing held was written: {}", out.len());
}

#[test]
fn events_before_response_created_start_the_message_with_fallbacks() {
    let got = run(&[
        added(
            0,
            json!({"type": "message", "role": "assistant", "content": []}),
        ),
        delta("response.output_text.delta", 0, "hi"),
        completed("completed", json!({})),
    ]);
    assert_eq!(
        (got.id.as_str(), got.model.as_str()),
        ("msg_fallback", "gpt-test")
    );
    assert_eq!(got.blocks[0].text, "hi");
}

#[test]
fn an_error_before_anything_is_the_only_event() {
    let input = ev(
        json!({"type": "error", "error": {"type": "insufficient_quota", "code": "insufficient_quota", "message": "Quota"}}),
    );
    let got = check_anthropic_stream(&convert(input.as_bytes()));
    assert_eq!(
        got.error,
        Some(("billing_error".to_string(), "Quota".to_string()))
    );
}

#[test]
fn usage_is_reported_to_the_outcome() {
    let input = [created(), completed("completed", json!({}))].concat();
    let mut converter = StreamConverter::new(ctx());
    let mut out = Vec::new();
    converter.push(input.as_bytes(), &mut out);
    converter.finish(&mut out);
    let tokens = converter.handler().tokens().unwrap();
    assert_eq!(
        (tokens.input, tokens.cache_read, tokens.output),
        (60, 40, 20)
    );
    assert_eq!(converter.handler().failure(), None);
}

#[test]
fn a_line_over_the_parser_bound_is_an_error() {
    let mut converter = StreamConverter::with_parser(ctx(), SseParser::new(64));
    let mut out = Vec::new();
    converter.push(created().as_bytes(), &mut out);
    converter.finish(&mut out);
    let got = check_anthropic_stream(&out);
    assert!(got.error.unwrap().1.contains("longer than 64 bytes"));
}

/// Encrypted reasoning waiting behind an unfinished item counts too.
#[test]
fn held_encrypted_content_is_bounded() {
    let big = "e".repeat(1024 * 1024);
    let mut events = vec![
        created(),
        added(
            0,
            json!({"type": "message", "role": "assistant", "content": []}),
        ),
    ];
    for index in 1..=(MAX_HELD_BYTES / big.len() + 1) as u64 {
        events.push(added(index, reasoning("rs")));
        events.push(done(
            index,
            json!({"type": "reasoning", "summary": [], "encrypted_content": big}),
        ));
    }
    let got = run(&events);
    let (_, message) = got.error.unwrap();
    assert!(
        message.contains("bytes of output items to hold"),
        "{message}"
    );
    assert!(got.blocks.is_empty());
}
