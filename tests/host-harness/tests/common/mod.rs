//! Shared support for the tests that load the real bridge module.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use host_harness::{Chunking, Host, HostOptions, LogLevel};
use serde_json::Value;

/// The release module's bytes; a missing module fails the test with the
/// command that builds it (never a silent skip).
pub fn bridge_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| match host_harness::load_bridge_wasm() {
        Ok(b) => b,
        Err(msg) => panic!("{msg}"),
    })
}

pub const OPENAI_UPSTREAM: &str = r#"{"upstream_protocol":"openai"}"#;

/// A fresh VM started with `config`, which must be accepted.
pub fn host(config: &str) -> Host {
    let mut h = Host::with_options(bridge_wasm(), options()).unwrap_or_else(|e| panic!("{e}"));
    match h.start(config) {
        Ok(true) => h,
        Ok(false) => panic!(
            "configuration {config} rejected; logs:\n{}",
            logs(&h, LogLevel::Trace)
        ),
        Err(e) => panic!("{e}"),
    }
}

pub fn options() -> HostOptions {
    HostOptions::default()
}

pub fn openai_host() -> Host {
    host(OPENAI_UPSTREAM)
}

pub fn logs(h: &Host, min: LogLevel) -> String {
    h.logs()
        .iter()
        .filter(|l| l.level >= min)
        .map(|l| format!("{l}\n"))
        .collect()
}

/// No call the module made was one Envoy refuses.
pub fn assert_clean(h: &Host) {
    assert!(
        h.violations().is_empty(),
        "the module did things Envoy refuses:\n{}",
        h.violations().join("\n")
    );
    assert!(h.failure().is_none(), "VM failed: {:?}", h.failure());
}

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A recorded stream as SSE bytes: `.sse` as stored; `.chunks.jsonl` framed
/// as fixtures/SOURCES.md says (`data: <line>` per line, then `[DONE]`).
pub fn recorded_stream(name: &str) -> Vec<u8> {
    let bytes = fixture(name);
    if !name.ends_with(".chunks.jsonl") {
        return bytes;
    }
    let text = String::from_utf8(bytes).unwrap();
    let anthropic = name.starts_with("anthropic/");
    let mut out = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if anthropic {
            let v: Value = serde_json::from_str(line).unwrap();
            out.push_str(&format!("event: {}\n", v["type"].as_str().unwrap()));
        }
        out.push_str(&format!("data: {line}\n\n"));
    }
    if !anthropic {
        out.push_str("data: [DONE]\n\n");
    }
    out.into_bytes()
}

/// What an Anthropic SDK sends to `/v1/messages`.
pub const ANTHROPIC_HEADERS: &[(&str, &str)] = &[
    (":method", "POST"),
    (":scheme", "http"),
    (":authority", "bridge.local"),
    (":path", "/v1/messages"),
    ("content-type", "application/json"),
    ("accept", "application/json"),
    ("x-api-key", "sk-test-key"),
    ("anthropic-version", "2023-06-01"),
    ("anthropic-beta", "prompt-caching-2024-07-31"),
    ("x-stainless-lang", "python"),
    ("x-stainless-os", "Linux"),
    ("accept-encoding", "gzip, deflate"),
    ("user-agent", "Anthropic/Python 0.40.0"),
];

/// ANTHROPIC_HEADERS with `:path` replaced and `content-length` added.
pub fn anthropic_headers(path: &str, body_len: Option<usize>) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = ANTHROPIC_HEADERS
        .iter()
        .map(|(k, v)| {
            let v = if *k == ":path" { path } else { v };
            (k.to_string(), v.to_string())
        })
        .collect();
    if let Some(n) = body_len {
        h.push(("content-length".into(), n.to_string()));
    }
    h
}

pub fn pairs(h: &[(String, String)]) -> Vec<(&str, &str)> {
    h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

pub fn simple_request(stream: bool) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "stream": stream,
        "system": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": "What is the capital of the UK?"},
        ],
    }))
    .unwrap()
}

/// The outcome of one request/response through the module.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub request_headers: Option<Vec<(String, String)>>,
    pub request_body: Vec<u8>,
    pub status: Option<u16>,
    pub response_headers: Option<Vec<(String, String)>>,
    pub response_body: Vec<u8>,
    pub local_status: Option<u32>,
    pub response_complete: bool,
}

impl Outcome {
    pub fn response_header(&self, k: &str) -> Option<&str> {
        self.response_headers
            .as_ref()?
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.response_body).into_owned()
    }
}

