//! Anthropic request → OpenAI request (docs/anthropic_client.md#request-mapping):
//! two whole requests against golden output, then every row and message
//! rule on its own, and the 400s for bad input.

mod common;

use anthropic_openai_bridge::config::Config;
use anthropic_openai_bridge::convert::anthropic_client::request::{
    convert_request, ConvertedRequest,
};
use anthropic_openai_bridge::convert::error::ClientError;
use anthropic_openai_bridge::convert::signature::sign;
use common::*;
use serde_json::{json, Value};

fn config(extra: &str) -> Config {
    Config::from_json(format!(r#"{{"upstream_protocol":"openai"{extra}}}"#).as_bytes()).unwrap()
}

fn convert_with(request: &Value, config: &Config) -> Value {
    let converted = convert_request(request.to_string().as_bytes(), config).unwrap();
    serde_json::from_slice(&converted.body).unwrap()
}

fn convert(request: Value) -> Value {
    convert_with(&request, &config(""))
}

fn reject(body: &str) -> ClientError {
    convert_request(body.as_bytes(), &config("")).unwrap_err()
}

fn user(content: Value) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": content}]})
}

fn with(mut request: Value, key: &str, value: Value) -> Value {
    request[key] = value;
    request
}

fn base() -> Value {
    user(json!("Hello"))
}

#[test]
fn whole_requests_match_their_golden_output() {
    let config = config(r#","model_map":{"claude-sonnet-4-5*":"gpt-4.1","*":"gpt-4o-mini"}"#);
    for name in [
        "claude-code-tool-round-trip",
        "kitchen-sink",
        "claude-code-2.1.197-recorded",
    ] {
        let body = fixture(&format!("requests/{name}.json"));
        let converted = convert_request(&body, &config).unwrap();
        assert_golden(&format!("requests/{name}.to-openai.json"), &converted.body);
    }
}

#[test]
fn claude_code_request_keeps_everything_an_openai_model_can_use() {
    let body = fixture("requests/claude-code-tool-round-trip.json");
    let ConvertedRequest {
        body,
        stream,
        tool_names,
        model,
    } = convert_request(
        &body,
        &config(r#","model_map":{"claude-sonnet-4-5*":"gpt-4.1"}"#),
    )
    .unwrap();
    let out: Value = serde_json::from_slice(&body).unwrap();
    assert!(stream);
    assert_eq!(model, "gpt-4.1");
    assert_eq!(tool_names.upstream("mcp__docs.search"), "mcp__docs_search");
    let messages = out["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        [
            "system",
            "user",
            "assistant",
            "tool",
            "tool",
            "user",
            "assistant",
            "user"
        ]
    );
    assert_eq!(
        messages[0]["content"],
        "x-anthropic-billing-header: cc_version=2.1.177.01c; cc_entrypoint=cli;\n\nYou are Claude Code, Anthropic's official CLI for Claude.\n\n\nYou are an interactive CLI tool that helps users with software engineering tasks."
    );
    assert_eq!(messages[2]["content"], "Let me look.");
    assert_eq!(
        messages[2]["tool_calls"][1]["function"]["name"],
        "mcp__docs_search"
    );
    assert_eq!(
        messages[2].get("reasoning_content"),
        None,
        "Anthropic-signed thinking is dropped"
    );
    assert_eq!(messages[4]["content"], "Error: search backend unavailable");
    assert_eq!(
        messages[5]["content"][0]["type"], "image_url",
        "tool-result image first"
    );
    assert_eq!(
        messages[5]["content"][1]["text"],
        "Also see this screenshot."
    );
    assert_eq!(
        messages[6]["reasoning_content"],
        "The bridge signed this earlier."
    );
    assert_eq!(out["reasoning_effort"], "high");
    assert_eq!(out["max_completion_tokens"], 64000);
    assert!(out["user"].as_str().unwrap().len() <= 64);
    let tool_names: Vec<&str> = out["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tool_names,
        ["Bash", "Read", "mcp__docs_search"],
        "the server tool is dropped"
    );
    for absent in [
        "context_management",
        "thinking",
        "output_config",
        "metadata",
        "system",
        "top_k",
    ] {
        assert_eq!(
            out.get(absent),
            None,
            "{absent} must not reach the upstream"
        );
    }
}

/// The request Claude Code 2.1.197 really sends: every tool survives with
/// its schema, the mid-conversation system message keeps its position.
#[test]
fn recorded_claude_code_request_converts_faithfully() {
    let body = fixture("requests/claude-code-2.1.197-recorded.json");
    let request: Value = serde_json::from_slice(&body).unwrap();
    let converted = convert_request(&body, &config("")).unwrap();
    let out: Value = serde_json::from_slice(&converted.body).unwrap();
    assert!(converted.stream);
    let roles: Vec<&str> = out["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "system", "assistant", "tool"]);
    assert_eq!(
        out["messages"][2]["content"],
        request["messages"][1]["content"]
    );
    let tools = out["tools"].as_array().unwrap();
    assert_eq!(tools.len(), request["tools"].as_array().unwrap().len());
    for (tool, original) in tools.iter().zip(request["tools"].as_array().unwrap()) {
        assert_eq!(tool["function"]["name"], original["name"]);
        assert_eq!(tool["function"]["parameters"], original["input_schema"]);
    }
    assert_eq!(out["reasoning_effort"], "high");
    assert_eq!(
        out["messages"][4]["tool_call_id"],
        request["messages"][3]["content"][0]["tool_use_id"]
    );
    assert!(out["messages"][4]["content"]
        .as_str()
        .unwrap()
        .starts_with("Error: <tool_use_error>"));
    assert!(out["user"].as_str().unwrap().len() <= 64);
}

#[test]
fn a_system_message_inside_messages_keeps_its_position() {
    let request = json!({"model": "m", "max_tokens": 5, "system": "top", "messages": [
        {"role": "user", "content": "a"},
        {"role": "system", "content": [{"type": "text", "text": "from here on, be brief", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "and kind"}]},
        {"role": "assistant", "content": "b"},
        {"role": "system", "content": ""}
    ]});
    assert_eq!(
        convert(request)["messages"],
        json!([
            {"role": "system", "content": "top"},
            {"role": "user", "content": "a"},
            {"role": "system", "content": "from here on, be brief\n\nand kind"},
            {"role": "assistant", "content": "b"}
        ])
    );
}

#[test]
fn tool_schemas_pass_through_untouched() {
    let body = fixture("requests/claude-code-tool-round-trip.json");
    let request: Value = serde_json::from_slice(&body).unwrap();
    let out = convert_with(&request, &config(""));
    assert_eq!(
        out["tools"][0]["function"]["parameters"],
        request["tools"][0]["input_schema"]
    );
    assert_eq!(
        out["tools"][0]["function"]["description"],
        "Executes a given bash command"
    );
    assert_eq!(out["tools"][0]["type"], "function");
}

#[test]
fn model_and_max_tokens() {
    let out = convert_with(&base(), &config(r#","model_map":{"claude-*":"gpt-4.1"}"#));
    assert_eq!(out["model"], "gpt-4.1");
    assert_eq!(out["max_completion_tokens"], 100);
    assert_eq!(out.get("max_tokens"), None, "never both fields");
    let out = convert_with(&base(), &config(r#","max_tokens_field":"max_tokens""#));
    assert_eq!(out["max_tokens"], 100);
    assert_eq!(out.get("max_completion_tokens"), None);
    let out = convert_with(
        &with(base(), "max_tokens", json!(64000)),
        &config(r#","max_tokens_limit":16384"#),
    );
    assert_eq!(out["max_completion_tokens"], 16384);
    assert_eq!(
        convert(base())["model"],
        "claude-sonnet-4-5",
        "unmapped names pass through"
    );
}

#[test]
fn sampling_fields_keep_zero_as_a_value() {
    let out = convert(with(
        with(base(), "temperature", json!(0)),
        "top_p",
        json!(0),
    ));
    assert_eq!(out["temperature"], 0.0);
    assert_eq!(out["top_p"], 0.0);
    let out = convert(base());
    assert_eq!(out.get("temperature"), None);
}

#[test]
fn dropped_fields_never_reach_the_upstream() {
    let mut request = base();
    for (key, value) in [
        ("top_k", json!(5)),
        ("container", json!("c")),
        ("mcp_servers", json!([])),
        ("context_management", json!({})),
        ("unknown_future_field", json!(1)),
    ] {
        request[key] = value;
    }
    let out = convert(request);
    let mut keys: Vec<&String> = out.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["max_completion_tokens", "messages", "model"]);
}

#[test]
fn stop_sequences_and_stream() {
    let out = convert(with(
        with(base(), "stop_sequences", json!(["END", "```"])),
        "stream",
        json!(true),
    ));
    assert_eq!(out["stop"], json!(["END", "```"]));
    assert_eq!(out["stream"], true);
    assert_eq!(out["stream_options"], json!({"include_usage": true}));
    let out = convert(with(
        with(base(), "stop_sequences", json!([])),
        "stream",
        json!(false),
    ));
    assert_eq!(out.get("stop"), None);
    assert_eq!(out.get("stream"), None);
    assert_eq!(out.get("stream_options"), None);
}

#[test]
fn system_string_and_blocks() {
    let out = convert(with(base(), "system", json!("Be brief.")));
    assert_eq!(
        out["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    let blocks = json!([{"type": "text", "text": "A", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "B"}]);
    let out = convert(with(base(), "system", blocks));
    assert_eq!(out["messages"][0]["content"], "A\n\nB");
    let out = convert(with(base(), "system", json!([])));
    assert_eq!(
        out["messages"][0]["role"], "user",
        "an empty system prompt sends no message"
    );
}

#[test]
fn billing_nonce_is_removed_and_an_emptied_block_disappears() {
    let system = json!([
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.1.abc; cc_entrypoint=cli; cch=36ee5;"},
        {"type": "text", "text": "x-anthropic-billing-header: cch=00000;"},
        {"type": "text", "text": "Prompt. cch=keep-me-in-normal-text;"}
    ]);
    let out = convert(with(base(), "system", system));
    assert_eq!(
        out["messages"][0]["content"],
        "x-anthropic-billing-header: cc_version=2.1.1.abc; cc_entrypoint=cli;\n\nPrompt. cch=keep-me-in-normal-text;"
    );
    let two_requests: Vec<Value> = ["cch=11111;", "cch=22222;"]
        .iter()
        .map(|nonce| {
            let system = json!([{"type": "text", "text": format!("x-anthropic-billing-header: cc_version=2; {nonce}")}]);
            convert(with(base(), "system", system))["messages"][0].clone()
        })
        .collect();
    assert_eq!(
        two_requests[0], two_requests[1],
        "the prompt prefix must be stable across requests"
    );
}

#[test]
fn metadata_user_and_service_tier() {
    let out = convert(with(base(), "metadata", json!({"user_id": "user-42"})));
    assert_eq!(out["user"], "user-42");
    let long = "x".repeat(200);
    let first = convert(with(base(), "metadata", json!({"user_id": long})));
    let again = convert(with(base(), "metadata", json!({"user_id": long})));
    let user = first["user"].as_str().unwrap();
    assert!(user.len() <= 64 && user.starts_with("user-"), "{user}");
    assert_eq!(first["user"], again["user"], "the digest is stable");
    assert_eq!(
        convert(with(base(), "service_tier", json!("auto")))["service_tier"],
        "auto"
    );
    assert_eq!(
        convert(with(base(), "service_tier", json!("standard_only")))["service_tier"],
        "default"
    );
    assert_eq!(
        convert(with(base(), "service_tier", json!("priority"))).get("service_tier"),
        None
    );
}

#[test]
fn thinking_becomes_reasoning_effort() {
    let cases = [
        (
            json!({"type": "enabled", "budget_tokens": 1024}),
            Value::Null,
            json!("low"),
        ),
        (
            json!({"type": "enabled", "budget_tokens": 4095}),
            Value::Null,
            json!("low"),
        ),
        (
            json!({"type": "enabled", "budget_tokens": 4096}),
            Value::Null,
            json!("medium"),
        ),
        (
            json!({"type": "enabled", "budget_tokens": 16383}),
            Value::Null,
            json!("medium"),
        ),
        (
            json!({"type": "enabled", "budget_tokens": 16384}),
            Value::Null,
            json!("high"),
        ),
        (json!({"type": "disabled"}), Value::Null, Value::Null),
        (json!({"type": "adaptive"}), Value::Null, json!("medium")),
        (
            json!({"type": "adaptive"}),
            json!({"effort": "low"}),
            json!("low"),
        ),
        (
            json!({"type": "adaptive"}),
            json!({"effort": "high"}),
            json!("high"),
        ),
        (
            json!({"type": "adaptive"}),
            json!({"effort": "max"}),
            json!("high"),
        ),
    ];
    for (thinking, output_config, effort) in cases {
        let mut request = with(base(), "thinking", thinking.clone());
        if !output_config.is_null() {
            request["output_config"] = output_config;
        }
        let out = convert(request);
        assert_eq!(
            out.get("reasoning_effort").cloned().unwrap_or(Value::Null),
            effort,
            "{thinking}"
        );
    }
}

#[test]
fn structured_output_becomes_a_strict_json_schema() {
    let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
    let expected = json!({"type": "json_schema", "json_schema": {"name": "response", "schema": schema, "strict": true}});
    let out = convert(with(
        base(),
        "output_format",
        json!({"type": "json_schema", "schema": schema}),
    ));
    assert_eq!(out["response_format"], expected);
    let out = convert(with(
        base(),
        "output_config",
        json!({"format": {"type": "json_schema", "schema": schema}}),
    ));
    assert_eq!(out["response_format"], expected);
}

#[test]
fn tools_and_tool_choice() {
    let tools = json!([
        {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}},
        {"type": "bash_20250124", "name": "bash"},
        {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
        {"type": "custom", "name": "custom_tool", "input_schema": {"type": "object"}}
    ]);
    let request = with(base(), "tools", tools);
    let out = convert(request.clone());
    assert_eq!(
        out["tools"],
        json!([
            {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}},
            {"type": "function", "function": {"name": "custom_tool", "parameters": {"type": "object"}}}
        ])
    );
    for (choice, expected) in [
        (json!({"type": "auto"}), json!("auto")),
        (json!({"type": "any"}), json!("required")),
        (json!({"type": "none"}), json!("none")),
        (
            json!({"type": "tool", "name": "get_weather"}),
            json!({"type": "function", "function": {"name": "get_weather"}}),
        ),
    ] {
        let out = convert(with(request.clone(), "tool_choice", choice.clone()));
        assert_eq!(out["tool_choice"], expected, "{choice}");
        assert_eq!(out.get("parallel_tool_calls"), None);
    }
    let out = convert(with(
        request.clone(),
        "tool_choice",
        json!({"type": "auto", "disable_parallel_tool_use": true}),
    ));
    assert_eq!(out["parallel_tool_calls"], false);
    let out = convert(with(base(), "tools", json!([])));
    assert_eq!(out.get("tools"), None, "an empty list sends no tools");
    let only_server = with(
        with(
            base(),
            "tools",
            json!([{"type": "web_search_20250305", "name": "web_search"}]),
        ),
        "tool_choice",
        json!({"type": "any", "disable_parallel_tool_use": true}),
    );
    let out = convert(only_server);
    assert_eq!(
        (
            out.get("tools"),
            out.get("tool_choice"),
            out.get("parallel_tool_calls")
        ),
        (None, None, None)
    );
}

#[test]
fn invalid_tool_names_are_sanitized_everywhere_with_the_same_mapping() {
    let request = json!({
        "model": "m", "max_tokens": 10,
        "tools": [{"name": "a.b", "input_schema": {"type": "object"}}, {"name": "a_b", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "a.b"},
        "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "a.b", "input": {}}, {"type": "tool_use", "id": "t2", "name": "gone/tool", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}, {"type": "tool_result", "tool_use_id": "t2", "content": "ok"}]}
        ]
    });
    let converted = convert_request(request.to_string().as_bytes(), &config("")).unwrap();
    let out: Value = serde_json::from_slice(&converted.body).unwrap();
    assert_eq!(out["tools"][0]["function"]["name"], "a_b_2");
    assert_eq!(out["tools"][1]["function"]["name"], "a_b");
    assert_eq!(out["tool_choice"]["function"]["name"], "a_b_2");
    assert_eq!(
        out["messages"][1]["tool_calls"][0]["function"]["name"],
        "a_b_2"
    );
    assert_eq!(
        out["messages"][1]["tool_calls"][1]["function"]["name"],
        "gone_tool"
    );
    assert_eq!(converted.tool_names.client("a_b_2"), "a.b");
    assert_eq!(converted.tool_names.client("gone_tool"), "gone/tool");
}

#[test]
fn content_blocks_become_parts() {
    let content = json!([
        {"type": "text", "text": "look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}},
        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
        {"type": "document", "title": "notes.pdf", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBF"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain"}},
        {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "inner"}]}},
        {"type": "text", "text": ""},
        {"type": "future_block", "whatever": 1}
    ]);
    let out = convert(user(content));
    assert_eq!(
        out["messages"][0]["content"],
        json!([
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}},
            {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
            {"type": "file", "file": {"filename": "document.pdf", "file_data": "data:application/pdf;base64,JVBE"}},
            {"type": "file", "file": {"filename": "notes.pdf", "file_data": "data:application/pdf;base64,JVBF"}},
            {"type": "text", "text": "plain"},
            {"type": "text", "text": "inner"}
        ])
    );
}

#[test]
fn a_single_text_part_is_sent_as_a_string() {
    let out = convert(user(
        json!([{"type": "text", "text": "only", "cache_control": {"type": "ephemeral"}}]),
    ));
    assert_eq!(
        out["messages"][0],
        json!({"role": "user", "content": "only"})
    );
}

#[test]
fn unsupported_sources_are_rejected_not_dropped() {
    for block in [
        json!({"type": "image", "source": {"type": "file", "file_id": "file_1"}}),
        json!({"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}}),
    ] {
        let body = user(json!([block])).to_string();
        let error = reject(&body);
        assert_eq!(error.status, 400);
        assert!(
            error
                .message
                .contains("not supported by an OpenAI upstream"),
            "{}",
            error.message
        );
        assert!(
            error.message.starts_with("messages[0]"),
            "{}",
            error.message
        );
    }
}

#[test]
fn tool_results_come_first_as_tool_messages() {
    let content = json!([
        {"type": "text", "text": "after"},
        {"type": "tool_result", "tool_use_id": "t1", "content": "one"},
        {"type": "tool_result", "tool_use_id": "t2", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"type": "tool_result", "tool_use_id": "t3", "is_error": true, "content": "boom"},
        {"type": "tool_result", "tool_use_id": "t4"},
        {"type": "tool_result", "tool_use_id": "t5", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QQ=="}}]}
    ]);
    let calls: Vec<Value> = (1..=5)
        .map(|i| json!({"type": "tool_use", "id": format!("t{i}"), "name": "f", "input": {}}))
        .collect();
    let request = json!({"model": "m", "max_tokens": 5, "messages": [
        {"role": "assistant", "content": calls},
        {"role": "user", "content": content}
    ]});
    let out = convert(request);
    assert_eq!(
        Value::from(out["messages"].as_array().unwrap()[1..].to_vec()),
        json!([
            {"role": "tool", "content": "one", "tool_call_id": "t1"},
            {"role": "tool", "content": "a\n\nb", "tool_call_id": "t2"},
            {"role": "tool", "content": "Error: boom", "tool_call_id": "t3"},
            {"role": "tool", "content": "", "tool_call_id": "t4"},
            {"role": "tool", "content": "", "tool_call_id": "t5"},
            {"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,QQ=="}},
                {"type": "text", "text": "after"}
            ]}
        ])
    );
}

#[test]
fn assistant_turns() {
    let request = json!({"model": "m", "max_tokens": 5, "messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {"a": [1, 2]}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "r"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "x"}, {"type": "text", "text": "y"}]},
        {"role": "assistant", "content": [{"type": "redacted_thinking", "data": "abc"}]},
        {"role": "assistant", "content": "plain"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "mine", "signature": sign("mine")}]}
    ]});
    let out = convert(request);
    let messages = out["messages"].as_array().unwrap();
    assert_eq!(
        messages[1],
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":[1,2]}"}}]})
    );
    assert_eq!(
        messages[3],
        json!({"role": "assistant", "content": "x\n\ny"})
    );
    assert_eq!(
        messages[4],
        json!({"role": "assistant", "content": "plain"}),
        "an emptied turn is dropped"
    );
    assert_eq!(
        messages[5],
        json!({"role": "assistant", "content": "", "reasoning_content": "mine"})
    );
    assert_eq!(messages.len(), 6);
}

