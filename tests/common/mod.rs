//! Shared test support: fixtures, golden files, and a strict checker of the
//! Anthropic streaming grammar that also reassembles what a client would see.
#![allow(dead_code)]

pub mod responses;

use serde_json::Value;
use std::path::PathBuf;

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

pub fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A recorded stream as SSE bytes: `.sse` as stored, `.chunks.jsonl` framed
/// as the fixture format documents (`data:` per line, `event:` for
/// Anthropic and OpenAI Responses, `[DONE]` for OpenAI Chat).
pub fn recorded_stream(name: &str) -> Vec<u8> {
    let bytes = fixture(name);
    if !name.ends_with(".chunks.jsonl") {
        return bytes;
    }
    let text = String::from_utf8(bytes).unwrap();
    let named = name.starts_with("anthropic/") || name.starts_with("responses/");
    let mut out = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if named {
            let kind: Value = serde_json::from_str(line).unwrap();
            out.push_str(&format!("event: {}\n", kind["type"].as_str().unwrap()));
        }
        out.push_str(&format!("data: {line}\n\n"));
    }
    if !named {
        out.push_str("data: [DONE]\n\n");
    }
    out.into_bytes()
}

/// Compares `actual` with the golden file `name`; `BLESS=1` rewrites it.
/// JSON goldens compare as values, anything else byte for byte.
pub fn assert_golden(name: &str, actual: &[u8]) {
    let path = fixture_path(name);
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("golden {name}: {e} (run with BLESS=1 to create)"));
    if name.ends_with(".json") {
        let expected: Value = serde_json::from_slice(&expected).unwrap();
        let actual: Value = serde_json::from_slice(actual).unwrap();
        assert_eq!(actual, expected, "golden {name} differs");
    } else {
        assert!(
            actual == expected.as_slice(),
            "golden {name} differs:\n--- actual\n{}\n--- expected\n{}",
            String::from_utf8_lossy(actual),
            String::from_utf8_lossy(&expected)
        );
    }
}

/// One reassembled content block.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub kind: String,
    /// text, thinking, or the tool input JSON text.
    pub text: String,
    pub signature: String,
    pub id: String,
    pub name: String,
}

/// What an Anthropic client reassembles from a stream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reassembled {
    pub id: String,
    pub model: String,
    pub blocks: Vec<Block>,
    pub stop_reason: Option<String>,
    pub stop_sequence: Option<String>,
    pub usage: Value,
    pub error: Option<(String, String)>,
    pub pings: usize,
}

/// Splits our SSE output into `(event, data)` pairs, insisting on the
/// exact framing the bridge writes: `event: X\ndata: {json}\n\n`.
pub fn events(sse: &[u8]) -> Vec<(String, Value)> {
    let text = std::str::from_utf8(sse).expect("output is UTF-8");
    assert!(
        text.is_empty() || text.ends_with("\n\n"),
        "output ends mid-event: {text:?}"
    );
    text.split_terminator("\n\n")
        .map(|block| {
            let (event, data) = block
                .split_once('\n')
                .unwrap_or_else(|| panic!("bad event {block:?}"));
            let event = event
                .strip_prefix("event: ")
                .unwrap_or_else(|| panic!("no event line in {block:?}"));
            let data = data
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("no data line in {block:?}"));
            let data: Value =
                serde_json::from_str(data).unwrap_or_else(|e| panic!("bad JSON {data:?}: {e}"));
            assert_eq!(
                data["type"], event,
                "event name and type differ in {block:?}"
            );
            (event.to_string(), data)
        })
        .collect()
}

/// Checks the Anthropic event grammar and reassembles the message:
/// `message_start`, `ping`, blocks opened one at a time with indexes 0, 1,
/// 2…, deltas matching their block's type, then `message_delta` and
/// `message_stop` exactly once, or one final `error`.
pub fn check_anthropic_stream(sse: &[u8]) -> Reassembled {
    check_anthropic_stream_with(sse, true)
}

