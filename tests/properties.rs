//! Property tests: the conversion invariants over generated inputs
//! (proptest), as opposed to the recorded fixtures of the other tier-1 tests.
//!
//! - Streams: the output does not depend on how the upstream body is cut
//!   into pieces, nor on its line endings (`\n`, `\r\n`, `\r`); it always
//!   ends in exactly one terminal (`message_stop` or `error`; `[DONE]` or an
//!   error chunk), passes the client protocol's grammar checker, and a
//!   complete upstream stream loses nothing: text, reasoning, every tool
//!   call's id, name and arguments (interleaved by index), the stop reason
//!   and the usage come out as the upstream sent them.
//! - Requests: every converted request is JSON of the target protocol with
//!   only whitelisted fields at every level (the whitelists are below), and
//!   every tool_use in the input keeps its tool_result and vice versa:
//!   OpenAI tool messages follow their assistant message, Anthropic
//!   tool_result blocks open the user turn after their tool_use turn, and
//!   Anthropic turns alternate.
//! - Exchanges: a JSON completion answering a streaming request reaches the
//!   client as a stream holding the same message.
//!
//! `PROPTEST_CASES` sets the case count (default 256 per property; the
//! whole file runs in about 2 s).

mod common;

use anthropic_openai_bridge::config::Config;
use anthropic_openai_bridge::convert::anthropic_client::request::convert_request as convert_anthropic_request;
use anthropic_openai_bridge::convert::anthropic_client::response::{
    convert_response as convert_openai_completion, ResponseContext as AnthropicCtx,
};
use anthropic_openai_bridge::convert::anthropic_client::stream::StreamConverter as ToAnthropic;
use anthropic_openai_bridge::convert::openai_client::request::convert_request as convert_openai_request;
use anthropic_openai_bridge::convert::openai_client::response::ResponseContext as OpenAiCtx;
use anthropic_openai_bridge::convert::openai_client::stream::StreamConverter as ToOpenAi;
use anthropic_openai_bridge::convert::tool_names::ToolNames;
use anthropic_openai_bridge::exchange::{Exchange, Verdict};
use common::*;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::rc::Rc;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256)
}

// ------------------------------------------------------------- generators

/// Text with what JSON and SSE must survive: quotes, backslashes, braces,
/// newlines, multi-byte characters (split across pieces by the chunkings).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{0,10}",
        "\\PC{0,8}",
        "[\"\\\\\n{}\\[\\]: é🦀]{0,8}",
        Just("data: [DONE]\n\nevent: error".to_string()),
    ]
}

fn non_empty_text() -> impl Strategy<Value = String> {
    text().prop_filter("non-empty", |t| !t.is_empty())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map("[a-z_]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Value> {
    btree_map("[a-z_]{1,8}", json_value(), 0..4)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// Where to cut a body: sizes cycled over it (0 = an empty piece).
fn chunking() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        Just(Vec::new()),
        vec(0usize..8, 1..6),
        vec(1usize..200, 1..6),
    ]
}

fn pieces<'a>(body: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    if sizes.iter().all(|&s| s == 0) {
        return vec![body];
    }
    let mut out = Vec::new();
    let mut rest = body;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        out.push(piece);
        rest = tail;
    }
    out
}

/// Splits `text` into `n` fragments at char boundaries chosen by `cuts`.
fn fragments(text: &str, cuts: &[usize]) -> Vec<String> {
    let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).skip(1).collect();
    let mut at: Vec<usize> = cuts
        .iter()
        .filter(|_| !bounds.is_empty())
        .map(|c| bounds[c % bounds.len()])
        .collect();
    at.sort_unstable();
    at.dedup();
    let mut out = Vec::new();
    let mut start = 0;
    for cut in at {
        out.push(text[start..cut].to_string());
        start = cut;
    }
    out.push(text[start..].to_string());
    out
}

fn frame_sse(events: &[(Option<&str>, String)], line_ending: &str) -> Vec<u8> {
    let mut out = String::new();
    for (name, data) in events {
        if let Some(name) = name {
            out.push_str(&format!("event: {name}{line_ending}"));
        }
        if data.starts_with(':') {
            out.push_str(data);
        } else {
            out.push_str(&format!("data: {data}"));
        }
        out.push_str(line_ending);
        out.push_str(line_ending);
    }
    out.into_bytes()
}

const LINE_ENDINGS: [&str; 3] = ["\n", "\r\n", "\r"];

// ------------------------------------------ OpenAI chunks → Anthropic events

/// An OpenAI upstream's stream, as a spec the expected result is derived
/// from: reasoning, then content, then tool calls whose argument fragments
/// interleave by index, then the finish, usage and `[DONE]`; optionally cut
/// short or ended by an error chunk.
#[derive(Debug, Clone)]
struct OpenAiStream {
    reasoning: Vec<String>,
    content: Vec<String>,
    /// (client tool name, arguments as fragments)
    tools: Vec<(String, Vec<String>)>,
    /// Which tool's next fragment comes next (mod the tools left).
    interleave: Vec<usize>,
    /// Two tool-call entries in one chunk where possible.
    pair_tool_calls: bool,
    finish: Option<&'static str>,
    usage: Option<(u64, u64, u64)>,
    usage_in_finish_chunk: bool,
    done: bool,
    keep_alive_first: bool,
    quirks: u8,
    error_chunk: bool,
    /// Keep only this many events (`None`: the whole stream).
    cut: Option<usize>,
}

const CLIENT_TOOL_NAMES: [&str; 4] = ["get_weather", "get weather", "mcp__srv__read.file", "Bash"];

fn openai_stream() -> impl Strategy<Value = OpenAiStream> {
    let tool = (
        0..CLIENT_TOOL_NAMES.len(),
        json_object(),
        vec(any::<usize>(), 0..5),
    )
        .prop_map(|(name, args, cuts)| {
            let args = serde_json::to_string(&args).unwrap();
            (CLIENT_TOOL_NAMES[name].to_string(), fragments(&args, &cuts))
        });
    (
        (vec(text(), 0..4), vec(text(), 0..5), vec(tool, 0..4)),
        (vec(any::<usize>(), 0..24), any::<bool>()),
        prop_oneof![
            Just(Some("stop")),
            Just(Some("length")),
            Just(Some("tool_calls")),
            Just(Some("content_filter")),
            Just(None)
        ],
        (
            proptest::option::of((0u64..5000, 0u64..5000, 0u64..5000)),
            any::<bool>(),
        ),
        (
            any::<bool>(),
            any::<bool>(),
            prop::bool::weighted(0.1),
            0u8..8,
        ),
        proptest::option::weighted(0.2, 0usize..40),
    )
        .prop_map(
            |(
                (reasoning, content, tools),
                (interleave, pair_tool_calls),
                finish,
                (usage, usage_in_finish_chunk),
                (done, keep_alive_first, error_chunk, quirks),
                cut,
            )| {
                let usage =
                    usage.map(|(prompt, cached, completion)| (prompt + cached, cached, completion));
                OpenAiStream {
                    reasoning,
                    content,
                    tools,
                    interleave,
                    pair_tool_calls,
                    finish,
                    usage,
                    usage_in_finish_chunk,
                    done: done || finish.is_none(),
                    keep_alive_first,
                    quirks,
                    error_chunk,
                    cut,
                }
            },
        )
}

fn upstream_tool_names() -> ToolNames {
    ToolNames::new(CLIENT_TOOL_NAMES)
}