#[test]
fn bad_input_is_a_400_naming_what_is_wrong() {
    let cases = [
        ("{not json", "malformed JSON"),
        ("", "malformed JSON"),
        ("[]", "invalid request"),
        (r#"{"model":"m","max_tokens":1}"#, "missing field `messages`"),
        (r#"{"model":"m","messages":"hi"}"#, "`messages` to be an array"),
        (r#"{"model":"m","messages":[]}"#, "at least one message"),
        (r#"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"tool","content":"b"}]}"#, "messages[1]: unknown variant `tool`"),
        (r#"{"model":"m","messages":[{"role":"user","content":5}]}"#, "messages[0]: invalid type: integer `5`, expected a string or an array of content blocks"),
        (r#"{"model":"m","messages":[{"role":"user","content":null}]}"#, "messages[0]"),
        (r#"{"model":"m","messages":["hello"]}"#, "messages[0]: invalid type: string \"hello\", expected a message object"),
        (r#"{"model":"m","messages":[{"role":"user"}]}"#, "messages[0]: missing field `content`"),
        (r#"{"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_use","name":"f","input":{}}]}]}"#, "messages[0]: tool_use without `id`"),
        (r#"{"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","content":"x"}]}]}"#, "messages[0]: tool_result without `tool_use_id`"),
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

/// Nesting in what the bridge parses hits serde's recursion limit (a 400);
/// JSON passed through uninterpreted (a tool schema) is skipped without
/// recursion, so it cannot exhaust the stack and reaches the upstream as sent.
#[test]
fn deep_nesting_is_a_400_where_parsed_and_untouched_where_passed_through() {
    let deep_blocks = format!(
        "{{\"model\":\"m\",\"messages\":[{{\"role\":\"user\",\"content\":{}\"x\"{}}}]}}",
        "[{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"content\":".repeat(200),
        "}]".repeat(200)
    );
    let error = reject(&deep_blocks);
    assert_eq!(error.status, 400);
    assert!(
        error.message.contains("recursion limit"),
        "{}",
        error.message
    );

    let schema = format!("{{\"a\":{}1{}}}", "[".repeat(10_000), "]".repeat(10_000));
    let body = format!("{{\"model\":\"m\",\"messages\":[{{\"role\":\"user\",\"content\":\"a\"}}],\"tools\":[{{\"name\":\"f\",\"input_schema\":{schema}}}]}}");
    let converted = convert_request(body.as_bytes(), &config("")).unwrap();
    let text = String::from_utf8(converted.body).unwrap();
    assert!(text.contains(&format!("\"parameters\":{schema}")));
}

/// 24,000 distinct tool names that all sanitise to `t__` or `t___` (the
/// issue's attack, ~1.3 MB): each gets a unique valid upstream name, and
/// every one comes back as the client's own name in a response.
#[test]
fn thousands_of_colliding_tool_names_stay_unique_and_round_trip() {
    use anthropic_openai_bridge::convert::anthropic_client::response::{
        convert_response, ResponseContext,
    };
    let names = colliding_tool_names(24_000);
    let tools: Vec<Value> = names
        .iter()
        .map(|n| json!({"name": n, "description": "d", "input_schema": {"type": "object"}}))
        .collect();
    let body = with(base(), "tools", json!(tools)).to_string();
    assert!(body.len() > 1_200_000, "{}", body.len());
    let converted = convert_request(body.as_bytes(), &config("")).unwrap();
    let out: Value = serde_json::from_slice(&converted.body).unwrap();
    let sent: Vec<&str> = out["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(sent.len(), names.len());
    let unique: std::collections::HashSet<&str> = sent.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "upstream names collide");
    let openai_name = regex_lite::Regex::new("^[a-zA-Z0-9_-]{1,64}$").unwrap();
    assert!(sent.iter().all(|n| openai_name.is_match(n)));
    let calls: Vec<Value> = sent
        .iter()
        .enumerate()
        .map(|(i, n)| json!({"id": format!("call_{i}"), "type": "function", "function": {"name": n, "arguments": "{}"}}))
        .collect();
    let completion = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "finish_reason": "tool_calls",
                     "message": {"role": "assistant", "content": null, "tool_calls": calls}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    });
    let ctx = ResponseContext {
        tool_names: converted.tool_names,
        model: "m".into(),
        fallback_id: "msg_1".into(),
    };
    let (answer, _) = convert_response(completion.to_string().as_bytes(), &ctx);
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    let restored: Vec<&str> = answer["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(restored, expected);
}

/// `t` + two, then three, ASCII punctuation characters OpenAI rejects in a name.
fn colliding_tool_names(count: usize) -> Vec<String> {
    let punct: Vec<char> = (b'!'..=b'~')
        .map(char::from)
        .filter(|c| c.is_ascii_punctuation() && *c != '-' && *c != '_')
        .collect();
    let pairs = punct
        .iter()
        .flat_map(|a| punct.iter().map(move |b| format!("t{a}{b}")));
    let triples = punct.iter().flat_map(|a| {
        let punct = &punct;
        punct
            .iter()
            .flat_map(move |b| punct.iter().map(move |c| format!("t{a}{b}{c}")))
    });
    pairs.chain(triples).take(count).collect()
}

fn reject_value(request: Value) -> String {
    let error = reject(&request.to_string());
    assert_eq!(error.status, 400, "{error:?}");
    error.message
}

#[test]
fn a_request_left_with_no_message_is_a_400_naming_the_content() {
    for content in [
        json!([]),
        json!([{"type": "future_block", "x": 1}]),
        json!([{"type": "text", "text": null}]),
    ] {
        let message = reject_value(user(content.clone()));
        assert!(
            message.starts_with("messages[0].content: ") && message.contains("no message is left"),
            "{content}: {message}"
        );
    }
    let system_only = json!({"model": "m", "max_tokens": 5, "messages": [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": []}]});
    assert!(reject_value(system_only).starts_with("messages[1].content: "));
}

fn tool_round(assistant: Value, results: Value) -> Value {
    json!({"model": "m", "max_tokens": 5, "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": assistant},
        {"role": "user", "content": results}
    ]})
}

#[test]
fn tool_results_and_tool_uses_must_pair_up() {
    let call = |id: &str| json!({"type": "tool_use", "id": id, "name": "f", "input": {}});
    let result = |id: &str| json!({"type": "tool_result", "tool_use_id": id, "content": "ok"});
    let orphan = reject_value(tool_round(
        json!([call("a")]),
        json!([result("a"), result("zz")]),
    ));
    assert!(
        orphan.starts_with("messages[2].content: unexpected `tool_use_id`")
            && orphan.contains("zz"),
        "{orphan}"
    );
    let unanswered = reject_value(tool_round(
        json!([call("a"), call("b")]),
        json!([result("a")]),
    ));
    assert!(
        unanswered.starts_with("messages[1]: `tool_use` ids were found without `tool_result` blocks immediately after: b"),
        "{unanswered}"
    );
    let interrupted = json!({"model": "m", "max_tokens": 5, "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [call("a")]},
        {"role": "user", "content": "never mind"}
    ]});
    assert!(reject_value(interrupted).starts_with("messages[1]: `tool_use` ids"));
    let last_turn = json!({"model": "m", "max_tokens": 5, "messages": [
        {"role": "user", "content": "go"}, {"role": "assistant", "content": [call("a")]}]});
    assert!(reject_value(last_turn).starts_with("messages[1]: `tool_use` ids"));
    let stale = json!({"model": "m", "max_tokens": 5, "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [call("a")]},
        {"role": "user", "content": [result("a")]},
        {"role": "assistant", "content": "done"},
        {"role": "user", "content": [result("a")]}
    ]});
    assert!(reject_value(stale).starts_with("messages[4].content: unexpected"));
    let answered = tool_round(
        json!([call("a"), call("b")]),
        json!([result("b"), result("a")]),
    );
    let out = convert(answered);
    assert_eq!(out["messages"][2]["tool_call_id"], "b");
    assert_eq!(out["messages"][3]["tool_call_id"], "a");
}

#[test]
fn wrong_values_and_types_are_400s_naming_the_field() {
    let cases = [
        (
            "tools",
            json!([{"name": "f", "input_schema": 5}]),
            "tools[0].input_schema: must be a JSON object",
        ),
        (
            "max_tokens",
            json!(0),
            "max_tokens: must be at least 1, got 0",
        ),
        (
            "max_tokens",
            Value::Null,
            "max_tokens: must be an integer of at least 1, got null",
        ),
        (
            "tool_choice",
            json!("str"),
            "tool_choice: must be a JSON object",
        ),
        (
            "tool_choice",
            json!({"type": "str"}),
            "tool_choice.type: unknown value `str`",
        ),
        (
            "metadata",
            json!(["uid"]),
            "metadata: must be a JSON object",
        ),
        (
            "tools",
            json!([{"name": "f", "input_schema": {}}, {"name": "f", "input_schema": {}}]),
            "tools[1].name: `f` is used by another tool",
        ),
    ];
    for (field, value, expected) in cases {
        let message = reject_value(with(base(), field, value.clone()));
        assert!(message.contains(expected), "{field}={value}: {message}");
    }
    let tools = json!([{"name": "f", "input_schema": {"type": "object"}}]);
    let ok = with(
        with(base(), "tools", tools),
        "tool_choice",
        json!({"type": "any"}),
    );
    assert_eq!(convert(ok)["tool_choice"], "required");
    assert_eq!(
        convert(with(base(), "metadata", Value::Null)).get("user"),
        None
    );
}