/// Sends `req_body` (whole) to `/v1/messages`, then the upstream response
/// split by `chunking`.
pub fn exchange(
    h: &mut Host,
    req_body: &[u8],
    resp_headers: &[(&str, &str)],
    resp_body: &[u8],
    chunking: &Chunking,
) -> Outcome {
    let headers = anthropic_headers("/v1/messages", Some(req_body.len()));
    exchange_with(h, &headers, req_body, resp_headers, resp_body, chunking)
}

/// Sends `headers` + `req_body` (whole), then the upstream response split by
/// `chunking`.
pub fn exchange_with(
    h: &mut Host,
    headers: &[(String, String)],
    req_body: &[u8],
    resp_headers: &[(&str, &str)],
    resp_body: &[u8],
    chunking: &Chunking,
) -> Outcome {
    let mut s = h.http_stream();
    s.request(&pairs(headers), req_body, &Chunking::Whole)
        .unwrap_or_else(|e| panic!("{e}"));
    if s.local_response().is_none() {
        s.response(resp_headers, resp_body, chunking)
            .unwrap_or_else(|e| panic!("{e} (chunking {chunking:?})"));
    }
    let o = Outcome {
        request_headers: s.request_headers_out().map(|m| m.to_pairs()),
        request_body: s.request_body_out().to_vec(),
        status: s.response_status(),
        response_headers: s.response_headers_out().map(|m| m.to_pairs()),
        response_body: s.response_body_out().to_vec(),
        local_status: s.local_response().map(|l| l.status),
        response_complete: s.response_complete(),
    };
    s.finish().unwrap_or_else(|e| panic!("{e}"));
    o
}

pub const SSE_200: &[(&str, &str)] = &[
    (":status", "200"),
    ("content-type", "text/event-stream; charset=utf-8"),
    ("x-request-id", "req_upstream_1"),
];

pub const JSON_200: &[(&str, &str)] = &[
    (":status", "200"),
    ("content-type", "application/json"),
    ("content-length", "12345"),
];

/// Parses an Anthropic event stream strictly: every event is
/// `event: <type>\ndata: <json>\n\n` with the data's `type` equal to the
/// event name. Returns (type, data) pairs.
pub fn parse_anthropic_sse(bytes: &[u8]) -> Result<Vec<(String, Value)>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    if text.is_empty() {
        return Ok(Vec::new());
    }
    if !text.ends_with("\n\n") {
        return Err(format!(
            "stream does not end with a blank line: {:?}",
            &text[text.len().saturating_sub(80)..]
        ));
    }
    let mut out = Vec::new();
    for block in text[..text.len() - 2].split("\n\n") {
        let mut event = None;
        let mut data = None;
        for line in block.split('\n') {
            if let Some(v) = line.strip_prefix("event: ") {
                event = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("data: ") {
                data = Some(v.to_string());
            } else {
                return Err(format!("unexpected line {line:?} in event {block:?}"));
            }
        }
        let (Some(event), Some(data)) = (event, data) else {
            return Err(format!("event without event: or data: {block:?}"));
        };
        let v: Value =
            serde_json::from_str(&data).map_err(|e| format!("bad JSON in {block:?}: {e}"))?;
        if v["type"] != Value::String(event.clone()) {
            return Err(format!("event {event} carries type {}", v["type"]));
        }
        out.push((event, v));
    }
    Ok(out)
}

