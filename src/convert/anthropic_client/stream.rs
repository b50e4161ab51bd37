//! OpenAI chat completion chunks → Anthropic stream events
//! (docs/anthropic_client.md#stream-event-grammar).
//!
//! The output grammar is Anthropic's: `message_start`, `ping`, then blocks
//! opened one at a time with increasing indexes (`content_block_start`,
//! deltas, `content_block_stop`), then `message_delta` and `message_stop`
//! exactly once, or a single `error` event. Every event is written in the
//! same call in which the bytes that complete it arrive.
//!
//! Tool calls arrive keyed by OpenAI's `index` and may interleave. Anthropic
//! blocks cannot, so a tool block stays open until its arguments form a
//! complete JSON value and another call is waiting; fragments of a call that
//! is not the open block are held and emitted, in order, when its block
//! opens. The common case (calls one after another) streams without holding.
//!
//! Each fragment is checked before it is written (`ObjectScan`): arguments
//! that cannot be one JSON object end the stream with an `error` event
//! instead, as the non-streaming conversion answers with an error.

use super::response::{
    anthropic_usage, final_stop, finish_stop_reason, message_from_body, tool_arguments_error,
    tool_fallback_id, vllm_stop_string, zero_usage, ResponseContext, StopReason,
};
use crate::anthropic::block;
use crate::anthropic::{ContentBlock, Delta, Message, StreamEvent};
use crate::convert::error::{
    anthropic_error_status, anthropic_error_type, openai_error_status, upstream_error_from_json,
    UpstreamError,
};
use crate::convert::signature::Signer;
use crate::convert::tool_arguments::ObjectScan;
use crate::convert::{unparsable_event, STREAM_INCOMPLETE};
use crate::openai::part;
use crate::openai::{ChatCompletionChunk, ChatUsage, ContentPart, ToolCall};
use crate::report::{StreamFailure, StreamOutcome, Tokens};
use crate::sse::{
    over_cap, write_event, SseConverter, SseError, SseHandler, SseItem, SseParser, MAX_LINE_BYTES,
};
use crate::wire::{CowStr, RawJson, TextOr};
use std::collections::HashMap;

/// Converts one streamed response; feed it the body as it arrives
/// (`push`, then `finish` at the end of the body).
pub type StreamConverter = SseConverter<ChunksToEvents>;

impl StreamConverter {
    pub fn new(ctx: ResponseContext) -> StreamConverter {
        StreamConverter::with_parser(ctx, SseParser::default())
    }

    pub fn with_parser(ctx: ResponseContext, parser: SseParser) -> StreamConverter {
        SseConverter::from_parts(ChunksToEvents::new(ctx, usize::MAX), parser)
    }

    /// A converter that never holds more than `cap` bytes at once
    /// (`max_held_bytes`): past it, the stream ends with an `error` event.
    pub fn with_cap(ctx: ResponseContext, cap: usize) -> StreamConverter {
        StreamConverter::with_limits(ctx, MAX_LINE_BYTES, cap)
    }

    /// `with_cap` with another bound on one SSE line or event.
    pub fn with_limits(ctx: ResponseContext, max_line_bytes: usize, cap: usize) -> StreamConverter {
        SseConverter::from_parts(
            ChunksToEvents::new(ctx, cap),
            SseParser::with_cap(max_line_bytes, cap),
        )
    }
}

impl SseHandler for ChunksToEvents {
    fn on_item(&mut self, item: SseItem<'_>, out: &mut Vec<u8>) {
        self.item(item, out);
    }

    fn on_invalid(&mut self, error: &SseError, out: &mut Vec<u8>) {
        let failure = match error {
            SseError::OverCap { .. } => StreamFailure::OverHeldLimit,
            SseError::LineTooLong { .. } => StreamFailure::Invalid,
        };
        self.error(out, failure, "api_error", &error.to_string());
    }

    /// A stream that stopped before finishing gets an error, not `end_turn`.
    fn on_end(&mut self, out: &mut Vec<u8>) {
        self.end_of_body(out);
    }

    /// True once `message_stop` or `error` has been written.
    fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    fn held_bytes(&self) -> usize {
        self.held
    }
}

impl StreamOutcome for ChunksToEvents {
    fn failure(&self) -> Option<StreamFailure> {
        self.failure
    }

