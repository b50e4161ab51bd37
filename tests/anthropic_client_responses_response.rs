//! OpenAI Responses `response` → Anthropic message (Anthropic client on a
//! Responses upstream): recorded bodies against their goldens, each rule
//! alone, and the body conversion agreeing with the stream conversion on
//! every recorded stream's final `response`.

mod common;

use anthropic_openai_bridge::convert::anthropic_client::response::ResponseContext;
use anthropic_openai_bridge::convert::anthropic_client_responses::response::{
    convert_response, message_from_body,
};
use anthropic_openai_bridge::convert::anthropic_client_responses::stream::StreamConverter;
use anthropic_openai_bridge::convert::signature::sign;
use anthropic_openai_bridge::convert::tool_names::ToolNames;
use common::*;
use serde_json::{json, Value};

const BODIES: &[&str] = &[
    "responses/text.json",
    "responses/function-call.json",
    "responses/function-calls-parallel.json",
    "responses/incomplete-max-output-tokens.json",
    "responses/reasoning-encrypted-summary.json",
    "responses/azure-reasoning-encrypted.json",
];

fn ctx() -> ResponseContext {
    ResponseContext {
        tool_names: ToolNames::default(),
        model: "gpt-test".to_string(),
        fallback_id: "msg_fallback".to_string(),
    }
}

fn convert(body: &Value) -> Value {
    let (out, _) = convert_response(body.to_string().as_bytes(), &ctx());
    serde_json::from_slice(&out).unwrap()
}

fn response(output: Value) -> Value {
    json!({"id": "resp_1", "object": "response", "created_at": 1, "status": "completed", "model": "gpt-5",
        "output": output,
        "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 40},
                  "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 5}, "total_tokens": 120}})
}

#[test]
fn recorded_bodies_match_their_golden_output() {
    for name in BODIES {
        let (out, tokens) = convert_response(&fixture(name), &ctx());
        let golden = name.replace(".json", ".to-anthropic.json");
        assert_golden(&golden, &out);
        let message: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(message["type"], "message", "{name}");
        let tokens = tokens.unwrap();
        assert_eq!(message["usage"]["output_tokens"], tokens.output, "{name}");
    }
}

#[test]
fn recorded_bodies_keep_every_item_in_order() {
    for name in BODIES {
        let raw = fixture_json(name);
        let message = convert(&raw);
        let kinds: Vec<&str> = message["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["type"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = raw["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| match i["type"].as_str().unwrap() {
                "reasoning" => "thinking",
                "message" => "text",
                "function_call" => "tool_use",
                other => panic!("{other}"),
            })
            .collect();
        assert_eq!(kinds, expected, "{name}");
        assert_eq!(message["id"], raw["id"], "{name}");
        assert_eq!(message["model"], raw["model"], "{name}");
    }
}

#[test]
fn reasoning_becomes_signed_thinking() {
    let raw = fixture_json("responses/reasoning-encrypted-summary.json");
    let message = convert(&raw);
    let thinking = &message["content"][0];
    let item = &raw["output"][0];
    assert_eq!(
        thinking["signature"],
        format!("aob2.{}", item["encrypted_content"].as_str().unwrap())
    );
    let summary: Vec<&str> = item["summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    assert_eq!(thinking["thinking"], summary.join("\n\n"));
}

#[test]
fn reasoning_without_encrypted_content_is_signed_by_digest_or_skipped() {
    let message = convert(&response(json!([
        {"type": "reasoning", "id": "rs_1", "summary": [], "content": [{"type": "reasoning_text", "text": "raw"}]},
        {"type": "reasoning", "id": "rs_2", "summary": []},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "hi", "annotations": []}]}
    ])));
    assert_eq!(
        message["content"],
        json!([
            {"type": "thinking", "thinking": "raw", "signature": sign("raw")},
            {"type": "text", "text": "hi"}
        ])
    );
}

#[test]
fn function_calls_become_tool_use_with_parsed_input() {
    let mut ctx = ctx();
    ctx.tool_names = ToolNames::new(["files.read"]);
    let body = response(json!([
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "files_read", "arguments": "{\"path\":\"a\"}"},
        {"type": "function_call", "id": "fc_2", "call_id": "call_2", "name": "noargs", "arguments": ""},
        {"type": "function_call", "id": "fc_3", "call_id": "", "name": "bad", "arguments": "[1]"},
        {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_4", "name": "apply_patch", "input": "*** \"x\"\n"}
    ]));
    let (out, _) = convert_response(body.to_string().as_bytes(), &ctx);
    let message: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        message["content"],
        json!([
            {"type": "tool_use", "id": "call_1", "name": "files.read", "input": {"path": "a"}},
            {"type": "tool_use", "id": "call_2", "name": "noargs", "input": {}},
            {"type": "tool_use", "id": "toolu_resp_1_2", "name": "bad", "input": {}},
            {"type": "tool_use", "id": "call_4", "name": "apply_patch", "input": {"input": "*** \"x\"\n"}}
        ])
    );
    assert_eq!(message["stop_reason"], "tool_use");
}

