//! Property tests for the Anthropic client on a Responses upstream
//! (proptest), in the style of `tests/properties.rs`:
//!
//! - Streams: generated Responses streams (reasoning with summary parts,
//!   encrypted or not; text and refusals; function calls; custom tool calls;
//!   built-in tool items; keep-alives and unknown events) convert the same
//!   under any chunking and line endings, end in exactly one terminal, pass
//!   the Anthropic grammar checker, and a complete stream loses nothing:
//!   every item's text, signature, call id, name and input, the stop reason
//!   and the usage.
//! - Requests: generated Anthropic conversations convert to Responses
//!   requests with only Responses fields, no item ids, every
//!   `function_call` answered by its `function_call_output` after it, and a
//!   `reasoning` item exactly for each `aob2.` thinking block, followed by
//!   the item that followed it.
//!
//! `PROPTEST_CASES` sets the case count (default 256 per property).

mod common;

use anthropic_openai_bridge::config::Config;
use anthropic_openai_bridge::convert::anthropic_client::response::ResponseContext;
use anthropic_openai_bridge::convert::anthropic_client_responses::request::convert_request;
use anthropic_openai_bridge::convert::anthropic_client_responses::stream::StreamConverter;
use anthropic_openai_bridge::convert::signature::sign;
use anthropic_openai_bridge::convert::tool_names::ToolNames;
use common::*;
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{json, Value};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256)
}

/// Text with what JSON and SSE must survive.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{0,10}",
        "\\PC{0,8}",
        "[\"\\\\\n{}\\[\\]: é🦀]{0,8}",
        Just("data: [DONE]\n\nevent: error".to_string()),
    ]
}

fn pieces_of() -> impl Strategy<Value = Vec<String>> {
    vec(text(), 0..4)
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

/// Splits `text` at char boundaries chosen by `cuts`.
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

const LINE_ENDINGS: [&str; 3] = ["\n", "\r\n", "\r"];

const UPSTREAM_TOOL_NAMES: [&str; 3] = ["get_weather", "mcp__srv__read_file", "Bash"];

fn tool_names() -> ToolNames {
    ToolNames::new(["get_weather", "mcp__srv__read.file", "Bash"])
}

// ------------------------------------------------------------- streams

#[derive(Debug, Clone)]
enum Spec {
    /// Summary parts (each as delta fragments), encrypted content; or raw
    /// reasoning text when `raw`.
    Reasoning {
        parts: Vec<Vec<String>>,
        encrypted: Option<String>,
        raw: bool,
    },
    Message {
        deltas: Vec<String>,
        refusal: bool,
    },
    Function {
        name: usize,
        arguments: Value,
        cuts: Vec<usize>,
        /// Arguments only in `output_item.done` (LM Studio).
        no_deltas: bool,
    },
    Custom {
        input: Vec<String>,
    },
    /// A built-in tool item (web search): no block.
    BuiltIn,
}

#[derive(Debug, Clone)]
struct ResponsesStream {
    items: Vec<Spec>,
    /// `completed`, `incomplete` (max_output_tokens), `failed`, `error`.
    terminal: &'static str,
    usage: (u64, u64, u64),
    keep_alive_at: Option<usize>,
    with_event_lines: bool,
    cut: Option<usize>,
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        (
            vec(pieces_of(), 0..3),
            proptest::option::of("[A-Za-z0-9_=-]{1,40}"),
            any::<bool>()
        )
            .prop_map(|(parts, encrypted, raw)| Spec::Reasoning {
                parts,
                encrypted,
                raw
            }),
        (pieces_of(), any::<bool>())
            .prop_map(|(deltas, refusal)| Spec::Message { deltas, refusal }),
        (
            0..3usize,
            proptest::collection::btree_map("[a-z]{1,4}", text(), 0..3),
            vec(0usize..50, 0..4),
            any::<bool>()
        )
            .prop_map(|(name, map, cuts, no_deltas)| Spec::Function {
                name,
                arguments: Value::Object(
                    map.into_iter().map(|(k, v)| (k, Value::from(v))).collect()
                ),
                cuts,
                no_deltas,
            }),
        pieces_of().prop_map(|input| Spec::Custom { input }),
        Just(Spec::BuiltIn),
    ]
}

