//! Anthropic request → OpenAI Responses request (Anthropic client on a
//! Responses upstream): whole requests against golden output, then every
//! rule on its own, the reasoning round trip, and the 400s for bad input.

mod common;

use anthropic_openai_bridge::config::Config;
use anthropic_openai_bridge::convert::anthropic_client::response::ResponseContext;
use anthropic_openai_bridge::convert::anthropic_client_responses::request::convert_request;
use anthropic_openai_bridge::convert::anthropic_client_responses::stream::StreamConverter;
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

fn turns(messages: Value) -> Value {
    json!({"model": "m", "max_tokens": 100, "messages": messages})
}

const GOLDEN: &[&str] = &[
    "claude-code-responses-round-trip",
    "claude-code-tool-round-trip",
    "kitchen-sink",
    "claude-code-2.1.197-recorded",
];

#[test]
fn whole_requests_match_their_golden_output() {
    let config = config(r#","model_map":{"claude-sonnet-4-5*":"gpt-5","*":"gpt-5-mini"}"#);
    for name in GOLDEN {
        let body = fixture(&format!("requests/{name}.json"));
        let converted = convert_request(&body, &config).unwrap();
        assert_golden(
            &format!("requests/{name}.to-responses.json"),
            &converted.body,
        );
    }
}

/// Only fields of the Responses API reach the upstream, and the bridge
/// keeps no state there: `store: false`, the encrypted reasoning asked
/// for, no `previous_response_id`, no item ids.
#[test]
fn every_request_is_stateless_and_only_responses_fields() {
    const TOP: &[&str] = &[
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_output_tokens",
        "temperature",
        "top_p",
        "reasoning",
        "text",
        "safety_identifier",
        "prompt_cache_key",
        "service_tier",
        "store",
        "include",
        "stream",
    ];
    for name in GOLDEN {
        let request =
            convert(serde_json::from_slice(&fixture(&format!("requests/{name}.json"))).unwrap());
        for key in request.as_object().unwrap().keys() {
            assert!(TOP.contains(&key.as_str()), "{name}: `{key}`");
        }
        assert_eq!(request["store"], false, "{name}");
        assert_eq!(request["include"], json!(["reasoning.encrypted_content"]));
        for item in request["input"].as_array().unwrap() {
            assert!(item.get("id").is_none(), "{name}: an item id in {item}");
            let kind = item["type"].as_str().unwrap();
            assert!(
                [
                    "message",
                    "function_call",
                    "function_call_output",
                    "reasoning"
                ]
                .contains(&kind),
                "{name}: {kind}"
            );
        }
    }
}

/// The reasoning an upstream streamed comes back, next turn, as the same
/// `reasoning` item with exactly the `encrypted_content` it sent.
#[test]
fn reasoning_is_carried_to_the_next_turn() {
    let input = recorded_stream("responses/stream-reasoning-summary-encrypted.sse");
    let mut converter = StreamConverter::new(ResponseContext::default());
    let mut out = Vec::new();
    converter.push(&input, &mut out);
    converter.finish(&mut out);
    let streamed = check_anthropic_stream(&out);
    let thinking = &streamed.blocks[0];
    let text = String::from_utf8(input).unwrap();
    let done = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .find(|d| {
            d.contains("\"type\":\"response.output_item.done\"") && d.contains("\"reasoning\"")
        })
        .unwrap();
    let done: Value = serde_json::from_str(done).unwrap();
    let request = convert(turns(json!([
        {"role": "user", "content": "How do I cross the street?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": thinking.text, "signature": thinking.signature},
            {"type": "text", "text": streamed.blocks[1].text}
        ]},
        {"role": "user", "content": "Thanks"}
    ])));
    let item = &request["input"][1];
    assert_eq!(
        item,
        &json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": thinking.text}],
            "encrypted_content": done["item"]["encrypted_content"]})
    );
    assert_eq!(
        request["input"][2]["role"], "assistant",
        "the reasoning's following item"
    );
}