/// Server quirks (bits): 1 = `"usage": null` in every chunk without usage;
/// 2 = `"finish_reason": ""` until the finish; 4 = Azure's prompt-filter
/// chunk (no id, no choices) first.
fn openai_chunk(delta: Value, finish: Option<&str>, usage: Option<Value>, quirks: u8) -> String {
    let finish = match finish {
        None if quirks & 2 != 0 => json!(""),
        finish => json!(finish),
    };
    let mut chunk = json!({"id": "chatcmpl-prop", "object": "chat.completion.chunk", "created": 1,
        "model": "gpt-prop", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    match usage {
        Some(usage) => chunk["usage"] = usage,
        None if quirks & 1 != 0 => chunk["usage"] = Value::Null,
        None => {}
    }
    chunk.to_string()
}

impl OpenAiStream {
    fn usage_json(&self) -> Option<Value> {
        self.usage.map(|(prompt, cached, completion)| {
            json!({"prompt_tokens": prompt, "completion_tokens": completion,
                   "total_tokens": prompt + completion,
                   "prompt_tokens_details": {"cached_tokens": cached}})
        })
    }

    /// The data payloads in order (comments start with `:`), cut short
    /// when the spec says so.
    fn events(&self) -> Vec<String> {
        let mut events = self.all_events();
        if let Some(cut) = self.cut {
            events.truncate(cut);
        }
        events
    }

    fn all_events(&self) -> Vec<String> {
        let names = upstream_tool_names();
        let mut events = Vec::new();
        let chunk = |delta, finish, usage| openai_chunk(delta, finish, usage, self.quirks);
        if self.quirks & 4 != 0 {
            events.push(
                json!({"id": "", "object": "", "created": 0, "model": "", "choices": [],
                "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}]})
                .to_string(),
            );
        }
        if self.keep_alive_first {
            events.push(": OPENROUTER PROCESSING".to_string());
        }
        events.push(chunk(
            json!({"role": "assistant", "content": ""}),
            None,
            None,
        ));
        for piece in &self.reasoning {
            events.push(chunk(json!({"reasoning_content": piece}), None, None));
        }
        for piece in &self.content {
            events.push(chunk(json!({"content": piece}), None, None));
        }
        // Tool-call entries: each call's fragments in order, the calls
        // interleaved; a call's first entry carries its id and name.
        let mut queues: Vec<(usize, std::collections::VecDeque<&String>)> = self
            .tools
            .iter()
            .enumerate()
            .map(|(k, (_, args))| (k, args.iter().collect()))
            .collect();
        let mut started = vec![false; self.tools.len()];
        let mut entries = Vec::new();
        let mut picks = self.interleave.iter().cycle();
        while !queues.is_empty() {
            let pick = picks.next().copied().unwrap_or(0) % queues.len();
            // A call never starts before the ones with a lower index.
            let pick = match started.iter().position(|s| !s) {
                Some(first_new) if queues[pick].0 > first_new => queues
                    .iter()
                    .position(|(k, _)| *k == first_new)
                    .unwrap_or(pick),
                _ => pick,
            };
            let (k, queue) = &mut queues[pick];
            let fragment = queue.pop_front().unwrap();
            let mut entry = json!({"index": k, "function": {"arguments": fragment}});
            if !started[*k] {
                started[*k] = true;
                let (name, _) = &self.tools[*k];
                entry["id"] = json!(format!("call_{k}"));
                entry["type"] = json!("function");
                entry["function"]["name"] = json!(names.upstream(name));
            }
            entries.push(entry);
            if queue.is_empty() {
                queues.remove(pick);
            }
        }
        let mut entries = entries.into_iter().peekable();
        while let Some(entry) = entries.next() {
            let mut calls = vec![entry];
            if self.pair_tool_calls {
                if let Some(next) = entries.peek() {
                    if next["index"] != calls[0]["index"] {
                        calls.extend(entries.next());
                    }
                }
            }
            events.push(chunk(json!({"tool_calls": calls}), None, None));
        }
        if self.error_chunk {
            events.push(
                json!({"error": {"message": "prop upstream failure", "type": "server_error", "code": "boom"}})
                    .to_string(),
            );
        }
        if let Some(finish) = self.finish {
            let usage = self.usage_json().filter(|_| self.usage_in_finish_chunk);
            events.push(chunk(json!({}), Some(finish), usage));
        }
        if !self.usage_in_finish_chunk || self.finish.is_none() {
            if let Some(usage) = self.usage_json() {
                events.push(
                    json!({"id": "chatcmpl-prop", "object": "chat.completion.chunk", "created": 1,
                           "model": "gpt-prop", "choices": [], "usage": usage})
                    .to_string(),
                );
            }
        }
        if self.done {
            events.push("[DONE]".to_string());
        }
        events
    }

    fn sse(&self, line_ending: &str) -> Vec<u8> {
        let events: Vec<(Option<&str>, String)> =
            self.events().into_iter().map(|e| (None, e)).collect();
        frame_sse(&events, line_ending)
    }

    /// Whether the stream as sent is whole (not cut, no error chunk).
    fn complete(&self) -> bool {
        self.cut.is_none_or(|cut| cut >= self.all_events().len()) && !self.error_chunk
    }
}

fn anthropic_ctx() -> AnthropicCtx {
    AnthropicCtx {
        tool_names: upstream_tool_names(),
        model: "gpt-prop".to_string(),
        fallback_id: "msg_prop".to_string(),
    }
}

fn to_anthropic(body: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut converter = ToAnthropic::new(anthropic_ctx());
    let mut out = Vec::new();
    for piece in pieces(body, sizes) {
        converter.push(piece, &mut out);
    }
    converter.finish(&mut out);
    assert!(converter.is_done());
    out
}

fn terminal_count_anthropic(sse: &[u8]) -> usize {
    events(sse)
        .iter()
        .filter(|(name, _)| name == "message_stop" || name == "error")
        .count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// OpenAI upstream streams: chunking and line endings change nothing;
    /// one terminal; the grammar holds; a complete stream loses nothing.
    #[test]
    fn openai_streams_convert_the_same_under_any_chunking(
        stream in openai_stream(),
        sizes in chunking(),
        line_ending in 0..3usize,
    ) {
        let body = stream.sse("\n");
        let whole = to_anthropic(&body, &[]);
        prop_assert_eq!(&to_anthropic(&body, &sizes), &whole, "chunking changed the output");
        let other = stream.sse(LINE_ENDINGS[line_ending]);
        prop_assert_eq!(&to_anthropic(&other, &sizes), &whole, "line endings changed the output");
        prop_assert_eq!(terminal_count_anthropic(&whole), 1);
        let message = check_anthropic_stream(&whole);
        if !stream.complete() || !stream.done && stream.finish.is_none() {
            return Ok(());
        }
        prop_assert!(message.error.is_none(), "{:?}", message.error);
        let expect_reasoning: String = stream.reasoning.concat();
        let expect_text: String = stream.content.concat();
        let mut blocks = message.blocks.iter();
        if !expect_reasoning.is_empty() {
            let block = blocks.next().unwrap();
            prop_assert_eq!(&block.kind, "thinking");
            prop_assert_eq!(&block.text, &expect_reasoning);
        }
        if !expect_text.is_empty() {
            let block = blocks.next().unwrap();
            prop_assert_eq!(&block.kind, "text");
            prop_assert_eq!(&block.text, &expect_text);
        }
        for (k, (name, args)) in stream.tools.iter().enumerate() {
            let block = blocks.next().unwrap();
            prop_assert_eq!(&block.kind, "tool_use");
            prop_assert_eq!(&block.id, &format!("call_{k}"));
            prop_assert_eq!(&block.name, name);
            let sent: Value = serde_json::from_str(&args.concat()).unwrap();
            let got: Value = serde_json::from_str(&block.text).unwrap();
            prop_assert_eq!(got, sent);
        }
        prop_assert!(blocks.next().is_none());
        let stop = message.stop_reason.as_deref().unwrap();
        let expected_stop = match stream.finish {
            Some("length") => "max_tokens",
            Some("content_filter") => "refusal",
            Some("tool_calls") => "tool_use",
            _ if !stream.tools.is_empty() => "tool_use",
            _ => "end_turn",
        };
        prop_assert_eq!(stop, expected_stop);
        match stream.usage {
            Some((prompt, cached, completion)) => {
                prop_assert_eq!(&message.usage["input_tokens"], &json!(prompt - cached));
                prop_assert_eq!(&message.usage["cache_read_input_tokens"], &json!(cached));
                prop_assert_eq!(&message.usage["output_tokens"], &json!(completion));
            }
            None => prop_assert_eq!(&message.usage["output_tokens"], &json!(0)),
        }
    }
}

// ------------------------------------------ Anthropic events → OpenAI chunks

#[derive(Debug, Clone)]
enum AnthropicBlock {
    Text(Vec<String>),
    Thinking(Vec<String>, String),
    Tool(String, Vec<String>),
    /// A server-side tool (`server_tool_use` + its result): not a tool call.
    ServerTool(Vec<String>),
}

#[derive(Debug, Clone)]
struct AnthropicStream {
    blocks: Vec<AnthropicBlock>,
    pings: Vec<usize>,
    stop_reason: &'static str,
    usage: (u64, u64, u64, u64),
    error_at: Option<usize>,
    cut: Option<usize>,
}

fn anthropic_block() -> impl Strategy<Value = AnthropicBlock> {
    let fragmented = |s: String, cuts: Vec<usize>| fragments(&s, &cuts);
    prop_oneof![
        (text(), vec(any::<usize>(), 0..4))
            .prop_map(move |(t, c)| AnthropicBlock::Text(fragmented(t, c))),
        (text(), vec(any::<usize>(), 0..4), "[A-Za-z0-9+/]{4,16}")
            .prop_map(move |(t, c, s)| AnthropicBlock::Thinking(fragmented(t, c), s)),
        ("[a-z_]{1,12}", json_object(), vec(any::<usize>(), 0..4)).prop_map(move |(n, a, c)| {
            AnthropicBlock::Tool(n, fragmented(serde_json::to_string(&a).unwrap(), c))
        }),
        (json_object(), vec(any::<usize>(), 0..3)).prop_map(move |(a, c)| {
            AnthropicBlock::ServerTool(fragmented(serde_json::to_string(&a).unwrap(), c))
        }),
    ]
}

fn anthropic_stream() -> impl Strategy<Value = AnthropicStream> {
    (
        vec(anthropic_block(), 0..6),
        vec(0usize..30, 0..3),
        prop_oneof![
            Just("end_turn"),
            Just("max_tokens"),
            Just("tool_use"),
            Just("stop_sequence"),
            Just("refusal"),
            Just("pause_turn"),
            Just("model_context_window_exceeded")
        ],
        (0u64..5000, 0u64..5000, 0u64..5000, 0u64..5000),
        proptest::option::weighted(0.1, 0usize..30),
        proptest::option::weighted(0.2, 0usize..30),
    )
        .prop_map(
            |(blocks, pings, stop_reason, usage, error_at, cut)| AnthropicStream {
                blocks,
                pings,
                stop_reason,
                usage,
                error_at,
                cut,
            },
        )
}

impl AnthropicStream {
    fn events(&self) -> Vec<Value> {
        let mut events = self.all_events();
        if let Some(cut) = self.cut {
            events.truncate(cut);
        }
        events
    }

    fn all_events(&self) -> Vec<Value> {
        let (input, cache_read, cache_creation, output) = self.usage;
        let mut events = vec![json!({"type": "message_start", "message": {
            "id": "msg_prop", "type": "message", "role": "assistant", "model": "claude-prop",
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": input, "cache_read_input_tokens": cache_read,
                      "cache_creation_input_tokens": cache_creation, "output_tokens": 1}}})];
        let mut index = 0;
        let delta = |index: usize, delta: Value| json!({"type": "content_block_delta", "index": index, "delta": delta});
        for block in &self.blocks {
            let (start, deltas): (Value, Vec<Value>) = match block {
                AnthropicBlock::Text(pieces) => (
                    json!({"type": "text", "text": ""}),
                    pieces
                        .iter()
                        .map(|p| json!({"type": "text_delta", "text": p}))
                        .collect(),
                ),
                AnthropicBlock::Thinking(pieces, signature) => (
                    json!({"type": "thinking", "thinking": ""}),
                    pieces
                        .iter()
                        .map(|p| json!({"type": "thinking_delta", "thinking": p}))
                        .chain([json!({"type": "signature_delta", "signature": signature})])
                        .collect(),
                ),
                AnthropicBlock::Tool(name, pieces) => (
                    json!({"type": "tool_use", "id": format!("toolu_{index}"), "name": name, "input": {}}),
                    pieces
                        .iter()
                        .map(|p| json!({"type": "input_json_delta", "partial_json": p}))
                        .collect(),
                ),
                AnthropicBlock::ServerTool(pieces) => (
                    json!({"type": "server_tool_use", "id": format!("srvtoolu_{index}"), "name": "web_search", "input": {}}),
                    pieces
                        .iter()
                        .map(|p| json!({"type": "input_json_delta", "partial_json": p}))
                        .collect(),
                ),
            };
            events.push(
                json!({"type": "content_block_start", "index": index, "content_block": start}),
            );
            events.extend(deltas.into_iter().map(|d| delta(index, d)));
            events.push(json!({"type": "content_block_stop", "index": index}));
            index += 1;
            if let AnthropicBlock::ServerTool(_) = block {
                events.push(json!({"type": "content_block_start", "index": index, "content_block":
                    {"type": "web_search_tool_result", "tool_use_id": format!("srvtoolu_{}", index - 1), "content": []}}));
                events.push(json!({"type": "content_block_stop", "index": index}));
                index += 1;
            }
        }
        events.push(json!({"type": "message_delta",
            "delta": {"stop_reason": self.stop_reason, "stop_sequence": null},
            "usage": {"output_tokens": output}}));
        events.push(json!({"type": "message_stop"}));
        for &at in self.pings.iter().rev() {
            let at = 1 + at % events.len();
            events.insert(at, json!({"type": "ping"}));
        }
        if let Some(at) = self.error_at {
            let at = at % (events.len() + 1);
            events.insert(at, json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}));
        }
        events
    }

    fn sse(&self, line_ending: &str) -> Vec<u8> {
        let events = self.events();
        let framed: Vec<(Option<&str>, String)> = events
            .iter()
            .map(|e| (e["type"].as_str(), e.to_string()))
            .collect();
        frame_sse(&framed, line_ending)
    }

    fn complete(&self) -> bool {
        self.error_at.is_none() && self.cut.is_none_or(|cut| cut >= self.all_events().len())
    }
}

fn openai_ctx(include_usage: bool) -> OpenAiCtx {
    OpenAiCtx {
        model: "claude-prop".to_string(),
        created: 1_700_000_000,
        fallback_id: "chatcmpl-fallback".to_string(),
        include_usage,
    }
}

fn to_openai(body: &[u8], sizes: &[usize], include_usage: bool) -> Vec<u8> {
    let mut converter = ToOpenAi::new(openai_ctx(include_usage));
    let mut out = Vec::new();
    for piece in pieces(body, sizes) {
        converter.push(piece, &mut out);
    }
    converter.finish(&mut out);
    assert!(converter.is_done());
    out
}

fn terminal_count_openai(sse: &[u8]) -> usize {
    std::str::from_utf8(sse)
        .unwrap()
        .split_terminator("\n\n")
        .filter(|block| *block == "data: [DONE]" || block.starts_with("data: {\"error\""))
        .count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Anthropic upstream streams: chunking and line endings change
    /// nothing; one terminal; the grammar holds; a complete stream loses
    /// nothing (server-side tools are not client tool calls).
    #[test]
    fn anthropic_streams_convert_the_same_under_any_chunking(
        stream in anthropic_stream(),
        sizes in chunking(),
        line_ending in 0..3usize,
        include_usage in any::<bool>(),
    ) {
        let body = stream.sse("\n");
        let whole = to_openai(&body, &[], include_usage);
        prop_assert_eq!(&to_openai(&body, &sizes, include_usage), &whole, "chunking changed the output");
        let other = stream.sse(LINE_ENDINGS[line_ending]);
        prop_assert_eq!(&to_openai(&other, &sizes, include_usage), &whole, "line endings changed the output");
        prop_assert_eq!(terminal_count_openai(&whole), 1);
        let chunks = check_openai_stream(&whole);
        if !stream.complete() {
            return Ok(());
        }
        prop_assert!(chunks.done && chunks.error.is_none(), "{:?}", chunks.error);
        let mut text = String::new();
        let mut reasoning = String::new();
        let mut tools = Vec::new();
        let mut thinking_blocks = Vec::new();
        for (index, block) in stream.blocks.iter().enumerate() {
            match block {
                AnthropicBlock::Text(pieces) => text.push_str(&pieces.concat()),
                AnthropicBlock::Thinking(pieces, signature) => {
                    reasoning.push_str(&pieces.concat());
                    thinking_blocks.push(json!({"type": "thinking", "thinking": pieces.concat(), "signature": signature}));
                }
                AnthropicBlock::Tool(name, pieces) => {
                    let _ = index;
                    tools.push((name.clone(), pieces.concat()));
                }
                AnthropicBlock::ServerTool(_) => {}
            }
        }
        prop_assert_eq!(&chunks.content, &text);
        prop_assert_eq!(&chunks.reasoning, &reasoning);
        prop_assert_eq!(chunks.tools.len(), tools.len());
        for (k, ((got_k, id, name, args), (sent_name, sent_args))) in chunks.tools.iter().zip(&tools).enumerate() {
            prop_assert_eq!(*got_k, k as u64);
            prop_assert!(id.starts_with("toolu_"));
            prop_assert_eq!(name, sent_name);
            let got: Value = serde_json::from_str(args).unwrap();
            let sent: Value = serde_json::from_str(sent_args).unwrap();
            prop_assert_eq!(got, sent);
        }
        // Each thinking block comes back once, with its signature, for replay.
        let got_blocks: Vec<Value> = chunks.thinking_blocks.iter().map(|b| {
            json!({"type": b["type"], "thinking": b["thinking"].as_str().unwrap_or(""), "signature": b["signature"]})
        }).collect();
        prop_assert_eq!(got_blocks, thinking_blocks);
        let finish = match stream.stop_reason {
            "max_tokens" | "model_context_window_exceeded" => "length",
            "tool_use" => "tool_calls",
            "refusal" => "content_filter",
            _ => "stop",
        };
        prop_assert_eq!(chunks.finish_reason.as_deref(), Some(finish));
        if include_usage {
            let (input, cache_read, cache_creation, output) = stream.usage;
            let usage = chunks.usage.unwrap();
            prop_assert_eq!(&usage["prompt_tokens"], &json!(input + cache_read + cache_creation));
            prop_assert_eq!(&usage["completion_tokens"], &json!(output));
            prop_assert_eq!(&usage["prompt_tokens_details"]["cached_tokens"], &json!(cache_read));
        } else {
            prop_assert!(chunks.usage.is_none());
        }
    }
}

// --------------------------------------------------- request whitelists

fn keys_within(value: &Value, allowed: &[&str], what: &str) {
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object: {value}"));
    for key in object.keys() {
        assert!(
            allowed.contains(&key.as_str()),
            "{what}: field `{key}` is not whitelisted in {value}"
        );
    }
}

fn is_string_array(value: &Value) -> bool {
    value
        .as_array()
        .is_some_and(|a| a.iter().all(Value::is_string))
}

/// The OpenAI Chat Completions request whitelist, every level.
fn check_openai_request(request: &Value) {
    keys_within(
        request,
        &[
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
        ],
        "request",
    );
    assert!(request["model"].is_string());
    assert!(
        request.get("max_completion_tokens").is_none() || request.get("max_tokens").is_none(),
        "both max-token fields"
    );
    if let Some(stop) = request.get("stop") {
        assert!(stop.is_string() || is_string_array(stop), "stop: {stop}");
    }
    if let Some(options) = request.get("stream_options") {
        keys_within(options, &["include_usage"], "stream_options");
        assert_eq!(request["stream"], true);
    }
    if let Some(effort) = request.get("reasoning_effort") {
        assert!(
            ["low", "medium", "high"].contains(&effort.as_str().unwrap()),
            "{effort}"
        );
    }
    if let Some(tier) = request.get("service_tier") {
        assert!(
            ["auto", "default"].contains(&tier.as_str().unwrap()),
            "{tier}"
        );
    }
    if let Some(format) = request.get("response_format") {
        keys_within(format, &["type", "json_schema"], "response_format");
        assert_eq!(format["type"], "json_schema");
        keys_within(
            &format["json_schema"],
            &["name", "schema", "strict"],
            "json_schema",
        );
    }
    for tool in request["tools"].as_array().into_iter().flatten() {
        keys_within(tool, &["type", "function"], "tool");
        assert_eq!(tool["type"], "function");
        keys_within(
            &tool["function"],
            &["name", "description", "parameters"],
            "function",
        );
        let name = tool["function"]["name"].as_str().unwrap();
        assert!(
            !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "tool name {name:?} is invalid for OpenAI"
        );
    }
    if let Some(choice) = request.get("tool_choice") {
        assert!(request.get("tools").is_some(), "tool_choice without tools");
        match choice {
            Value::String(mode) => assert!(["auto", "required", "none"].contains(&mode.as_str())),
            _ => {
                keys_within(choice, &["type", "function"], "tool_choice");
                keys_within(&choice["function"], &["name"], "tool_choice.function");
            }
        }
    }
    if request.get("parallel_tool_calls").is_some() {
        assert!(
            request.get("tools").is_some(),
            "parallel_tool_calls without tools"
        );
    }
    for message in request["messages"].as_array().expect("messages array") {
        let role = message["role"].as_str().expect("role");
        match role {
            "system" | "user" => {
                keys_within(message, &["role", "content", "name"], role);
                check_openai_content(&message["content"], role == "user");
            }
            "assistant" => {
                keys_within(
                    message,
                    &["role", "content", "name", "tool_calls", "reasoning_content"],
                    role,
                );
                if !message["content"].is_null() {
                    check_openai_content(&message["content"], false);
                }
                for call in message["tool_calls"].as_array().into_iter().flatten() {
                    keys_within(call, &["id", "type", "function"], "tool_call");
                    assert!(call["id"].is_string());
                    assert_eq!(call["type"], "function");
                    keys_within(
                        &call["function"],
                        &["name", "arguments"],
                        "tool_call.function",
                    );
                    assert!(call["function"]["arguments"].is_string());
                }
            }
            "tool" => {
                keys_within(message, &["role", "content", "tool_call_id"], role);
                assert!(message["content"].is_string());
                assert!(message["tool_call_id"].is_string());
            }
            other => panic!("role {other} in an OpenAI request"),
        }
    }
}

fn check_openai_content(content: &Value, media_allowed: bool) {
    if content.is_string() {
        return;
    }
    for part in content.as_array().expect("content is a string or parts") {
        match part["type"].as_str().unwrap() {
            "text" => keys_within(part, &["type", "text"], "text part"),
            "image_url" if media_allowed => {
                keys_within(part, &["type", "image_url"], "image part");
                keys_within(&part["image_url"], &["url", "detail"], "image_url");
            }
            "file" if media_allowed => {
                keys_within(part, &["type", "file"], "file part");
                keys_within(&part["file"], &["filename", "file_data"], "file");
            }
            other => panic!("part type {other} here: {content}"),
        }
    }
}

/// The Anthropic Messages request whitelist, every level.
fn check_anthropic_request(request: &Value) {
    keys_within(
        request,
        &[
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
        ],
        "request",
    );
    assert!(request["model"].is_string());
    let max_tokens = request["max_tokens"].as_u64().expect("max_tokens");
    assert!(max_tokens >= 1);
    if let Some(t) = request.get("temperature") {
        assert!(
            (0.0..=1.0).contains(&t.as_f64().unwrap()),
            "temperature {t}"
        );
    }
    if let Some(stop) = request.get("stop_sequences") {
        assert!(is_string_array(stop));
        assert!(stop
            .as_array()
            .unwrap()
            .iter()
            .all(|s| !s.as_str().unwrap().trim().is_empty()));
    }
    if let Some(metadata) = request.get("metadata") {
        keys_within(metadata, &["user_id"], "metadata");
    }
    if let Some(thinking) = request.get("thinking") {
        keys_within(thinking, &["type", "budget_tokens"], "thinking");
        assert_eq!(thinking["type"], "enabled");
        let budget = thinking["budget_tokens"].as_u64().unwrap();
        assert!(
            budget >= 1024 && budget < max_tokens,
            "budget {budget} / max_tokens {max_tokens}"
        );
        assert!(request.get("temperature").is_none() && request.get("top_p").is_none());
    }
    if let Some(output) = request.get("output_config") {
        keys_within(output, &["format"], "output_config");
        keys_within(
            &output["format"],
            &["type", "schema"],
            "output_config.format",
        );
    }
    match request.get("system") {
        None | Some(Value::String(_)) => {}
        Some(blocks) => {
            for block in blocks.as_array().expect("system string or blocks") {
                keys_within(block, &["type", "text", "cache_control"], "system block");
                assert_eq!(block["type"], "text");
            }
        }
    }
    for tool in request["tools"].as_array().into_iter().flatten() {
        keys_within(
            tool,
            &["name", "description", "input_schema", "cache_control"],
            "tool",
        );
        assert!(tool["input_schema"].is_object());
    }
    if let Some(choice) = request.get("tool_choice") {
        keys_within(
            choice,
            &["type", "name", "disable_parallel_tool_use"],
            "tool_choice",
        );
        let kind = choice["type"].as_str().unwrap();
        assert!(["auto", "any", "none", "tool"].contains(&kind));
        assert_eq!(kind == "tool", choice.get("name").is_some());
        if request.get("thinking").is_some() {
            assert!(
                ["auto", "none"].contains(&kind),
                "forced tool use with thinking"
            );
        }
    }
    check_breakpoints(request);
    let messages = request["messages"].as_array().expect("messages array");
    let mut last_role = "";
    for message in messages {
        keys_within(message, &["role", "content"], "message");
        let role = message["role"].as_str().unwrap();
        assert!(["user", "assistant"].contains(&role), "role {role}");
        assert_ne!(role, last_role, "turns must alternate: {messages:?}");
        last_role = role;
        let content = &message["content"];
        if content.is_string() {
            continue;
        }
        let blocks = content.as_array().expect("content string or blocks");
        assert!(!blocks.is_empty(), "empty turn");
        for block in blocks {
            check_anthropic_block(block, role);
        }
    }
}

/// Prompt-cache breakpoints: at most 4, each `{"type":"ephemeral"}`, only
/// on tools, system blocks and the blocks of user turns (the block checks
/// allow the field nowhere else).
fn check_breakpoints(request: &Value) {
    fn collect<'v>(value: &'v Value, found: &mut Vec<&'v Value>) {
        match value {
            Value::Object(map) => {
                found.extend(map.get("cache_control"));
                map.values().for_each(|v| collect(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| collect(v, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    for key in ["tools", "system", "messages"] {
        if let Some(value) = request.get(key) {
            collect(value, &mut found);
        }
    }
    assert!(found.len() <= 4, "{} breakpoints", found.len());
    for mark in found {
        assert_eq!(mark, &serde_json::json!({"type": "ephemeral"}));
    }
}

/// A block's allowed keys, plus `cache_control` in a user turn.
fn block_keys(role: &str, keys: &[&'static str]) -> Vec<&'static str> {
    let mut keys = keys.to_vec();
    if role == "user" {
        keys.push("cache_control");
    }
    keys
}

fn check_anthropic_block(block: &Value, role: &str) {
    let kind = block["type"].as_str().expect("block type");
    match (role, kind) {
        (_, "text") => {
            keys_within(block, &block_keys(role, &["type", "text"]), "text block");
            assert!(
                !block["text"].as_str().unwrap().is_empty(),
                "empty text block"
            );
        }
        ("user", "image") | ("user", "document") => {
            keys_within(block, &block_keys(role, &["type", "source", "title"]), kind);
            let source = &block["source"];
            match source["type"].as_str().unwrap() {
                "base64" => keys_within(source, &["type", "media_type", "data"], "source"),
                "url" => keys_within(source, &["type", "url"], "source"),
                other => panic!("source type {other}"),
            }
        }
        ("user", "tool_result") => {
            keys_within(
                block,
                &block_keys(role, &["type", "tool_use_id", "content", "is_error"]),
                kind,
            );
            if let Some(content) = block["content"].as_array() {
                for inner in content {
                    check_anthropic_block(inner, "tool_result");
                }
            }
        }
        ("assistant", "tool_use") => {
            keys_within(block, &["type", "id", "name", "input"], kind);
            assert!(block["input"].is_object());
        }
        ("assistant", "thinking") => keys_within(block, &["type", "thinking", "signature"], kind),
        ("assistant", "redacted_thinking") => keys_within(block, &["type", "data"], kind),
        (role, kind) => panic!("a `{kind}` block in a {role} turn"),
    }
}

// ------------------------------------------- Anthropic request generator

#[derive(Debug, Clone)]
struct AnthropicConversation {
    request: Value,
    /// Tool-use ids with their tool's client name and input, in order.
    tool_uses: Vec<(String, String, Value)>,
}

fn anthropic_user_block() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => non_empty_text().prop_map(|t| json!({"type": "text", "text": t, "cache_control": {"type": "ephemeral"}})),
        1 => Just(json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}})),
        1 => Just(json!({"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}})),
        1 => Just(json!({"type": "document", "title": "doc.pdf", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}})),
        1 => non_empty_text().prop_map(|t| json!({"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": t}})),
    ]
}

fn anthropic_content(blocks: Vec<Value>, as_string: bool) -> Value {
    match blocks.as_slice() {
        [only] if as_string && only["type"] == "text" => only["text"].clone(),
        _ => Value::Array(blocks),
    }
}

/// One exchange of the conversation: the user's turn, the assistant's
/// answer with 0–3 tool calls, and the tool results in a user turn.
#[derive(Debug, Clone)]
struct Round {
    user: Vec<Value>,
    user_as_string: bool,
    thinking: Option<(String, bool)>,
    answer: Option<String>,
    calls: Vec<(usize, Value)>,
    results: Vec<(Value, bool, bool)>,
    result_order: Vec<usize>,
    text_after_results: Option<String>,
}

fn round() -> impl Strategy<Value = Round> {
    (
        (vec(anthropic_user_block(), 1..3), any::<bool>()),
        (
            proptest::option::of((text(), any::<bool>())),
            proptest::option::of(text()),
        ),
        vec((0..CLIENT_TOOL_NAMES.len(), json_object()), 0..4),
        vec(
            (
                prop_oneof![
                    text().prop_map(Value::from),
                    vec(anthropic_user_block(), 0..3).prop_map(Value::Array)
                ],
                any::<bool>(),
                any::<bool>(),
            ),
            4,
        ),
        vec(any::<usize>(), 4),
        proptest::option::of(non_empty_text()),
    )
        .prop_map(
            |(
                (user, user_as_string),
                (thinking, answer),
                calls,
                results,
                result_order,
                text_after_results,
            )| Round {
                user,
                user_as_string,
                thinking,
                answer,
                calls,
                results,
                result_order,
                text_after_results,
            },
        )
}

fn anthropic_conversation() -> impl Strategy<Value = AnthropicConversation> {
    (
        vec(round(), 1..4),
        prop_oneof![
            Just(Value::Null),
            text().prop_map(Value::from),
            vec(non_empty_text(), 1..3).prop_map(|texts| {
                let mut blocks: Vec<Value> = texts
                    .into_iter()
                    .map(|t| json!({"type": "text", "text": t, "cache_control": {"type": "ephemeral"}}))
                    .collect();
                blocks.insert(0, json!({"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1; cch=abc12;"}));
                Value::Array(blocks)
            }),
        ],
        (any::<bool>(), any::<bool>(), 0usize..6),
        (
            proptest::option::of(0u64..100_000),
            proptest::option::of(0u32..3),
            proptest::option::of(prop_oneof![Just("auto"), Just("standard_only"), Just("priority")]),
            proptest::option::of(prop_oneof![Just(json!({"type": "enabled", "budget_tokens": 2048})),
                Just(json!({"type": "adaptive"})), Just(json!({"type": "disabled"}))]),
            proptest::option::of("[a-z0-9]{1,100}"),
            vec(text(), 0..3),
        ),
    )
        .prop_map(|(rounds, system, (stream, server_tool, choice), (max_tokens, temperature, tier, thinking, user_id, stops))| {
            let mut messages = Vec::new();
            let mut tool_uses = Vec::new();
            for (r, round) in rounds.into_iter().enumerate() {
                messages.push(json!({"role": "user", "content": anthropic_content(round.user, round.user_as_string)}));
                let mut blocks = Vec::new();
                if let Some((thought, ours)) = round.thinking {
                    let signature = if ours {
                        anthropic_openai_bridge::convert::signature::sign(&thought)
                    } else {
                        "EqQBCkYIARgCIkB".to_string()
                    };
                    blocks.push(json!({"type": "thinking", "thinking": thought, "signature": signature}));
                }
                if let Some(answer) = round.answer {
                    blocks.push(json!({"type": "text", "text": answer}));
                }
                let mut ids = Vec::new();
                for (k, (tool, input)) in round.calls.iter().enumerate() {
                    let id = format!("toolu_{r}_{k}");
                    let name = CLIENT_TOOL_NAMES[*tool];
                    blocks.push(json!({"type": "tool_use", "id": id, "name": name, "input": input}));
                    tool_uses.push((id.clone(), name.to_string(), input.clone()));
                    ids.push(id);
                }
                messages.push(json!({"role": "assistant", "content": blocks}));
                if ids.is_empty() {
                    continue;
                }
                // The results, in an order of the client's choosing.
                let mut order: Vec<usize> = (0..ids.len()).collect();
                for (i, pick) in round.result_order.iter().enumerate().take(ids.len()) {
                    order.swap(i, pick % ids.len());
                }
                let mut results: Vec<Value> = order
                    .into_iter()
                    .map(|k| {
                        let (content, is_error, omit) = &round.results[k];
                        let mut result = json!({"type": "tool_result", "tool_use_id": ids[k], "content": content});
                        if *omit {
                            result.as_object_mut().unwrap().remove("content");
                        }
                        if *is_error {
                            result["is_error"] = json!(true);
                        }
                        result
                    })
                    .collect();
                if let Some(text) = round.text_after_results {
                    results.push(json!({"type": "text", "text": text}));
                }
                messages.push(json!({"role": "user", "content": results}));
            }
            let mut tools: Vec<Value> = CLIENT_TOOL_NAMES
                .iter()
                .map(|name| json!({"name": name, "description": "a tool", "input_schema": {"type": "object"},
                                   "cache_control": {"type": "ephemeral"}}))
                .collect();
            if server_tool {
                tools.push(json!({"type": "web_search_20250305", "name": "web_search", "max_uses": 3}));
            }
            let mut request = json!({"model": "claude-sonnet-4-5", "max_tokens": max_tokens.unwrap_or(1024),
                "messages": messages, "tools": tools, "stream": stream, "top_k": 5,
                "context_management": {"edits": []}, "unknown_field": {"x": 1}});
            if !system.is_null() {
                request["system"] = system;
            }
            if let Some(t) = temperature {
                request["temperature"] = json!(t);
            }
            if let Some(tier) = tier {
                request["service_tier"] = json!(tier);
            }
            if let Some(thinking) = thinking {
                request["thinking"] = thinking;
                request["output_config"] = json!({"effort": "high"});
            }
            if let Some(user_id) = user_id {
                request["metadata"] = json!({"user_id": user_id});
            }
            if !stops.is_empty() {
                request["stop_sequences"] = json!(stops);
            }
            request["tool_choice"] = match choice {
                0 => json!({"type": "auto"}),
                1 => json!({"type": "any", "disable_parallel_tool_use": true}),
                2 => json!({"type": "none"}),
                3 => json!({"type": "tool", "name": "get weather"}),
                _ => Value::Null,
            };
            if request["tool_choice"].is_null() {
                request.as_object_mut().unwrap().remove("tool_choice");
            }
            AnthropicConversation { request, tool_uses }
        })
}

fn openai_upstream(extra: &str) -> Config {
    Config::from_json(format!(r#"{{"upstream_protocol":"openai"{extra}}}"#).as_bytes()).unwrap()
}

fn anthropic_upstream(extra: &str) -> Config {
    Config::from_json(format!(r#"{{"upstream_protocol":"anthropic"{extra}}}"#).as_bytes()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Anthropic requests → OpenAI: whitelisted fields only, and every
    /// tool_use keeps its result: the tool messages answering an assistant
    /// message's calls follow it directly, one per call, nothing else.
    #[test]
    fn anthropic_requests_convert_to_whitelisted_openai_with_tool_pairs(
        conversation in anthropic_conversation(),
        max_tokens_field in any::<bool>(),
    ) {
        let config = openai_upstream(if max_tokens_field { r#","max_tokens_field":"max_tokens""# } else { "" });
        let body = serde_json::to_vec(&conversation.request).unwrap();
        let converted = convert_anthropic_request(&body, &config)
            .unwrap_or_else(|e| panic!("a valid request was rejected: {e:?}"));
        let request: Value = serde_json::from_slice(&converted.body).unwrap();
        check_openai_request(&request);
        prop_assert_eq!(converted.stream, conversation.request["stream"] == true);

        let messages = request["messages"].as_array().unwrap();
        let mut calls_seen = Vec::new();
        let mut i = 0;
        while i < messages.len() {
            let message = &messages[i];
            i += 1;
            prop_assert_ne!(&message["role"], "tool", "a tool message not right after its calls: {:?}", messages);
            let Some(calls) = message["tool_calls"].as_array() else { continue };
            let ids: BTreeSet<&str> = calls.iter().map(|c| c["id"].as_str().unwrap()).collect();
            prop_assert_eq!(ids.len(), calls.len(), "duplicate call ids");
            let mut answered = BTreeSet::new();
            while i < messages.len() && messages[i]["role"] == "tool" {
                answered.insert(messages[i]["tool_call_id"].as_str().unwrap());
                i += 1;
            }
            prop_assert_eq!(&answered, &ids, "calls and results differ");
            for call in calls {
                let name = call["function"]["name"].as_str().unwrap();
                let arguments: Value = serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
                calls_seen.push((
                    call["id"].as_str().unwrap().to_string(),
                    converted.tool_names.client(name).to_string(),
                    arguments,
                ));
            }
        }
        prop_assert_eq!(calls_seen, conversation.tool_uses);
    }
}

// ---------------------------------------------- OpenAI request generator

#[derive(Debug, Clone)]
struct OpenAiConversation {
    request: Value,
    /// Tool-call ids with their function name and parsed arguments.
    calls: Vec<(String, String, Value)>,
}

fn openai_user_content() -> impl Strategy<Value = Value> {
    let part = prop_oneof![
        4 => text().prop_map(|t| json!({"type": "text", "text": t})),
        1 => Just(json!({"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ", "detail": "high"}})),
        1 => Just(json!({"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}})),
        1 => Just(json!({"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}})),
    ];
    prop_oneof![
        non_empty_text().prop_map(Value::from),
        // Parts may be empty text, but one must be left to send: a request
        // with nothing left is a 400 (tests/openai_client_request.rs).
        (vec(part, 0..3), non_empty_text()).prop_map(|(mut parts, text)| {
            parts.push(json!({"type": "text", "text": text}));
            Value::Array(parts)
        }),
    ]
}

fn openai_conversation() -> impl Strategy<Value = OpenAiConversation> {
    let round = (
        openai_user_content(),
        proptest::option::weighted(0.3, non_empty_text()),
        (proptest::option::of(text()), any::<bool>()),
        vec(("[a-zA-Z0-9_-]{1,20}", json_object(), any::<bool>()), 0..4),
        vec(any::<usize>(), 4),
        vec(text(), 4),
        any::<bool>(),
    );
    (
        vec(round, 1..4),
        proptest::option::of(non_empty_text()),
        (
            proptest::option::of(prop_oneof![Just("minimal"), Just("low"), Just("medium"), Just("high"), Just("none")]),
            proptest::option::of(0u64..40_000),
            proptest::option::of(0u32..3),
            prop_oneof![Just(json!("auto")), Just(json!("required")), Just(json!("none")),
                Just(json!({"type": "function", "function": {"name": "f"}})), Just(Value::Null)],
            any::<bool>(),
            any::<bool>(),
        ),
    )
        .prop_map(|(rounds, system, (effort, max_tokens, temperature, tool_choice, parallel, stream))| {
            let mut messages = Vec::new();
            if let Some(system) = system {
                messages.push(json!({"role": "system", "content": system}));
            }
            let mut calls = Vec::new();
            for (r, (user, developer, (answer, answer_as_parts), tool_calls, order, results, user_after)) in rounds.into_iter().enumerate() {
                if let Some(developer) = developer {
                    messages.push(json!({"role": "developer", "content": developer}));
                }
                messages.push(json!({"role": "user", "content": user}));
                let mut assistant = json!({"role": "assistant", "content": null});
                if let Some(answer) = answer {
                    assistant["content"] = if answer_as_parts {
                        json!([{"type": "text", "text": answer}])
                    } else {
                        json!(answer)
                    };
                }
                let mut ids = Vec::new();
                let mut entries = Vec::new();
                for (k, (name, arguments, spaced)) in tool_calls.iter().enumerate() {
                    let id = format!("call_{r}_{k}");
                    let text = if *spaced {
                        serde_json::to_string_pretty(arguments).unwrap()
                    } else {
                        serde_json::to_string(arguments).unwrap()
                    };
                    entries.push(json!({"id": id, "type": "function", "function": {"name": name, "arguments": text}}));
                    calls.push((id.clone(), name.clone(), arguments.clone()));
                    ids.push(id);
                }
                if !entries.is_empty() {
                    assistant["tool_calls"] = json!(entries);
                }
                messages.push(assistant);
                let mut order_of: Vec<usize> = (0..ids.len()).collect();
                for (i, pick) in order.iter().enumerate().take(ids.len()) {
                    order_of.swap(i, pick % ids.len());
                }
                for k in order_of {
                    messages.push(json!({"role": "tool", "tool_call_id": ids[k], "content": results[k]}));
                }
                if user_after && !ids.is_empty() {
                    messages.push(json!({"role": "user", "content": "and then?"}));
                }
            }
            let mut request = json!({"model": "gpt-4o", "messages": messages, "stream": stream,
                "stream_options": {"include_usage": true},
                "tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}},
                          {"type": "function", "function": {"name": "g"}}],
                "frequency_penalty": 0.5, "seed": 7, "logit_bias": {"1": 2}, "n": 1, "unknown_field": true});
            if let Some(effort) = effort {
                request["reasoning_effort"] = json!(effort);
            }
            if let Some(max_tokens) = max_tokens {
                request["max_completion_tokens"] = json!(max_tokens + 1);
            }
            if let Some(t) = temperature {
                request["temperature"] = json!(t);
                request["top_p"] = json!(0.5);
            }
            if !tool_choice.is_null() {
                request["tool_choice"] = tool_choice;
            }
            if !parallel {
                request["parallel_tool_calls"] = json!(false);
            }
            OpenAiConversation { request, calls }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// OpenAI requests → Anthropic: whitelisted fields only, alternating
    /// turns, and every tool call keeps its result: the user turn after an
    /// assistant turn with tool_use blocks opens with exactly their
    /// tool_result blocks.
    #[test]
    fn openai_requests_convert_to_whitelisted_anthropic_with_tool_pairs(
        conversation in openai_conversation(),
        limit in proptest::option::of(1500u64..20_000),
    ) {
        let config = anthropic_upstream(&limit.map(|l| format!(r#","max_tokens_limit":{l}"#)).unwrap_or_default());
        let body = serde_json::to_vec(&conversation.request).unwrap();
        let converted = convert_openai_request(&body, &config)
            .unwrap_or_else(|e| panic!("a valid request was rejected: {e:?}"));
        let request: Value = serde_json::from_slice(&converted.body).unwrap();
        check_anthropic_request(&request);
        if let Some(limit) = limit {
            prop_assert!(request["max_tokens"].as_u64().unwrap() <= limit);
        }
        let turns = request["messages"].as_array().unwrap();
        let blocks = |turn: &Value| -> Vec<Value> {
            match &turn["content"] {
                Value::Array(blocks) => blocks.clone(),
                _ => Vec::new(),
            }
        };
        let mut uses_seen = Vec::new();
        for (t, turn) in turns.iter().enumerate() {
            let uses: Vec<Value> = blocks(turn).into_iter().filter(|b| b["type"] == "tool_use").collect();
            if turn["role"] == "user" {
                // Results appear only right after their tool_use turn.
                let previous_uses: BTreeSet<String> = t
                    .checked_sub(1)
                    .map(|p| blocks(&turns[p]).iter().filter(|b| b["type"] == "tool_use")
                        .map(|b| b["id"].as_str().unwrap().to_string()).collect())
                    .unwrap_or_default();
                let results: Vec<String> = blocks(turn).iter().filter(|b| b["type"] == "tool_result")
                    .map(|b| b["tool_use_id"].as_str().unwrap().to_string()).collect();
                prop_assert_eq!(results.iter().cloned().collect::<BTreeSet<_>>(), previous_uses, "turn {}", t);
                // …and first in their turn.
                let first_other = blocks(turn).iter().position(|b| b["type"] != "tool_result").unwrap_or(usize::MAX);
                prop_assert!(blocks(turn).iter().skip(first_other).all(|b| b["type"] != "tool_result"));
            }
            for block in uses {
                uses_seen.push((
                    block["id"].as_str().unwrap().to_string(),
                    block["name"].as_str().unwrap().to_string(),
                    block["input"].clone(),
                ));
            }
        }
        prop_assert_eq!(uses_seen, conversation.calls);
    }
}

// ---------------------------------------------------------- exchanges

fn openai_completion() -> impl Strategy<Value = Value> {
    (
        proptest::option::of(text()),
        proptest::option::of(text()),
        vec((0..CLIENT_TOOL_NAMES.len(), json_object()), 0..3),
        prop_oneof![Just("stop"), Just("length"), Just("tool_calls"), Just("content_filter")],
        (0u64..1000, 0u64..1000),
    )
        .prop_map(|(content, reasoning, calls, finish, (prompt, completion))| {
            let names = upstream_tool_names();
            let mut message = json!({"role": "assistant", "content": content});
            if let Some(reasoning) = reasoning {
                message["reasoning_content"] = json!(reasoning);
            }
            if !calls.is_empty() {
                message["tool_calls"] = calls
                    .iter()
                    .enumerate()
                    .map(|(k, (tool, args))| json!({"id": format!("call_{k}"), "type": "function",
                        "function": {"name": names.upstream(CLIENT_TOOL_NAMES[*tool]), "arguments": args.to_string()}}))
                    .collect();
            }
            json!({"id": "chatcmpl-prop", "object": "chat.completion", "created": 1, "model": "gpt-prop",
                   "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                   "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}})
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// A server that ignores `stream: true` and answers with one JSON
    /// completion: the Anthropic client gets a well-formed stream holding
    /// exactly the message the non-streaming conversion gives.
    #[test]
    fn a_json_completion_for_a_streaming_request_streams_the_same_message(
        completion in openai_completion(),
        sizes in chunking(),
    ) {
        let body = serde_json::to_vec(&completion).unwrap();
        let tools: Vec<Value> = CLIENT_TOOL_NAMES.iter()
            .map(|n| json!({"name": n, "input_schema": {"type": "object"}})).collect();
        let request = json!({"model": "claude", "max_tokens": 100, "stream": true, "tools": tools,
            "messages": [{"role": "user", "content": "hi"}]});
        let config = Rc::new(openai_upstream(""));
        let mut exchange = Exchange::new(config, "msg_fb".to_string());
        let headers = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
        };
        let verdict = exchange.on_request_headers(
            &headers(&[(":method", "POST"), (":path", "/v1/messages"), ("x-api-key", "sk")]), false);
        prop_assert!(matches!(verdict, Verdict::Continue(_)));
        exchange.on_request_body(request.to_string().as_bytes()).unwrap();
        let verdict = exchange.on_response_headers(
            &headers(&[(":status", "200"), ("content-type", "application/json")]), false, 0);
        let Verdict::Continue(edits) = verdict else { panic!("no local reply expected") };
        prop_assert!(edits.iter().any(|e| *e == anthropic_openai_bridge::convert::headers::HeaderEdit::set("content-type", "text/event-stream; charset=utf-8")));
        // The body arrives in pieces; the host hands it over whole.
        let whole: Vec<u8> = pieces(&body, &sizes).concat();
        let stream = exchange.on_buffered_response(&whole);
        let message = check_anthropic_stream(&stream);

        let ctx = AnthropicCtx { tool_names: upstream_tool_names(), model: "gpt".into(), fallback_id: "msg_fb".into() };
        let (expected, _) = convert_openai_completion(&body, &ctx);
        let expected: Value = serde_json::from_slice(&expected).unwrap();
        prop_assert!(message.error.is_none());
        prop_assert_eq!(&message.id, expected["id"].as_str().unwrap());
        prop_assert_eq!(message.stop_reason.as_deref(), expected["stop_reason"].as_str());
        prop_assert_eq!(&message.usage, &expected["usage"]);
        let expected_blocks = expected["content"].as_array().unwrap();
        prop_assert_eq!(message.blocks.len(), expected_blocks.len());
        for (got, want) in message.blocks.iter().zip(expected_blocks) {
            prop_assert_eq!(&got.kind, want["type"].as_str().unwrap());
            match got.kind.as_str() {
                "text" => prop_assert_eq!(&got.text, want["text"].as_str().unwrap()),
                "thinking" => {
                    prop_assert_eq!(&got.text, want["thinking"].as_str().unwrap());
                    prop_assert_eq!(&got.signature, want["signature"].as_str().unwrap());
                }
                _ => {
                    prop_assert_eq!(&got.id, want["id"].as_str().unwrap());
                    prop_assert_eq!(&got.name, want["name"].as_str().unwrap());
                    let input: Value = serde_json::from_str(&got.text).unwrap();
                    prop_assert_eq!(&input, &want["input"]);
                }
            }
        }
    }
}

#[test]
fn the_whitelist_checkers_reject_an_unknown_field() {
    let bad_openai =
        json!({"model": "m", "messages": [{"role": "user", "content": "x", "cache_control": {}}]});
    assert!(std::panic::catch_unwind(|| check_openai_request(&bad_openai)).is_err());
    let bad_anthropic = json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "n": 2});
    assert!(std::panic::catch_unwind(|| check_anthropic_request(&bad_anthropic)).is_err());
    let good =
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]});
    check_anthropic_request(&good);
    let _ = Map::<String, Value>::new();
}

// ------------------------------- Responses clients on an Anthropic upstream

fn responses_ctx() -> anthropic_openai_bridge::convert::responses_client::response::ResponseContext
{
    anthropic_openai_bridge::convert::responses_client::response::ResponseContext {
        model: "claude-prop".to_string(),
        created_at: 1_700_000_000,
        fallback_id: "msg_fallback".to_string(),
        ..Default::default()
    }
}

fn to_responses(body: &[u8], sizes: &[usize]) -> Vec<u8> {
    use anthropic_openai_bridge::convert::responses_client::stream::StreamConverter as ToResponses;
    let mut converter = ToResponses::new(responses_ctx());
    let mut out = Vec::new();
    for piece in pieces(body, sizes) {
        converter.push(piece, &mut out);
    }
    converter.finish(&mut out);
    assert!(converter.is_done());
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Anthropic upstream streams to a Responses client: chunking and line
    /// endings change nothing; every output passes the strict Responses
    /// grammar checker (one terminal, nothing after it, items and parts
    /// nested and adding up); a complete stream loses nothing.
    #[test]
    fn anthropic_streams_convert_to_the_responses_grammar_under_any_chunking(
        stream in anthropic_stream(),
        sizes in chunking(),
        line_ending in 0..3usize,
    ) {
        use anthropic_openai_bridge::convert::responses_client::reasoning::{carried_block, CarriedBlock};
        let body = stream.sse("\n");
        let whole = to_responses(&body, &[]);
        prop_assert_eq!(&to_responses(&body, &sizes), &whole, "chunking changed the output");
        let other = stream.sse(LINE_ENDINGS[line_ending]);
        prop_assert_eq!(&to_responses(&other, &sizes), &whole, "line endings changed the output");
        let got = common::responses::try_check_responses_stream(&whole);
        prop_assert!(got.is_ok(), "{:?}", got.err());
        let got = got.unwrap();
        let events = stream.events();
        let position = |kind: &str| events.iter().position(|e| e["type"] == kind);
        let failed = match (position("message_stop"), position("error")) {
            (None, _) => true,
            (Some(stop), Some(error)) => error < stop,
            (Some(_), None) => false,
        };
        prop_assert_eq!(got.terminal == "response.failed", failed, "{}", got.terminal);
        if !stream.complete() {
            return Ok(());
        }
        let mut text = String::new();
        let mut thinking = Vec::new();
        let mut tools = Vec::new();
        for block in &stream.blocks {
            match block {
                AnthropicBlock::Text(pieces) => text.push_str(&pieces.concat()),
                AnthropicBlock::Thinking(pieces, signature) => thinking.push((pieces.concat(), signature.clone())),
                AnthropicBlock::Tool(name, pieces) => tools.push((name.clone(), pieces.concat())),
                AnthropicBlock::ServerTool(_) => {}
            }
        }
        prop_assert_eq!(got.text(), text);
        let carried: Vec<(String, String)> = got.items_of("reasoning").iter().map(|item| {
            match carried_block(item["encrypted_content"].as_str().unwrap_or("")) {
                Some(CarriedBlock::Thinking { thinking, signature }) => (thinking.to_string(), signature.to_string()),
                other => panic!("reasoning item without its block: {other:?}"),
            }
        }).collect();
        prop_assert_eq!(carried, thinking);
        let calls = got.items_of("function_call");
        prop_assert_eq!(calls.len(), tools.len());
        for (call, (name, arguments)) in calls.iter().zip(&tools) {
            prop_assert!(call["call_id"].as_str().unwrap().starts_with("toolu_"));
            prop_assert_eq!(call["name"].as_str().unwrap(), name.as_str());
            let got: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
            let sent: Value = serde_json::from_str(arguments).unwrap();
            prop_assert_eq!(got, sent);
        }
        let (terminal, reason) = match stream.stop_reason {
            "max_tokens" | "model_context_window_exceeded" => ("response.incomplete", json!("max_output_tokens")),
            "refusal" => ("response.incomplete", json!("content_filter")),
            _ => ("response.completed", Value::Null),
        };
        prop_assert_eq!(got.terminal.as_str(), terminal);
        prop_assert_eq!(&got.response["incomplete_details"]["reason"], &reason);
        let (input, cache_read, cache_creation, output) = stream.usage;
        let usage = &got.response["usage"];
        prop_assert_eq!(&usage["input_tokens"], &json!(input + cache_read + cache_creation));
        prop_assert_eq!(&usage["input_tokens_details"]["cached_tokens"], &json!(cache_read));
        prop_assert_eq!(&usage["output_tokens"], &json!(output));
    }
}