fn responses_stream() -> impl Strategy<Value = ResponsesStream> {
    (
        vec(spec(), 0..5),
        prop_oneof![
            4 => Just("completed"),
            1 => Just("incomplete"),
            1 => Just("failed"),
            1 => Just("error"),
        ],
        (0u64..1000, 0u64..1000, 0u64..1000),
        proptest::option::of(0usize..30),
        any::<bool>(),
        proptest::option::of(0usize..40),
    )
        .prop_map(
            |(items, terminal, (a, b, c), keep_alive_at, with_event_lines, cut)| ResponsesStream {
                items,
                terminal,
                usage: (a.max(b), a.min(b), c),
                keep_alive_at,
                with_event_lines,
                cut,
            },
        )
}

impl ResponsesStream {
    fn all_events(&self) -> Vec<Value> {
        let mut events = vec![
            json!({"type": "response.created", "response": {"id": "resp_p", "object": "response",
            "status": "in_progress", "model": "gpt-p", "output": []}}),
        ];
        for (index, item) in self.items.iter().enumerate() {
            let i = index as u64;
            let id = format!("it_{index}");
            let call_id = format!("call_{index}");
            let (added, done, deltas): (Value, Value, Vec<Value>) = match item {
                Spec::Reasoning {
                    parts,
                    encrypted,
                    raw,
                } => {
                    let mut deltas = Vec::new();
                    for (part, fragments) in parts.iter().enumerate() {
                        for fragment in fragments {
                            deltas.push(match raw {
                                true => json!({"type": "response.reasoning_text.delta", "output_index": i,
                                    "item_id": id, "content_index": 0, "delta": fragment}),
                                false => json!({"type": "response.reasoning_summary_text.delta", "output_index": i,
                                    "item_id": id, "summary_index": part, "delta": fragment}),
                            });
                        }
                    }
                    let mut done = json!({"type": "reasoning", "id": id, "summary": []});
                    if let Some(encrypted) = encrypted {
                        done["encrypted_content"] = json!(encrypted);
                    }
                    (
                        json!({"type": "reasoning", "id": id, "summary": []}),
                        done,
                        deltas,
                    )
                }
                Spec::Message { deltas, refusal } => {
                    let kind = match refusal {
                        true => "response.refusal.delta",
                        false => "response.output_text.delta",
                    };
                    let events = deltas
                        .iter()
                        .map(|d| json!({"type": kind, "output_index": i, "item_id": id, "content_index": 0, "delta": d}))
                        .collect();
                    let part = match refusal {
                        true => json!({"type": "refusal", "refusal": deltas.concat()}),
                        false => {
                            json!({"type": "output_text", "text": deltas.concat(), "annotations": []})
                        }
                    };
                    let item =
                        json!({"type": "message", "id": id, "role": "assistant", "content": []});
                    let mut done = item.clone();
                    done["content"] = json!([part]);
                    (item, done, events)
                }
                Spec::Function {
                    name,
                    arguments,
                    cuts,
                    no_deltas,
                } => {
                    let text = arguments.to_string();
                    let name = UPSTREAM_TOOL_NAMES[*name];
                    let deltas = match no_deltas {
                        true => Vec::new(),
                        false => fragments(&text, cuts)
                            .into_iter()
                            .map(|f| json!({"type": "response.function_call_arguments.delta", "output_index": i,
                                "item_id": id, "delta": f}))
                            .collect(),
                    };
                    let item = json!({"type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": ""});
                    let mut done = item.clone();
                    done["arguments"] = json!(text);
                    (item, done, deltas)
                }
                Spec::Custom { input } => {
                    let deltas = input
                        .iter()
                        .map(|f| json!({"type": "response.custom_tool_call_input.delta", "output_index": i,
                            "item_id": id, "delta": f}))
                        .collect();
                    let item = json!({"type": "custom_tool_call", "id": id, "call_id": call_id, "name": "apply_patch", "input": ""});
                    let mut done = item.clone();
                    done["input"] = json!(input.concat());
                    (item, done, deltas)
                }
                Spec::BuiltIn => (
                    json!({"type": "web_search_call", "id": id, "status": "in_progress"}),
                    json!({"type": "web_search_call", "id": id, "status": "completed",
                        "action": {"type": "search", "query": "q"}}),
                    vec![
                        json!({"type": "response.web_search_call.searching", "output_index": i, "item_id": id}),
                    ],
                ),
            };
            events.push(
                json!({"type": "response.output_item.added", "output_index": i, "item": added}),
            );
            events.extend(deltas);
            events.push(
                json!({"type": "response.output_item.done", "output_index": i, "item": done}),
            );
        }
        let (input, cached, output) = self.usage;
        let usage = json!({"input_tokens": input, "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": output, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": input + output});
        events.push(match self.terminal {
            "completed" => json!({"type": "response.completed", "response": {"id": "resp_p", "status": "completed",
                "output": [], "usage": usage}}),
            "incomplete" => json!({"type": "response.incomplete", "response": {"id": "resp_p", "status": "incomplete",
                "incomplete_details": {"reason": "max_output_tokens"}, "output": [], "usage": usage}}),
            "failed" => json!({"type": "response.failed", "response": {"id": "resp_p", "status": "failed",
                "error": {"code": "server_error", "message": "failed"}, "output": []}}),
            _ => json!({"type": "error", "code": "rate_limit_exceeded", "message": "slow", "param": null}),
        });
        events
    }

    fn events(&self) -> Vec<Value> {
        let mut events = self.all_events();
        if let Some(cut) = self.cut {
            events.truncate(cut);
        }
        events
    }

    fn complete(&self) -> bool {
        self.cut.is_none_or(|cut| cut >= self.all_events().len())
    }

    fn sse(&self, line_ending: &str) -> Vec<u8> {
        let mut out = String::new();
        for (n, event) in self.events().iter().enumerate() {
            if self.keep_alive_at == Some(n) {
                out.push_str(&format!(": keep-alive{line_ending}{line_ending}"));
            }
            if self.with_event_lines {
                out.push_str(&format!(
                    "event: {}{line_ending}",
                    event["type"].as_str().unwrap()
                ));
            }
            out.push_str(&format!("data: {event}{line_ending}{line_ending}"));
        }
        out.into_bytes()
    }
}

fn ctx() -> ResponseContext {
    ResponseContext {
        tool_names: tool_names(),
        model: "gpt-prop".to_string(),
        fallback_id: "msg_prop".to_string(),
    }
}

fn to_anthropic(body: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut converter = StreamConverter::new(ctx());
    let mut out = Vec::new();
    for piece in pieces(body, sizes) {
        converter.push(piece, &mut out);
    }
    converter.finish(&mut out);
    assert!(converter.is_done());
    out
}

fn terminals(sse: &[u8]) -> usize {
    events(sse)
        .iter()
        .filter(|(name, _)| name == "message_stop" || name == "error")
        .count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Responses upstream streams: chunking and line endings change
    /// nothing; one terminal; the grammar holds; a complete stream loses
    /// nothing.
    #[test]
    fn responses_streams_convert_the_same_under_any_chunking(
        stream in responses_stream(),
        sizes in chunking(),
        line_ending in 0..3usize,
    ) {
        let body = stream.sse("\n");
        let whole = to_anthropic(&body, &[]);
        prop_assert_eq!(&to_anthropic(&body, &sizes), &whole, "chunking changed the output");
        let other = stream.sse(LINE_ENDINGS[line_ending]);
        prop_assert_eq!(&to_anthropic(&other, &sizes), &whole, "line endings changed the output");
        prop_assert_eq!(terminals(&whole), 1);
        let message = check_anthropic_stream(&whole);
        if !stream.complete() {
            prop_assert!(message.error.is_some(), "a cut stream must end in an error");
            return Ok(());
        }
        match stream.terminal {
            "failed" | "error" => {
                prop_assert!(message.error.is_some());
                return Ok(());
            }
            _ => prop_assert!(message.error.is_none(), "{:?}", message.error),
        }
        let mut blocks = message.blocks.iter();
        let mut refused = false;
        let mut tools = false;
        for (index, item) in stream.items.iter().enumerate() {
            match item {
                Spec::Reasoning { parts, encrypted, raw } => {
                    let separator = if *raw { "" } else { "\n\n" };
                    let text = parts
                        .iter()
                        .map(|p| p.concat())
                        .filter(|p| !p.is_empty())
                        .collect::<Vec<_>>()
                        .join(separator);
                    let signature = match encrypted {
                        Some(encrypted) => format!("aob2.{encrypted}"),
                        None if text.is_empty() => continue,
                        None => sign(&text),
                    };
                    let block = blocks.next().unwrap();
                    prop_assert_eq!(&block.kind, "thinking");
                    prop_assert_eq!(&block.text, &text);
                    prop_assert_eq!(&block.signature, &signature);
                }
                Spec::Message { deltas, refusal } => {
                    let text = deltas.concat();
                    refused |= *refusal && !text.is_empty();
                    if text.is_empty() {
                        continue;
                    }
                    let block = blocks.next().unwrap();
                    prop_assert_eq!(&block.kind, "text");
                    prop_assert_eq!(&block.text, &text);
                }
                Spec::Function { name, arguments, .. } => {
                    tools = true;
                    let block = blocks.next().unwrap();
                    prop_assert_eq!(&block.kind, "tool_use");
                    prop_assert_eq!(&block.id, &format!("call_{index}"));
                    let names = tool_names();
                    prop_assert_eq!(block.name.as_str(), names.client(UPSTREAM_TOOL_NAMES[*name]));
                    let got: Value = serde_json::from_str(&block.text).unwrap();
                    prop_assert_eq!(&got, arguments);
                }
                Spec::Custom { input } => {
                    tools = true;
                    let block = blocks.next().unwrap();
                    prop_assert_eq!(&block.name, "apply_patch");
                    let got: Value = serde_json::from_str(&block.text).unwrap();
                    prop_assert_eq!(got, json!({"input": input.concat()}));
                }
                Spec::BuiltIn => {}
            }
        }
        prop_assert!(blocks.next().is_none(), "extra blocks");
        let expected = match (refused, stream.terminal) {
            (true, _) => "refusal",
            (false, "incomplete") => "max_tokens",
            _ if tools => "tool_use",
            _ => "end_turn",
        };
        prop_assert_eq!(message.stop_reason.as_deref(), Some(expected));
        let (input, cached, output) = stream.usage;
        prop_assert_eq!(&message.usage["input_tokens"], &json!(input - cached));
        prop_assert_eq!(&message.usage["cache_read_input_tokens"], &json!(cached));
        prop_assert_eq!(&message.usage["output_tokens"], &json!(output));
    }
}

// ------------------------------------------------------------- requests

#[derive(Debug, Clone)]
enum Turn {
    User(Vec<String>),
    /// Assistant: optional bridge reasoning (text, encrypted), text, tool calls.
    Assistant {
        reasoning: Option<(String, String)>,
        foreign_thinking: bool,
        text: String,
        calls: Vec<usize>,
    },
}

fn turn() -> impl Strategy<Value = Turn> {
    prop_oneof![
        vec(text(), 0..3).prop_map(Turn::User),
        (
            proptest::option::of((text(), "[A-Za-z0-9_-]{1,20}")),
            any::<bool>(),
            text(),
            vec(0..3usize, 0..3)
        )
            .prop_map(
                |(reasoning, foreign_thinking, text, calls)| Turn::Assistant {
                    reasoning,
                    foreign_thinking,
                    text,
                    calls,
                }
            ),
    ]
}

const CLIENT_TOOLS: [&str; 3] = ["get_weather", "mcp__srv__read.file", "Bash"];

/// A conversation where every assistant tool call is answered by the next
/// user turn's tool results (Anthropic requires it).
fn conversation(turns: &[Turn]) -> Value {
    let mut messages = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    let mut next_id = 0;
    for turn in turns {
        match turn {
            Turn::User(texts) => {
                let mut content: Vec<Value> = pending
                    .drain(..)
                    .map(|id| json!({"type": "tool_result", "tool_use_id": id, "content": "ok"}))
                    .collect();
                content.extend(texts.iter().map(|t| json!({"type": "text", "text": t})));
                messages.push(json!({"role": "user", "content": content}));
            }
            Turn::Assistant {
                reasoning,
                foreign_thinking,
                text,
                calls,
            } => {
                if !pending.is_empty() {
                    let content: Vec<Value> = pending
                        .drain(..)
                        .map(
                            |id| json!({"type": "tool_result", "tool_use_id": id, "content": "ok"}),
                        )
                        .collect();
                    messages.push(json!({"role": "user", "content": content}));
                }
                let mut content = Vec::new();
                if *foreign_thinking {
                    content.push(
                        json!({"type": "thinking", "thinking": "t", "signature": "EvMCCkYICxgC"}),
                    );
                }
                if let Some((thinking, encrypted)) = reasoning {
                    content.push(json!({"type": "thinking", "thinking": thinking, "signature": format!("aob2.{encrypted}")}));
                }
                content.push(json!({"type": "text", "text": text}));
                for call in calls {
                    let id = format!("toolu_{next_id}");
                    next_id += 1;
                    content.push(json!({"type": "tool_use", "id": id, "name": CLIENT_TOOLS[*call], "input": {"a": 1}}));
                    pending.push(id);
                }
                messages.push(json!({"role": "assistant", "content": content}));
            }
        }
    }
    if !pending.is_empty() {
        let content: Vec<Value> = pending
            .drain(..)
            .map(|id| json!({"type": "tool_result", "tool_use_id": id, "content": "ok"}))
            .collect();
        messages.push(json!({"role": "user", "content": content}));
    }
    if messages.is_empty() {
        messages.push(json!({"role": "user", "content": "hi"}));
    }
    json!({"model": "claude-sonnet-4-5", "max_tokens": 1000, "messages": messages,
        "tools": CLIENT_TOOLS.iter().map(|n| json!({"name": n, "input_schema": {"type": "object"}})).collect::<Vec<_>>()})
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Converted conversations: only Responses fields and item kinds, no
    /// ids, calls answered after they were made, and each `aob2.` thinking
    /// block back as its reasoning item, followed by what followed it (one
    /// with nothing after it in its turn is dropped: OpenAI rejects it).
    #[test]
    fn conversations_convert_to_paired_stateless_items(turns in vec(turn(), 0..6)) {
        let request = conversation(&turns);
        let config = Config::from_json(br#"{"upstream_protocol":"openai"}"#).unwrap();
        let converted = convert_request(request.to_string().as_bytes(), &config).unwrap();
        let body: Value = serde_json::from_slice(&converted.body).unwrap();
        prop_assert_eq!(&body["store"], &json!(false));
        let items = body["input"].as_array().unwrap();
        let mut open_calls: Vec<&str> = Vec::new();
        let mut answered = 0;
        for (n, item) in items.iter().enumerate() {
            prop_assert!(item.get("id").is_none());
            match item["type"].as_str().unwrap() {
                "message" => {
                    let role = item["role"].as_str().unwrap();
                    prop_assert!(["user", "assistant", "system"].contains(&role));
                }
                "function_call" => {
                    prop_assert!(anthropic_openai_bridge::convert::tool_names::is_valid(
                        item["name"].as_str().unwrap()
                    ));
                    open_calls.push(item["call_id"].as_str().unwrap());
                }
                "function_call_output" => {
                    let id = item["call_id"].as_str().unwrap();
                    let position = open_calls.iter().position(|c| *c == id);
                    prop_assert!(position.is_some(), "output for {} before its call", id);
                    if let Some(position) = position {
                        open_calls.remove(position);
                    }
                    answered += 1;
                }
                "reasoning" => {
                    prop_assert!(item["encrypted_content"].as_str().is_some_and(|e| !e.is_empty()));
                    let next = items.get(n + 1).map(|i| i["type"].as_str().unwrap());
                    prop_assert!(
                        matches!(next, Some("message" | "function_call")),
                        "a reasoning item must be followed by its output item"
                    );
                }
                other => prop_assert!(false, "item type {}", other),
            }
        }
        prop_assert!(open_calls.is_empty(), "unanswered calls {:?}", open_calls);
        let calls: usize = turns.iter().map(|t| match t { Turn::Assistant { calls, .. } => calls.len(), _ => 0 }).sum();
        prop_assert_eq!(answered, calls);
        let reasoning: Vec<&Value> = items.iter().filter(|i| i["type"] == "reasoning").collect();
        let expected: Vec<String> = turns.iter().filter_map(|t| match t {
            Turn::Assistant { reasoning: Some((_, encrypted)), text, calls, .. }
                if !text.is_empty() || !calls.is_empty() => Some(encrypted.clone()),
            _ => None,
        }).collect();
        let got: Vec<String> = reasoning.iter().map(|i| i["encrypted_content"].as_str().unwrap().to_string()).collect();
        prop_assert_eq!(got, expected);
    }
}