/// `check_anthropic_stream`, with the check that each tool block's input is
/// a JSON object optional: the fuzz targets feed garbage arguments, which
/// the bridge streams on as they come (it cannot take back fragments it
/// already sent).
pub fn check_anthropic_stream_with(sse: &[u8], tool_input_must_parse: bool) -> Reassembled {
    let events = events(sse);
    let mut out = Reassembled::default();
    let mut iter = events.iter().peekable();
    if let Some((name, data)) = iter.peek() {
        if name == "error" {
            assert_eq!(
                events.len(),
                1,
                "an error before message_start must be alone"
            );
            out.error = Some(error_of(data));
            return out;
        }
    }
    let (name, start) = iter.next().expect("empty stream");
    assert_eq!(name, "message_start");
    out.id = start["message"]["id"].as_str().unwrap().to_string();
    out.model = start["message"]["model"].as_str().unwrap().to_string();
    assert_eq!(start["message"]["content"], Value::Array(vec![]));
    assert_eq!(
        iter.next().map(|e| e.0.as_str()),
        Some("ping"),
        "ping must follow message_start"
    );
    let mut open: Option<usize> = None;
    let mut finished = false;
    for (name, data) in iter {
        assert!(!finished, "event {name} after message_stop");
        match name.as_str() {
            "ping" => out.pings += 1,
            "content_block_start" => {
                assert!(open.is_none(), "block opened while block {open:?} is open");
                assert_eq!(
                    data["index"],
                    out.blocks.len(),
                    "block indexes must count 0, 1, 2…"
                );
                let block = &data["content_block"];
                let kind = block["type"].as_str().unwrap().to_string();
                match kind.as_str() {
                    "text" => assert_eq!(block["text"], ""),
                    "thinking" => assert_eq!(block["thinking"], ""),
                    "tool_use" => {
                        assert_eq!(block["input"], serde_json::json!({}));
                        assert!(
                            !block["id"].as_str().unwrap().is_empty(),
                            "tool_use without id"
                        );
                    }
                    other => panic!("unexpected block type {other}"),
                }
                out.blocks.push(Block {
                    kind,
                    text: String::new(),
                    signature: String::new(),
                    id: block["id"].as_str().unwrap_or("").to_string(),
                    name: block["name"].as_str().unwrap_or("").to_string(),
                });
                open = Some(out.blocks.len() - 1);
            }
            "content_block_delta" => {
                let index = open.expect("delta outside a block");
                assert_eq!(data["index"], index);
                let block = &mut out.blocks[index];
                let delta = &data["delta"];
                let (expected_kind, field) = match delta["type"].as_str().unwrap() {
                    "text_delta" => ("text", "text"),
                    "thinking_delta" => ("thinking", "thinking"),
                    "signature_delta" => ("thinking", "signature"),
                    "input_json_delta" => ("tool_use", "partial_json"),
                    other => panic!("unexpected delta {other}"),
                };
                assert_eq!(
                    block.kind, expected_kind,
                    "delta {delta} in a {} block",
                    block.kind
                );
                assert!(block.signature.is_empty(), "delta after the signature");
                let piece = delta[field].as_str().unwrap();
                if field == "signature" {
                    block.signature.push_str(piece);
                } else {
                    block.text.push_str(piece);
                }
            }
            "content_block_stop" => {
                let index = open.take().expect("stop outside a block");
                assert_eq!(data["index"], index);
                let block = &out.blocks[index];
                if block.kind == "thinking" {
                    assert!(
                        !block.signature.is_empty(),
                        "thinking block without signature"
                    );
                }
                if block.kind == "tool_use" && tool_input_must_parse {
                    let input: Value = serde_json::from_str(&block.text)
                        .unwrap_or_else(|e| panic!("tool input {:?} is not JSON: {e}", block.text));
                    assert!(input.is_object(), "tool input must be an object");
                }
            }
            "message_delta" => {
                assert!(open.is_none(), "message_delta with a block open");
                assert!(out.stop_reason.is_none(), "second message_delta");
                out.stop_reason = data["delta"]["stop_reason"].as_str().map(str::to_string);
                assert!(
                    out.stop_reason.is_some(),
                    "message_delta without stop_reason"
                );
                out.stop_sequence = data["delta"]["stop_sequence"].as_str().map(str::to_string);
                out.usage = data["usage"].clone();
            }
            "message_stop" => {
                assert!(
                    out.stop_reason.is_some(),
                    "message_stop before message_delta"
                );
                finished = true;
            }
            "error" => {
                out.error = Some(error_of(data));
                finished = true;
            }
            other => panic!("unexpected event {other}"),
        }
    }
    assert!(finished, "stream did not end with message_stop or error");
    out
}

