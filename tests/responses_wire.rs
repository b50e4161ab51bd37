//! The Responses API wire types (`src/responses.rs`) against every recorded
//! payload: each event, body and request parses, says what the raw JSON
//! says, and what is written back is the recorded value, unreshaped.

mod common;

use anthropic_openai_bridge::responses::{Response, ResponsesRequest, StreamEvent};
use anthropic_openai_bridge::wire::TextOr;
use common::*;
use serde_json::Value;

const STREAMS: &[&str] = &[
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

const BODIES: &[&str] = &[
    "responses/text.json",
    "responses/function-call.json",
    "responses/function-calls-parallel.json",
    "responses/incomplete-max-output-tokens.json",
    "responses/reasoning-encrypted-summary.json",
    "responses/azure-reasoning-encrypted.json",
];

const REQUESTS: &[&str] = &[
    "responses/requests/reasoning-function-call-roundtrip.json",
    "responses/requests/custom-tool-roundtrip.json",
    "responses/requests/namespace-tool-search.json",
    "responses/requests/web-search.json",
    "responses/requests/function-call-output-previous-response-id.json",
];

/// The `(event name, data)` pairs of a recorded stream.
fn payloads(name: &str) -> Vec<(String, String)> {
    let text = String::from_utf8(recorded_stream(name)).unwrap();
    let mut out = Vec::new();
    for block in text.replace("\r\n", "\n").split("\n\n") {
        let mut event = String::new();
        let mut data = None;
        for line in block.lines() {
            if let Some(e) = line.strip_prefix("event: ") {
                event = e.to_string();
            } else if let Some(d) = line.strip_prefix("data: ") {
                data = Some(d.to_string());
            }
        }
        if let Some(data) = data {
            out.push((event, data));
        }
    }
    out
}

fn str_of(v: &Value) -> Option<&str> {
    v.as_str()
}

#[test]
fn every_recorded_event_parses_into_what_its_json_says() {
    for name in STREAMS {
        let events = payloads(name);
        assert!(events.len() > 3, "{name}");
        for (event_name, data) in &events {
            let raw: Value = serde_json::from_str(data).unwrap();
            let event: StreamEvent<'_> =
                serde_json::from_str(data).unwrap_or_else(|e| panic!("{name}: {e} in {data}"));
            assert_eq!(event.kind.as_str(), raw["type"], "{name}");
            assert_eq!(event_name.as_str(), raw["type"], "{name}: event line");
            assert_eq!(event.sequence_number, raw["sequence_number"].as_u64());
            assert_eq!(event.delta.as_deref(), str_of(&raw["delta"]), "{name}");
            assert_eq!(event.item_id.as_deref(), str_of(&raw["item_id"]), "{name}");
            assert_eq!(
                event.output_index.map(u64::from),
                raw["output_index"].as_u64()
            );
            if let Some(item) = &event.item {
                let raw_item = &raw["item"];
                assert_eq!(item.kind(), raw_item["type"], "{name}");
                assert_eq!(item.call_id.as_deref(), str_of(&raw_item["call_id"]));
                assert_eq!(item.arguments.as_deref(), str_of(&raw_item["arguments"]));
                assert_eq!(
                    item.encrypted_content.as_deref(),
                    str_of(&raw_item["encrypted_content"])
                );
            }
            if let Some(response) = &event.response {
                let raw_response = &raw["response"];
                assert_eq!(response.id.as_str(), raw_response["id"].as_str().unwrap());
                assert_eq!(response.status.as_deref(), str_of(&raw_response["status"]));
                assert_eq!(
                    response.output.len(),
                    raw_response["output"].as_array().unwrap().len()
                );
                assert_eq!(
                    response.usage.map(|u| u.output_tokens),
                    raw_response["usage"]["output_tokens"].as_u64()
                );
            }
        }
    }
}

/// Deltas concatenated give each `*.done` event's whole value.
#[test]
fn recorded_deltas_add_up_to_their_done_events() {
    let mut checked = 0;
    for name in STREAMS {
        let mut text = String::new();
        let mut arguments = String::new();
        let mut custom = String::new();
        for (_, data) in payloads(name) {
            let event: StreamEvent<'_> = serde_json::from_str(&data).unwrap();
            let delta = event.delta.as_deref().unwrap_or("");
            match event.kind.as_str() {
                "response.output_text.delta" => text.push_str(delta),
                "response.function_call_arguments.delta" => arguments.push_str(delta),
                "response.custom_tool_call_input.delta" => custom.push_str(delta),
                "response.output_text.done" => {
                    assert_eq!(Some(text.as_str()), event.text.as_deref(), "{name}");
                    text.clear();
                    checked += 1;
                }
                // LM Studio sends the arguments only here, without deltas.
                "response.function_call_arguments.done" if arguments.is_empty() => {
                    assert!(name.starts_with("responses/lmstudio"), "{name}");
                }
                "response.function_call_arguments.done" => {
                    assert_eq!(Some(arguments.as_str()), event.arguments.as_deref());
                    arguments.clear();
                    checked += 1;
                }
                "response.custom_tool_call_input.done" => {
                    assert_eq!(Some(custom.as_str()), event.input.as_deref());
                    custom.clear();
                    checked += 1;
                }
                _ => {}
            }
        }
    }
    assert_eq!(checked, 11);
}

#[test]
fn the_error_event_is_read_in_both_shapes() {
    let nested = payloads("responses/stream-error-insufficient-quota-failed.chunks.jsonl");
    let (_, data) = nested.iter().find(|(e, _)| e == "error").unwrap();
    let event: StreamEvent<'_> = serde_json::from_str(data).unwrap();
    let error = event.error.unwrap();
    assert_eq!(error.code.as_deref(), Some("insufficient_quota"));
    assert!(error
        .message
        .unwrap()
        .starts_with("You exceeded your current quota"));
    let flat: StreamEvent<'_> = serde_json::from_str(
        r#"{"type":"error","sequence_number":3,"code":"server_error","message":"boom","param":null}"#,
    )
    .unwrap();
    assert_eq!(flat.code.as_deref(), Some("server_error"));
    assert_eq!(flat.message.as_deref(), Some("boom"));
    assert_eq!(flat.param, None);
}

