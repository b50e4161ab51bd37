//! Shared by the fuzz targets: how an input is framed (the fuzzer chooses the
//! chunk boundaries as well as the bytes), the configurations and contexts
//! the targets run under, and the invariant checks.
//!
//! A check that fails panics, which libFuzzer reports as a crash: a target
//! crashes only on a panic inside the bridge (a trap in the wasm VM) or on
//! a broken invariant, never on input the bridge rightly rejects.

use anthropic_openai_bridge::config::Config;
use anthropic_openai_bridge::convert::anthropic_client::response::ResponseContext as AnthropicCtx;
use anthropic_openai_bridge::convert::openai_client::response::ResponseContext as OpenAiCtx;
use anthropic_openai_bridge::convert::responses_client::response::ResponseContext as ResponsesClientCtx;
use anthropic_openai_bridge::convert::tool_names::ToolNames;
use serde_json::Value;
use std::sync::OnceLock;

/// The tier-1 grammar checkers (`check_anthropic_stream`, `check_openai_stream`).
#[path = "../../tests/common/mod.rs"]
pub mod grammar;

/// A framed input: `flags` (byte 0), then `flags & 0x0f` chunk sizes, then
/// the body. The meaning of the high flag bits is the target's.
#[derive(Debug)]
pub struct Framed<'a> {
    pub flags: u8,
    pub sizes: &'a [u8],
    pub body: &'a [u8],
}

pub fn frame(data: &[u8]) -> Framed<'_> {
    let Some((&flags, rest)) = data.split_first() else {
        return Framed {
            flags: 0,
            sizes: &[],
            body: &[],
        };
    };
    let n = usize::from(flags & 0x0f).min(rest.len());
    let (sizes, body) = rest.split_at(n);
    Framed { flags, sizes, body }
}

/// `body` cut into pieces whose sizes cycle through `sizes` (a 0 is an empty
/// piece, as a host may deliver); no sizes, only zeros, or an empty body is
/// one piece (never none: the host always delivers the end of the body).
pub fn chunks<'a>(body: &'a [u8], sizes: &[u8]) -> Vec<&'a [u8]> {
    if body.is_empty() || sizes.iter().all(|&s| s == 0) {
        return vec![body];
    }
    let mut out = Vec::new();
    let mut rest = body;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(usize::from(size).min(rest.len()));
        out.push(piece);
        rest = tail;
    }
    out
}

/// The held-bytes cap a stream target runs under, from flag bits 6-7: none
/// (the default converter's), or small enough that fuzz inputs reach it.
pub fn held_cap(flags: u8) -> usize {
    match flags >> 6 {
        0 => usize::MAX,
        1 => 128,
        2 => 1024,
        _ => 16 * 1024,
    }
}

fn config(json: &str) -> Config {
    match Config::from_json(json.as_bytes()) {
        Ok(config) => config,
        Err(e) => panic!("fuzz configuration {json}: {e}"),
    }
}

/// Configurations for an OpenAI upstream (Anthropic clients).
pub fn openai_upstream_configs() -> &'static [Config] {
    static CONFIGS: OnceLock<Vec<Config>> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        vec![
            config(r#"{"upstream_protocol":"openai"}"#),
            config(
                r#"{"upstream_protocol":"openai","max_tokens_field":"max_tokens",
                    "max_tokens_limit":1000,"model_map":{"claude-*":"gpt-4.1","*":"fallback"}}"#,
            ),
        ]
    })
}

/// Configurations for an Anthropic upstream (OpenAI clients).
pub fn anthropic_upstream_configs() -> &'static [Config] {
    static CONFIGS: OnceLock<Vec<Config>> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        vec![
            config(r#"{"upstream_protocol":"anthropic"}"#),
            config(
                r#"{"upstream_protocol":"anthropic","default_max_tokens":1,
                    "max_tokens_limit":2000,"model_map":{"*":"claude-x"}}"#,
            ),
        ]
    })
}

/// Response context of an Anthropic client whose tool names needed
/// sanitizing, so responses exercise the reverse mapping.
pub fn anthropic_ctx() -> AnthropicCtx {
    AnthropicCtx {
        tool_names: ToolNames::new([
            "get weather",
            "mcp__srv__read.file",
            "ok_name",
            "get_weather",
        ]),
        model: "gpt-fuzz".to_string(),
        fallback_id: "msg_fuzz".to_string(),
    }
}

