//! `/v1/messages/count_tokens` on an OpenAI upstream: the local estimate
//! measured against the real o200k tokenizer (tiktoken-rs, a dev-dependency:
//! no tokenizer tables go into the module), the route in each mode, and its
//! errors.

use anthropic_openai_bridge::config::Config;
use anthropic_openai_bridge::convert::anthropic_client::count_tokens::{
    count_request, estimate_text, image_tokens,
};
use anthropic_openai_bridge::convert::anthropic_client::request::convert_count_tokens;
use anthropic_openai_bridge::convert::headers::HeaderEdit;
use anthropic_openai_bridge::exchange::{route_for, Exchange, LocalReply, Route, Verdict};
use anthropic_openai_bridge::openai::ChatRequest;
use serde_json::{json, Value};
use std::rc::Rc;
use std::sync::OnceLock;
use tiktoken_rs::CoreBPE;

/// The documented bound (README "count_tokens"): the estimate is within
/// this fraction of the o200k count for every request measured.
const ERROR_BOUND: f64 = 0.10;

fn o200k() -> &'static CoreBPE {
    static BPE: OnceLock<CoreBPE> = OnceLock::new();
    BPE.get_or_init(|| tiktoken_rs::o200k_base().unwrap())
}

fn o200k_tokens(text: &str) -> u64 {
    o200k().encode_ordinary(text).len() as u64
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn config(json: &str) -> Config {
    Config::from_json(json.as_bytes()).unwrap()
}

/// (estimate, o200k count) of a count_tokens body, both over the request the
/// bridge builds and the same message/tool/image structure.
fn measure(body: &[u8]) -> (u64, u64) {
    let (converted, estimate) =
        convert_count_tokens(body, &config(r#"{"upstream_protocol":"openai"}"#)).unwrap();
    let chat: ChatRequest<'_> = serde_json::from_slice(&converted.body).unwrap();
    assert_eq!(count_request(&chat, &estimate_text), estimate);
    (estimate, count_request(&chat, &o200k_tokens))
}

/// Every Anthropic request in the fixtures: recorded Claude Code requests,
/// the kitchen sink, the converted OpenAI agent, and the benchmark bodies.
const REQUESTS: &[&str] = &[
    "requests/claude-code-2.1.197-recorded.json",
    "requests/claude-code-tool-round-trip.json",
    "requests/kitchen-sink.json",
    "requests/openai-agent-round-trip.to-anthropic.json",
    "bench/anthropic-claude-code.json",
    "bench/anthropic-claude-code-76k.json",
    "bench/anthropic-large.json",
    "bench/anthropic-small.json",
];

/// Short texts of other kinds than the fixtures hold.
fn texts() -> Vec<(&'static str, String)> {
    let prose = "The quick brown fox jumps over the lazy dog. ".repeat(20);
    let code = "fn main() {\n    let values: Vec<u64> = (0..10).map(|x| x * 2).collect();\n    println!(\"{:?}\", values);\n}\n".repeat(10);
    let json_text = serde_json::to_string_pretty(
        &json!({"user": {"id": 12345, "name": "Ada", "tags": ["a", "b"], "active": true}}),
    )
    .unwrap()
    .repeat(10);
    let multilingual = "héllo 世界 🎉 Grüße aus München, ¿qué tal? こんにちは世界。".repeat(10);
    vec![
        ("prose", prose),
        ("code", code),
        ("json", json_text),
        ("multilingual", multilingual),
    ]
}

fn text_request(text: &str) -> Vec<u8> {
    json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": text}]})
        .to_string()
        .into_bytes()
}

#[test]
fn the_estimate_is_within_the_documented_bound_of_o200k() {
    let mut rows = Vec::new();
    for name in REQUESTS {
        rows.push((name.to_string(), measure(&fixture(name))));
    }
    for (name, text) in texts() {
        rows.push((format!("({name} text)"), measure(&text_request(&text))));
    }
    let mut errors = Vec::new();
    println!("| request | o200k | estimate | error |\n|---|---:|---:|---:|");
    for (name, (estimate, exact)) in &rows {
        let error = (*estimate as f64 - *exact as f64) / *exact as f64;
        println!("| {name} | {exact} | {estimate} | {:+.1}% |", error * 100.0);
        errors.push(error);
    }
    let max = errors.iter().fold(0.0f64, |m, e| m.max(e.abs()));
    let mean = errors.iter().map(|e| e.abs()).sum::<f64>() / errors.len() as f64;
    println!(
        "max |error| {:.1}%, mean |error| {:.1}%",
        max * 100.0,
        mean * 100.0
    );
    for ((name, _), error) in rows.iter().zip(&errors) {
        assert!(
            error.abs() <= ERROR_BOUND,
            "{name}: error {:.1}%",
            error * 100.0
        );
    }
}

#[test]
fn messages_tools_and_images_are_counted_as_openai_documents() {
    let config = config(r#"{"upstream_protocol":"openai"}"#);
    let one = |body: Value| {
        let (converted, _) = convert_count_tokens(body.to_string().as_bytes(), &config).unwrap();
        let chat: ChatRequest<'_> = serde_json::from_slice(&converted.body).unwrap();
        count_request(&chat, &o200k_tokens)
    };
    // The cookbook: 3 per message + role + content, 3 to prime the reply.
    let hello = one(json!({"model": "m", "messages": [{"role": "user", "content": "Hello"}]}));
    assert_eq!(hello, 3 + o200k_tokens("user") + o200k_tokens("Hello") + 3);
    let with_system = one(
        json!({"model": "m", "system": "Be brief", "messages": [{"role": "user", "content": "Hello"}]}),
    );
    assert_eq!(
        with_system - hello,
        3 + o200k_tokens("system") + o200k_tokens("Be brief")
    );
    // A tool: 7 + `name:description`, 3 + 3 + `key:type:description` per
    // property, 12 at the end.
    let tool = json!({"name": "get_weather", "description": "Weather for a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string", "description": "The city."}}}});
    let with_tool = one(
        json!({"model": "m", "tools": [tool], "messages": [{"role": "user", "content": "Hello"}]}),
    );
    assert_eq!(
        with_tool - hello,
        7 + o200k_tokens("get_weather:Weather for a city")
            + 3
            + 3
            + o200k_tokens("city:string:The city")
            + 12
    );
    // Images: 85 + 170 per 512-pixel tile after scaling; low detail is 85.
    assert_eq!(image_tokens("https://example.com/cat.png", true), 85);
    assert_eq!(
        image_tokens("https://example.com/cat.png", false),
        85 + 170 * 4
    );
    assert_eq!(image_tokens(&png_url(100, 100), false), 85 + 170);
    assert_eq!(image_tokens(&png_url(2048, 4096), false), 85 + 170 * 6);
    let image = json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png_base64(1024, 1024)}}]}]});
    assert_eq!(one(image), 3 + o200k_tokens("user") + 85 + 170 * 4 + 3);
}