    fn tokens(&self) -> Option<Tokens> {
        self.usage
            .as_ref()
            .map(|u| Tokens::from(&anthropic_usage(Some(u))))
    }
}

/// Where an Anthropic event stream the bridge writes stands (both pairs
/// with an Anthropic client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Nothing written yet.
    Waiting,
    /// `message_start` written.
    Streaming,
    /// `message_stop` or `error` written; everything after is ignored.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Thinking(u32),
    Text(u32),
    Tool { slot: usize, index: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ToolStatus {
    Waiting,
    Open,
    Closed,
}

/// What a tool slot costs beyond its strings: the slot and its index entries.
const SLOT_COST: usize = std::mem::size_of::<ToolSlot>() + 32;

/// One OpenAI tool call, keyed by its `index`.
#[derive(Debug)]
struct ToolSlot {
    key: u32,
    id: String,
    name: String,
    /// Argument fragments not yet written (the call is not the open block).
    held: String,
    status: ToolStatus,
    /// What the arguments written so far form.
    scan: ObjectScan,
}

/// The state of one OpenAI chunk stream being written as Anthropic events.
#[derive(Debug)]
pub struct ChunksToEvents {
    ctx: ResponseContext,
    phase: Phase,
    message_id: String,
    next_index: u32,
    open: Option<Open>,
    signer: Signer,
    tools: Vec<ToolSlot>,
    stop: Option<(StopReason, Option<String>)>,
    usage: Option<ChatUsage>,
    refused: bool,
    failure: Option<StreamFailure>,
    /// Slot position by OpenAI `index`, and call key by `id`.
    keys: HashMap<u32, usize>,
    ids: HashMap<String, u32>,
    /// One past the largest key seen: the key of a new call with only an id.
    next_key: u32,
    /// Slots are opened in order: every slot from here on is waiting.
    next_waiting: usize,
    /// Bytes held across events (held fragments, slots), bounded by `cap`
    /// together with the event being handled (`in_flight`, in the parser).
    held: usize,
    in_flight: usize,
    cap: usize,
}

impl ChunksToEvents {
    fn new(ctx: ResponseContext, cap: usize) -> ChunksToEvents {
        ChunksToEvents {
            message_id: ctx.fallback_id.clone(),
            ctx,
            phase: Phase::Waiting,
            next_index: 0,
            open: None,
            signer: Signer::default(),
            tools: Vec::new(),
            stop: None,
            usage: None,
            refused: false,
            failure: None,
            keys: HashMap::new(),
            ids: HashMap::new(),
            next_key: 0,
            next_waiting: 0,
            held: 0,
            in_flight: 0,
            cap,
        }
    }

    /// Accounts for `bytes` more held; past the cap the stream ends instead.
    fn reserve(&mut self, bytes: usize, out: &mut Vec<u8>) -> bool {
        let total = self
            .held
            .saturating_add(bytes)
            .saturating_add(self.in_flight);
        if total > self.cap {
            let message = over_cap(self.cap);
            self.error(out, StreamFailure::OverHeldLimit, "api_error", &message);
            return false;
        }
        self.held += bytes;
        true
    }

    fn item(&mut self, item: SseItem<'_>, out: &mut Vec<u8>) {
        if self.phase == Phase::Done {
            return;
        }
        match item {
            SseItem::Comment(_) => {
                self.start(out, "", "");
                write_event(out, "ping", &event("ping"));
            }
            SseItem::Event {
                event: name,
                data,
                terminated,
            } => {
                self.in_flight = name.len() + data.len();
                self.on_data(name, data.trim(), terminated, out);
                self.in_flight = 0;
            }
        }
    }

    fn on_data(&mut self, name: &str, data: &str, terminated: bool, out: &mut Vec<u8>) {
        if data.is_empty() {
            return;
        }
        if data == "[DONE]" {
            self.on_done(out);
            return;
        }
        let chunk: ChatCompletionChunk<'_> = match serde_json::from_slice(data.as_bytes()) {
            Ok(chunk) => chunk,
            Err(e) => {
                let (failure, message) = unparsable_event(terminated, "chunk", &e);
                self.error(out, failure, "api_error", &message);
                return;
            }
        };
        if name == "error" || chunk.error.is_some() {
            let value =
                serde_json::from_slice::<serde_json::Value>(data.as_bytes()).unwrap_or_default();
            let error = upstream_error_from_json(&value).unwrap_or_else(|| UpstreamError {
                message: "upstream reported an error".to_string(),
                ..Default::default()
            });
            self.error(
                out,
                StreamFailure::UpstreamError,
                stream_error_type(&error),
                &error.message,
            );
            return;
        }
        self.on_chunk(chunk, out);
    }

    fn on_chunk(&mut self, chunk: ChatCompletionChunk<'_>, out: &mut Vec<u8>) {
        let preamble = chunk.choices.is_empty() && chunk.usage.is_none() && chunk.id.is_empty();
        if preamble && self.phase == Phase::Waiting {
            // Azure's prompt-filter chunk: no id, no model, nothing to say yet.
            return;
        }
        self.start(out, &chunk.id, &chunk.model);
        for choice in chunk.choices {
            if choice.index != 0 {
                log::debug!(
                    "ignored stream choice {}: only one choice is requested",
                    choice.index
                );
                continue;
            }
            let delta = choice.delta;
            let reasoning = [delta.reasoning_content, delta.reasoning]
                .into_iter()
                .flatten()
                .find(|r| !r.is_empty());
            if let Some(reasoning) = reasoning {
                self.thinking(&reasoning, out);
            }
            match delta.content {
                Some(TextOr::Text(text)) => self.text(&text, out),
                Some(TextOr::Items(parts)) => {
                    for part in parts.iter().filter(|p| p.kind.as_str() == part::TEXT) {
                        self.text(part_text(part), out);
                    }
                }
                None => {}
            }
            if let Some(refusal) = delta.refusal.filter(|r| !r.is_empty()) {
                self.refused = true;
                self.text(&refusal, out);
            }
            for call in delta.tool_calls.into_iter().flatten() {
                self.tool_call(call, out);
            }
            if let Some(stop) = finish_stop_reason(choice.finish_reason.as_deref()) {
                self.close_all(out);
                if self.stop.is_none() {
                    self.stop = Some((stop, vllm_stop_string(choice.stop_reason)));
                }
            }
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage);
            if self.stop.is_some() {
                self.finalize(out);
            }
        }
    }

    /// `[DONE]`: the upstream says it is finished, with or without a finish reason.
    fn on_done(&mut self, out: &mut Vec<u8>) {
        self.start(out, "", "");
        self.finalize(out);
    }

    fn end_of_body(&mut self, out: &mut Vec<u8>) {
        match (self.phase, self.stop.is_some()) {
            (Phase::Done, _) => {}
            (Phase::Streaming, true) => self.finalize(out),
            _ => self.error(
                out,
                StreamFailure::Incomplete,
                "api_error",
                STREAM_INCOMPLETE,
            ),
        }
    }

    fn start(&mut self, out: &mut Vec<u8>, id: &str, model: &str) {
        if self.phase != Phase::Waiting {
            return;
        }
        if !id.is_empty() {
            if !self.reserve(id.len(), out) {
                return;
            }
            self.message_id = id.to_string();
        }
        let model = if model.is_empty() {
            self.ctx.model.as_str()
        } else {
            model
        };
        let message = Message {
            id: CowStr::borrowed(&self.message_id),
            kind: CowStr::borrowed("message"),
            role: crate::anthropic::Role::Assistant,
            model: CowStr::borrowed(model),
            content: Vec::new(),
            stop_reason: None,
            stop_sequence: None,
            usage: zero_usage(),
        };
        write_event(
            out,
            "message_start",
            &StreamEvent {
                message: Some(message),
                ..event("message_start")
            },
        );
        write_event(out, "ping", &event("ping"));
        self.phase = Phase::Streaming;
    }

    fn thinking(&mut self, text: &str, out: &mut Vec<u8>) {
        if self.phase == Phase::Done {
            return;
        }
        if !matches!(self.open, Some(Open::Thinking(_))) {
            self.close_all(out);
            if self.phase == Phase::Done {
                return;
            }
            let index = open_block(&mut self.next_index, out, ContentBlock::thinking("", ""));
            self.open = Some(Open::Thinking(index));
            self.signer = Signer::default();
        }
        self.signer.write(text);
        if let Some(Open::Thinking(index)) = self.open {
            write_delta(
                out,
                index,
                Delta {
                    kind: Some(CowStr::borrowed("thinking_delta")),
                    thinking: Some(CowStr::borrowed(text)),
                    ..Default::default()
                },
            );
        }
    }

    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        if text.is_empty() || self.phase == Phase::Done {
            return;
        }
        if !matches!(self.open, Some(Open::Text(_))) {
            self.close_all(out);
            if self.phase == Phase::Done {
                return;
            }
            let index = open_block(&mut self.next_index, out, ContentBlock::text(""));
            self.open = Some(Open::Text(index));
        }
        if let Some(Open::Text(index)) = self.open {
            write_delta(
                out,
                index,
                Delta {
                    kind: Some(CowStr::borrowed("text_delta")),
                    text: Some(CowStr::borrowed(text)),
                    ..Default::default()
                },
            );
        }
    }

    fn tool_call(&mut self, call: ToolCall<'_>, out: &mut Vec<u8>) {
        if self.phase == Phase::Done {
            return;
        }
        let Some(slot) = self.tool_slot(&call, out) else {
            return;
        };
        let function = call.function.unwrap_or_default();
        let fragment = function.arguments.as_deref().unwrap_or("");
        let Some((key, status, held_empty)) = self
            .tools
            .get(slot)
            .map(|t| (t.key, t.status, t.held.is_empty()))
        else {
            return;
        };
        if status == ToolStatus::Waiting
            && !self.identify_tool(slot, call.id.as_deref(), &function, out)
        {
            return;
        }
        match status {
            ToolStatus::Closed => {
                if !fragment.is_empty() {
                    log::warn!("dropped arguments for tool call {key} after its block closed");
                }
                return;
            }
            ToolStatus::Open if held_empty => {
                if let (Some(Open::Tool { index, .. }), Some(tool)) =
                    (self.open, self.tools.get_mut(slot))
                {
                    if let Err(message) = write_arguments(out, index, slot, tool, fragment) {
                        self.error(out, StreamFailure::Invalid, "api_error", &message);
                        return;
                    }
                }
            }
            _ => {
                if !self.reserve(fragment.len(), out) {
                    return;
                }
                if let Some(tool) = self.tools.get_mut(slot) {
                    tool.held.push_str(fragment);
                }
            }
        }
        if !matches!(self.open, Some(Open::Tool { .. })) {
            self.close_open(out);
            self.open_next_tool(out);
        }
        self.pump_tools(out);
    }

    /// A waiting call's id and name, from its first delta that has them.
    fn identify_tool(
        &mut self,
        slot: usize,
        call_id: Option<&str>,
        function: &crate::openai::FunctionCall<'_>,
        out: &mut Vec<u8>,
    ) -> bool {
        let Some((key, needs_id, needs_name)) = self
            .tools
            .get(slot)
            .map(|t| (t.key, t.id.is_empty(), t.name.is_empty()))
        else {
            return false;
        };
        let id = match needs_id {
            true => call_id.unwrap_or("").to_string(),
            false => String::new(),
        };
        let name = match needs_name {
            true => {
                let name = function.name.as_deref().unwrap_or("");
                self.ctx.tool_names.client(name).to_string()
            }
            false => String::new(),
        };
        // The id is held twice: in the slot and as the index's key.
        if !self.reserve(2 * id.len() + name.len(), out) {
            return false;
        }
        if !id.is_empty() {
            self.ids.entry(id.clone()).or_insert(key);
        }
        if let Some(tool) = self.tools.get_mut(slot) {
            if needs_id {
                tool.id = id;
            }
            if needs_name {
                tool.name = name;
            }
        }
        true
    }

    /// Finds (or creates) the slot for a tool-call delta, by `index`; servers
    /// that omit it are matched by `id`, then to the latest call. `None`
    /// when a new slot would pass the cap (the stream has ended).
    fn tool_slot(&mut self, call: &ToolCall<'_>, out: &mut Vec<u8>) -> Option<usize> {
        let id = call.id.as_deref().filter(|id| !id.is_empty());
        let key = call.index.or_else(|| match id {
            Some(id) => Some(self.ids.get(id).copied().unwrap_or(self.next_key)),
            None => self.tools.last().map(|t| t.key),
        });
        let key = key.unwrap_or(0);
        if let Some(position) = self.keys.get(&key) {
            return Some(*position);
        }
        if !self.reserve(SLOT_COST, out) {
            return None;
        }
        let position = self.tools.len();
        self.keys.insert(key, position);
        self.next_key = self.next_key.max(key.saturating_add(1));
        self.tools.push(ToolSlot {
            key,
            id: String::new(),
            name: String::new(),
            held: String::new(),
            status: ToolStatus::Waiting,
            scan: ObjectScan::default(),
        });
        Some(position)
    }

    /// Writes the open tool's held fragments; while its arguments are
    /// complete and another call waits, moves on to that call.
    fn pump_tools(&mut self, out: &mut Vec<u8>) {
        while let Some(Open::Tool { slot, index }) = self.open {
            if self.phase == Phase::Done {
                return;
            }
            let Some(tool) = self.tools.get_mut(slot) else {
                return;
            };
            if !tool.held.is_empty() {
                let held = std::mem::take(&mut tool.held);
                self.held = self.held.saturating_sub(held.len());
                if let Err(message) = write_arguments(out, index, slot, tool, &held) {
                    self.error(out, StreamFailure::Invalid, "api_error", &message);
                    return;
                }
            }
            let complete = tool.scan.complete();
            if !(complete && self.any_waiting()) {
                return;
            }
            self.close_open(out);
            self.open_next_tool(out);
        }
    }

    fn any_waiting(&self) -> bool {
        self.next_waiting < self.tools.len()
    }

    fn open_next_tool(&mut self, out: &mut Vec<u8>) {
        if self.phase == Phase::Done || !self.any_waiting() {
            return;
        }
        let slot = self.next_waiting;
        self.next_waiting += 1;
        if self.tools.get(slot).is_some_and(|t| t.id.is_empty()) {
            let fallback_id = tool_fallback_id(&self.message_id, slot);
            if !self.reserve(fallback_id.len(), out) {
                return;
            }
            if let Some(tool) = self.tools.get_mut(slot) {
                tool.id = fallback_id;
            }
        }
        let Some(tool) = self.tools.get_mut(slot) else {
            return;
        };
        tool.status = ToolStatus::Open;
        let block = ContentBlock::tool_use(
            tool.id.as_str(),
            tool.name.as_str(),
            RawJson::empty_object(),
        );
        let index = open_block(&mut self.next_index, out, block);
        self.open = Some(Open::Tool { slot, index });
    }

    /// Closes the open block: thinking gets its signature, a tool block
    /// that received no arguments gets `{}`, and one whose arguments are
    /// not a whole JSON object ends the stream with an error instead.
    fn close_open(&mut self, out: &mut Vec<u8>) {
        if self.phase == Phase::Done {
            return;
        }
        let index = match self.open.take() {
            None => return,
            Some(Open::Text(index)) => index,
            Some(Open::Thinking(index)) => {
                let signature = self.signer.signature();
                write_delta(
                    out,
                    index,
                    Delta {
                        kind: Some(CowStr::borrowed("signature_delta")),
                        signature: Some(CowStr::borrowed(&signature)),
                        ..Default::default()
                    },
                );
                index
            }
            Some(Open::Tool { slot, index }) => {
                if let Some(tool) = self.tools.get_mut(slot) {
                    tool.status = ToolStatus::Closed;
                    let held = std::mem::take(&mut tool.held);
                    self.held = self.held.saturating_sub(held.len());
                    let written = write_arguments(out, index, slot, tool, &held)
                        .and_then(|()| match tool.scan.is_empty() {
                            true => write_arguments(out, index, slot, tool, "{}"),
                            false => Ok(()),
                        })
                        .and_then(|()| {
                            tool.scan
                                .finish()
                                .map_err(|problem| tool_arguments_error(slot, &tool.name, problem))
                        });
                    if let Err(message) = written {
                        self.error(out, StreamFailure::Invalid, "api_error", &message);
                        return;
                    }
                }
                index
            }
        };
        write_event(
            out,
            "content_block_stop",
            &StreamEvent {
                index: Some(index),
                ..event("content_block_stop")
            },
        );
    }

    /// Closes the open block and writes every waiting tool call, in order.
    fn close_all(&mut self, out: &mut Vec<u8>) {
        self.close_open(out);
        while self.phase != Phase::Done && self.any_waiting() {
            self.open_next_tool(out);
            self.close_open(out);
        }
    }

    /// `message_delta` then `message_stop`, exactly once.
    fn finalize(&mut self, out: &mut Vec<u8>) {
        if self.phase != Phase::Streaming {
            return;
        }
        self.close_all(out);
        if self.phase == Phase::Done {
            return;
        }
        let has_tools = !self.tools.is_empty();
        let (stop, stop_string) = match self.stop.take() {
            Some(stop) => stop,
            None if has_tools => (StopReason::ToolUse, None),
            None => (StopReason::EndTurn, None),
        };
        let (stop_reason, stop_sequence) = match self.refused {
            true => (StopReason::Refusal.as_str(), None),
            false => final_stop(stop, stop_string, has_tools),
        };
        let usage = match &self.usage {
            Some(usage) => anthropic_usage(Some(usage)),
            None => zero_usage(),
        };
        write_event(
            out,
            "message_delta",
            &StreamEvent {
                delta: Some(Delta {
                    stop_reason: Some(Some(CowStr::borrowed(stop_reason))),
                    stop_sequence: Some(stop_sequence.map(CowStr::from)),
                    ..Default::default()
                }),
                usage: Some(usage),
                ..event("message_delta")
            },
        );
        write_event(out, "message_stop", &event("message_stop"));
        self.phase = Phase::Done;
    }

    /// `event: error` ends the stream.
    fn error(&mut self, out: &mut Vec<u8>, failure: StreamFailure, kind: &str, message: &str) {
        if self.phase == Phase::Done {
            return;
        }
        self.failure = Some(failure);
        write_event(
            out,
            "error",
            &StreamEvent {
                error: Some(crate::anthropic::ErrorDetail {
                    kind: CowStr::borrowed(kind),
                    message: CowStr::borrowed(message),
                }),
                ..event("error")
            },
        );
        self.phase = Phase::Done;
        self.release();
    }

    /// After the end nothing is converted: drop what was held.
    fn release(&mut self) {
        self.open = None;
        self.tools = Vec::new();
        self.keys = HashMap::new();
        self.ids = HashMap::new();
        self.next_waiting = 0;
        self.held = 0;
    }
}