/// Response context of a Responses client; with `tools`, one whose tools
/// include custom and namespaced ones, so calls exercise the reverse mapping.
pub fn responses_client_ctx(tools: bool) -> ResponsesClientCtx {
    use anthropic_openai_bridge::convert::responses_client::tools::{
        ClientTool, ToolKind, ToolTable,
    };
    let tool = |namespace: Option<&str>, name: &str, kind| ClientTool {
        name: name.to_string(),
        namespace: namespace.map(str::to_string),
        kind,
    };
    let table = if tools {
        ToolTable::new([
            tool(None, "apply_patch", ToolKind::Custom),
            tool(None, "exec_command", ToolKind::Function),
            tool(Some("mcp__srv__"), "read.file", ToolKind::Function),
        ])
    } else {
        ToolTable::default()
    };
    ResponsesClientCtx {
        model: "claude-fuzz".to_string(),
        created_at: 1_700_000_000,
        fallback_id: "msg_fuzz".to_string(),
        tools: table,
        ..ResponsesClientCtx::default()
    }
}

pub fn openai_ctx(include_usage: bool) -> OpenAiCtx {
    OpenAiCtx {
        model: "claude-fuzz".to_string(),
        created: 1_700_000_000,
        fallback_id: "chatcmpl-fuzz".to_string(),
        include_usage,
    }
}

/// Top-level fields a converted OpenAI Chat Completions request may carry.
pub const OPENAI_REQUEST_FIELDS: &[&str] = &[
    "model",
    "messages",
    "max_completion_tokens",
    "max_tokens",
    "temperature",
    "top_p",
    "stop",
    "stream",
    "stream_options",
    "user",
    "service_tier",
    "reasoning_effort",
    "response_format",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
];

/// Top-level fields a converted Anthropic Messages request may carry.
pub const ANTHROPIC_REQUEST_FIELDS: &[&str] = &[
    "model",
    "messages",
    "system",
    "max_tokens",
    "temperature",
    "top_p",
    "stop_sequences",
    "stream",
    "metadata",
    "thinking",
    "output_config",
    "tools",
    "tool_choice",
];

/// Top-level fields a converted OpenAI Responses request may carry.
pub const RESPONSES_REQUEST_FIELDS: &[&str] = &[
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

/// A converted Responses request body: whitelisted top-level fields, a
/// string model, `store: false`, and an `input` array of typed items that
/// carry no id (the bridge keeps no state upstream).
pub fn check_responses_request(body: &[u8]) -> Value {
    let value = json(body);
    let Some(object) = value.as_object() else {
        panic!("converted request is not an object: {value}");
    };
    for key in object.keys() {
        assert!(
            RESPONSES_REQUEST_FIELDS.contains(&key.as_str()),
            "field `{key}` is not whitelisted: {value}"
        );
    }
    assert!(value["model"].is_string(), "model is not a string: {value}");
    assert_eq!(value["store"], false, "{value}");
    let Some(items) = value["input"].as_array() else {
        panic!("input is not an array: {value}");
    };
    for item in items {
        assert!(item["type"].is_string(), "untyped item: {value}");
        assert!(item.get("id").is_none(), "an item id: {value}");
    }
    value
}

/// A converted request body: a JSON object with only whitelisted top-level
/// fields, a string model and an array of messages.
pub fn check_request(body: &[u8], allowed: &[&str]) -> Value {
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(e) => panic!(
            "converted request is not JSON ({e}): {}",
            String::from_utf8_lossy(body)
        ),
    };
    let Some(object) = value.as_object() else {
        panic!("converted request is not an object: {value}");
    };
    for key in object.keys() {
        assert!(
            allowed.contains(&key.as_str()),
            "field `{key}` is not whitelisted: {value}"
        );
    }
    assert!(value["model"].is_string(), "model is not a string: {value}");
    assert!(
        value["messages"].is_array(),
        "messages is not an array: {value}"
    );
    value
}

/// The input's `stream: true`, read independently of the bridge. Read
/// from a lossy UTF-8 copy: serde skips the fields the bridge ignores
/// without validating their UTF-8, so the bridge accepts invalid bytes there
/// (and never forwards them) where a `Value` parse would fail.
pub fn asks_to_stream(input: &[u8]) -> bool {
    serde_json::from_str::<Value>(&String::from_utf8_lossy(input))
        .is_ok_and(|v| v["stream"] == Value::Bool(true))
}

/// A client error body in Anthropic's shape.
pub fn check_anthropic_error(value: &Value) {
    assert_eq!(value["type"], "error", "{value}");
    assert!(value["error"]["type"].is_string(), "{value}");
    assert!(value["error"]["message"].is_string(), "{value}");
}

/// A client error body in OpenAI's shape.
pub fn check_openai_error(value: &Value) {
    let error = &value["error"];
    assert!(error["message"].is_string(), "{value}");
    assert!(error["type"].is_string(), "{value}");
    assert!(error.get("code").is_some(), "{value}");
}

pub fn json(bytes: &[u8]) -> Value {
    match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(e) => panic!(
            "output is not JSON ({e}): {}",
            String::from_utf8_lossy(bytes)
        ),
    }
}