#[test]
fn other_thinking_is_dropped_and_empty_summaries_are_empty() {
    let request = convert(turns(json!([
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "anthropic", "signature": "EvMCCkYICxgCKkCHP2cSuEdcJK"},
            {"type": "thinking", "thinking": "chat", "signature": sign("chat")},
            {"type": "redacted_thinking", "data": "xyz"},
            {"type": "thinking", "thinking": "", "signature": "aob2.enc"},
            {"type": "thinking", "thinking": "no content", "signature": "aob2."},
            {"type": "text", "text": "a"}
        ]}
    ])));
    assert_eq!(
        request["input"],
        json!([
            {"type": "message", "role": "user", "content": "q"},
            {"type": "reasoning", "summary": [], "encrypted_content": "enc"},
            {"type": "message", "role": "assistant", "content": "a"}
        ])
    );
}

#[test]
fn system_becomes_instructions_without_the_billing_nonce() {
    let request = convert(with(
        base(),
        "system",
        json!([
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1; cch=abc12;"},
            {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}
        ]),
    ));
    assert_eq!(
        request["instructions"],
        "x-anthropic-billing-header: cc_version=2.1;\n\nBe brief."
    );
    assert_eq!(
        convert(with(base(), "system", json!("Sys")))["instructions"],
        "Sys"
    );
    assert!(convert(base()).get("instructions").is_none());
}

#[test]
fn a_system_message_inside_messages_keeps_its_position() {
    let request = convert(turns(json!([
        {"role": "user", "content": "a"},
        {"role": "system", "content": [{"type": "text", "text": "cwd is /w"}]},
        {"role": "assistant", "content": "b"}
    ])));
    let roles: Vec<&str> = request["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "system", "assistant"]);
    assert_eq!(request["input"][1]["content"], "cwd is /w");
}

/// An assistant turn keeps its block order; consecutive texts are one
/// message; `tool_use` → `function_call` with `call_id` and a JSON string.
#[test]
fn assistant_turns_become_items_in_order() {
    let body = r#"{"model":"m","max_tokens":100,"messages":[
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "one"},
            {"type": "text", "text": "two"},
            {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls  -l", "n": 1.50}},
            {"type": "text", "text": "three"},
            {"type": "tool_use", "id": "toolu_2", "name": "Read", "input": {}}
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "x"}]}
        ]}]}"#;
    let converted = convert_request(body.as_bytes(), &config("")).unwrap();
    let request: Value = serde_json::from_slice(&converted.body).unwrap();
    assert_eq!(
        request["input"],
        json!([
            {"type": "message", "role": "user", "content": "q"},
            {"type": "message", "role": "assistant", "content": "one\n\ntwo"},
            {"type": "function_call", "call_id": "toolu_1", "name": "Bash", "arguments": "{\"command\": \"ls  -l\", \"n\": 1.50}"},
            {"type": "message", "role": "assistant", "content": "three"},
            {"type": "function_call", "call_id": "toolu_2", "name": "Read", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "toolu_1", "output": "ok"},
            {"type": "function_call_output", "call_id": "toolu_2", "output": "x"}
        ])
    );
}