fn error_of(data: &Value) -> (String, String) {
    (
        data["error"]["type"].as_str().unwrap().to_string(),
        data["error"]["message"].as_str().unwrap().to_string(),
    )
}

/// What the OpenAI chunks themselves say, computed independently of the
/// bridge: the oracle the converted streams are checked against.
#[derive(Debug, Default, PartialEq)]
pub struct OpenAiStreamFacts {
    pub content: String,
    pub reasoning: String,
    /// Per tool-call index: id, name, concatenated arguments.
    pub tools: Vec<(u64, String, String, String)>,
    pub finish_reason: Option<String>,
    pub usage: Option<Value>,
    pub id: String,
    pub model: String,
}

pub fn openai_stream_facts(sse: &[u8]) -> OpenAiStreamFacts {
    let text = String::from_utf8_lossy(sse).replace("\r\n", "\n");
    let mut facts = OpenAiStreamFacts::default();
    for line in text.lines() {
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let data = data.trim();
        if data == "[DONE]" || data.is_empty() {
            continue;
        }
        let chunk: Value = serde_json::from_str(data).unwrap();
        if facts.id.is_empty() {
            facts.id = chunk["id"].as_str().unwrap_or("").to_string();
            facts.model = chunk["model"].as_str().unwrap_or("").to_string();
        }
        if chunk["usage"].is_object() {
            facts.usage = Some(chunk["usage"].clone());
        }
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            let delta = &choice["delta"];
            facts
                .content
                .push_str(delta["content"].as_str().unwrap_or(""));
            let reasoning = delta["reasoning_content"]
                .as_str()
                .or(delta["reasoning"].as_str());
            facts.reasoning.push_str(reasoning.unwrap_or(""));
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                let index = call["index"].as_u64().unwrap();
                if !facts.tools.iter().any(|t| t.0 == index) {
                    facts
                        .tools
                        .push((index, String::new(), String::new(), String::new()));
                }
                let tool = facts.tools.iter_mut().find(|t| t.0 == index).unwrap();
                if let Some(id) = call["id"].as_str() {
                    tool.1 = id.to_string();
                }
                if let Some(name) = call["function"]["name"].as_str() {
                    tool.2 = name.to_string();
                }
                tool.3
                    .push_str(call["function"]["arguments"].as_str().unwrap_or(""));
            }
            if let Some(finish) = choice["finish_reason"].as_str() {
                facts
                    .finish_reason
                    .get_or_insert_with(|| finish.to_string());
            }
        }
    }
    facts
}

/// What an OpenAI client reassembles from a stream of chunks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chunks {
    pub id: String,
    pub created: u64,
    pub model: String,
    pub role: String,
    pub content: String,
    pub reasoning: String,
    /// Per tool-call index: id, name, concatenated arguments.
    pub tools: Vec<(u64, String, String, String)>,
    pub thinking_blocks: Vec<Value>,
    pub finish_reason: Option<String>,
    pub usage: Option<Value>,
    pub error: Option<Value>,
    pub pings: usize,
    pub done: bool,
}

