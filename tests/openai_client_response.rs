//! Anthropic message → OpenAI completion (docs/openai_client.md#response-mapping):
//! every recorded message against its golden output, then each rule.

mod common;

use anthropic_openai_bridge::convert::openai_client::response::{
    compact_json, convert_response, ResponseContext,
};
use anthropic_openai_bridge::wire::CowStr;
use common::*;
use serde_json::{json, Value};

const RECORDED: &[&str] = &[
    "anthropic/msg-text.json",
    "anthropic/msg-text-raw.json",
    "anthropic/msg-tool-use.json",
    "anthropic/msg-tool-use-parallel.json",
    "anthropic/msg-thinking-signature.json",
    "anthropic/msg-redacted-thinking.json",
    "anthropic/msg-cache-creation.json",
    "anthropic/msg-cache-read.json",
    "anthropic/msg-cache-read-usage.json",
    "anthropic/msg-max-tokens-bedrock.json",
];

fn ctx() -> ResponseContext {
    ResponseContext {
        model: "claude-test".to_string(),
        created: 1_700_000_000,
        fallback_id: "msg_fallback".to_string(),
        include_usage: false,
    }
}

fn convert(message: &Value) -> Value {
    serde_json::from_slice(&convert_response(message.to_string().as_bytes(), &ctx()).0).unwrap()
}

fn message(content: Value, stop_reason: &str) -> Value {
    json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "content": content,
           "stop_reason": stop_reason, "stop_sequence": null, "usage": {"input_tokens": 10, "output_tokens": 5}})
}

#[test]
fn recorded_messages_match_their_golden_output() {
    for name in RECORDED {
        let out = convert_response(&fixture(name), &ctx()).0;
        assert_golden(&name.replace(".json", ".to-openai.json"), &out);
    }
}

#[test]
fn recorded_messages_lose_nothing() {
    for name in RECORDED {
        let input = fixture_json(name);
        let out = convert(&input);
        assert_eq!(out["object"], "chat.completion", "{name}");
        assert_eq!(out["id"], input["id"], "{name}");
        assert_eq!(out["model"], input["model"], "{name}");
        assert_eq!(out["created"], 1_700_000_000, "{name}");
        let choice = &out["choices"][0];
        let blocks = input["content"].as_array().unwrap();
        let text: String = blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .map(|b| b["text"].as_str().unwrap())
            .collect();
        let tools: Vec<&Value> = blocks.iter().filter(|b| b["type"] == "tool_use").collect();
        match (text.is_empty(), tools.is_empty()) {
            (true, false) => assert_eq!(choice["message"]["content"], Value::Null, "{name}"),
            _ => assert_eq!(choice["message"]["content"], text, "{name}"),
        }
        let calls = choice["message"]["tool_calls"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(calls.len(), tools.len(), "{name}");
        for (call, tool) in calls.iter().zip(&tools) {
            assert_eq!(call["id"], tool["id"], "{name}");
            assert_eq!(call["type"], "function");
            assert_eq!(call["function"]["name"], tool["name"], "{name}");
            let arguments = call["function"]["arguments"].as_str().unwrap();
            assert_eq!(
                serde_json::from_str::<Value>(arguments).unwrap(),
                tool["input"],
                "{name}"
            );
            assert_eq!(
                arguments,
                serde_json::to_string(&tool["input"]).unwrap().as_str(),
                "{name}: compact JSON"
            );
        }
        let thinking: Vec<&Value> = blocks
            .iter()
            .filter(|b| b["type"] == "thinking" || b["type"] == "redacted_thinking")
            .collect();
        match thinking.is_empty() {
            true => assert_eq!(choice["message"].get("thinking_blocks"), None, "{name}"),
            false => {
                let replay = choice["message"]["thinking_blocks"].as_array().unwrap();
                assert_eq!(replay.len(), thinking.len(), "{name}");
                for (kept, original) in replay.iter().zip(&thinking) {
                    assert_eq!(kept["type"], original["type"], "{name}");
                    assert_eq!(kept["signature"], original["signature"], "{name}");
                    assert_eq!(kept["data"], original["data"], "{name}");
                    assert_eq!(kept["thinking"], original["thinking"], "{name}");
                }
            }
        }
        let usage = &input["usage"];
        let read = usage["cache_read_input_tokens"].as_u64().unwrap_or(0);
        let created = usage["cache_creation_input_tokens"].as_u64().unwrap_or(0);
        let prompt = usage["input_tokens"].as_u64().unwrap() + read + created;
        let output = usage["output_tokens"].as_u64().unwrap();
        assert_eq!(
            out["usage"],
            json!({"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output, "prompt_tokens_details": {"cached_tokens": read}}),
            "{name}"
        );
    }
}

#[test]
fn each_stop_reason_maps() {
    for (stop, finish) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ] {
        let out = convert(&message(json!([{"type": "text", "text": "x"}]), stop));
        assert_eq!(out["choices"][0]["finish_reason"], finish, "{stop}");
    }
}

#[test]
fn reasoning_content_joins_thinking_and_text_blocks_concatenate() {
    let content = json!([
        {"type": "thinking", "thinking": "a", "signature": "s1"},
        {"type": "text", "text": "The answer is ", "citations": []},
        {"type": "text", "text": "42."},
        {"type": "server_tool_use", "id": "srv", "name": "web_search", "input": {"query": "q"}},
        {"type": "web_search_tool_result", "tool_use_id": "srv", "content": []}
    ]);
    let out = convert(&message(content, "end_turn"));
    let msg = &out["choices"][0]["message"];
    assert_eq!(msg["content"], "The answer is 42.");
    assert_eq!(msg["reasoning_content"], "a");
    assert_eq!(msg.get("tool_calls"), None, "server tools ran upstream");
    assert_eq!(
        msg["thinking_blocks"],
        json!([{"type": "thinking", "thinking": "a", "signature": "s1"}])
    );
}

#[test]
fn an_empty_answer_is_an_empty_string() {
    let out = convert(&message(json!([]), "end_turn"));
    assert_eq!(out["choices"][0]["message"]["content"], "");
}

#[test]
fn arguments_are_compact_json() {
    assert_eq!(
        compact_json(CowStr::borrowed("{\"a\": [1, 2], \"b\": \"x y\\\" z\"}")).as_str(),
        "{\"a\":[1,2],\"b\":\"x y\\\" z\"}"
    );
    assert!(matches!(
        compact_json(CowStr::borrowed("{\"a\":1}")).0,
        std::borrow::Cow::Borrowed(_)
    ));
    let pretty = "{\n  \"city\": \"San Francisco, CA\"\n}";
    let out = convert(&message(
        serde_json::from_str(&format!(
            "[{{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{pretty}}}]"
        ))
        .unwrap(),
        "tool_use",
    ));
    assert_eq!(
        out["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
        "{\"city\":\"San Francisco, CA\"}"
    );
}

#[test]
fn an_error_body_with_status_200_becomes_an_openai_error() {
    let out: Value = serde_json::from_slice(
        &convert_response(
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            &ctx(),
        )
        .0,
    )
    .unwrap();
    assert_eq!(out["error"]["message"], "Overloaded");
    assert_eq!(out["error"]["type"], "server_error");
}
