//! A strict checker of the OpenAI Responses streaming grammar, and what a
//! Responses client (Codex CLI, the openai SDK) reassembles from a stream.
//!
//! The rules, as OpenAI's streams follow them and Codex relies on them:
//! every `data:` payload has its `type` (equal to the `event:` name) and a
//! `sequence_number` counting 0, 1, 2…; `response.created` then
//! `response.in_progress` first; items one at a time, each opened by
//! `output_item.added` (with `output_index` counting 0, 1, 2…) and closed by
//! `output_item.done` carrying the complete item; content parts, text
//! deltas, function-call arguments, custom-tool input and reasoning summary
//! parts nested inside their item with matching `item_id`, `output_index`,
//! `content_index` and `summary_index`; each `.done` text equal to its
//! deltas and to the item in `output_item.done`; item ids with OpenAI's
//! prefixes; exactly one terminal event (`response.completed` with usage,
//! `response.incomplete`, `response.failed`) and nothing after it.

use serde_json::Value;

/// What a Responses client reassembles from a stream that passed the check.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResponsesStream {
    pub id: String,
    pub model: String,
    /// The complete items of the `output_item.done` events, in order.
    pub items: Vec<Value>,
    /// `response.completed`, `response.incomplete` or `response.failed`.
    pub terminal: String,
    /// The response object of the terminal event.
    pub response: Value,
    /// `error` events seen before the terminal event.
    pub errors: Vec<Value>,
    pub events: usize,
}

impl ResponsesStream {
    /// All `output_text` of the message items, joined.
    pub fn text(&self) -> String {
        self.items
            .iter()
            .filter(|item| item["type"] == "message")
            .flat_map(|item| item["content"].as_array().cloned().unwrap_or_default())
            .filter(|part| part["type"] == "output_text")
            .map(|part| part["text"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// The items of one type, in order.
    pub fn items_of(&self, kind: &str) -> Vec<&Value> {
        self.items.iter().filter(|i| i["type"] == kind).collect()
    }
}

/// Checks the stream and panics with the first rule it breaks.
pub fn check_responses_stream(sse: &[u8]) -> ResponsesStream {
    try_check_responses_stream(sse).unwrap_or_else(|e| panic!("Responses stream rejected: {e}"))
}

/// The OpenAI id prefix of each item type the bridge can produce.
pub fn item_id_prefix(kind: &str) -> Option<&'static str> {
    match kind {
        "message" => Some("msg_"),
        "function_call" => Some("fc_"),
        "reasoning" => Some("rs_"),
        "custom_tool_call" => Some("ctc_"),
        _ => None,
    }
}

/// Splits an SSE body into its `data:` payloads, insisting on the framing
/// OpenAI writes: `event: X\ndata: {json}\n\n` with X equal to the `type`.
pub fn responses_events(sse: &[u8]) -> Result<Vec<Value>, String> {
    let text = std::str::from_utf8(sse).map_err(|e| format!("not UTF-8: {e}"))?;
    if !text.is_empty() && !text.ends_with("\n\n") {
        return Err("body ends mid-event".into());
    }
    let mut out = Vec::new();
    for block in text.split_terminator("\n\n") {
        let (event, data) = block
            .split_once('\n')
            .ok_or_else(|| format!("event without a data line: {block:?}"))?;
        let event = event
            .strip_prefix("event: ")
            .ok_or_else(|| format!("no event line in {block:?}"))?;
        let data = data
            .strip_prefix("data: ")
            .ok_or_else(|| format!("no data line in {block:?}"))?;
        if data.contains('\n') {
            return Err(format!("more than one data line in {block:?}"));
        }
        let data: Value =
            serde_json::from_str(data).map_err(|e| format!("bad JSON {data:?}: {e}"))?;
        let kind = data["type"]
            .as_str()
            .ok_or_else(|| format!("payload without type: {data}"))?;
        if kind != event {
            return Err(format!("event name {event} but type {kind}"));
        }
        out.push(data);
    }
    Ok(out)
}

/// One part of a message (content) or of a reasoning item (summary).
#[derive(Debug, Default)]
struct Part {
    kind: String,
    text: String,
    /// `.done` seen for the text of this part.
    text_done: bool,
    closed: bool,
}

#[derive(Debug)]
struct OpenItem {
    id: String,
    kind: String,
    index: u64,
    added: Value,
    parts: Vec<Part>,
    /// function_call arguments or custom_tool_call input.
    input: String,
    input_done: bool,
}

fn field<'a>(data: &'a Value, key: &str) -> Result<&'a Value, String> {
    data.get(key)
        .ok_or_else(|| format!("{} without {key}", data["type"]))
}