/// Checks the OpenAI chunk grammar and reassembles the answer: every chunk
/// `data: {json}\n\n` with the same id/created/model, the role first,
/// `finish_reason` exactly once, a usage chunk (`choices: []`) only after
/// it, then `data: [DONE]`; or a final `{"error": …}` chunk.
pub fn check_openai_stream(sse: &[u8]) -> Chunks {
    let text = std::str::from_utf8(sse).expect("output is UTF-8");
    assert!(
        text.is_empty() || text.ends_with("\n\n"),
        "output ends mid-event: {text:?}"
    );
    let mut out = Chunks::default();
    let mut ended = false;
    for block in text.split_terminator("\n\n") {
        assert!(!ended, "data after the end of the stream: {block:?}");
        if block == ": ping" {
            out.pings += 1;
            continue;
        }
        let data = block
            .strip_prefix("data: ")
            .unwrap_or_else(|| panic!("bad event {block:?}"));
        assert!(!data.contains('\n'), "one line per chunk");
        if data == "[DONE]" {
            assert!(out.finish_reason.is_some(), "[DONE] before a finish_reason");
            out.done = true;
            ended = true;
            continue;
        }
        let chunk: Value =
            serde_json::from_str(data).unwrap_or_else(|e| panic!("bad JSON {data:?}: {e}"));
        if let Some(error) = chunk.get("error") {
            for key in ["message", "type", "code"] {
                assert!(
                    error.get(key).is_some(),
                    "error chunk without {key}: {chunk}"
                );
            }
            out.error = Some(error.clone());
            ended = true;
            continue;
        }
        assert_eq!(chunk["object"], "chat.completion.chunk");
        let id = chunk["id"].as_str().unwrap().to_string();
        let created = chunk["created"].as_u64().unwrap();
        let model = chunk["model"].as_str().unwrap().to_string();
        if out.id.is_empty() {
            (out.id, out.created, out.model) = (id, created, model);
        } else {
            assert_eq!(
                (&id, created, &model),
                (&out.id, out.created, &out.model),
                "one id/created/model per stream"
            );
        }
        let choices = chunk["choices"].as_array().unwrap();
        if choices.is_empty() {
            assert!(
                out.finish_reason.is_some(),
                "usage chunk before the finish chunk"
            );
            assert!(out.usage.is_none(), "second usage chunk");
            out.usage = Some(chunk["usage"].clone());
            continue;
        }
        assert!(out.usage.is_none(), "chunk after the usage chunk");
        assert_eq!(choices.len(), 1);
        let choice = &choices[0];
        assert_eq!(choice["index"], 0);
        assert!(
            out.finish_reason.is_none(),
            "chunk after the finish chunk: {chunk}"
        );
        let delta = &choice["delta"];
        if let Some(role) = delta["role"].as_str() {
            assert!(out.role.is_empty(), "role sent twice");
            out.role = role.to_string();
        } else {
            assert!(!out.role.is_empty(), "first chunk must carry the role");
        }
        out.content
            .push_str(delta["content"].as_str().unwrap_or(""));
        out.reasoning
            .push_str(delta["reasoning_content"].as_str().unwrap_or(""));
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let index = call["index"]
                .as_u64()
                .expect("tool call delta without index");
            match out.tools.iter_mut().find(|t| t.0 == index) {
                Some(tool) => {
                    assert!(call.get("id").is_none(), "id repeated for tool {index}");
                    tool.3
                        .push_str(call["function"]["arguments"].as_str().unwrap_or(""));
                }
                None => {
                    assert_eq!(
                        index,
                        out.tools.len() as u64,
                        "tool call indexes must count 0, 1, 2…"
                    );
                    assert_eq!(call["type"], "function");
                    out.tools.push((
                        index,
                        call["id"].as_str().unwrap().to_string(),
                        call["function"]["name"].as_str().unwrap().to_string(),
                        call["function"]["arguments"]
                            .as_str()
                            .unwrap_or("")
                            .to_string(),
                    ));
                }
            }
        }
        if let Some(blocks) = delta["thinking_blocks"].as_array() {
            out.thinking_blocks.extend(blocks.iter().cloned());
        }
        if let Some(finish) = choice["finish_reason"].as_str() {
            out.finish_reason = Some(finish.to_string());
        } else {
            assert!(
                choice["finish_reason"].is_null(),
                "finish_reason must be null until the end"
            );
        }
    }
    assert!(ended, "stream did not end with [DONE] or an error");
    out
}