/// A whole message written as the event stream a streaming client expects
/// (some servers ignore `stream: true` and answer with one completion).
pub fn message_as_stream(message: &Message<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    let start = Message {
        id: message.id.clone(),
        kind: message.kind.clone(),
        role: message.role,
        model: message.model.clone(),
        content: Vec::new(),
        stop_reason: None,
        stop_sequence: None,
        usage: crate::anthropic::Usage {
            output_tokens: Some(0),
            ..message.usage
        },
    };
    write_event(
        &mut out,
        "message_start",
        &StreamEvent {
            message: Some(start),
            ..event("message_start")
        },
    );
    write_event(&mut out, "ping", &event("ping"));
    let mut next_index = 0;
    for block in &message.content {
        let (start, deltas) = block_as_stream(block);
        let index = open_block(&mut next_index, &mut out, start);
        for delta in deltas {
            write_delta(&mut out, index, delta);
        }
        write_event(
            &mut out,
            "content_block_stop",
            &StreamEvent {
                index: Some(index),
                ..event("content_block_stop")
            },
        );
    }
    write_event(
        &mut out,
        "message_delta",
        &StreamEvent {
            delta: Some(Delta {
                stop_reason: Some(message.stop_reason.clone()),
                stop_sequence: Some(message.stop_sequence.clone()),
                ..Default::default()
            }),
            usage: Some(message.usage),
            ..event("message_delta")
        },
    );
    write_event(&mut out, "message_stop", &event("message_stop"));
    out
}

