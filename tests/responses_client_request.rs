//! Responses request → Anthropic request (issue 14, "Request"): the real
//! Codex CLI's requests against golden output, then each rule on its own,
//! and the 400s for bad input.

mod common;

use anthropic_openai_bridge::config::Config;
use anthropic_openai_bridge::convert::error::ClientError;
use anthropic_openai_bridge::convert::openai_client::request::{BUDGET_HIGH, BUDGET_LOW};
use anthropic_openai_bridge::convert::responses_client::reasoning::thinking_content;
use anthropic_openai_bridge::convert::responses_client::request::convert_request;
use anthropic_openai_bridge::responses::ToolChoice;
use common::responses::check_responses_stream;
use common::*;
use serde_json::{json, Value};

fn config(extra: &str) -> Config {
    Config::from_json(format!(r#"{{"upstream_protocol":"anthropic"{extra}}}"#).as_bytes()).unwrap()
}

/// Rule tests see the conversion without prompt-cache breakpoints, which
/// `tests/prompt_caching.rs` and the goldens cover.
fn convert(request: Value) -> Value {
    let converted = convert_request(request.to_string().as_bytes(), &config(NO_CACHE)).unwrap();
    serde_json::from_slice(&converted.body).unwrap()
}

const NO_CACHE: &str = r#","prompt_caching":false"#;

fn reject(request: Value) -> ClientError {
    convert_request(request.to_string().as_bytes(), &config("")).unwrap_err()
}

fn base() -> Value {
    json!({"model": "claude-sonnet-4-5", "input": "Hello"})
}

fn with(mut request: Value, key: &str, value: Value) -> Value {
    request[key] = value;
    request
}

fn input(items: Value) -> Value {
    with(base(), "input", items)
}

fn codex_body(name: &str) -> Value {
    fixture_json(&format!("responses/requests/codex-0.171.0-{name}.json"))["body"].clone()
}

#[test]
fn codex_requests_match_their_golden_output() {
    for name in ["plain-0", "shell-round-trip-1"] {
        let body = codex_body(name).to_string();
        let converted = convert_request(body.as_bytes(), &config("")).unwrap();
        assert!(converted.stream, "{name}");
        assert_eq!(converted.model, "gpt-5-codex");
        assert_golden(
            &format!("responses/requests/codex-0.171.0-{name}.to-anthropic.json"),
            &converted.body,
        );
    }
}

#[test]
fn a_codex_request_keeps_its_prompt_tools_and_turns() {
    let sent = codex_body("plain-0");
    let got = convert(sent.clone());
    let developer: Vec<&str> = sent["input"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["role"] == "developer")
        .flat_map(|i| i["content"].as_array().unwrap())
        .map(|part| part["text"].as_str().unwrap())
        .collect();
    let system: Vec<&str> = got["system"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["text"].as_str().unwrap())
        .collect();
    assert!(
        system == developer,
        "system differs from the developer texts"
    );
    assert_eq!(system.len(), 3);
    let roles: Vec<&str> = got["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user"], "consecutive user items form one turn");
    let last = got["messages"][0]["content"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last, json!({"type": "text", "text": "Say hello."}));
    let names: Vec<&str> = got["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"exec_command"));
    assert!(names.contains(&"multi_agent_v1__spawn_agent"), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("web_search")));
    assert!(got["tools"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t.get("type").is_none() && t["input_schema"]["type"] == "object"));
    assert_eq!(got["stream"], true);
    assert_eq!(got["max_tokens"], 4096);
    for dropped in [
        "store",
        "include",
        "prompt_cache_key",
        "client_metadata",
        "reasoning",
    ] {
        assert!(got.get(dropped).is_none(), "{dropped}");
    }
}

#[test]
fn a_codex_tool_round_trip_pairs_the_call_with_its_output() {
    let sent = codex_body("shell-round-trip-1");
    let items = sent["input"].as_array().unwrap();
    let call = items.iter().find(|i| i["type"] == "function_call").unwrap();
    let output = items
        .iter()
        .find(|i| i["type"] == "function_call_output")
        .unwrap();
    let got = convert(sent.clone());
    let messages = got["messages"].as_array().unwrap();
    let [user, assistant, results] = messages.as_slice() else {
        panic!("expected user, assistant, user turns: {messages:?}")
    };
    assert_eq!(user["role"], "user");
    assert_eq!(
        assistant,
        &json!({"role": "assistant", "content": [{"type": "tool_use", "id": call["call_id"], "name": "exec_command",
            "input": serde_json::from_str::<Value>(call["arguments"].as_str().unwrap()).unwrap()}]})
    );
    assert_eq!(
        results,
        &json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": output["call_id"], "content": output["output"]}]})
    );
}

#[test]
fn instructions_and_system_messages_become_system() {
    let got = convert(with(
        input(json!([
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
        ])),
        "instructions",
        json!("You are helpful."),
    ));
    assert_eq!(
        got["system"],
        json!([{"type": "text", "text": "You are helpful."}, {"type": "text", "text": "Be terse."}])
    );
    let only = convert(with(base(), "instructions", json!("Solo.")));
    assert_eq!(only["system"], "Solo.");
    assert_eq!(
        only["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "Hello"}]}])
    );
}

#[test]
fn assistant_history_text_and_refusals_are_text() {
    let got = convert(input(json!([
        {"role": "user", "content": "Q"},
        {"type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": "A", "annotations": []},
            {"type": "refusal", "refusal": "No."}]},
        {"role": "user", "content": "Q2"},
    ])));
    assert_eq!(
        got["messages"][1],
        json!({"role": "assistant", "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "No."}]})
    );
}

#[test]
fn images_and_files_become_image_and_document_blocks() {
    let got = convert(input(json!([{"role": "user", "content": [
        {"type": "input_text", "text": "Look"},
        {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="},
        {"type": "input_image", "image_url": "https://example.com/cat.jpg", "detail": "high"},
        {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"},
    ]}])));
    assert_eq!(
        got["messages"][0]["content"],
        json!([
            {"type": "text", "text": "Look"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}, "title": "a.pdf"},
        ])
    );
    let error = reject(input(
        json!([{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}]),
    ));
    assert_eq!(error.status, 400);
    assert!(
        error
            .message
            .starts_with("input[0]: input_image needs `image_url`"),
        "{}",
        error.message
    );
}

#[test]
fn function_outputs_with_images_keep_them() {
    let got = convert(input(json!([
        {"role": "user", "content": "shot"},
        {"type": "function_call", "call_id": "call_1", "name": "screenshot", "arguments": ""},
        {"type": "function_call_output", "call_id": "call_1", "output": [
            {"type": "input_text", "text": "here"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]},
    ])));
    assert_eq!(got["messages"][1]["content"][0]["input"], json!({}));
    assert_eq!(
        got["messages"][2]["content"][0]["content"],
        json!([{"type": "text", "text": "here"},
               {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}])
    );
}

#[test]
fn custom_tools_take_one_string_and_their_calls_come_back_as_it() {
    let tools = json!([{"type": "custom", "name": "apply_patch", "description": "Edit files.",
        "format": {"type": "grammar", "syntax": "lark", "definition": "start: \"*** Begin Patch\""}}]);
    let patch = "*** Begin Patch\n*** End Patch\n";
    let got = convert(with(
        input(json!([
            {"role": "user", "content": "edit"},
            {"type": "custom_tool_call", "call_id": "call_p", "name": "apply_patch", "input": patch},
            {"type": "custom_tool_call_output", "call_id": "call_p", "output": "Done"},
        ])),
        "tools",
        tools,
    ));
    let tool = &got["tools"][0];
    assert_eq!(tool["name"], "apply_patch");
    assert_eq!(
        tool["input_schema"],
        json!({"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]})
    );
    let description = tool["description"].as_str().unwrap();
    assert!(description.starts_with("Edit files.\n\n"));
    assert!(description.ends_with("start: \"*** Begin Patch\""));
    assert_eq!(
        got["messages"][1]["content"][0],
        json!({"type": "tool_use", "id": "call_p", "name": "apply_patch", "input": {"input": patch}})
    );
    assert_eq!(
        got["messages"][2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "call_p", "content": "Done"})
    );
}

#[test]
fn namespaced_tools_are_flattened_in_tools_choice_and_history() {
    let tools = json!([{"type": "namespace", "name": "mcp__docs__", "description": "Docs server",
        "tools": [{"type": "function", "name": "search", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]}]);
    let got = convert(with(
        with(
            input(json!([
                {"role": "user", "content": "find"},
                {"type": "function_call", "call_id": "c1", "name": "search", "namespace": "mcp__docs__", "arguments": "{\"q\":\"x\"}"},
                {"type": "function_call_output", "call_id": "c1", "output": "found"},
            ])),
            "tools",
            tools,
        ),
        "tool_choice",
        json!("required"),
    ));
    assert_eq!(got["tools"][0]["name"], "mcp__docs__search");
    assert_eq!(
        got["messages"][1]["content"][0]["name"],
        "mcp__docs__search"
    );
    assert_eq!(got["tool_choice"], json!({"type": "any"}));
}

#[test]
fn built_in_tools_are_dropped() {
    let got = convert(with(
        base(),
        "tools",
        json!([{"type": "web_search"}, {"type": "local_shell"}, {"type": "function", "name": "f"}]),
    ));
    assert_eq!(
        got["tools"],
        json!([{"name": "f", "input_schema": {"type": "object"}}])
    );
}

#[test]
fn tool_choice_and_parallel_calls() {
    let tools = json!([{"type": "function", "name": "f", "parameters": {"type": "object"}}]);
    for (choice, parallel, expected) in [
        (json!("auto"), Value::Null, json!({"type": "auto"})),
        (json!("none"), Value::Null, json!({"type": "none"})),
        (
            json!({"type": "function", "name": "f"}),
            Value::Null,
            json!({"type": "tool", "name": "f"}),
        ),
        (
            Value::Null,
            json!(false),
            json!({"type": "auto", "disable_parallel_tool_use": true}),
        ),
        (
            json!("required"),
            json!(false),
            json!({"type": "any", "disable_parallel_tool_use": true}),
        ),
    ] {
        let mut request = with(base(), "tools", tools.clone());
        if !choice.is_null() {
            request["tool_choice"] = choice.clone();
        }
        if !parallel.is_null() {
            request["parallel_tool_calls"] = parallel;
        }
        assert_eq!(convert(request)["tool_choice"], expected, "{choice}");
    }
}

#[test]
fn the_tool_choice_and_parallel_calls_are_kept_for_the_response() {
    let request = json!({"model": "m", "input": "x", "tool_choice": {"type": "function", "name": "f"}, "parallel_tool_calls": false});
    let converted = convert_request(request.to_string().as_bytes(), &config("")).unwrap();
    assert_eq!(
        converted.tool_choice,
        Some(ToolChoice::function("f".into()))
    );
    assert!(!converted.parallel_tool_calls);
    let plain = convert_request(base().to_string().as_bytes(), &config("")).unwrap();
    assert_eq!((plain.tool_choice, plain.parallel_tool_calls), (None, true));
}

#[test]
fn sampling_limits_effort_format_and_user() {
    let got = convert(json!({"model": "m", "input": "x", "max_output_tokens": 300,
        "temperature": 1.7, "top_p": 0.9, "safety_identifier": "user-42", "user": "old",
        "text": {"format": {"type": "json_schema", "name": "r", "schema": {"type": "object"}, "strict": true}}}));
    assert_eq!(got["max_tokens"], 300);
    assert_eq!(got["temperature"], 1.0);
    assert_eq!(got["top_p"], 0.9);
    assert_eq!(got["metadata"], json!({"user_id": "user-42"}));
    assert_eq!(
        got["output_config"],
        json!({"format": {"type": "json_schema", "schema": {"type": "object"}}})
    );

    let thinking = convert(
        json!({"model": "m", "input": "x", "reasoning": {"effort": "high", "summary": "auto"}, "temperature": 0.2}),
    );
    assert_eq!(
        thinking["thinking"],
        json!({"type": "enabled", "budget_tokens": BUDGET_HIGH})
    );
    assert!(thinking["max_tokens"].as_u64().unwrap() > BUDGET_HIGH);
    assert!(thinking.get("temperature").is_none());
    let low = convert(json!({"model": "m", "input": "x", "reasoning": {"effort": "minimal"}}));
    assert_eq!(low["thinking"]["budget_tokens"], BUDGET_LOW);
    let none = convert(json!({"model": "m", "input": "x", "reasoning": {"effort": "none"}}));
    assert!(none.get("thinking").is_none());
}

#[test]
fn bridge_made_reasoning_comes_back_as_thinking_and_openai_reasoning_is_dropped() {
    let carried = thinking_content("I should list files.", "EqQBCgIYAhIM").unwrap();
    let got = convert(input(json!([
        {"role": "user", "content": "ls"},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "I should list files."}], "encrypted_content": carried},
        {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "gAAAAABpWA2zdrYP"},
        {"type": "reasoning", "id": "rs_3", "summary": []},
        {"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"},
        {"type": "function_call_output", "call_id": "c1", "output": "a b"},
    ])));
    assert_eq!(
        got["messages"][1]["content"],
        json!([
            {"type": "thinking", "thinking": "I should list files.", "signature": "EqQBCgIYAhIM"},
            {"type": "tool_use", "id": "c1", "name": "exec_command", "input": {"cmd": "ls"}},
        ])
    );
}

#[test]
fn server_state_is_refused() {
    for (key, value) in [
        ("previous_response_id", json!("resp_1")),
        ("conversation", json!("conv_1")),
    ] {
        let error = reject(with(base(), key, value));
        assert_eq!(error.status, 400);
        assert!(
            error
                .message
                .starts_with(&format!("{key}: the bridge keeps no conversation state")),
            "{}",
            error.message
        );
    }
    let stored = convert(with(base(), "store", json!(true)));
    assert!(stored.get("store").is_none());
}

#[test]
fn bad_input_is_a_400_naming_the_item() {
    let error = reject(input(json!([
        {"role": "user", "content": "x"},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "[1,2]"},
    ])));
    assert_eq!(
        error.message,
        "input[1]: function_call arguments must be a JSON object"
    );
    let error = reject(input(json!([{"role": "tool", "content": "x"}])));
    assert!(error
        .message
        .starts_with("input[0]: unsupported role \"tool\""));
    let error = reject(input(
        json!([{"type": "function_call_output", "output": "x"}]),
    ));
    assert_eq!(error.message, "input[0]: tool output without `call_id`");
    let error = reject(input(json!([])));
    assert!(error.message.starts_with("input: at least one"));
    let error = reject(json!({"model": "m", "input": [{"role": 5}]}));
    assert!(error.message.contains("input[0]"), "{}", error.message);
}

/// The loop closed: a recorded Anthropic stream, converted (its golden
/// output), answered by the real Codex CLI, converted back.
#[test]
fn codex_sends_a_converted_tool_call_back_as_the_original_tool_use() {
    let facts = anthropic_stream_facts(&recorded_stream(
        "anthropic/docs-stream-text-then-tool-use.sse",
    ));
    let (id, name, input) = &facts.tools[0];
    let got = convert(codex_body("converted-tool-round-trip-1"));
    let messages = got["messages"].as_array().unwrap();
    let [_, assistant, results] = messages.as_slice() else {
        panic!("expected user, assistant, user turns")
    };
    assert_eq!(
        assistant["content"],
        json!([{"type": "text", "text": facts.text},
               {"type": "tool_use", "id": id, "name": name, "input": serde_json::from_str::<Value>(input).unwrap()}])
    );
    assert_eq!(results["content"][0]["type"], "tool_result");
    assert_eq!(results["content"][0]["tool_use_id"], id.as_str());
    assert_eq!(
        results["content"][0]["content"],
        "unsupported call: get_weather"
    );
}

/// Reasoning carried through the real Codex CLI: it sends the bridge-made
/// reasoning item back verbatim, and it becomes the original thinking block
/// (text and signature) ahead of the tool call.
#[test]
fn codex_sends_a_converted_reasoning_item_back_as_the_original_thinking() {
    let streamed =
        check_responses_stream(&fixture("responses/bridge-thinking-then-exec-command.sse"));
    let reasoning = streamed.items_of("reasoning")[0].clone();
    let got = convert(codex_body("converted-reasoning-round-trip-1"));
    let messages = got["messages"].as_array().unwrap();
    let [_, assistant, results] = messages.as_slice() else {
        panic!("expected user, assistant, user turns")
    };
    assert_eq!(
        assistant["content"],
        json!([
            {"type": "thinking", "thinking": reasoning["summary"][0]["text"], "signature": "EqQBCgIYAhIM1gbcDa9GJwZA0dB8GgzpJ5Np"},
            {"type": "tool_use", "id": "toolu_codex_1", "name": "exec_command", "input": {"cmd": "echo bridge-codex-round-trip-ok"}},
        ])
    );
    assert_eq!(results["content"][0]["tool_use_id"], "toolu_codex_1");
    assert!(results["content"][0]["content"]
        .as_str()
        .unwrap()
        .ends_with("Output:\nbridge-codex-round-trip-ok\n"));
}

#[test]
fn thinking_is_off_when_the_last_tool_call_lost_its_thinking_block() {
    let carried = thinking_content("Plan.", "c2ln").unwrap();
    let history = |reasoning: Option<Value>| {
        let mut items = vec![json!({"role": "user", "content": "go"})];
        items.extend(reasoning);
        items.push(
            json!({"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}),
        );
        items.push(json!({"type": "function_call_output", "call_id": "c1", "output": "ok"}));
        json!({"model": "m", "input": items, "reasoning": {"effort": "low"}})
    };
    let kept = convert(history(Some(
        json!({"type": "reasoning", "summary": [], "encrypted_content": carried}),
    )));
    assert_eq!(kept["thinking"]["type"], "enabled");
    assert_eq!(kept["messages"][1]["content"][0]["type"], "thinking");
    let lost = convert(history(Some(
        json!({"type": "reasoning", "summary": [], "encrypted_content": "gAAAAB"}),
    )));
    assert!(lost.get("thinking").is_none());
    let none = convert(history(None));
    assert!(none.get("thinking").is_none());
    let plain = convert(
        json!({"model": "m", "input": [{"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}], "reasoning": {"effort": "low"}}),
    );
    assert_eq!(plain["thinking"]["type"], "enabled");
}

/// Codex ≥ 0.147 may send its tools as `additional_tools` input items
/// (namespace-wrapped) with an empty top-level `tools`, again in every
/// replayed turn: they are hoisted into `tools`, each name once, and the
/// item is no turn.
#[test]
fn additional_tools_items_are_hoisted_into_tools_once() {
    let declared = json!({"type": "additional_tools", "tools": [
        {"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
        {"type": "namespace", "name": "mcp", "tools": [
            {"type": "function", "name": "search", "parameters": {"type": "object"}}]}
    ]});
    let request = with(
        input(json!([
            declared.clone(),
            {"role": "user", "content": "hi"},
            {"type": "function_call", "call_id": "c1", "name": "search", "namespace": "mcp", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "found"},
            declared,
            {"role": "user", "content": "again"}
        ])),
        "tools",
        json!([]),
    );
    let out = convert(request);
    let names: Vec<&str> = out["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["exec_command", "mcp__search"]);
    let roles: Vec<&str> = out["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    assert_eq!(out["messages"][1]["content"][0]["name"], "mcp__search");
}