/// A PNG header (signature and IHDR) of the given size, base64.
fn png_base64(width: u32, height: u32) -> String {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    bytes.extend(width.to_be_bytes());
    bytes.extend(height.to_be_bytes());
    bytes.extend([8, 6, 0, 0, 0]);
    base64(&bytes)
}

fn png_url(width: u32, height: u32) -> String {
    format!("data:image/png;base64,{}", png_base64(width, height))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    while out.len() % 4 != 0 {
        out.push('=');
    }
    out
}

// ---------------------------------------------------------------- the route

fn exchange(config_json: &str) -> Exchange {
    Exchange::new(Rc::new(config(config_json)), "msg_fb".to_string())
}

fn request_headers(path: &str) -> Vec<(String, String)> {
    [
        (":method", "POST"),
        (":path", path),
        ("x-api-key", "sk-1"),
        ("anthropic-version", "2023-06-01"),
        ("content-type", "application/json"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect()
}

const BODY: &str = r#"{"model":"claude-sonnet-4-5","system":"Be brief","messages":[{"role":"user","content":"Hello, world"}]}"#;

fn json_of(reply: &LocalReply) -> Value {
    assert_eq!(reply.content_type, "application/json");
    serde_json::from_slice(&reply.body).unwrap()
}

#[test]
fn count_tokens_routes_only_for_anthropic_clients_on_openai() {
    use anthropic_openai_bridge::config::Protocol::*;
    let path = "/v1/messages/count_tokens?beta=true";
    assert_eq!(route_for(Openai, "POST", path), Route::CountTokens);
    assert_eq!(
        route_for(Openai, "POST", "/proxy/v1/messages/count_tokens"),
        Route::CountTokens
    );
    assert_eq!(route_for(Openai, "GET", path), Route::Passthrough);
    assert_eq!(route_for(Anthropic, "POST", path), Route::Passthrough);
    assert_eq!(
        route_for(Openai, "POST", "/v1/count_tokens"),
        Route::Passthrough
    );
}

#[test]
fn the_estimate_is_answered_locally_without_credentials_upstream() {
    let mut ex = exchange(r#"{"upstream_protocol":"openai"}"#);
    let Verdict::Continue(edits) = ex.on_request_headers(
        &request_headers("/v1/messages/count_tokens?beta=true"),
        false,
    ) else {
        panic!("headers continue; the body is answered")
    };
    assert!(edits.contains(&HeaderEdit::remove("x-api-key")));
    assert!(edits.contains(&HeaderEdit::remove("authorization")));
    assert!(!edits
        .iter()
        .any(|e| matches!(e, HeaderEdit::Set(n, _) if n == "authorization")));
    assert!(ex.converts_request());
    let reply = ex.on_request_body(BODY.as_bytes()).unwrap_err();
    assert_eq!(reply.status, 200);
    let (_, estimate) = convert_count_tokens(
        BODY.as_bytes(),
        &config(r#"{"upstream_protocol":"openai"}"#),
    )
    .unwrap();
    assert_eq!(json_of(&reply), json!({"input_tokens": estimate}));
    let (_, exact) = measure(BODY.as_bytes());
    assert!(estimate.abs_diff(exact) <= 2, "{estimate} vs {exact}");
    assert!(ex.report().model.is_none(), "nothing was sent upstream");
    assert!(!ex.converts_request());
}

#[test]
fn upstream_mode_sends_a_one_token_completion_and_answers_its_prompt_tokens() {
    let mut ex = exchange(
        r#"{"upstream_protocol":"openai","count_tokens":"upstream","model_map":{"claude-*":"gpt-4.1"}}"#,
    );
    let Verdict::Continue(edits) = ex.on_request_headers(
        &request_headers("/v1/messages/count_tokens?beta=true"),
        false,
    ) else {
        panic!()
    };
    assert!(edits.contains(&HeaderEdit::set(":path", "/v1/chat/completions")));
    assert!(edits.contains(&HeaderEdit::set("authorization", "Bearer sk-1")));
    let sent: Value =
        serde_json::from_slice(&ex.on_request_body(BODY.as_bytes()).unwrap()).unwrap();
    assert_eq!(
        sent,
        json!({"model": "gpt-4.1", "max_completion_tokens": 1, "messages": [
            {"role": "system", "content": "Be brief"},
            {"role": "user", "content": "Hello, world"}]})
    );
    let response = [(":status", "200"), ("content-type", "application/json")]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect::<Vec<_>>();
    let Verdict::Continue(edits) = ex.on_response_headers(&response, false, 0) else {
        panic!()
    };
    assert!(edits.contains(&HeaderEdit::set("content-type", "application/json")));
    let completion = br#"{"id":"c","object":"chat.completion","created":1,"model":"gpt-4.1","choices":[{"index":0,"message":{"role":"assistant","content":"H"},"finish_reason":"length"}],"usage":{"prompt_tokens":21,"completion_tokens":1,"total_tokens":22}}"#;
    let body: Value = serde_json::from_slice(&ex.on_buffered_response(completion)).unwrap();
    assert_eq!(body, json!({"input_tokens": 21}));
}

#[test]
fn upstream_mode_passes_upstream_errors_in_anthropic_shape() {
    let mut ex = exchange(r#"{"upstream_protocol":"openai","count_tokens":"upstream"}"#);
    ex.on_request_headers(&request_headers("/v1/messages/count_tokens"), false);
    ex.on_request_body(BODY.as_bytes()).unwrap();
    let response = [(":status", "401"), ("content-type", "application/json")]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect::<Vec<_>>();
    ex.on_response_headers(&response, false, 0);
    let body: Value = serde_json::from_slice(&ex.on_buffered_response(
        br#"{"error":{"message":"Incorrect API key","type":"invalid_request_error","code":"invalid_api_key"}}"#,
    ))
    .unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "authentication_error");
    assert_eq!(body["error"]["message"], "Incorrect API key");
}

#[test]
fn passthrough_mode_leaves_count_tokens_alone() {
    let mut ex = exchange(r#"{"upstream_protocol":"openai","count_tokens":"passthrough"}"#);
    let verdict = ex.on_request_headers(&request_headers("/v1/messages/count_tokens"), false);
    assert_eq!(verdict, Verdict::Continue(vec![]));
    assert_eq!(ex.route(), Route::Passthrough);
    assert!(!ex.converts_request());
}

#[test]
fn bad_count_tokens_bodies_get_the_same_400s_as_messages() {
    for body in [
        &b"{"[..],
        br#"{"model":"m","messages":[]}"#,
        br#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#,
        br#"{"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]}"#,
    ] {
        let mut count = exchange(r#"{"upstream_protocol":"openai"}"#);
        count.on_request_headers(&request_headers("/v1/messages/count_tokens"), false);
        let count = count.on_request_body(body).unwrap_err();
        let mut messages = exchange(r#"{"upstream_protocol":"openai"}"#);
        messages.on_request_headers(&request_headers("/v1/messages"), false);
        let messages = messages.on_request_body(body).unwrap_err();
        assert_eq!(count.status, 400);
        assert_eq!(count, messages, "{}", String::from_utf8_lossy(body));
    }
}
