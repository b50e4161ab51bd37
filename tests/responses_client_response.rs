//! Anthropic message → Responses `response` object (issue 14, "Response"):
//! recorded messages against golden output and against what they say, then
//! each rule on its own.

mod common;

use anthropic_openai_bridge::convert::responses_client::reasoning::{carried_block, CarriedBlock};
use anthropic_openai_bridge::convert::responses_client::response::{
    convert_response, custom_input, ResponseContext,
};
use anthropic_openai_bridge::convert::responses_client::tools::{ClientTool, ToolKind, ToolTable};
use anthropic_openai_bridge::responses::ToolChoice;
use common::responses::item_id_prefix;
use common::*;
use serde_json::{json, Value};

const RECORDED: &[&str] = &[
    "anthropic/msg-text.json",
    "anthropic/msg-tool-use.json",
    "anthropic/msg-tool-use-parallel.json",
    "anthropic/msg-thinking-signature.json",
    "anthropic/msg-redacted-thinking.json",
    "anthropic/msg-max-tokens-bedrock.json",
    "anthropic/msg-cache-read.json",
    "anthropic/msg-cache-creation.json",
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

fn convert_with(tools: ToolTable, message: &Value) -> Value {
    let (body, tokens) = convert_response(message.to_string().as_bytes(), &ctx(tools));
    assert!(tokens.is_some());
    serde_json::from_slice(&body).unwrap()
}

fn convert(message: &Value) -> Value {
    convert_with(ToolTable::default(), message)
}

#[test]
fn recorded_messages_match_their_golden_output() {
    for name in RECORDED {
        let (body, _) = convert_response(&fixture(name), &ctx(ToolTable::default()));
        assert_golden(&name.replace(".json", ".to-responses.json"), &body);
    }
}

#[test]
fn recorded_messages_lose_nothing() {
    for name in RECORDED {
        let message = fixture_json(name);
        let got = convert(&message);
        let base = message["id"].as_str().unwrap().trim_start_matches("msg_");
        assert_eq!(got["id"], format!("resp_{base}"), "{name}");
        assert_eq!(got["object"], "response");
        assert_eq!(got["created_at"], 1_700_000_000);
        assert_eq!(got["model"], message["model"], "{name}");
        let output = got["output"].as_array().unwrap();
        for (n, item) in output.iter().enumerate() {
            let kind = item["type"].as_str().unwrap();
            let prefix = item_id_prefix(kind).unwrap();
            assert_eq!(item["id"], format!("{prefix}{base}_{n}"), "{name}");
        }
        let blocks = message["content"].as_array().unwrap();
        let text: String = blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .map(|b| b["text"].as_str().unwrap())
            .collect();
        let got_text: String = output
            .iter()
            .filter(|i| i["type"] == "message")
            .map(|i| i["content"][0]["text"].as_str().unwrap())
            .collect();
        assert_eq!(got_text, text, "{name}");
        let uses: Vec<Value> = blocks
            .iter()
            .filter(|b| b["type"] == "tool_use")
            .map(|b| json!([b["id"], b["name"], b["input"]]))
            .collect();
        let calls: Vec<Value> = output
            .iter()
            .filter(|i| i["type"] == "function_call")
            .map(|c| {
                let arguments: Value =
                    serde_json::from_str(c["arguments"].as_str().unwrap()).unwrap();
                json!([c["call_id"], c["name"], arguments])
            })
            .collect();
        assert_eq!(calls, uses, "{name}");
        let thinking: Vec<Value> = blocks
            .iter()
            .filter(|b| b["type"] == "thinking" || b["type"] == "redacted_thinking")
            .cloned()
            .collect();
        let carried: Vec<Value> = output
            .iter()
            .filter(|i| i["type"] == "reasoning")
            .map(
                |i| match carried_block(i["encrypted_content"].as_str().unwrap()) {
                    Some(CarriedBlock::Thinking {
                        thinking,
                        signature,
                    }) => {
                        assert_eq!(i["summary"][0]["text"], thinking, "{name}");
                        json!({"type": "thinking", "thinking": thinking, "signature": signature})
                    }
                    Some(CarriedBlock::Redacted { data }) => {
                        json!({"type": "redacted_thinking", "data": data})
                    }
                    None => panic!("{name}: reasoning without a carried block"),
                },
            )
            .collect();
        assert_eq!(carried, thinking, "{name}");
        let usage = &message["usage"];
        let n = |key: &str| usage[key].as_u64().unwrap_or(0);
        let input =
            n("input_tokens") + n("cache_read_input_tokens") + n("cache_creation_input_tokens");
        assert_eq!(got["usage"]["input_tokens"], input, "{name}");
        assert_eq!(
            got["usage"]["input_tokens_details"]["cached_tokens"],
            n("cache_read_input_tokens")
        );
        assert_eq!(got["usage"]["output_tokens"], n("output_tokens"));
        assert_eq!(got["usage"]["total_tokens"], input + n("output_tokens"));
        let (status, reason) = match message["stop_reason"].as_str() {
            Some("max_tokens") => ("incomplete", json!({"reason": "max_output_tokens"})),
            _ => ("completed", Value::Null),
        };
        assert_eq!(got["status"], status, "{name}");
        assert_eq!(got["incomplete_details"], reason, "{name}");
        assert_eq!(got["error"], Value::Null);
        assert_eq!(
            got["usage"]["input_tokens_details"]["cache_write_tokens"],
            n("cache_creation_input_tokens")
        );
        assert_eq!(
            (
                &got["tool_choice"],
                &got["tools"],
                &got["parallel_tool_calls"]
            ),
            (&json!("auto"), &json!([]), &json!(false))
        );
    }
}

#[test]
fn the_request_tool_choice_and_parallel_calls_are_echoed() {
    let tools = ToolTable::default();
    let ctx = ResponseContext {
        tool_choice: Some(ToolChoice::function("f".into())),
        parallel_tool_calls: true,
        ..ctx(tools)
    };
    let (body, _) = convert_response(&fixture("anthropic/msg-text.json"), &ctx);
    let got: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(got["tool_choice"], json!({"type": "function", "name": "f"}));
    assert_eq!(got["parallel_tool_calls"], true);
}

fn message(content: Value, stop_reason: &str) -> Value {
    json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
        "content": content, "stop_reason": stop_reason, "stop_sequence": null,
        "usage": {"input_tokens": 3, "output_tokens": 4}})
}

