//! Prompt-cache breakpoints for OpenAI clients on an Anthropic upstream
//! (issue 14, "Prompt caching"): both OpenAI-client pairs mark the last tool,
//! the system prompt and the last two user turns, at most four in all, and
//! none when `prompt_caching` is off. Usage reports cache reads as cached.

mod common;

use anthropic_openai_bridge::config::Config;
use anthropic_openai_bridge::convert::{openai_client, responses_client};
use common::*;
use serde_json::{json, Value};

fn config(caching: Option<bool>) -> Config {
    let extra = caching.map_or(String::new(), |on| format!(r#","prompt_caching":{on}"#));
    Config::from_json(format!(r#"{{"upstream_protocol":"anthropic"{extra}}}"#).as_bytes()).unwrap()
}

fn chat(request: &Value, caching: Option<bool>) -> Value {
    let converted =
        openai_client::request::convert_request(request.to_string().as_bytes(), &config(caching))
            .unwrap();
    serde_json::from_slice(&converted.body).unwrap()
}

fn responses(request: &Value, caching: Option<bool>) -> Value {
    let converted = responses_client::request::convert_request(
        request.to_string().as_bytes(),
        &config(caching),
    )
    .unwrap();
    serde_json::from_slice(&converted.body).unwrap()
}

/// Where the breakpoints are: `tools[i]`, `system[i]`, `messages[i][j]`.
fn breakpoints(body: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let marked = |v: &Value| v.get("cache_control") == Some(&json!({"type": "ephemeral"}));
    for (i, tool) in body["tools"].as_array().into_iter().flatten().enumerate() {
        if marked(tool) {
            found.push(format!("tools[{i}]"));
        }
    }
    for (i, block) in body["system"].as_array().into_iter().flatten().enumerate() {
        if marked(block) {
            found.push(format!("system[{i}]"));
        }
    }
    for (i, message) in body["messages"].as_array().unwrap().iter().enumerate() {
        for (j, block) in message["content"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            if marked(block) {
                found.push(format!("messages[{i}][{j}]"));
            }
        }
    }
    found
}

fn tool(name: &str) -> Value {
    json!({"type": "function", "function": {"name": name, "parameters": {"type": "object"}}})
}

fn chat_request() -> Value {
    json!({
        "model": "gpt-4o",
        "tools": [tool("a"), tool("b")],
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "a", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "done"},
            {"role": "assistant", "content": "two"},
            {"role": "user", "content": "three"}
        ]
    })
}

fn responses_request() -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "instructions": "Be brief.",
        "tools": [{"type": "function", "name": "a", "parameters": {"type": "object"}},
                  {"type": "function", "name": "b", "parameters": {"type": "object"}}],
        "input": [
            {"role": "user", "content": "one"},
            {"type": "function_call", "call_id": "c1", "name": "a", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "done"},
            {"role": "assistant", "content": [{"type": "output_text", "text": "two"}]},
            {"role": "user", "content": "three"}
        ]
    })
}

#[test]
fn chat_completions_clients_get_four_breakpoints_by_default() {
    let body = chat(&chat_request(), None);
    assert_eq!(
        breakpoints(&body),
        ["tools[1]", "system[0]", "messages[2][0]", "messages[4][0]"]
    );
    assert_eq!(body["messages"][2]["content"][0]["type"], "tool_result");
    assert_eq!(body["messages"][4]["content"][0]["text"], "three");
}

#[test]
fn responses_clients_get_four_breakpoints_by_default() {
    let body = responses(&responses_request(), None);
    assert_eq!(
        breakpoints(&body),
        ["tools[1]", "system[0]", "messages[2][0]", "messages[4][0]"]
    );
    assert_eq!(body["messages"][2]["content"][0]["type"], "tool_result");
}

#[test]
fn prompt_caching_false_sends_no_breakpoint() {
    for body in [
        chat(&chat_request(), Some(false)),
        responses(&responses_request(), Some(false)),
    ] {
        assert!(!body.to_string().contains("cache_control"), "{body}");
        assert_eq!(body["system"], "Be brief.");
    }
    for (off, on) in [
        (
            chat(&chat_request(), Some(false)),
            chat(&chat_request(), None),
        ),
        (
            responses(&responses_request(), Some(false)),
            responses(&responses_request(), None),
        ),
    ] {
        assert_eq!(
            turns(off),
            turns(on),
            "breakpoints are the only difference in the turns"
        );
    }
}

/// The turns without `cache_control`, one-text-block contents as strings.
fn turns(mut body: Value) -> Vec<Value> {
    strip(&mut body);
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| unsplit(m.clone()))
        .collect()
}

/// Removes every `cache_control`.
fn strip(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("cache_control");
            map.values_mut().for_each(strip);
        }
        Value::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}

/// A turn whose string content became one text block to carry a
/// breakpoint, back to the string.
fn unsplit(mut message: Value) -> Value {
    let single_text = message["content"]
        .as_array()
        .filter(|blocks| blocks.len() == 1 && blocks[0]["type"] == "text")
        .map(|blocks| blocks[0]["text"].clone());
    if let Some(text) = single_text {
        message["content"] = text;
    }
    message
}

#[test]
fn a_short_conversation_marks_only_what_it_has() {
    let body = chat(
        &json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
        None,
    );
    assert_eq!(breakpoints(&body), ["messages[0][0]"]);
    let body = responses(
        &json!({"model": "claude-sonnet-4-5", "input": "hi"}),
        Some(true),
    );
    assert_eq!(breakpoints(&body), ["messages[0][0]"]);
}

#[test]
fn cache_reads_come_back_as_cached_tokens_in_both_pairs() {
    let message = fixture_json("anthropic/msg-cache-read.json");
    let usage = &message["usage"];
    let read = usage["cache_read_input_tokens"].as_u64().unwrap();
    assert!(read > 0);
    let input = usage["input_tokens"].as_u64().unwrap()
        + read
        + usage["cache_creation_input_tokens"].as_u64().unwrap_or(0);

    let (body, _) = openai_client::response::convert_response(
        &fixture("anthropic/msg-cache-read.json"),
        &openai_client::response::ResponseContext::default(),
    );
    let chat: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        chat["usage"]["prompt_tokens_details"]["cached_tokens"],
        read
    );
    assert_eq!(chat["usage"]["prompt_tokens"], input);

    let (body, _) = responses_client::response::convert_response(
        &fixture("anthropic/msg-cache-read.json"),
        &responses_client::response::ResponseContext::default(),
    );
    let response: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        response["usage"]["input_tokens_details"]["cached_tokens"],
        read
    );
    assert_eq!(response["usage"]["input_tokens"], input);
}
