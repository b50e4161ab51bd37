//! Anthropic events → Responses events (issue 14, "Streaming"): every
//! recorded Anthropic stream against its golden output, the strict
//! Responses grammar checker (tests/common/responses.rs) and what its events
//! say, under every chunking; then each rule on its own.

mod common;

use anthropic_openai_bridge::convert::responses_client::reasoning::{carried_block, CarriedBlock};
use anthropic_openai_bridge::convert::responses_client::response::{
    convert_response, ResponseContext,
};
use anthropic_openai_bridge::convert::responses_client::stream::{
    error_stream, message_as_stream, StreamConverter,
};
use anthropic_openai_bridge::convert::responses_client::tools::{ClientTool, ToolKind, ToolTable};
use anthropic_openai_bridge::report::{StreamFailure, StreamOutcome};
use common::responses::*;
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

fn ctx(tools: ToolTable) -> ResponseContext {
    ResponseContext {
        model: "claude-test".to_string(),
        created_at: 1_700_000_000,
        fallback_id: "msg_fallback".to_string(),
        tools,
        ..ResponseContext::default()
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
    convert_pieces(ctx(ToolTable::default()), [input])
}

fn golden_name(fixture: &str) -> String {
    let stem = fixture
        .trim_end_matches(".sse")
        .trim_end_matches(".chunks.jsonl");
    format!("{stem}.to-responses.sse")
}

#[test]
fn recorded_streams_match_their_golden_output() {
    for name in RECORDED {
        let out = convert(&recorded_stream(name));
        check_responses_stream(&out);
        assert_golden(&golden_name(name), &out);
    }
}

#[test]
fn recorded_streams_lose_nothing() {
    for name in RECORDED {
        let input = recorded_stream(name);
        let facts = anthropic_stream_facts(&input);
        let got = check_responses_stream(&convert(&input));
        let base = facts.id.strip_prefix("msg_").unwrap();
        assert_eq!(got.id, format!("resp_{base}"), "{name}");
        assert_eq!(got.model, facts.model, "{name}");
        assert_eq!(got.response["created_at"], 1_700_000_000, "{name}");
        assert_eq!(got.text(), facts.text, "{name}");
        let reasoning: Vec<(String, String)> = got
            .items_of("reasoning")
            .iter()
            .map(|item| {
                let summary: String = item["summary"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["text"].as_str().unwrap())
                    .collect();
                let carried = carried_block(item["encrypted_content"].as_str().unwrap());
                let Some(CarriedBlock::Thinking {
                    thinking,
                    signature,
                }) = carried
                else {
                    panic!("{name}: reasoning item without its thinking block")
                };
                assert_eq!(thinking, summary, "{name}");
                (thinking.to_string(), signature.to_string())
            })
            .collect();
        assert_eq!(reasoning, facts.thinking, "{name}");
        let calls: Vec<(String, String, Value)> = got
            .items_of("function_call")
            .iter()
            .map(|c| {
                (
                    c["call_id"].as_str().unwrap().to_string(),
                    c["name"].as_str().unwrap().to_string(),
                    serde_json::from_str(c["arguments"].as_str().unwrap()).unwrap(),
                )
            })
            .collect();
        let expected: Vec<(String, String, Value)> = facts
            .tools
            .iter()
            .map(|(id, tool, input)| {
                let input = if input.is_empty() { "{}" } else { input };
                (
                    id.clone(),
                    tool.clone(),
                    serde_json::from_str(input).unwrap(),
                )
            })
            .collect();
        assert_eq!(calls, expected, "{name}");
        let usage = &got.response["usage"];
        let input_tokens = facts.input_tokens + facts.cache_read + facts.cache_creation;
        assert_eq!(usage["input_tokens"], input_tokens, "{name}");
        assert_eq!(
            usage["input_tokens_details"]["cached_tokens"], facts.cache_read,
            "{name}"
        );
        assert_eq!(usage["output_tokens"], facts.output_tokens, "{name}");
        let expected_terminal = match facts.stop_reason.as_deref() {
            Some("max_tokens") => "response.incomplete",
            _ => "response.completed",
        };
        assert_eq!(got.terminal, expected_terminal, "{name}");
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
                convert_pieces(ctx(ToolTable::default()), [a, b]) == whole,
                "{name}: split at {split}"
            );
        }
        for size in [1, 2, 3, 7, 64, 1000] {
            assert!(
                convert_pieces(ctx(ToolTable::default()), input.chunks(size)) == whole,
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

fn run_with(tools: ToolTable, input: &str) -> ResponsesStream {
    check_responses_stream(&convert_pieces(ctx(tools), [input.as_bytes()]))
}

fn run(input: &str) -> ResponsesStream {
    run_with(ToolTable::default(), input)
}

fn kinds(sse: &[u8]) -> Vec<String> {
    responses_events(sse)
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn consecutive_text_blocks_are_one_message() {
    let input = [
        start(),
        text_block(0, "Hello, "),
        text_block(1, "world."),
        end("end_turn", 7),
    ]
    .concat();
    let got = run(&input);
    assert_eq!(got.items.len(), 1);
    assert_eq!(got.items[0]["id"], "msg_1_0");
    assert_eq!(got.text(), "Hello, world.");
    assert_eq!(got.response["status"], "completed");
}

#[test]
fn items_get_openai_prefixes_and_output_indexes_in_order() {
    let thinking = block_start(0, json!({"type": "thinking", "thinking": ""}))
        + &delta(0, json!({"type": "thinking_delta", "thinking": "Plan."}))
        + &delta(0, json!({"type": "signature_delta", "signature": "c2ln"}))
        + &stop(0);
    let input = [
        start(),
        thinking,
        text_block(1, "Running it."),
        tool_block(2, "toolu_1", "exec_command", &[r#"{"cmd":"#, r#""ls"}"#]),
        end("tool_use", 9),
    ]
    .concat();
    let got = run(&input);
    let ids: Vec<&str> = got
        .items
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["rs_1_0", "msg_1_1", "fc_1_2"]);
    let call = got.items_of("function_call")[0];
    assert_eq!(call["call_id"], "toolu_1");
    assert_eq!(call["arguments"], r#"{"cmd":"ls"}"#);
    assert_eq!(got.items[0]["summary"][0]["text"], "Plan.");
    assert_eq!(got.items[0]["encrypted_content"], "aobt1.c2ln.Plan.");
    assert_eq!(got.terminal, "response.completed");
}

#[test]
fn a_reasoning_item_is_done_only_with_its_signature() {
    let input = [
        start(),
        block_start(0, json!({"type": "thinking", "thinking": ""})),
        delta(0, json!({"type": "thinking_delta", "thinking": "a"})),
        delta(0, json!({"type": "signature_delta", "signature": "AAA"})),
        delta(0, json!({"type": "signature_delta", "signature": "BBB"})),
        stop(0),
        end("end_turn", 3),
    ]
    .concat();
    let out = convert_pieces(ctx(ToolTable::default()), [input.as_bytes()]);
    let events = responses_events(&out).unwrap();
    let done = events
        .iter()
        .find(|e| e["type"] == "response.output_item.done")
        .unwrap();
    assert_eq!(done["item"]["encrypted_content"], "aobt1.AAABBB.a");
    check_responses_stream(&out);
}

#[test]
fn a_redacted_thinking_block_is_an_opaque_reasoning_item() {
    let input = [
        start(),
        block_start(
            0,
            json!({"type": "redacted_thinking", "data": "ZW5jcnlwdGVk"}),
        ),
        stop(0),
        text_block(1, "ok"),
        end("end_turn", 3),
    ]
    .concat();
    let got = run(&input);
    let reasoning = got.items_of("reasoning");
    assert_eq!(reasoning[0]["summary"], json!([]));
    assert_eq!(
        carried_block(reasoning[0]["encrypted_content"].as_str().unwrap()),
        Some(CarriedBlock::Redacted {
            data: "ZW5jcnlwdGVk"
        })
    );
    assert_eq!(got.text(), "ok");
}

#[test]
fn a_custom_tool_call_comes_back_with_its_string_input() {
    let tools = ToolTable::new([ClientTool {
        name: "apply_patch".to_string(),
        namespace: None,
        kind: ToolKind::Custom,
    }]);
    let patch = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\n";
    let json_input = json!({"input": patch}).to_string();
    let (a, b) = json_input.split_at(9);
    let input = [
        start(),
        tool_block(0, "toolu_p", "apply_patch", &[a, b]),
        end("tool_use", 5),
    ]
    .concat();
    let out = convert_pieces(ctx(tools.clone()), [input.as_bytes()]);
    let got = check_responses_stream(&out);
    let call = got.items_of("custom_tool_call")[0];
    assert_eq!(call["input"], patch);
    assert_eq!(call["name"], "apply_patch");
    assert_eq!(call["call_id"], "toolu_p");
    assert!(call["id"].as_str().unwrap().starts_with("ctc_"));
    assert!(call.get("arguments").is_none());
    let names = kinds(&out);
    assert!(!names.contains(&"response.function_call_arguments.delta".to_string()));
    assert_eq!(
        names
            .iter()
            .filter(|k| *k == "response.custom_tool_call_input.delta")
            .count(),
        1
    );
}

#[test]
fn namespaced_calls_get_their_namespace_back() {
    let tools = ToolTable::new([ClientTool {
        name: "spawn_agent".to_string(),
        namespace: Some("multi_agent_v1".to_string()),
        kind: ToolKind::Function,
    }]);
    let input = [
        start(),
        tool_block(
            0,
            "toolu_s",
            "multi_agent_v1__spawn_agent",
            &[r#"{"task":"x"}"#],
        ),
        end("tool_use", 5),
    ]
    .concat();
    let got = run_with(tools, &input);
    let call = got.items_of("function_call")[0];
    assert_eq!(call["name"], "spawn_agent");
    assert_eq!(call["namespace"], "multi_agent_v1");
}

#[test]
fn a_tool_call_without_input_has_empty_object_arguments() {
    let input = [
        start(),
        tool_block(0, "toolu_e", "get_time", &[]),
        end("tool_use", 2),
    ]
    .concat();
    let got = run(&input);
    assert_eq!(got.items_of("function_call")[0]["arguments"], "{}");
}

#[test]
fn max_tokens_ends_incomplete() {
    let input = [start(), text_block(0, "Cut"), end("max_tokens", 4)].concat();
    let got = run(&input);
    assert_eq!(got.terminal, "response.incomplete");
    assert_eq!(
        got.response["incomplete_details"]["reason"],
        "max_output_tokens"
    );
    assert_eq!(got.text(), "Cut");
}

#[test]
fn usage_counts_cache_reads_and_writes_as_input() {
    let got = run(&[start(), text_block(0, "x"), end("end_turn", 4)].concat());
    let usage = &got.response["usage"];
    assert_eq!(usage["input_tokens"], 17);
    assert_eq!(usage["input_tokens_details"]["cached_tokens"], 5);
    assert_eq!(usage["output_tokens"], 4);
    assert_eq!(usage["total_tokens"], 21);
    assert_eq!(usage["output_tokens_details"]["reasoning_tokens"], 0);
}

#[test]
fn an_error_event_fails_the_response_with_a_code_codex_knows() {
    for (kind, message, code) in [
        ("rate_limit_error", "Slow down", "rate_limit_exceeded"),
        ("overloaded_error", "Overloaded", "server_error"),
        (
            "invalid_request_error",
            "prompt is too long: 210000 tokens > 200000 maximum",
            "context_length_exceeded",
        ),
        ("billing_error", "no credit", "insufficient_quota"),
    ] {
        let error = event(json!({"type": "error", "error": {"type": kind, "message": message}}));
        let input = [
            start(),
            block_start(0, json!({"type": "text", "text": ""})),
            delta(0, json!({"type": "text_delta", "text": "Hi"})),
            error,
        ]
        .concat();
        let mut converter = StreamConverter::new(ctx(ToolTable::default()));
        let mut out = Vec::new();
        converter.push(input.as_bytes(), &mut out);
        converter.finish(&mut out);
        let got = check_responses_stream(&out);
        assert_eq!(got.terminal, "response.failed");
        assert_eq!(got.response["error"]["code"], code);
        assert_eq!(got.response["error"]["message"], message);
        assert_eq!(
            converter.handler().failure(),
            Some(StreamFailure::UpstreamError)
        );
    }
}

#[test]
fn a_stream_that_stops_early_fails() {
    let input = [start(), block_start(0, json!({"type": "text", "text": ""}))].concat();
    let mut converter = StreamConverter::new(ctx(ToolTable::default()));
    let mut out = Vec::new();
    converter.push(input.as_bytes(), &mut out);
    converter.finish(&mut out);
    let got = check_responses_stream(&out);
    assert_eq!(got.terminal, "response.failed");
    assert_eq!(got.response["error"]["code"], "server_error");
    assert_eq!(
        converter.handler().failure(),
        Some(StreamFailure::Incomplete)
    );
}

#[test]
fn an_empty_body_still_gets_created_then_failed() {
    let out = convert(b"");
    assert_eq!(
        kinds(&out),
        [
            "response.created",
            "response.in_progress",
            "response.failed"
        ]
    );
    check_responses_stream(&out);
}

#[test]
fn an_unparsable_event_fails_the_response() {
    let input = start() + "event: content_block_start\ndata: {not json\n\n";
    let got = check_responses_stream(&convert(input.as_bytes()));
    assert_eq!(got.terminal, "response.failed");
    assert!(got.response["error"]["message"]
        .as_str()
        .unwrap()
        .contains("invalid"));
}

#[test]
fn server_tool_blocks_and_unknown_events_are_skipped() {
    let input = [
        start(),
        block_start(0, json!({"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}})),
        delta(0, json!({"type": "input_json_delta", "partial_json": "{\"query\":\"x\"}"})),
        stop(0),
        event(json!({"type": "some_future_event"})),
        event(json!({"type": "ping"})),
        text_block(1, "Found it."),
        end("end_turn", 6),
    ]
    .concat();
    let got = run(&input);
    assert_eq!(got.items.len(), 1);
    assert_eq!(got.text(), "Found it.");
}

/// Output items with function arguments parsed (the stream passes the
/// upstream's JSON text on as it came, the whole body compacts it).
fn comparable(items: &Value) -> Value {
    let mut items = items.clone();
    for item in items.as_array_mut().unwrap() {
        if let Some(arguments) = item.get("arguments").and_then(Value::as_str) {
            item["arguments"] = serde_json::from_str(arguments).unwrap();
        }
    }
    items
}

#[test]
fn a_whole_message_as_a_stream_says_what_the_whole_response_says() {
    for name in [
        "anthropic/msg-text.json",
        "anthropic/msg-tool-use.json",
        "anthropic/msg-tool-use-parallel.json",
        "anthropic/msg-thinking-signature.json",
        "anthropic/msg-redacted-thinking.json",
        "anthropic/msg-max-tokens-bedrock.json",
        "anthropic/msg-cache-read.json",
    ] {
        let body = fixture(name);
        let message = serde_json::from_slice(&body).unwrap();
        let streamed =
            check_responses_stream(&message_as_stream(message, &ctx(ToolTable::default())));
        let (whole, _) = convert_response(&body, &ctx(ToolTable::default()));
        let whole: Value = serde_json::from_slice(&whole).unwrap();
        assert_eq!(
            comparable(&streamed.response["output"]),
            comparable(&whole["output"]),
            "{name}"
        );
        for key in [
            "id",
            "status",
            "model",
            "usage",
            "incomplete_details",
            "created_at",
        ] {
            assert_eq!(streamed.response[key], whole[key], "{name}: {key}");
        }
    }
}

#[test]
fn an_error_stream_is_created_then_failed() {
    let out = error_stream(
        &ctx(ToolTable::default()),
        "rate_limit_exceeded",
        "Rate limit reached. Please try again in 7s.",
    );
    assert_eq!(
        kinds(&out),
        [
            "response.created",
            "response.in_progress",
            "response.failed"
        ]
    );
    let got = check_responses_stream(&out);
    assert_eq!(got.id, "resp_fallback");
    assert_eq!(got.response["error"]["code"], "rate_limit_exceeded");
    assert_eq!(
        got.response["error"]["message"],
        "Rate limit reached. Please try again in 7s."
    );
}

/// A hand-made Anthropic answer in Codex's shape (thinking with a
/// signature, then an `exec_command` call), converted: the golden output
/// tests/e2e serves to the real Codex CLI to see what it sends back.
#[test]
fn thinking_then_a_shell_call_matches_its_golden_output() {
    let thinking = block_start(0, json!({"type": "thinking", "thinking": ""}))
        + &delta(
            0,
            json!({"type": "thinking_delta", "thinking": "The user wants the marker; "}),
        )
        + &delta(
            0,
            json!({"type": "thinking_delta", "thinking": "I will echo it."}),
        )
        + &delta(
            0,
            json!({"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA0dB8GgzpJ5Np"}),
        )
        + &stop(0);
    let input = [
        start(),
        thinking,
        tool_block(
            1,
            "toolu_codex_1",
            "exec_command",
            &[r#"{"cmd": "echo "#, r#"bridge-codex-round-trip-ok"}"#],
        ),
        end("tool_use", 40),
    ]
    .concat();
    let out = convert_pieces(ctx(ToolTable::default()), [input.as_bytes()]);
    let got = check_responses_stream(&out);
    assert_eq!(got.items_of("reasoning").len(), 1);
    assert_eq!(got.items_of("function_call")[0]["name"], "exec_command");
    assert_golden("responses/bridge-thinking-then-exec-command.sse", &out);
}

#[test]
fn an_answer_larger_than_the_bridge_holds_fails_and_nothing_follows() {
    use anthropic_openai_bridge::convert::responses_client::stream::MAX_HELD_BYTES;
    let piece = "x".repeat(60_000);
    let mut input = start() + &block_start(0, json!({"type": "text", "text": ""}));
    for _ in 0..=MAX_HELD_BYTES / piece.len() {
        input += &delta(0, json!({"type": "text_delta", "text": piece}));
    }
    input += &stop(0);
    input += &end("end_turn", 5);
    let mut converter = StreamConverter::new(ctx(ToolTable::default()));
    let mut out = Vec::new();
    converter.push(input.as_bytes(), &mut out);
    converter.finish(&mut out);
    let got = check_responses_stream(&out);
    assert_eq!(got.terminal, "response.failed");
    assert!(got.response["error"]["message"]
        .as_str()
        .unwrap()
        .contains("larger than"));
    assert_eq!(
        converter.handler().failure(),
        Some(StreamFailure::OverHeldLimit)
    );
}

/// The configured `max_held_bytes` caps what the converter holds: an answer
/// over it fails with `OverHeldLimit`, and nothing follows.
#[test]
fn the_configured_cap_ends_the_stream_with_response_failed() {
    let piece = delta(0, json!({"type": "text_delta", "text": "x".repeat(1000)}));
    let start_text = block_start(0, json!({"type": "text", "text": ""}));
    let mut converter = StreamConverter::with_cap(ctx(ToolTable::default()), 64 * 1024);
    let mut out = Vec::new();
    converter.push((start() + &start_text).as_bytes(), &mut out);
    for _ in 0..100 {
        converter.push(piece.as_bytes(), &mut out);
    }
    converter.finish(&mut out);
    let got = check_responses_stream(&out);
    assert_eq!(got.terminal, "response.failed");
    assert_eq!(
        converter.handler().failure(),
        Some(StreamFailure::OverHeldLimit)
    );
}

#[test]
fn a_rate_limit_says_when_to_try_again_as_codex_reads_it() {
    let error = event(
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Number of request tokens has exceeded your per-minute rate limit"}}),
    );
    let input = start() + &error;
    let with_delay = ResponseContext {
        retry_after: Some(7),
        ..ctx(ToolTable::default())
    };
    let got = check_responses_stream(&convert_pieces(with_delay, [input.as_bytes()]));
    assert_eq!(got.response["error"]["code"], "rate_limit_exceeded");
    assert_eq!(
        got.response["error"]["message"],
        "Number of request tokens has exceeded your per-minute rate limit. Please try again in 7s."
    );
    let unknown = check_responses_stream(&convert(input.as_bytes()));
    assert_eq!(
        unknown.response["error"]["message"],
        "Number of request tokens has exceeded your per-minute rate limit"
    );
}