/// A block's `content_block_start` form and the deltas that fill it.
fn block_as_stream<'b>(block: &'b ContentBlock<'_>) -> (ContentBlock<'b>, Vec<Delta<'b>>) {
    let delta = |kind: &'static str| Delta {
        kind: Some(CowStr::borrowed(kind)),
        ..Default::default()
    };
    match block.kind.as_str() {
        block::THINKING => (
            ContentBlock::thinking("", ""),
            vec![
                Delta {
                    thinking: block.thinking.as_deref().map(CowStr::borrowed),
                    ..delta("thinking_delta")
                },
                Delta {
                    signature: block.signature.as_deref().map(CowStr::borrowed),
                    ..delta("signature_delta")
                },
            ],
        ),
        block::TOOL_USE => (
            ContentBlock::tool_use(
                block.id.as_deref().unwrap_or(""),
                block.name.as_deref().unwrap_or(""),
                RawJson::empty_object(),
            ),
            vec![Delta {
                partial_json: Some(CowStr::borrowed(
                    block.input.as_ref().map_or("{}", RawJson::get),
                )),
                ..delta("input_json_delta")
            }],
        ),
        _ => (
            ContentBlock::text(""),
            vec![Delta {
                text: block.text.as_deref().map(CowStr::borrowed),
                ..delta("text_delta")
            }],
        ),
    }
}