fn text_field(data: &Value, key: &str) -> Result<String, String> {
    field(data, key)?
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{} with a non-string {key}", data["type"]))
}

fn expect(ok: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(message())
    }
}

impl OpenItem {
    /// `item_id` and `output_index` of an event inside this item.
    fn owns(&self, data: &Value) -> Result<(), String> {
        expect(data["item_id"] == self.id.as_str(), || {
            format!(
                "{} for item {} inside item {}",
                data["type"], data["item_id"], self.id
            )
        })?;
        expect(data["output_index"] == self.index, || {
            format!(
                "{} with output_index {} inside item {}",
                data["type"], data["output_index"], self.index
            )
        })
    }

    /// The open part an event addresses by `index_key`; it must be the last.
    fn part(&mut self, data: &Value, index_key: &str, kind: &str) -> Result<&mut Part, String> {
        self.owns(data)?;
        let index = field(data, index_key)?
            .as_u64()
            .ok_or_else(|| format!("{} with a bad {index_key}", data["type"]))?;
        let count = self.parts.len() as u64;
        let part = self
            .parts
            .last_mut()
            .filter(|p| !p.closed && index + 1 == count)
            .ok_or_else(|| {
                format!(
                    "{} for {index_key} {index}, not the open part",
                    data["type"]
                )
            })?;
        expect(part.kind == kind, || {
            format!("{} inside a {} part", data["type"], part.kind)
        })?;
        Ok(part)
    }

    fn add_part(&mut self, data: &Value, index_key: &str, kinds: &[&str]) -> Result<(), String> {
        self.owns(data)?;
        expect(self.parts.last().is_none_or(|p| p.closed), || {
            format!("{} while a part is open", data["type"])
        })?;
        expect(data[index_key] == self.parts.len() as u64, || {
            format!(
                "{} with {index_key} {}, expected {}",
                data["type"],
                data[index_key],
                self.parts.len()
            )
        })?;
        let part = field(data, "part")?;
        let kind = part["type"].as_str().unwrap_or("");
        expect(kinds.contains(&kind), || {
            format!("{} with part type {kind:?}", data["type"])
        })?;
        let empty = if kind == "refusal" {
            &part["refusal"]
        } else {
            &part["text"]
        };
        expect(empty == "", || {
            format!("{} with a non-empty part", data["type"])
        })?;
        self.parts.push(Part {
            kind: kind.to_string(),
            ..Part::default()
        });
        Ok(())
    }

    fn close_part(&mut self, data: &Value, index_key: &str) -> Result<(), String> {
        let part_value = field(data, "part")?.clone();
        let kind = part_value["type"].as_str().unwrap_or("").to_string();
        let part = self.part(data, index_key, &kind)?;
        expect(part.text_done, || {
            format!("{} before its text's .done", data["type"])
        })?;
        let key = if kind == "refusal" { "refusal" } else { "text" };
        expect(part_value[key] == part.text.as_str(), || {
            format!("{} text differs from the deltas", data["type"])
        })?;
        part.closed = true;
        Ok(())
    }

    fn delta(&mut self, data: &Value, index_key: &str, kind: &str) -> Result<(), String> {
        let delta = text_field(data, "delta")?;
        let part = self.part(data, index_key, kind)?;
        expect(!part.text_done, || format!("{} after .done", data["type"]))?;
        part.text.push_str(&delta);
        Ok(())
    }

    fn text_done(
        &mut self,
        data: &Value,
        index_key: &str,
        kind: &str,
        key: &str,
    ) -> Result<(), String> {
        let text = text_field(data, key)?;
        let part = self.part(data, index_key, kind)?;
        expect(!part.text_done, || format!("second {}", data["type"]))?;
        expect(text == part.text, || {
            format!("{} says {text:?}, the deltas {:?}", data["type"], part.text)
        })?;
        part.text_done = true;
        Ok(())
    }

    fn input_delta(&mut self, data: &Value, kind: &str) -> Result<(), String> {
        self.owns(data)?;
        expect(self.kind == kind, || {
            format!("{} inside a {} item", data["type"], self.kind)
        })?;
        expect(!self.input_done, || format!("{} after .done", data["type"]))?;
        self.input.push_str(&text_field(data, "delta")?);
        Ok(())
    }