/// The grammar of a complete Anthropic stream: message_start, blocks that
/// open and close in index order one at a time, then message_delta +
/// message_stop — or an error event that ends it.
pub fn check_anthropic_stream(events: &[(String, Value)]) -> Result<(), String> {
    let mut it = events.iter().peekable();
    match it.next() {
        Some((t, _)) if t == "message_start" => {}
        Some((t, v)) if t == "error" => {
            return if it.next().is_none() && v["error"]["type"].is_string() {
                Ok(())
            } else {
                Err("error event must end the stream".into())
            };
        }
        other => return Err(format!("stream starts with {other:?}")),
    }
    let mut next_index = 0u64;
    let mut open: Option<u64> = None;
    let mut stopped = false;
    let mut delta_seen = false;
    for (t, v) in it {
        if stopped {
            return Err(format!("{t} after message_stop"));
        }
        match t.as_str() {
            "ping" => {}
            "content_block_start" => {
                if open.is_some() {
                    return Err("block opened while another is open".into());
                }
                let i = v["index"].as_u64().ok_or("index missing")?;
                if i != next_index {
                    return Err(format!("block index {i}, expected {next_index}"));
                }
                open = Some(i);
                next_index += 1;
            }
            "content_block_delta" => {
                if open != v["index"].as_u64() || open.is_none() {
                    return Err(format!("delta for a block that is not open: {v}"));
                }
            }
            "content_block_stop" => {
                if open != v["index"].as_u64() || open.is_none() {
                    return Err(format!("stop for a block that is not open: {v}"));
                }
                open = None;
            }
            "message_delta" => {
                if open.is_some() {
                    return Err("message_delta with a block open".into());
                }
                if delta_seen {
                    return Err("two message_delta events".into());
                }
                delta_seen = true;
            }
            "message_stop" => {
                if !delta_seen {
                    return Err("message_stop without message_delta".into());
                }
                stopped = true;
            }
            "error" => {
                if !v["error"]["type"].is_string() || !v["error"]["message"].is_string() {
                    return Err(format!("malformed error event {v}"));
                }
                return Ok(());
            }
            other => return Err(format!("unknown event {other}")),
        }
    }
    if stopped {
        Ok(())
    } else {
        Err("stream ended without message_stop or error".into())
    }
}

/// `{"type":"error","error":{"type":T,"message":M}}`; returns (T, M).
pub fn anthropic_error(body: &[u8]) -> (String, String) {
    let v: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "error body is not JSON ({e}): {}",
            String::from_utf8_lossy(body)
        )
    });
    assert_eq!(v["type"], "error", "not an Anthropic error: {v}");
    let t = v["error"]["type"]
        .as_str()
        .unwrap_or_else(|| panic!("error.type missing: {v}"));
    let m = v["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("error.message missing: {v}"));
    (t.to_string(), m.to_string())
}

/// The Anthropic error type for each status (docs/protocols.md#anthropic-error-types).
pub fn anthropic_error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    }
}

/// Chunkings for "every chunking from 1 byte per callback up to whole":
/// every size up to 64, a spread of larger sizes, even splits, the whole
/// body, and several of them again with an empty end_of_stream callback.
/// Bodies over 32 KiB (hundreds of thousands of callbacks at one byte each)
/// get one byte per callback once and a sparser spread of small sizes.
pub fn chunkings(len: usize) -> Vec<Chunking> {
    let large = len > 32 * 1024;
    let mut sizes: Vec<usize> = if large {
        vec![1, 3, 64]
    } else {
        (1..=64).collect()
    };
    for s in [97, 256, 1000, 1021, 4096, 16411, 65536] {
        if s < len {
            sizes.push(s);
        }
    }
    let mut out: Vec<Chunking> = sizes.into_iter().map(Chunking::Bytes).collect();
    for n in [2, 3, 5, 50] {
        out.push(Chunking::Count(n));
    }
    out.push(Chunking::Whole);
    let mut with_empty_eos = vec![Chunking::Whole, Chunking::Bytes(7), Chunking::Count(3)];
    if !large {
        with_empty_eos.push(Chunking::Bytes(1));
    }
    out.extend(with_empty_eos.into_iter().map(Chunking::then_empty_eos));
    out
}

/// Shows where two outputs first differ.
pub fn first_difference(a: &[u8], b: &[u8]) -> String {
    let i = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let from = i.saturating_sub(120);
    format!(
        "first difference at byte {i} (lengths {} vs {}):\n--- got\n{}\n--- want\n{}",
        a.len(),
        b.len(),
        String::from_utf8_lossy(&a[from..a.len().min(i + 120)]),
        String::from_utf8_lossy(&b[from..b.len().min(i + 120)])
    )
}