#[test]
fn text_blocks_around_a_call_are_separate_messages_in_order() {
    let got = convert(&message(
        json!([{"type": "text", "text": "A"}, {"type": "text", "text": "B"},
               {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
               {"type": "text", "text": "C"}]),
        "tool_use",
    ));
    let summary: Vec<(String, String)> = got["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_string(),
                i["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("msg_1_0".to_string(), "message".to_string()),
            ("fc_1_1".to_string(), "function_call".to_string()),
            ("msg_1_2".to_string(), "message".to_string())
        ]
    );
    assert_eq!(
        got["output"][0]["content"],
        json!([{"type": "output_text", "text": "AB", "annotations": [], "logprobs": []}])
    );
    assert_eq!(got["output"][1]["arguments"], "{}");
    assert_eq!(got["output"][1]["status"], "completed");
}

#[test]
fn custom_and_namespaced_tools_come_back_as_the_client_declared_them() {
    let tools = ToolTable::new([
        ClientTool {
            name: "apply_patch".into(),
            namespace: None,
            kind: ToolKind::Custom,
        },
        ClientTool {
            name: "search".into(),
            namespace: Some("mcp__docs__".into()),
            kind: ToolKind::Function,
        },
    ]);
    let got = convert_with(
        tools,
        &message(
            json!([{"type": "tool_use", "id": "toolu_p", "name": "apply_patch", "input": {"input": "*** Begin Patch\n"}},
                   {"type": "tool_use", "id": "toolu_s", "name": "mcp__docs__search", "input": {"q": "x"}}]),
            "tool_use",
        ),
    );
    assert_eq!(
        got["output"][0],
        json!({"type": "custom_tool_call", "id": "ctc_1_0", "status": "completed", "call_id": "toolu_p",
               "name": "apply_patch", "input": "*** Begin Patch\n"})
    );
    assert_eq!(got["output"][1]["name"], "search");
    assert_eq!(got["output"][1]["namespace"], "mcp__docs__");
    assert_eq!(got["output"][1]["arguments"], r#"{"q":"x"}"#);
}

#[test]
fn a_custom_input_never_leaks_json() {
    assert_eq!(custom_input(r#"{"input":"raw text"}"#), "raw text");
    assert_eq!(custom_input(r#"{"patch":"only string"}"#), "only string");
    assert_eq!(custom_input(r#"{"a":"x","b":"y"}"#), r#"{"a":"x","b":"y"}"#);
    assert_eq!(custom_input("not json"), "not json");
}

#[test]
fn refusal_ends_incomplete_with_content_filter() {
    let got = convert(&message(
        json!([{"type": "text", "text": "I can't."}]),
        "refusal",
    ));
    assert_eq!(got["status"], "incomplete");
    assert_eq!(
        got["incomplete_details"],
        json!({"reason": "content_filter"})
    );
}

#[test]
fn a_body_that_is_not_a_message_is_an_openai_error() {
    let (body, tokens) = convert_response(b"{\"hello\":1}", &ctx(ToolTable::default()));
    assert!(tokens.is_none());
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body["error"]["message"],
        "upstream returned a response that is not a message"
    );
    assert_eq!(body["error"]["type"], "server_error");
}

#[test]
fn failures_carry_codes_and_a_known_delay() {
    use anthropic_openai_bridge::convert::responses_client::response::failure;
    assert_eq!(
        failure("rate_limit_error", "Slow down.", Some(12)),
        (
            "rate_limit_exceeded",
            "Slow down. Please try again in 12s.".to_string()
        )
    );
    assert_eq!(
        failure("rate_limit_error", "Slow down ", Some(12)),
        (
            "rate_limit_exceeded",
            "Slow down. Please try again in 12s.".to_string()
        )
    );
    assert_eq!(
        failure("rate_limit_error", "", Some(12)),
        (
            "rate_limit_exceeded",
            "Please try again in 12s.".to_string()
        )
    );
    assert_eq!(
        failure("rate_limit_error", "Please try again in 3s.", Some(12)),
        ("rate_limit_exceeded", "Please try again in 3s.".to_string())
    );
    assert_eq!(
        failure("overloaded_error", "Overloaded", Some(5)),
        ("server_error", "Overloaded".to_string())
    );
    assert_eq!(
        failure(
            "invalid_request_error",
            "prompt is too long: 201000 tokens > 200000 maximum",
            None
        )
        .0,
        "context_length_exceeded"
    );
}
