//! OpenAI request → Anthropic request (docs/openai_client.md#request-mapping):
//! one whole agent request against golden output, then every row and
//! message rule on its own, and the 400s for bad input.

mod common;

use anthropic_openai_bridge::config::Config;
use anthropic_openai_bridge::convert::error::ClientError;
use anthropic_openai_bridge::convert::openai_client::request::convert_request;
use common::*;
use serde_json::{json, Value};

fn config(extra: &str) -> Config {
    Config::from_json(format!(r#"{{"upstream_protocol":"anthropic"{extra}}}"#).as_bytes()).unwrap()
}

fn convert_with(request: &Value, config: &Config) -> Value {
    let converted = convert_request(request.to_string().as_bytes(), config).unwrap();
    serde_json::from_slice(&converted.body).unwrap()
}

/// Rule tests see the conversion without prompt-cache breakpoints, which
/// `tests/prompt_caching.rs` and the goldens cover.
fn convert(request: Value) -> Value {
    convert_with(&request, &config(NO_CACHE))
}

const NO_CACHE: &str = r#","prompt_caching":false"#;

fn reject(request: &str) -> ClientError {
    convert_request(request.as_bytes(), &config("")).unwrap_err()
}

fn base() -> Value {
    json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]})
}

fn with(mut request: Value, key: &str, value: Value) -> Value {
    request[key] = value;
    request
}

fn messages(list: Value) -> Value {
    with(base(), "messages", list)
}