/// Checks that `b` is one well-formed JSON value, without a depth limit
/// (the bridge passes schemas through untouched, however deep; serde_json's
/// default parser stops at 128 levels).
pub fn is_valid_json(b: &[u8]) -> Result<(), String> {
    let s = std::str::from_utf8(b).map_err(|e| format!("not UTF-8: {e}"))?;
    let b = s.as_bytes();
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < b.len() && matches!(b[*i], b' ' | b'\t' | b'\n' | b'\r') {
            *i += 1;
        }
    };
    // Stack of containers: b'{' or b'['; `expect_value` tells what comes next.
    let mut stack: Vec<u8> = Vec::new();
    let mut expect_value = true;
    loop {
        ws(&mut i);
        if expect_value {
            let c = *b.get(i).ok_or("unexpected end")?;
            match c {
                b'{' | b'[' => {
                    stack.push(c);
                    i += 1;
                    ws(&mut i);
                    let close = if c == b'{' { b'}' } else { b']' };
                    if b.get(i) == Some(&close) {
                        stack.pop();
                        i += 1;
                        expect_value = false;
                    } else if c == b'{' {
                        i = json_string(b, i)?;
                        ws(&mut i);
                        if b.get(i) != Some(&b':') {
                            return Err(format!("expected ':' at {i}"));
                        }
                        i += 1;
                    }
                    continue;
                }
                b'"' => i = json_string(b, i)?,
                b't' if s[i..].starts_with("true") => i += 4,
                b'f' if s[i..].starts_with("false") => i += 5,
                b'n' if s[i..].starts_with("null") => i += 4,
                b'-' | b'0'..=b'9' => {
                    let start = i;
                    while i < b.len()
                        && matches!(b[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                    {
                        i += 1;
                    }
                    s[start..i]
                        .parse::<f64>()
                        .map_err(|_| format!("bad number at {start}"))?;
                }
                _ => return Err(format!("unexpected byte {c:?} at {i}")),
            }
            expect_value = false;
        } else {
            match stack.last() {
                None => {
                    return if i == b.len() {
                        Ok(())
                    } else {
                        Err(format!("trailing data at {i}"))
                    }
                }
                Some(&open) => {
                    let close = if open == b'{' { b'}' } else { b']' };
                    match b.get(i) {
                        Some(&b',') => {
                            i += 1;
                            if open == b'{' {
                                ws(&mut i);
                                i = json_string(b, i)?;
                                ws(&mut i);
                                if b.get(i) != Some(&b':') {
                                    return Err(format!("expected ':' at {i}"));
                                }
                                i += 1;
                            }
                            expect_value = true;
                        }
                        Some(c) if *c == close => {
                            stack.pop();
                            i += 1;
                        }
                        _ => return Err(format!("expected ',' or close at {i}")),
                    }
                }
            }
        }
    }
}

fn json_string(b: &[u8], mut i: usize) -> Result<usize, String> {
    if b.get(i) != Some(&b'"') {
        return Err(format!("expected a string at {i}"));
    }
    i += 1;
    while let Some(&c) = b.get(i) {
        match c {
            b'"' => return Ok(i + 1),
            b'\\' => match b.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => {
                    let hex = b.get(i + 2..i + 6).ok_or("short \\u escape")?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return Err(format!("bad \\u escape at {i}"));
                    }
                    i += 6;
                }
                _ => return Err(format!("bad escape at {i}")),
            },
            0..=0x1f => return Err(format!("control character in a string at {i}")),
            _ => i += 1,
        }
    }
    Err("unterminated string".into())
}

// ---------------------------------------------------------------- OpenAI clients

pub const ANTHROPIC_UPSTREAM: &str = r#"{"upstream_protocol":"anthropic"}"#;

/// What an OpenAI SDK sends to `/v1/chat/completions`.
pub const OPENAI_HEADERS: &[(&str, &str)] = &[
    (":method", "POST"),
    (":scheme", "http"),
    (":authority", "bridge.local"),
    (":path", "/v1/chat/completions"),
    ("content-type", "application/json"),
    ("accept", "application/json"),
    ("authorization", "Bearer sk-openai-key"),
    ("openai-organization", "org-1"),
    ("openai-project", "proj-1"),
    ("x-stainless-lang", "python"),
    ("x-stainless-retry-count", "0"),
    ("accept-encoding", "gzip, deflate"),
    ("user-agent", "OpenAI/Python 1.50.0"),
];

pub fn openai_headers(path: &str, body_len: Option<usize>) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = OPENAI_HEADERS
        .iter()
        .map(|(k, v)| {
            let v = if *k == ":path" { path } else { v };
            (k.to_string(), v.to_string())
        })
        .collect();
    if let Some(n) = body_len {
        h.push(("content-length".into(), n.to_string()));
    }
    h
}

pub fn openai_request(stream: bool, include_usage: bool) -> Vec<u8> {
    let mut v = serde_json::json!({
        "model": "claude-sonnet-4-5",
        "max_completion_tokens": 1024,
        "stream": stream,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "What is the capital of the UK?"},
        ],
    });
    if stream && include_usage {
        v["stream_options"] = serde_json::json!({"include_usage": true});
    }
    serde_json::to_vec(&v).unwrap()
}