#[test]
fn tool_results_come_first_and_keep_their_images() {
    let request = convert(user(json!([
        {"type": "text", "text": "after"},
        {"type": "tool_result", "tool_use_id": "t1", "is_error": true, "content": "boom"},
        {"type": "tool_result", "tool_use_id": "t2", "content": [
            {"type": "text", "text": "see"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAA"}}
        ]},
        {"type": "tool_result", "tool_use_id": "t3", "is_error": true, "content": [
            {"type": "image", "source": {"type": "url", "url": "https://x/i.png"}}
        ]},
        {"type": "tool_result", "tool_use_id": "t4"}
    ])));
    assert_eq!(
        request["input"],
        json!([
            {"type": "function_call_output", "call_id": "t1", "output": "Error: boom"},
            {"type": "function_call_output", "call_id": "t2", "output": [
                {"type": "input_text", "text": "see"},
                {"type": "input_image", "image_url": "data:image/jpeg;base64,AAA", "detail": "auto"}
            ]},
            {"type": "function_call_output", "call_id": "t3", "output": [
                {"type": "input_text", "text": "Error"},
                {"type": "input_image", "image_url": "https://x/i.png", "detail": "auto"}
            ]},
            {"type": "function_call_output", "call_id": "t4", "output": ""},
            {"type": "message", "role": "user", "content": "after"}
        ])
    );
}

#[test]
fn user_content_becomes_input_parts() {
    let request = convert(user(json!([
        {"type": "text", "text": "look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
        {"type": "image", "source": {"type": "url", "url": "https://x/a.png"}},
        {"type": "document", "title": "a.pdf", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
        {"type": "document", "source": {"type": "url", "url": "https://x/b.pdf"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain doc"}},
        {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "inner"}]}},
        {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}}
    ])));
    assert_eq!(
        request["input"][0]["content"],
        json!([
            {"type": "input_text", "text": "look"},
            {"type": "input_image", "image_url": "data:image/png;base64,iVBO", "detail": "auto"},
            {"type": "input_image", "image_url": "https://x/a.png", "detail": "auto"},
            {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"},
            {"type": "input_file", "file_url": "https://x/b.pdf"},
            {"type": "input_text", "text": "plain doc"},
            {"type": "input_text", "text": "inner"}
        ])
    );
    let texts = convert(user(
        json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]),
    ));
    assert_eq!(texts["input"][0]["content"], "a\n\nb");
}

#[test]
fn tools_are_flat_non_strict_functions_with_schemas_untouched() {
    let schema =
        r#"{"type": "object",  "properties": {"q": {"type": "string"}}, "x-order": [2, 1]}"#;
    let body = format!(
        r#"{{"model":"m","max_tokens":10,"messages":[{{"role":"user","content":"q"}}],
        "tools":[{{"name":"search","description":"Find.","input_schema":{schema}}},
                 {{"type":"web_search_20250305","name":"web_search"}},
                 {{"type":"custom","name":"calc","input_schema":{{"type":"object"}}}}]}}"#
    );
    let converted = convert_request(body.as_bytes(), &config("")).unwrap();
    let text = String::from_utf8(converted.body.clone()).unwrap();
    assert!(text.contains(schema), "schema bytes kept: {text}");
    let request: Value = serde_json::from_slice(&converted.body).unwrap();
    assert_eq!(
        request["tools"],
        json!([
            {"type": "function", "name": "search", "description": "Find.",
             "parameters": serde_json::from_str::<Value>(schema).unwrap(), "strict": false},
            {"type": "function", "name": "calc", "parameters": {"type": "object"}, "strict": false}
        ])
    );
}

#[test]
fn tool_choice_and_parallel_calls() {
    let tools = json!([{"name": "f", "input_schema": {"type": "object"}}]);
    let cases = [
        (json!({"type": "auto"}), json!("auto")),
        (json!({"type": "any"}), json!("required")),
        (json!({"type": "none"}), json!("none")),
        (
            json!({"type": "tool", "name": "f"}),
            json!({"type": "function", "name": "f"}),
        ),
    ];
    for (choice, expected) in cases {
        let request = convert(with(
            with(base(), "tools", tools.clone()),
            "tool_choice",
            choice,
        ));
        assert_eq!(request["tool_choice"], expected);
        assert!(request.get("parallel_tool_calls").is_none());
    }
    let request = convert(with(
        with(base(), "tools", tools.clone()),
        "tool_choice",
        json!({"type": "auto", "disable_parallel_tool_use": true}),
    ));
    assert_eq!(request["parallel_tool_calls"], false);
    let no_tools = convert(with(base(), "tool_choice", json!({"type": "any"})));
    assert!(no_tools.get("tool_choice").is_none());
    let err = convert_request(
        with(
            with(base(), "tools", tools),
            "tool_choice",
            json!({"type": "tool"}),
        )
        .to_string()
        .as_bytes(),
        &config(""),
    )
    .unwrap_err();
    assert_eq!(err.status, 400);
}