#[test]
fn every_recorded_body_parses_into_what_its_json_says() {
    for name in BODIES {
        let body = fixture(name);
        let raw: Value = serde_json::from_slice(&body).unwrap();
        let response: Response<'_> = serde_json::from_slice(&body).unwrap();
        assert_eq!(response.id.as_str(), raw["id"].as_str().unwrap(), "{name}");
        assert_eq!(response.object.as_str(), "response");
        assert_eq!(response.created_at, raw["created_at"].as_u64().unwrap());
        assert_eq!(response.model.as_str(), raw["model"].as_str().unwrap());
        let kinds: Vec<&str> = response.output.iter().map(|i| i.kind()).collect();
        let raw_kinds: Vec<&str> = raw["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, raw_kinds, "{name}");
        let usage = response.usage.unwrap();
        assert_eq!(
            usage.input_tokens,
            raw["usage"]["input_tokens"].as_u64().unwrap()
        );
        assert_eq!(
            usage.input_tokens_details.unwrap().cached_tokens,
            raw["usage"]["input_tokens_details"]["cached_tokens"]
                .as_u64()
                .unwrap()
        );
        assert_eq!(
            response
                .incomplete_details
                .and_then(|d| d.reason)
                .as_deref(),
            raw["incomplete_details"]["reason"].as_str()
        );
    }
}

/// `sub` holds only keys of `full`, each with `full`'s value (objects
/// compared the same way, arrays element by element).
fn assert_subset(sub: &Value, full: &Value, path: &str) {
    match (sub, full) {
        (Value::Object(sub), Value::Object(full)) => {
            for (key, value) in sub {
                let other = full
                    .get(key)
                    .unwrap_or_else(|| panic!("{path}.{key} was not in the input"));
                assert_subset(value, other, &format!("{path}.{key}"));
            }
        }
        (Value::Array(sub), Value::Array(full)) => {
            assert_eq!(sub.len(), full.len(), "{path}: array length");
            for (i, (a, b)) in sub.iter().zip(full).enumerate() {
                assert_subset(a, b, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(sub, full, "{path}"),
    }
}

#[test]
fn recorded_requests_parse_and_write_back_unreshaped() {
    for name in REQUESTS {
        let body = fixture(name);
        let raw: Value = serde_json::from_slice(&body).unwrap();
        let request: ResponsesRequest<'_> = serde_json::from_slice(&body).unwrap();
        assert_eq!(request.model.as_str(), raw["model"].as_str().unwrap());
        match (&request.input, &raw["input"]) {
            (Some(TextOr::Text(text)), Value::String(raw)) => {
                assert_eq!(text.as_str(), raw.as_str())
            }
            (Some(TextOr::Items(items)), Value::Array(raw)) => {
                assert_eq!(items.len(), raw.len(), "{name}");
                for (item, raw) in items.iter().zip(raw) {
                    assert_eq!(item.kind(), raw["type"].as_str().unwrap_or("message"));
                }
            }
            other => panic!("{name}: {other:?}"),
        }
        let written = anthropic_openai_bridge::json::to_vec(&request).unwrap();
        let written: Value = serde_json::from_slice(&written).unwrap();
        assert_subset(&written, &raw, name);
        for key in [
            "input",
            "tools",
            "include",
            "previous_response_id",
            "reasoning",
        ] {
            let present = raw.get(key).is_some_and(|v| !v.is_null());
            assert_eq!(written.get(key).is_some(), present, "{name}: {key}");
        }
    }
}

#[test]
fn namespace_tools_nest_and_custom_tools_keep_their_format() {
    let body = fixture("responses/requests/namespace-tool-search.json");
    let request: ResponsesRequest<'_> = serde_json::from_slice(&body).unwrap();
    let tools = request.tools.unwrap();
    let namespace = tools.iter().find(|t| t.is("namespace")).unwrap();
    assert!(namespace.tools.as_ref().unwrap().len() >= 2);
    assert!(tools.iter().any(|t| t.is("tool_search")));
    let body = fixture("responses/requests/custom-tool-roundtrip.json");
    let request: ResponsesRequest<'_> = serde_json::from_slice(&body).unwrap();
    let custom = &request.tools.unwrap()[0];
    assert!(custom.is("custom"));
    assert_eq!(custom.format.as_ref().unwrap().kind.as_str(), "text");
}