pub fn openai_exchange(
    h: &mut Host,
    req_body: &[u8],
    resp_headers: &[(&str, &str)],
    resp_body: &[u8],
    chunking: &Chunking,
) -> Outcome {
    let headers = openai_headers("/v1/chat/completions", Some(req_body.len()));
    exchange_with(h, &headers, req_body, resp_headers, resp_body, chunking)
}

/// One item of an OpenAI-style event stream.
#[derive(Debug, Clone, PartialEq)]
pub enum OpenAiItem {
    Comment(String),
    Chunk(Value),
    Done,
}

/// Parses an OpenAI chunk stream strictly: `data: <json>\n\n`,
/// `data: [DONE]\n\n` and `: comment\n\n` items only.
pub fn parse_openai_sse(bytes: &[u8]) -> Result<Vec<OpenAiItem>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    if text.is_empty() {
        return Ok(Vec::new());
    }
    if !text.ends_with("\n\n") {
        return Err(format!(
            "stream does not end with a blank line: {:?}",
            &text[text.len().saturating_sub(80)..]
        ));
    }
    let mut out = Vec::new();
    for block in text[..text.len() - 2].split("\n\n") {
        if block.contains('\n') {
            return Err(format!("multi-line item {block:?}"));
        }
        if let Some(c) = block.strip_prefix(':') {
            out.push(OpenAiItem::Comment(c.trim().to_string()));
        } else if block == "data: [DONE]" {
            out.push(OpenAiItem::Done);
        } else if let Some(d) = block.strip_prefix("data: ") {
            let v: Value =
                serde_json::from_str(d).map_err(|e| format!("bad JSON in {block:?}: {e}"))?;
            out.push(OpenAiItem::Chunk(v));
        } else {
            return Err(format!("unexpected item {block:?}"));
        }
    }
    Ok(out)
}

/// A complete OpenAI stream: chunks of one completion (same id, created,
/// model; object `chat.completion.chunk`), then `[DONE]` — or an error
/// chunk that ends it.
pub fn check_openai_stream(items: &[OpenAiItem]) -> Result<(), String> {
    let mut ident: Option<(Value, Value, Value)> = None;
    let mut finished = false;
    for (i, item) in items.iter().enumerate() {
        match item {
            OpenAiItem::Comment(_) => {}
            OpenAiItem::Done => {
                if i + 1 != items.len() {
                    return Err("items after [DONE]".into());
                }
                return if finished {
                    Ok(())
                } else {
                    Err("[DONE] without a finish_reason".into())
                };
            }
            OpenAiItem::Chunk(v) => {
                if let Some(e) = v.get("error") {
                    if !e["message"].is_string() || !e["type"].is_string() {
                        return Err(format!("malformed error chunk {v}"));
                    }
                    return if i + 1 == items.len() {
                        Ok(())
                    } else {
                        Err("items after an error chunk".into())
                    };
                }
                if v["object"] != "chat.completion.chunk" {
                    return Err(format!("not a chunk: {v}"));
                }
                let id = (v["id"].clone(), v["created"].clone(), v["model"].clone());
                match &ident {
                    None => ident = Some(id),
                    Some(first) if *first != id => {
                        return Err(format!("chunk identity changed: {first:?} then {id:?}"))
                    }
                    _ => {}
                }
                let choices = v["choices"].as_array().ok_or(format!("no choices: {v}"))?;
                if choices.iter().any(|c| c["finish_reason"].is_string()) {
                    finished = true;
                }
            }
        }
    }
    Err("stream ended without [DONE] or an error chunk".into())
}

/// `{"error":{"message":M,"type":T,"param":null,"code":C}}`; returns (T, M).
pub fn openai_error(body: &[u8]) -> (String, String) {
    let v: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "error body is not JSON ({e}): {}",
            String::from_utf8_lossy(body)
        )
    });
    let e = &v["error"];
    let t = e["type"]
        .as_str()
        .unwrap_or_else(|| panic!("error.type missing: {v}"));
    let m = e["message"]
        .as_str()
        .unwrap_or_else(|| panic!("error.message missing: {v}"));
    assert!(
        e.get("param").is_some_and(Value::is_null),
        "error.param must be null: {v}"
    );
    assert!(e.get("code").is_some(), "error.code missing: {v}");
    (t.to_string(), m.to_string())
}