#[test]
fn invalid_tool_names_are_sanitized_everywhere_with_the_same_mapping() {
    let request = json!({"model": "m", "max_tokens": 10,
    "tools": [{"name": "files.read", "input_schema": {"type": "object"}}],
    "tool_choice": {"type": "tool", "name": "files.read"},
    "messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "files.read", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]}
    ]});
    let converted = convert_request(request.to_string().as_bytes(), &config("")).unwrap();
    assert_eq!(converted.tool_names.client("files_read"), "files.read");
    let body: Value = serde_json::from_slice(&converted.body).unwrap();
    assert_eq!(body["tools"][0]["name"], "files_read");
    assert_eq!(body["tool_choice"]["name"], "files_read");
    assert_eq!(body["input"][1]["name"], "files_read");
}

#[test]
fn thinking_becomes_reasoning_effort_with_a_summary() {
    let cases = [
        (
            json!({"type": "enabled", "budget_tokens": 2000}),
            None,
            Some("low"),
        ),
        (
            json!({"type": "enabled", "budget_tokens": 8000}),
            None,
            Some("medium"),
        ),
        (
            json!({"type": "enabled", "budget_tokens": 20000}),
            None,
            Some("high"),
        ),
        (json!({"type": "adaptive"}), Some("max"), Some("high")),
        (json!({"type": "adaptive"}), Some("low"), Some("low")),
        (json!({"type": "adaptive"}), None, Some("medium")),
        (json!({"type": "disabled"}), None, None),
    ];
    for (thinking, effort, expected) in cases {
        let mut request = with(base(), "thinking", thinking.clone());
        if let Some(effort) = effort {
            request["output_config"] = json!({"effort": effort});
        }
        let request = convert(request);
        match expected {
            Some(level) => assert_eq!(
                request["reasoning"],
                json!({"effort": level, "summary": "auto"}),
                "{thinking}"
            ),
            None => assert!(request.get("reasoning").is_none(), "{thinking}"),
        }
    }
    assert!(convert(base()).get("reasoning").is_none());
}