    fn input_done(&mut self, data: &Value, kind: &str, key: &str) -> Result<(), String> {
        self.owns(data)?;
        expect(self.kind == kind, || {
            format!("{} inside a {} item", data["type"], self.kind)
        })?;
        expect(!self.input_done, || format!("second {}", data["type"]))?;
        let done = text_field(data, key)?;
        expect(done == self.input, || {
            format!(
                "{} says {done:?}, the deltas {:?}",
                data["type"], self.input
            )
        })?;
        self.input_done = true;
        Ok(())
    }

    /// The complete item of `output_item.done` against what streamed.
    fn check_done(&self, item: &Value) -> Result<(), String> {
        expect(
            item["id"] == self.id.as_str() && item["type"] == self.kind.as_str(),
            || {
                format!(
                    "output_item.done for {} {}, open is {} {}",
                    item["type"], item["id"], self.kind, self.id
                )
            },
        )?;
        expect(self.parts.iter().all(|p| p.closed), || {
            format!("output_item.done for {} with a part still open", self.id)
        })?;
        match self.kind.as_str() {
            "message" => {
                expect(item["role"] == "assistant", || {
                    "message item without role assistant".into()
                })?;
                let content = item["content"]
                    .as_array()
                    .ok_or("message without content")?;
                self.same_parts(content, "content")
            }
            "reasoning" => {
                let summary = item["summary"]
                    .as_array()
                    .ok_or("reasoning without summary")?;
                self.same_parts(summary, "summary")
            }
            "function_call" => {
                expect(self.input_done, || {
                    "function_call done without arguments.done".into()
                })?;
                expect(item["arguments"] == self.input.as_str(), || {
                    format!(
                        "function_call arguments {} differ from the deltas {:?}",
                        item["arguments"], self.input
                    )
                })?;
                self.same_call(item)
            }
            "custom_tool_call" => {
                expect(self.input_done, || {
                    "custom_tool_call done without input.done".into()
                })?;
                expect(item["input"] == self.input.as_str(), || {
                    format!(
                        "custom_tool_call input {} differs from the deltas {:?}",
                        item["input"], self.input
                    )
                })?;
                self.same_call(item)
            }
            other => Err(format!("item type {other}")),
        }
    }

    fn same_parts(&self, parts: &[Value], key: &str) -> Result<(), String> {
        expect(parts.len() == self.parts.len(), || {
            format!(
                "{} has {} {key} parts, {} streamed",
                self.id,
                parts.len(),
                self.parts.len()
            )
        })?;
        for (done, streamed) in parts.iter().zip(&self.parts) {
            let text_key = if streamed.kind == "refusal" {
                "refusal"
            } else {
                "text"
            };
            expect(
                done["type"] == streamed.kind.as_str() && done[text_key] == streamed.text.as_str(),
                || {
                    format!(
                        "{} {key} part {done} differs from what streamed {streamed:?}",
                        self.id
                    )
                },
            )?;
        }
        Ok(())
    }

    fn same_call(&self, item: &Value) -> Result<(), String> {
        for key in ["call_id", "name"] {
            expect(item[key] == self.added["item"][key], || {
                format!("{key} changed between output_item.added and .done")
            })?;
            expect(item[key].as_str().is_some_and(|s| !s.is_empty()), || {
                format!("{} without {key}", self.kind)
            })?;
        }
        Ok(())
    }
}

fn check_response_object(response: &Value, id: &str, status: &str) -> Result<(), String> {
    expect(response["object"] == "response", || {
        "response without object: response".into()
    })?;
    expect(response["id"] == id, || {
        format!("response id {} differs from {id}", response["id"])
    })?;
    expect(response["status"] == status, || {
        format!(
            "response status {} where {status} belongs",
            response["status"]
        )
    })?;
    expect(response["created_at"].is_u64(), || {
        "response without created_at".into()
    })?;
    expect(response["model"].is_string(), || {
        "response without model".into()
    })
}

fn check_usage(usage: &Value) -> Result<(), String> {
    let number = |key: &str| {
        usage[key]
            .as_u64()
            .ok_or_else(|| format!("usage without {key}: {usage}"))
    };
    let (input, output, total) = (
        number("input_tokens")?,
        number("output_tokens")?,
        number("total_tokens")?,
    );
    expect(input + output == total, || {
        format!("usage total {total} is not {input} + {output}")
    })?;
    let cached = usage["input_tokens_details"]["cached_tokens"]
        .as_u64()
        .ok_or("usage without input_tokens_details.cached_tokens")?;
    expect(cached <= input, || {
        "more cached tokens than input tokens".into()
    })?;
    let reasoning = usage["output_tokens_details"]["reasoning_tokens"]
        .as_u64()
        .ok_or("usage without output_tokens_details.reasoning_tokens")?;
    expect(reasoning <= output, || {
        "more reasoning tokens than output tokens".into()
    })
}

