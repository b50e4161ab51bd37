//! OpenAI completion → Anthropic message (docs/anthropic_client.md#response-mapping):
//! every recorded completion against its golden output, then each rule.

mod common;

use anthropic_openai_bridge::convert::anthropic_client::response::{
    convert_response, ResponseContext,
};
use anthropic_openai_bridge::convert::signature::sign;
use anthropic_openai_bridge::convert::tool_names::ToolNames;
use common::*;
use serde_json::{json, Value};

const RECORDED: &[&str] = &[
    "openai/chat-text.json",
    "openai/chat-text-gpt41-nano.json",
    "openai/chat-tool-call.json",
    "openai/chat-tool-calls-parallel.json",
    "openai/deepseek-chat-reasoning.json",
    "openai/ollama-chat-reasoning.json",
    "openai/azure-chat-text.json",
    "openai/azure-chat-text-filters.json",
    "openai/azure-chat-finish-content-filter.json",
];

fn ctx() -> ResponseContext {
    ResponseContext {
        tool_names: ToolNames::default(),
        model: "gpt-test".to_string(),
        fallback_id: "msg_fallback".to_string(),
    }
}

fn convert_value(completion: &Value, ctx: &ResponseContext) -> Value {
    serde_json::from_slice(&convert_response(completion.to_string().as_bytes(), ctx).0).unwrap()
}

fn convert(completion: Value) -> Value {
    convert_value(&completion, &ctx())
}

fn completion(message: Value, finish: Value, usage: Value) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
           "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage})
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

#[test]
fn recorded_completions_match_their_golden_output() {
    for name in RECORDED {
        let out = convert_response(&fixture(name), &ctx()).0;
        let golden = name.replace(".json", ".to-anthropic.json");
        assert_golden(&golden, &out);
    }
}