#[test]
fn an_agent_request_matches_its_golden_output() {
    let body = fixture("requests/openai-agent-round-trip.json");
    let converted = convert_request(
        &body,
        &config(r#","model_map":{"gpt-4o":"claude-sonnet-4-5"}"#),
    )
    .unwrap();
    assert!(converted.stream && converted.include_usage);
    assert_eq!(converted.model, "claude-sonnet-4-5");
    assert_golden(
        "requests/openai-agent-round-trip.to-anthropic.json",
        &converted.body,
    );
}

#[test]
fn the_agent_request_keeps_what_claude_can_use_and_drops_the_rest() {
    let out: Value = serde_json::from_slice(
        &convert_request(
            &fixture("requests/openai-agent-round-trip.json"),
            &config(NO_CACHE),
        )
        .unwrap()
        .body,
    )
    .unwrap();
    assert_eq!(
        out["system"],
        json!([{"type": "text", "text": "You are helpful."}, {"type": "text", "text": "Prefer metric units."}])
    );
    let roles: Vec<&str> = out["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    let assistant = &out["messages"][1]["content"];
    assert_eq!(
        assistant[0],
        json!({"type": "thinking", "thinking": "The user wants weather.", "signature": "EqQBCgIYAhIMsig"})
    );
    assert_eq!(
        assistant[1],
        json!({"type": "text", "text": "Let me check."})
    );
    assert_eq!(
        assistant[2],
        json!({"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}})
    );
    assert_eq!(
        assistant[3],
        json!({"type": "tool_use", "id": "call_2", "name": "now", "input": {}})
    );
    let results = &out["messages"][2]["content"];
    assert_eq!(
        results[0],
        json!({"type": "tool_result", "tool_use_id": "call_1", "content": "18C, sunny"})
    );
    assert_eq!(
        results[1],
        json!({"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "12:00"}]})
    );
    assert_eq!(
        results[2],
        json!({"type": "text", "text": "Thanks! Summarize."})
    );
    assert_eq!(
        results.as_array().unwrap().len(),
        3,
        "the empty user message and empty assistant turn are dropped"
    );
    for absent in [
        "frequency_penalty",
        "presence_penalty",
        "seed",
        "logit_bias",
        "logprobs",
        "stream_options",
        "user",
        "n",
        "parallel_tool_calls",
    ] {
        assert_eq!(out.get(absent), None, "{absent}");
    }
    assert_eq!(out["stop_sequences"], json!(["END"]));
    assert_eq!(
        out["tool_choice"],
        json!({"type": "auto", "disable_parallel_tool_use": true})
    );
    assert_eq!(out["metadata"], json!({"user_id": "user-1234"}));
}

#[test]
fn model_and_max_tokens() {
    let out = convert_with(
        &base(),
        &config(r#","model_map":{"gpt-*":"claude-haiku-4-5"},"default_max_tokens":1000"#),
    );
    assert_eq!(out["model"], "claude-haiku-4-5");
    assert_eq!(
        out["max_tokens"], 1000,
        "default_max_tokens when the client sent none"
    );
    assert_eq!(
        convert(with(base(), "max_tokens", json!(77)))["max_tokens"],
        77
    );
    assert_eq!(
        convert(with(
            with(base(), "max_tokens", json!(77)),
            "max_completion_tokens",
            json!(88)
        ))["max_tokens"],
        88
    );
    assert_eq!(convert(base())["max_tokens"], 4096);
    let out = convert_with(
        &with(base(), "max_tokens", json!(100_000)),
        &config(r#","max_tokens_limit":8192"#),
    );
    assert_eq!(out["max_tokens"], 8192);
}

#[test]
fn temperature_is_clamped_and_top_p_kept() {
    assert_eq!(
        convert(with(base(), "temperature", json!(1.7)))["temperature"],
        1.0
    );
    assert_eq!(
        convert(with(base(), "temperature", json!(0)))["temperature"],
        0.0
    );
    assert_eq!(
        convert(with(base(), "temperature", json!(-1)))["temperature"],
        0.0
    );
    assert_eq!(convert(with(base(), "top_p", json!(0.5)))["top_p"], 0.5);
}

#[test]
fn stop_strings() {
    assert_eq!(
        convert(with(base(), "stop", json!("END")))["stop_sequences"],
        json!(["END"])
    );
    assert_eq!(
        convert(with(base(), "stop", json!(["a", " ", "\n", "b"])))["stop_sequences"],
        json!(["a", "b"])
    );
    assert_eq!(
        convert(with(base(), "stop", json!(["  "]))).get("stop_sequences"),
        None
    );
}

#[test]
fn reasoning_effort_turns_thinking_on_with_its_constraints() {
    for (effort, budget) in [
        ("minimal", 1024),
        ("low", 1024),
        ("medium", 8192),
        ("high", 16384),
    ] {
        let out = convert(with(
            with(base(), "reasoning_effort", json!(effort)),
            "max_tokens",
            json!(32000),
        ));
        assert_eq!(
            out["thinking"],
            json!({"type": "enabled", "budget_tokens": budget}),
            "{effort}"
        );
        assert_eq!(out["max_tokens"], 32000);
    }
    assert_eq!(
        convert(with(base(), "reasoning_effort", json!("none"))).get("thinking"),
        None
    );
    let request = json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "reasoning_effort": "high",
        "max_tokens": 1000, "temperature": 0.2, "top_p": 0.5,
        "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "required"});
    let out = convert(request.clone());
    assert_eq!(
        out["max_tokens"], 17384,
        "raised above the budget by the client's own answer budget"
    );
    assert_eq!((out.get("temperature"), out.get("top_p")), (None, None));
    assert_eq!(out["tool_choice"], json!({"type": "auto"}));
    let named = with(
        request.clone(),
        "tool_choice",
        json!({"type": "function", "function": {"name": "f"}}),
    );
    assert_eq!(convert(named)["tool_choice"], json!({"type": "auto"}));
    let limited = convert_with(&request, &config(r#","max_tokens_limit":12000"#));
    assert_eq!(limited["max_tokens"], 12000);
    assert_eq!(limited["thinking"]["budget_tokens"], 11999);
    let too_small = convert_with(&request, &config(r#","max_tokens_limit":1000"#));
    assert_eq!(
        too_small.get("thinking"),
        None,
        "no room for Anthropic's minimum budget"
    );
    assert_eq!(too_small["temperature"], 0.2);
}

#[test]
fn tools_and_tool_choice() {
    let tools = json!([
        {"type": "function", "function": {"name": "a", "description": "A", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}},
        {"type": "function", "function": {"name": "b"}},
        {"type": "custom", "custom": {"name": "c"}}
    ]);
    let request = with(base(), "tools", tools);
    let out = convert(request.clone());
    assert_eq!(
        out["tools"],
        json!([
            {"name": "a", "description": "A", "input_schema": {"type": "object", "properties": {"x": {"type": "integer"}}}},
            {"name": "b", "input_schema": {"type": "object"}}
        ])
    );
    for (choice, expected) in [
        (json!("auto"), json!({"type": "auto"})),
        (json!("required"), json!({"type": "any"})),
        (json!("none"), json!({"type": "none"})),
        (
            json!({"type": "function", "function": {"name": "a"}}),
            json!({"type": "tool", "name": "a"}),
        ),
    ] {
        assert_eq!(
            convert(with(request.clone(), "tool_choice", choice.clone()))["tool_choice"],
            expected,
            "{choice}"
        );
    }
    let out = convert(with(
        with(request, "tool_choice", json!("required")),
        "parallel_tool_calls",
        json!(false),
    ));
    assert_eq!(
        out["tool_choice"],
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
    let out = convert(with(
        with(base(), "tool_choice", json!("auto")),
        "parallel_tool_calls",
        json!(false),
    ));
    assert_eq!(
        (out.get("tools"), out.get("tool_choice")),
        (None, None),
        "no tools, no tool_choice"
    );
}

#[test]
fn json_schema_response_format_becomes_output_config() {
    let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": false});
    let format = json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": true}});
    let out = convert(with(base(), "response_format", format));
    assert_eq!(
        out["output_config"],
        json!({"format": {"type": "json_schema", "schema": schema}})
    );
    assert_eq!(
        convert(with(base(), "response_format", json!({"type": "text"}))).get("output_config"),
        None
    );
}

#[test]
fn system_and_developer_messages_in_any_position() {
    let out = convert(messages(json!([
        {"role": "user", "content": "a"},
        {"role": "developer", "content": "D"},
        {"role": "assistant", "content": "b"},
        {"role": "system", "content": [{"type": "text", "text": "S"}]}
    ])));
    assert_eq!(
        out["system"],
        json!([{"type": "text", "text": "D"}, {"type": "text", "text": "S"}])
    );
    assert_eq!(
        convert(with(
            base(),
            "messages",
            json!([{"role": "system", "content": "only"}, {"role": "user", "content": "x"}])
        ))["system"],
        "only"
    );
}

#[test]
fn consecutive_same_role_messages_merge_and_tool_results_lead_the_user_turn() {
    let out = convert(messages(json!([
        {"role": "user", "content": "one"},
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "r1"},
        {"role": "user", "content": "next"},
        {"role": "assistant", "content": "x"},
        {"role": "assistant", "content": "y"}
    ])));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "c1", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1", "content": "r1"}, {"type": "text", "text": "next"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "x"}, {"type": "text", "text": "y"}]}
        ])
    );
}

#[test]
fn images_and_files() {
    let out = convert(messages(json!([{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/AAAA"}},
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
        {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"}},
        {"type": "file", "file": {"file_data": "JVBF"}},
        {"type": "text", "text": ""}
    ]}])));
    assert_eq!(
        out["messages"][0]["content"],
        json!([
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/AAAA"}},
            {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}, "title": "a.pdf"},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBF"}}
        ])
    );
}

#[test]
fn bad_input_is_a_400_naming_what_is_wrong() {
    let cases = [
        ("{not json", "malformed JSON"),
        (r#"{"model":"m","messages":[{"role":"user","content":"a"}"#, "malformed JSON"),
        (r#"{"model":"m"}"#, "missing field `messages`"),
        (r#"{"model":"m","messages":[]}"#, "at least one message"),
        (r#"{"model":"m","messages":[{"role":"user","content":"a"}],"n":2}"#, "n must be 1"),
        (r#"{"model":"m","messages":[{"role":"function","name":"f","content":"a"}]}"#, "messages[0]: unsupported role `function`"),
        (r#"{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AA","format":"wav"}}]}]}"#, "messages[0]: input_audio is not supported by an Anthropic upstream"),
        (r#"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{oops"}}]},{"role":"tool","tool_call_id":"c","content":"r"}]}"#, "messages[1]: tool call arguments must be a JSON object"),
        (r#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,raw"}}]}]}"#, "messages[0]: image data URLs must be base64"),
        (r#"{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}]}"#, "uploaded file ids are not supported"),
        (r#"{"model":"m","messages":[{"role":"tool","content":"r"}]}"#, "messages[0]: tool message without `tool_call_id`"),
        (r#"{"model":"m","messages":[{"role":"user","content":7}]}"#, "messages[0]: invalid type: integer `7`, expected a string or an array of content parts"),
    ];
    for (body, needle) in cases {
        let error = reject(body);
        assert_eq!(error.status, 400, "{body}");
        assert!(
            error.message.contains(needle),
            "{body}: {:?} lacks {needle:?}",
            error.message
        );
    }
}

fn reject_value(request: Value) -> String {
    let error = reject(&request.to_string());
    assert_eq!(error.status, 400, "{error:?}");
    error.message
}

#[test]
fn a_request_left_with_no_message_is_a_400() {
    for list in [
        json!([{"role": "user", "content": null}]),
        json!([{"role": "user", "content": ""}]),
        json!([{"role": "system", "content": "only a system prompt"}]),
        json!([{"role": "developer", "content": "x"}, {"role": "user", "content": []}]),
    ] {
        let message = reject_value(messages(list.clone()));
        assert!(
            message.starts_with("messages: no user or assistant message"),
            "{list}: {message}"
        );
    }
}

#[test]
fn tool_messages_and_tool_calls_must_pair_up() {
    let call = |id: &str| json!({"id": id, "type": "function", "function": {"name": "f", "arguments": "{}"}});
    let answer = |id: &str| json!({"role": "tool", "tool_call_id": id, "content": "ok"});
    let asked = |ids: &[&str]| {
        json!({"role": "assistant", "content": null,
               "tool_calls": ids.iter().map(|id| call(id)).collect::<Vec<_>>()})
    };
    let go = json!({"role": "user", "content": "go"});
    let orphan = reject_value(messages(json!([go, answer("zz")])));
    assert!(
        orphan.starts_with("messages[1].tool_call_id: `zz` answers no tool call"),
        "{orphan}"
    );
    let unanswered = reject_value(messages(
        json!([go, asked(&["a", "b"]), answer("a"), {"role": "user", "content": "next"}]),
    ));
    assert!(
        unanswered.starts_with("messages[1].tool_calls: ")
            && unanswered.ends_with("no response to `b`"),
        "{unanswered}"
    );
    let at_the_end = reject_value(messages(json!([go, asked(&["a"])])));
    assert!(
        at_the_end.starts_with("messages[1].tool_calls: "),
        "{at_the_end}"
    );
    let stale = reject_value(messages(json!([
        go, asked(&["a"]), answer("a"), {"role": "assistant", "content": "done"}, answer("a")
    ])));
    assert!(stale.starts_with("messages[4].tool_call_id: "), "{stale}");
    let out = convert(messages(json!([
        go, asked(&["a", "b"]), {"role": "system", "content": "s"}, answer("b"), answer("a")
    ])));
    let results = out["messages"][2]["content"].as_array().unwrap();
    assert_eq!(results[0]["tool_use_id"], "b");
    assert_eq!(results[1]["tool_use_id"], "a");
}

#[test]
fn wrong_values_are_400s_naming_the_field() {
    let cases = [
        (
            "reasoning_effort",
            json!("str"),
            "reasoning_effort: unknown value `str`",
        ),
        (
            "tool_choice",
            json!("str"),
            "tool_choice: unknown value `str`",
        ),
        (
            "max_tokens",
            json!(0),
            "max_tokens: must be at least 1, got 0",
        ),
        (
            "max_completion_tokens",
            json!(0),
            "max_completion_tokens: must be at least 1, got 0",
        ),
        (
            "tools",
            json!([{"type": "function", "function": {"name": "f", "parameters": 5}}]),
            "tools[0].function.parameters: must be a JSON object",
        ),
    ];
    for (field, value, expected) in cases {
        let message = reject_value(with(base(), field, value.clone()));
        assert!(message.contains(expected), "{field}={value}: {message}");
    }
    for effort in ["none", "minimal", "low", "medium", "high", "xhigh"] {
        convert(with(base(), "reasoning_effort", json!(effort)));
    }
    assert_eq!(
        convert(with(base(), "max_tokens", Value::Null))["max_tokens"],
        4096
    );
}