#[test]
fn max_tokens_is_clamped_and_at_least_the_responses_minimum() {
    assert_eq!(convert(base())["max_output_tokens"], 100);
    let limited = convert_with(
        &with(base(), "max_tokens", json!(64000)),
        &config(r#","max_tokens_limit":16384"#),
    );
    assert_eq!(limited["max_output_tokens"], 16384);
    assert_eq!(
        convert(with(base(), "max_tokens", json!(1)))["max_output_tokens"],
        16
    );
}

#[test]
fn structured_output_becomes_a_strict_text_format() {
    let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
    for request in [
        with(
            base(),
            "output_format",
            json!({"type": "json_schema", "schema": schema}),
        ),
        with(
            base(),
            "output_config",
            json!({"format": {"type": "json_schema", "schema": schema}}),
        ),
    ] {
        assert_eq!(
            convert(request)["text"],
            json!({"format": {"type": "json_schema", "name": "response", "schema": schema, "strict": true}})
        );
    }
}

/// `metadata.user_id` → `safety_identifier` (a digest when longer than 64
/// bytes) and a `prompt_cache_key` that is the same for the same user id
/// (Claude Code's holds the session) and differs between ids.
#[test]
fn user_id_gives_a_safety_identifier_and_a_stable_prompt_cache_key() {
    let short = convert(with(base(), "metadata", json!({"user_id": "user-7"})));
    assert_eq!(short["safety_identifier"], "user-7");
    let long_id = "x".repeat(150);
    let long = convert(with(base(), "metadata", json!({"user_id": long_id})));
    let identifier = long["safety_identifier"].as_str().unwrap();
    assert!(
        identifier.starts_with("user-") && identifier.len() <= 64,
        "{identifier}"
    );
    let again = convert(with(
        with(
            base(),
            "messages",
            json!([{"role": "user", "content": "other turn"}]),
        ),
        "metadata",
        json!({"user_id": long_id}),
    ));
    assert_eq!(again["prompt_cache_key"], long["prompt_cache_key"]);
    assert_eq!(again["safety_identifier"], long["safety_identifier"]);
    assert_ne!(short["prompt_cache_key"], long["prompt_cache_key"]);
    let key = long["prompt_cache_key"].as_str().unwrap();
    assert!(key.starts_with("aob-") && key.len() <= 64, "{key}");
    assert!(!key.contains(&long_id));
    let none = convert(base());
    assert!(none.get("prompt_cache_key").is_none() && none.get("safety_identifier").is_none());
}

#[test]
fn sampling_stream_tier_and_dropped_fields() {
    let request = convert(
        json!({"model": "claude-opus-4-1", "max_tokens": 10, "temperature": 0, "top_p": 0.0,
        "top_k": 5, "stop_sequences": ["END"], "stream": true, "service_tier": "standard_only",
        "container": "c", "mcp_servers": [], "context_management": {},
        "messages": [{"role": "user", "content": "q"}]}),
    );
    assert_eq!(request["temperature"], 0.0);
    assert_eq!(request["top_p"], 0.0);
    assert_eq!(request["stream"], true);
    assert_eq!(request["service_tier"], "default");
    for dropped in [
        "top_k",
        "stop_sequences",
        "stop",
        "container",
        "mcp_servers",
        "context_management",
    ] {
        assert!(request.get(dropped).is_none(), "{dropped}");
    }
    let converted = convert_request(
        base().to_string().as_bytes(),
        &config(r#","model_map":{"*":"gpt-5"}"#),
    )
    .unwrap();
    assert_eq!(converted.model, "gpt-5");
    assert!(!converted.stream);
    assert!(convert(base()).get("stream").is_none());
}

#[test]
fn bad_input_is_a_400_naming_what_is_wrong() {
    let cases = [
        (
            r#"{"model":"m","max_tokens":1,"messages":[]}"#,
            "messages: at least one message is required",
        ),
        (
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","content":"x"}]}]}"#,
            "messages[0]: tool_result without `tool_use_id`",
        ),
        (
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[{"type":"tool_use","name":"f","input":{}}]}]}"#,
            "messages[0]: tool_use without `id`",
        ),
        (
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]}"#,
            "messages[0]: image source type `file` is not supported by an OpenAI upstream",
        ),
    ];
    for (body, message) in cases {
        let err = reject(body);
        assert_eq!((err.status, err.message.as_str()), (400, message));
    }
    assert_eq!(reject("{").status, 400);
    assert!(reject(r#"{"model":"m","messages":[{"role":"tool"}]}"#)
        .message
        .contains("messages[0]"));
}

/// OpenAI rejects a reasoning item without the output item that followed
/// it, so one that nothing follows in its turn is not sent.
#[test]
fn reasoning_that_nothing_follows_is_dropped() {
    let request = convert(turns(json!([
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "cut off", "signature": "aob2.enc1"}
        ]},
        {"role": "user", "content": "go on"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "a", "signature": "aob2.enc2"},
            {"type": "thinking", "thinking": "b", "signature": "aob2.enc3"},
            {"type": "tool_use", "id": "t", "name": "f", "input": {}}
        ]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]}
    ])));
    let kinds: Vec<&str> = request["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "message",
            "message",
            "reasoning",
            "function_call",
            "function_call_output"
        ]
    );
    assert_eq!(request["input"][2]["encrypted_content"], "enc3");
}