#[test]
fn stop_reasons() {
    let text = json!([{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a"}]}]);
    let cases = [
        (json!({}), text.clone(), "end_turn"),
        (
            json!({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}),
            text.clone(),
            "max_tokens",
        ),
        (
            json!({"status": "incomplete", "incomplete_details": {"reason": "content_filter"}}),
            text.clone(),
            "refusal",
        ),
        (
            json!({}),
            json!([{"type": "message", "role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]}]),
            "refusal",
        ),
    ];
    for (extra, output, stop) in cases {
        let mut body = response(output);
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let message = convert(&body);
        assert_eq!(message["stop_reason"], stop, "{extra}");
        assert_eq!(message["stop_sequence"], Value::Null);
    }
    let refusal = convert(&response(json!([
        {"type": "message", "role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]}
    ])));
    assert_eq!(refusal["content"], json!([{"type": "text", "text": "No."}]));
}

#[test]
fn usage_counts_cache_reads_and_writes_apart() {
    let mut body = response(json!([]));
    body["usage"]["input_tokens_details"]["cache_write_tokens"] = json!(10);
    let message = convert(&body);
    assert_eq!(
        message["usage"],
        json!({"input_tokens": 50, "cache_creation_input_tokens": 10, "cache_read_input_tokens": 40, "output_tokens": 20})
    );
    let mut body = response(json!([]));
    body.as_object_mut().unwrap().remove("usage");
    assert_eq!(convert(&body)["usage"]["input_tokens"], 0);
}

#[test]
fn bodies_that_are_not_a_completed_response_become_error_bodies() {
    let cases: [(&[u8], &str); 4] = [
        (
            br#"{"id":"resp_1","object":"response","status":"failed","error":{"code":"server_error","message":"The model failed."},"output":[]}"#,
            "The model failed.",
        ),
        (
            br#"{"error":{"message":"Quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#,
            "Quota",
        ),
        (
            b"<html>oops</html>",
            "upstream returned a body that is not a Responses API response",
        ),
        (
            br#"{"id":"x","object":"list","data":[]}"#,
            "upstream returned a body that is not a Responses API response",
        ),
    ];
    for (body, message) in cases {
        let (out, tokens) = convert_response(body, &ctx());
        let error: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            error,
            json!({"type": "error", "error": {"type": "api_error", "message": message}})
        );
        assert!(tokens.is_none());
    }
}

#[test]
fn missing_id_and_model_take_the_fallbacks() {
    let body = br#"{"object":"response","status":"completed","output":[]}"#;
    let message = message_from_body(body, &ctx()).unwrap();
    assert_eq!(message.id.as_str(), "msg_fallback");
    assert_eq!(message.model.as_str(), "gpt-test");
}

/// A thinking block's `aob2.` signature cut to its prefix: OpenAI encrypts
/// the same reasoning anew each time it sends it (`output_item.done` and
/// `response.completed` carry different tokens).
fn without_encrypted_content(mut blocks: Value) -> Value {
    for block in blocks.as_array_mut().unwrap() {
        if block["signature"]
            .as_str()
            .is_some_and(|s| s.starts_with("aob2."))
        {
            block["signature"] = json!("aob2.");
        }
    }
    blocks
}

/// The final `response` of every recorded stream, converted as a body,
/// gives the blocks the stream conversion gave: one set of rules.
#[test]
fn body_and_stream_conversions_agree() {
    for name in [
        "responses/stream-text.sse",
        "responses/stream-function-call.sse",
        "responses/stream-reasoning-summary-encrypted.sse",
        "responses/stream-custom-tool-call-reasoning.sse",
        "responses/stream-custom-tool-call-reasoning-turn2.sse",
        "responses/stream-web-search-reasoning.sse",
        "responses/deepseek-stream-reasoning-text-function-call.sse",
        "responses/lmstudio-stream-reasoning-text-tool-call.chunks.jsonl",
    ] {
        let input = recorded_stream(name);
        let text = String::from_utf8(input.clone()).unwrap();
        let last = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .find(|d| d.contains("\"type\":\"response.completed\""))
            .unwrap();
        let event: Value = serde_json::from_str(last).unwrap();
        let message = convert(&event["response"]);
        let mut converter = StreamConverter::new(ctx());
        let mut out = Vec::new();
        converter.push(&input, &mut out);
        converter.finish(&mut out);
        let streamed = check_anthropic_stream(&out);
        let blocks: Vec<Value> = streamed
            .blocks
            .iter()
            .map(|b| match b.kind.as_str() {
                "thinking" => {
                    json!({"type": "thinking", "thinking": b.text, "signature": b.signature})
                }
                "text" => json!({"type": "text", "text": b.text}),
                _ => json!({"type": "tool_use", "id": b.id, "name": b.name,
                    "input": serde_json::from_str::<Value>(&b.text).unwrap()}),
            })
            .collect();
        assert_eq!(
            without_encrypted_content(message["content"].clone()),
            without_encrypted_content(Value::Array(blocks)),
            "{name}"
        );
        assert_eq!(
            message["stop_reason"].as_str(),
            streamed.stop_reason.as_deref(),
            "{name}"
        );
        assert_eq!(message["usage"], streamed.usage, "{name}");
    }
}