/// The terminal response's output against the items that streamed: same
/// items in the same order, same ids, types and (for messages and calls)
/// the same text. Encrypted reasoning may differ: OpenAI re-encrypts it.
fn check_output(response: &Value, items: &[Value]) -> Result<(), String> {
    let output = response["output"]
        .as_array()
        .ok_or("response without output")?;
    expect(output.len() == items.len(), || {
        format!(
            "the terminal response has {} items, {} streamed",
            output.len(),
            items.len()
        )
    })?;
    for (done, streamed) in output.iter().zip(items) {
        expect(
            done["id"] == streamed["id"] && done["type"] == streamed["type"],
            || {
                format!(
                    "output item {} differs from the streamed {}",
                    done["id"], streamed["id"]
                )
            },
        )?;
        for key in ["content", "arguments", "input", "call_id", "name"] {
            expect(done[key] == streamed[key], || {
                format!(
                    "output item {} {key} differs from what streamed",
                    done["id"]
                )
            })?;
        }
    }
    Ok(())
}

/// `check_responses_stream`, returning the first broken rule as an error.
pub fn try_check_responses_stream(sse: &[u8]) -> Result<ResponsesStream, String> {
    let events = responses_events(sse)?;
    let mut out = ResponsesStream {
        events: events.len(),
        ..ResponsesStream::default()
    };
    for (n, data) in events.iter().enumerate() {
        expect(data["sequence_number"] == n as u64, || {
            format!(
                "{} has sequence_number {}, expected {n}",
                data["type"], data["sequence_number"]
            )
        })?;
    }
    let mut iter = events.iter();
    let created = iter.next().ok_or("empty stream")?;
    expect(created["type"] == "response.created", || {
        format!("first event {}, not response.created", created["type"])
    })?;
    let response = field(created, "response")?;
    out.id = response["id"].as_str().unwrap_or("").to_string();
    expect(out.id.starts_with("resp_"), || {
        format!("response id {:?} without resp_", out.id)
    })?;
    out.model = response["model"].as_str().unwrap_or("").to_string();
    check_response_object(response, &out.id, "in_progress")?;
    expect(response["output"] == Value::Array(vec![]), || {
        "response.created with output".into()
    })?;
    let in_progress = iter.next().ok_or("stream ends after response.created")?;
    expect(in_progress["type"] == "response.in_progress", || {
        format!(
            "second event {}, not response.in_progress",
            in_progress["type"]
        )
    })?;
    check_response_object(field(in_progress, "response")?, &out.id, "in_progress")?;

    let mut open: Option<OpenItem> = None;
    let mut ids: Vec<String> = Vec::new();
    for data in iter {
        let kind = data["type"].as_str().unwrap_or("");
        expect(out.terminal.is_empty(), || {
            format!("{kind} after {}", out.terminal)
        })?;
        let item = || {
            open.as_ref()
                .ok_or_else(|| format!("{kind} outside an item"))
        };
        match kind {
            "response.output_item.added" => {
                expect(open.is_none(), || {
                    "output_item.added while an item is open".into()
                })?;
                expect(data["output_index"] == out.items.len() as u64, || {
                    format!(
                        "output_item.added with output_index {}, expected {}",
                        data["output_index"],
                        out.items.len()
                    )
                })?;
                let added = field(data, "item")?;
                let item_kind = added["type"].as_str().unwrap_or("").to_string();
                let prefix =
                    item_id_prefix(&item_kind).ok_or_else(|| format!("item type {item_kind:?}"))?;
                let id = added["id"].as_str().unwrap_or("").to_string();
                expect(id.starts_with(prefix) && id.len() > prefix.len(), || {
                    format!("{item_kind} item id {id:?} without {prefix}")
                })?;
                expect(!ids.contains(&id), || format!("item id {id} used twice"))?;
                let empty = match item_kind.as_str() {
                    "message" => added["content"] == Value::Array(vec![]),
                    "reasoning" => added["summary"] == Value::Array(vec![]),
                    "function_call" => added["arguments"] == "",
                    _ => added["input"] == "",
                };
                expect(empty, || format!("output_item.added with content: {added}"))?;
                ids.push(id.clone());
                open = Some(OpenItem {
                    id,
                    kind: item_kind,
                    index: out.items.len() as u64,
                    added: data.clone(),
                    parts: Vec::new(),
                    input: String::new(),
                    input_done: false,
                });
            }
            "response.output_item.done" => {
                let current = open.take().ok_or("output_item.done outside an item")?;
                expect(data["output_index"] == current.index, || {
                    format!(
                        "output_item.done with output_index {}",
                        data["output_index"]
                    )
                })?;
                let done = field(data, "item")?;
                current.check_done(done)?;
                out.items.push(done.clone());
            }
            "response.content_part.added" => {
                expect(item()?.kind == "message", || {
                    format!("{kind} outside a message")
                })?;
                open.as_mut().ok_or("no item")?.add_part(
                    data,
                    "content_index",
                    &["output_text", "refusal"],
                )?;
            }
            "response.content_part.done" => {
                expect(item()?.kind == "message", || {
                    format!("{kind} outside a message")
                })?;
                open.as_mut()
                    .ok_or("no item")?
                    .close_part(data, "content_index")?;
            }
            "response.output_text.delta" => {
                open.as_mut()
                    .ok_or_else(|| format!("{kind} outside an item"))?
                    .delta(data, "content_index", "output_text")?;
            }
            "response.output_text.done" => {
                open.as_mut()
                    .ok_or_else(|| format!("{kind} outside an item"))?
                    .text_done(data, "content_index", "output_text", "text")?;
            }
            "response.refusal.delta" => {
                open.as_mut()
                    .ok_or_else(|| format!("{kind} outside an item"))?
                    .delta(data, "content_index", "refusal")?;
            }
            "response.refusal.done" => {
                open.as_mut()
                    .ok_or_else(|| format!("{kind} outside an item"))?
                    .text_done(data, "content_index", "refusal", "refusal")?;
            }
            "response.reasoning_summary_part.added" => {
                expect(item()?.kind == "reasoning", || {
                    format!("{kind} outside a reasoning item")
                })?;
                open.as_mut().ok_or("no item")?.add_part(
                    data,
                    "summary_index",
                    &["summary_text"],
                )?;
            }
            "response.reasoning_summary_part.done" => {
                expect(item()?.kind == "reasoning", || {
                    format!("{kind} outside a reasoning item")
                })?;
                open.as_mut()
                    .ok_or("no item")?
                    .close_part(data, "summary_index")?;
            }
            "response.reasoning_summary_text.delta" => {
                open.as_mut()
                    .ok_or_else(|| format!("{kind} outside an item"))?
                    .delta(data, "summary_index", "summary_text")?;
            }
            "response.reasoning_summary_text.done" => {
                open.as_mut()
                    .ok_or_else(|| format!("{kind} outside an item"))?
                    .text_done(data, "summary_index", "summary_text", "text")?;
            }
            "response.function_call_arguments.delta" => {
                open.as_mut()
                    .ok_or_else(|| format!("{kind} outside an item"))?
                    .input_delta(data, "function_call")?;
            }
            "response.function_call_arguments.done" => {
                open.as_mut()
                    .ok_or_else(|| format!("{kind} outside an item"))?
                    .input_done(data, "function_call", "arguments")?;
            }
            "response.custom_tool_call_input.delta" => {
                open.as_mut()
                    .ok_or_else(|| format!("{kind} outside an item"))?
                    .input_delta(data, "custom_tool_call")?;
            }
            "response.custom_tool_call_input.done" => {
                open.as_mut()
                    .ok_or_else(|| format!("{kind} outside an item"))?
                    .input_done(data, "custom_tool_call", "input")?;
            }
            "error" => {
                let error = field(data, "error")?;
                expect(error["message"].is_string(), || {
                    "error event without message".into()
                })?;
                out.errors.push(error.clone());
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                let status = kind.trim_start_matches("response.");
                let response = field(data, "response")?;
                check_response_object(response, &out.id, status)?;
                match status {
                    "completed" => {
                        expect(open.is_none(), || {
                            "response.completed with an item open".into()
                        })?;
                        check_usage(&response["usage"])?;
                    }
                    "incomplete" => {
                        expect(open.is_none(), || {
                            "response.incomplete with an item open".into()
                        })?;
                        expect(response["incomplete_details"]["reason"].is_string(), || {
                            "response.incomplete without incomplete_details.reason".into()
                        })?;
                    }
                    _ => {
                        let error = &response["error"];
                        expect(
                            error["code"].is_string() && error["message"].is_string(),
                            || format!("response.failed without error code and message: {error}"),
                        )?;
                    }
                }
                if status != "failed" {
                    check_output(response, &out.items)?;
                }
                out.terminal = kind.to_string();
                out.response = response.clone();
            }
            other => return Err(format!("unexpected event {other}")),
        }
    }
    expect(!out.terminal.is_empty(), || {
        "stream ended without response.completed, response.incomplete or response.failed".into()
    })?;
    Ok(out)
}