/// What the completion said is all in the message, in Anthropic's order.
#[test]
fn recorded_completions_lose_nothing() {
    for name in RECORDED {
        let input = fixture_json(name);
        let out = convert(input.clone());
        let message = &input["choices"][0]["message"];
        assert_eq!(out["type"], "message", "{name}");
        assert_eq!(out["role"], "assistant", "{name}");
        assert_eq!(out["id"], input["id"], "{name}");
        assert_eq!(out["model"], input["model"], "{name}");
        let blocks = out["content"].as_array().unwrap();
        let text: String = blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .map(|b| b["text"].as_str().unwrap())
            .collect();
        let expected_text = message["content"].as_str().unwrap_or("").to_string()
            + message["refusal"].as_str().unwrap_or("");
        assert_eq!(text, expected_text, "{name}");
        let reasoning = message["reasoning_content"]
            .as_str()
            .or(message["reasoning"].as_str());
        let thinking: Vec<&Value> = blocks.iter().filter(|b| b["type"] == "thinking").collect();
        match reasoning.filter(|r| !r.is_empty()) {
            Some(reasoning) => {
                assert_eq!(
                    blocks[0]["type"], "thinking",
                    "{name}: thinking comes first"
                );
                assert_eq!(thinking[0]["thinking"], reasoning, "{name}");
                assert_eq!(thinking[0]["signature"], sign(reasoning), "{name}");
            }
            None => assert!(thinking.is_empty(), "{name}"),
        }
        let calls = message["tool_calls"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let tools: Vec<&Value> = blocks.iter().filter(|b| b["type"] == "tool_use").collect();
        assert_eq!(tools.len(), calls.len(), "{name}");
        for (block, call) in tools.iter().zip(&calls) {
            assert_eq!(block["id"], call["id"], "{name}");
            assert_eq!(block["name"], call["function"]["name"], "{name}");
            let arguments: Value =
                serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
            assert_eq!(block["input"], arguments, "{name}");
        }
        let prompt = input["usage"]["prompt_tokens"].as_u64().unwrap();
        let cached = input["usage"]["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap_or(0);
        assert_eq!(out["usage"]["input_tokens"], prompt - cached, "{name}");
        assert_eq!(out["usage"]["cache_read_input_tokens"], cached, "{name}");
        assert_eq!(
            out["usage"]["output_tokens"], input["usage"]["completion_tokens"],
            "{name}"
        );
        assert_eq!(out["stop_sequence"], Value::Null, "{name}");
    }
}

#[test]
fn each_finish_reason_maps() {
    for (finish, stop) in [
        (json!("stop"), "end_turn"),
        (json!("length"), "max_tokens"),
        (json!("tool_calls"), "tool_use"),
        (json!("function_call"), "tool_use"),
        (json!("content_filter"), "refusal"),
        (json!(null), "end_turn"),
        (json!(""), "end_turn"),
        (json!("null"), "end_turn"),
        (json!("eos"), "end_turn"),
    ] {
        let out = convert(completion(
            json!({"role": "assistant", "content": "x"}),
            finish.clone(),
            usage(1, 1),
        ));
        assert_eq!(out["stop_reason"], stop, "{finish}");
    }
}

#[test]
fn a_named_stop_string_becomes_stop_sequence() {
    let mut input = completion(
        json!({"role": "assistant", "content": "x"}),
        json!("stop"),
        usage(1, 1),
    );
    input["choices"][0]["stop_reason"] = json!("END");
    let out = convert(input);
    assert_eq!(
        (out["stop_reason"].clone(), out["stop_sequence"].clone()),
        (json!("stop_sequence"), json!("END"))
    );
}

#[test]
fn tool_calls_with_a_plain_stop_still_stop_for_tool_use() {
    let message = json!({"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]});
    assert_eq!(
        convert(completion(message, json!("stop"), usage(1, 1)))["stop_reason"],
        "tool_use"
    );
}

#[test]
fn usage_with_and_without_cache_tokens() {
    let plain = convert(completion(
        json!({"content": "x"}),
        json!("stop"),
        usage(100, 7),
    ));
    assert_eq!(
        plain["usage"],
        json!({"input_tokens": 100, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 7})
    );
    let cached = json!({"prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107, "prompt_tokens_details": {"cached_tokens": 60}});
    let out = convert(completion(json!({"content": "x"}), json!("stop"), cached));
    assert_eq!(out["usage"]["input_tokens"], 40);
    assert_eq!(out["usage"]["cache_read_input_tokens"], 60);
    let deepseek = json!({"prompt_tokens": 100, "completion_tokens": 7, "prompt_cache_hit_tokens": 30, "prompt_cache_miss_tokens": 70});
    assert_eq!(
        convert(completion(json!({"content": "x"}), json!("stop"), deepseek))["usage"]
            ["cache_read_input_tokens"],
        30
    );
    let writes = json!({"prompt_tokens": 100, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 10, "cache_write_tokens": 50}});
    let out = convert(completion(json!({"content": "x"}), json!("stop"), writes));
    assert_eq!(
        out["usage"],
        json!({"input_tokens": 40, "cache_creation_input_tokens": 50, "cache_read_input_tokens": 10, "output_tokens": 7})
    );
    let overcounted = json!({"prompt_tokens": 5, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 9}});
    assert_eq!(
        convert(completion(
            json!({"content": "x"}),
            json!("stop"),
            overcounted
        ))["usage"]["input_tokens"],
        0
    );
    let sloppy =
        json!({"prompt_tokens": 5.0, "completion_tokens": null, "prompt_tokens_details": null});
    let out = convert(completion(json!({"content": "x"}), json!("stop"), sloppy));
    assert_eq!(
        (
            out["usage"]["input_tokens"].clone(),
            out["usage"]["output_tokens"].clone()
        ),
        (json!(5), json!(0))
    );
}

#[test]
fn refusal_is_a_text_block_with_stop_reason_refusal() {
    let out = convert(completion(
        json!({"role": "assistant", "content": null, "refusal": "I can't."}),
        json!("stop"),
        usage(1, 1),
    ));
    assert_eq!(
        out["content"],
        json!([{"type": "text", "text": "I can't."}])
    );
    assert_eq!(out["stop_reason"], "refusal");
}

#[test]
fn no_content_is_an_empty_list() {
    let out = convert(completion(
        json!({"role": "assistant", "content": null}),
        json!("length"),
        usage(1, 0),
    ));
    assert_eq!(out["content"], json!([]));
    let out = convert(completion(
        json!({"role": "assistant", "content": ""}),
        json!("stop"),
        usage(1, 0),
    ));
    assert_eq!(out["content"], json!([]));
}

/// `tool_use.input` must be an object: arguments that cannot be one make the
/// answer an error naming the call (never a silent `{}`); empty arguments,
/// what OpenAI servers send for a call without parameters, are `{}`.
#[test]
fn tool_arguments_that_are_not_an_object_are_an_error() {
    for (arguments, problem) in [
        ("{bad json", "are not valid JSON"),
        ("{\"a\":", "end before their JSON object is complete"),
        ("[1,2]", "are JSON but not an object"),
        ("\"\"", "are JSON but not an object"),
        ("null", "are JSON but not an object"),
        ("{\"a\":1}{\"a\":1}", "are not valid JSON"),
    ] {
        let message = json!({"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "c0", "type": "function", "function": {"name": "ok", "arguments": "{}"}},
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}]});
        let out = convert(completion(message, json!("tool_calls"), usage(1, 1)));
        assert_eq!(out["type"], "error", "{arguments:?}: {out}");
        assert_eq!(out["error"]["type"], "api_error");
        assert_eq!(
            out["error"]["message"],
            format!("upstream tool call 1 (`f`): its arguments {problem}, and an Anthropic tool_use input must be a JSON object"),
            "{arguments:?}"
        );
    }
    for arguments in ["", "  ", "{}", " {\"a\": [1]} "] {
        let message = json!({"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}]});
        let out = convert(completion(message, json!("tool_calls"), usage(1, 1)));
        let expected: Value = match arguments.trim() {
            "" => json!({}),
            text => serde_json::from_str(text).unwrap(),
        };
        assert_eq!(out["content"][0]["input"], expected, "{arguments:?}");
    }
}

#[test]
fn sanitized_names_are_restored_and_missing_ids_filled() {
    let ctx = ResponseContext {
        tool_names: ToolNames::new(["mcp__docs.search"]),
        ..ctx()
    };
    let message = json!({"role": "assistant", "content": null, "tool_calls": [
        {"type": "function", "function": {"name": "mcp__docs_search", "arguments": "{\"q\":\"x\"}"}},
        {"id": "", "type": "function", "function": {"name": "other", "arguments": "{}"}}
    ]});
    let mut input = completion(message, json!("tool_calls"), usage(1, 1));
    input["id"] = json!("");
    input["model"] = json!("");
    let out = convert_value(&input, &ctx);
    assert_eq!(out["id"], "msg_fallback");
    assert_eq!(out["model"], "gpt-test");
    assert_eq!(out["content"][0]["name"], "mcp__docs.search");
    assert_eq!(out["content"][0]["id"], "toolu_msg_fallback_0");
    assert_eq!(out["content"][1]["id"], "toolu_msg_fallback_1");
    assert_eq!(out["content"][1]["name"], "other");
}

#[test]
fn content_parts_in_a_response_are_joined() {
    let message = json!({"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]});
    let out = convert(completion(message, json!("stop"), usage(1, 1)));
    assert_eq!(out["content"], json!([{"type": "text", "text": "ab"}]));
}

#[test]
fn an_error_body_with_status_200_becomes_an_anthropic_error() {
    let out: Value = serde_json::from_slice(
        &convert_response(
            br#"{"error":{"message":"model overloaded","type":"server_error"}}"#,
            &ctx(),
        )
        .0,
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"type": "error", "error": {"type": "api_error", "message": "model overloaded"}})
    );
    let out: Value =
        serde_json::from_slice(&convert_response(b"<html>oops</html>", &ctx()).0).unwrap();
    assert_eq!(out["type"], "error");
}