/// A whole completion body for a streaming request, as the event stream
/// and its usage; for a body that is not a completion, why not.
pub fn completion_as_stream(
    body: &[u8],
    ctx: &ResponseContext,
) -> Result<(Vec<u8>, Tokens), String> {
    let message = message_from_body(body, ctx)?;
    Ok((message_as_stream(&message), Tokens::from(&message.usage)))
}

/// A stream holding only an `error` event.
pub fn error_stream(kind: &str, message: &str) -> Vec<u8> {
    let mut state = ChunksToEvents::new(ResponseContext::default(), usize::MAX);
    let mut out = Vec::new();
    state.error(&mut out, StreamFailure::UpstreamError, kind, message);
    out
}

fn event(kind: &'static str) -> StreamEvent<'static> {
    StreamEvent {
        kind: CowStr::borrowed(kind),
        ..Default::default()
    }
}

/// Writes `content_block_start` for the next index and returns the index.
fn open_block(next_index: &mut u32, out: &mut Vec<u8>, block: ContentBlock<'_>) -> u32 {
    let index = *next_index;
    *next_index += 1;
    write_event(
        out,
        "content_block_start",
        &StreamEvent {
            index: Some(index),
            content_block: Some(block),
            ..event("content_block_start")
        },
    );
    index
}

fn write_delta(out: &mut Vec<u8>, index: u32, delta: Delta<'_>) {
    write_event(
        out,
        "content_block_delta",
        &StreamEvent {
            index: Some(index),
            delta: Some(delta),
            ..event("content_block_delta")
        },
    );
}

/// Writes an argument fragment, unless it makes the arguments something
/// other than one JSON object: then the error message for the stream.
/// Whitespace before the object is not written: SDKs parse `partial_json`
/// as it accumulates, and whitespace alone does not parse.
fn write_arguments(
    out: &mut Vec<u8>,
    index: u32,
    slot: usize,
    tool: &mut ToolSlot,
    fragment: &str,
) -> Result<(), String> {
    tool.scan
        .feed(fragment)
        .map_err(|problem| tool_arguments_error(slot, &tool.name, problem))?;
    if fragment.is_empty() || tool.scan.is_empty() {
        return Ok(());
    }
    write_delta(
        out,
        index,
        Delta {
            kind: Some(CowStr::borrowed("input_json_delta")),
            partial_json: Some(CowStr::borrowed(fragment)),
            ..Default::default()
        },
    );
    Ok(())
}

fn part_text<'p>(part: &'p ContentPart<'_>) -> &'p str {
    part.text.as_deref().unwrap_or("")
}

/// The Anthropic error type for a mid-stream upstream error: by the HTTP
/// status it carries as `code`, else by the status its type (or code)
/// stands for in either protocol, else `api_error`.
fn stream_error_type(error: &UpstreamError) -> &'static str {
    if let Some(status) = error.code.as_deref().and_then(|c| c.parse::<u16>().ok()) {
        if (400..600).contains(&status) {
            return anthropic_error_type(status);
        }
    }
    error
        .kind
        .as_deref()
        .or(error.code.as_deref())
        .and_then(|name| anthropic_error_status(name).or_else(|| openai_error_status(name)))
        .map_or("api_error", anthropic_error_type)
}