/// What an Anthropic event stream says, computed independently of the
/// bridge: the oracle the converted OpenAI chunks are checked against.
#[derive(Debug, Default, PartialEq)]
pub struct AnthropicStreamFacts {
    pub id: String,
    pub model: String,
    pub text: String,
    pub thinking: Vec<(String, String)>,
    /// Client tool calls in order: id, name, concatenated input JSON.
    pub tools: Vec<(String, String, String)>,
    pub stop_reason: Option<String>,
    pub input_tokens: u64,
    pub cache_read: u64,
    pub cache_creation: u64,
    pub output_tokens: u64,
    pub error: Option<String>,
}

pub fn anthropic_stream_facts(sse: &[u8]) -> AnthropicStreamFacts {
    let text = String::from_utf8_lossy(sse).replace("\r\n", "\n");
    let mut facts = AnthropicStreamFacts::default();
    let mut kinds: Vec<(u64, String)> = Vec::new();
    let usage = |facts: &mut AnthropicStreamFacts, u: &Value| {
        if let Some(n) = u["input_tokens"].as_u64() {
            facts.input_tokens = n;
        }
        if let Some(n) = u["cache_read_input_tokens"].as_u64() {
            facts.cache_read = n;
        }
        if let Some(n) = u["cache_creation_input_tokens"].as_u64() {
            facts.cache_creation = n;
        }
        if let Some(n) = u["output_tokens"].as_u64() {
            facts.output_tokens = n;
        }
    };
    for line in text.lines() {
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let event: Value = serde_json::from_str(data.trim()).unwrap();
        match event["type"].as_str().unwrap() {
            "message_start" => {
                facts.id = event["message"]["id"].as_str().unwrap().to_string();
                facts.model = event["message"]["model"].as_str().unwrap().to_string();
                usage(&mut facts, &event["message"]["usage"]);
            }
            "content_block_start" => {
                let block = &event["content_block"];
                let kind = block["type"].as_str().unwrap().to_string();
                match kind.as_str() {
                    "text" => facts.text.push_str(block["text"].as_str().unwrap_or("")),
                    "thinking" => facts.thinking.push((String::new(), String::new())),
                    "tool_use" => facts.tools.push((
                        block["id"].as_str().unwrap().to_string(),
                        block["name"].as_str().unwrap().to_string(),
                        String::new(),
                    )),
                    _ => {}
                }
                kinds.push((event["index"].as_u64().unwrap(), kind));
            }
            "content_block_delta" => {
                let index = event["index"].as_u64().unwrap();
                let kind = kinds
                    .iter()
                    .rev()
                    .find(|k| k.0 == index)
                    .map(|k| k.1.as_str())
                    .unwrap_or("");
                let delta = &event["delta"];
                match (kind, delta["type"].as_str().unwrap()) {
                    ("text", "text_delta") => facts.text.push_str(delta["text"].as_str().unwrap()),
                    ("thinking", "thinking_delta") => facts
                        .thinking
                        .last_mut()
                        .unwrap()
                        .0
                        .push_str(delta["thinking"].as_str().unwrap()),
                    ("thinking", "signature_delta") => facts
                        .thinking
                        .last_mut()
                        .unwrap()
                        .1
                        .push_str(delta["signature"].as_str().unwrap()),
                    ("tool_use", "input_json_delta") => facts
                        .tools
                        .last_mut()
                        .unwrap()
                        .2
                        .push_str(delta["partial_json"].as_str().unwrap()),
                    _ => {}
                }
            }
            "message_delta" => {
                facts.stop_reason = event["delta"]["stop_reason"].as_str().map(str::to_string);
                usage(&mut facts, &event["usage"]);
            }
            "error" => facts.error = Some(event["error"]["message"].as_str().unwrap().to_string()),
            _ => {}
        }
    }
    facts
}
