//! OpenAI Responses stream events → Anthropic stream events.
//!
//! The output grammar is Anthropic's, exactly as the Chat pair writes it:
//! `message_start`, `ping`, blocks opened one at a time with increasing
//! indexes, then `message_delta` and `message_stop` once, or one `error`.
//!
//! Each output item becomes at most one block, in the order the items were
//! added: `reasoning` → thinking (summary or reasoning-text deltas), kept
//! open until `output_item.done` brings the encrypted content that becomes
//! its `signature_delta`; `message` → text; `function_call` → `tool_use`
//! with `input_json_delta`s; `custom_tool_call` → `tool_use` whose input is
//! `{"input": …}`, its freeform text streamed as an escaped JSON string.
//! A block opens at its item's first text, or when the item is done. Deltas
//! are matched to their item by `output_index` (or `item_id`); deltas of an
//! item behind the open one (not seen from OpenAI, whose items stream one
//! after another) are held, bounded by `max_held_bytes`, and written when
//! its block opens. An item that streamed no deltas (LM Studio sends
//! function arguments only when done) is written from its done form.
//!
//! `response.completed` and `response.incomplete` end the message with the
//! stop reason and usage; `response.failed`, an `error` event, or a body
//! that ends before either is an `event: error`, never a silent `end_turn`.
//! Keep-alive comments and unknown event types are skipped.

use super::response::{
    anthropic_usage, message_from_body, message_text, reasoning_text, stop_reason,
    CUSTOM_INPUT_KEY, SUMMARY_SEPARATOR,
};
use crate::anthropic::{ContentBlock, Delta, Message, StreamEvent};
use crate::convert::anthropic_client::response::{
    tool_arguments_error, tool_fallback_id, zero_usage, ResponseContext,
};
use crate::convert::anthropic_client::stream::{message_as_stream, Phase};
use crate::convert::error::{excerpt, MAX_MESSAGE_BYTES};
use crate::convert::signature::{reasoning_signature, Signer};
use crate::convert::tool_arguments::ObjectScan;
use crate::convert::{unparsable_event, STREAM_INCOMPLETE};
use crate::report::{StreamFailure, StreamOutcome, Tokens};
use crate::responses::{Item, Response, ResponseUsage, StreamEvent as ResponsesEvent};
use crate::sse::{
    over_cap, write_event, SseConverter, SseError, SseHandler, SseItem, SseParser, MAX_LINE_BYTES,
};
use crate::wire::{CowStr, RawJson};
use std::collections::HashMap;

/// Most bytes `new` holds for items not yet closed: deltas waiting behind
/// the open item, done forms and encrypted reasoning waiting for their
/// block, item ids and tool names (the filter uses `with_cap` and the
/// configured `max_held_bytes`).
pub const MAX_HELD_BYTES: usize = 8 * 1024 * 1024;

/// Most output items one response may have.
pub const MAX_ITEMS: usize = 4096;

/// Converts one streamed response; feed it the body as it arrives
/// (`push`, then `finish` at the end of the body).
pub type StreamConverter = SseConverter<ResponsesToEvents>;

impl StreamConverter {
    pub fn new(ctx: ResponseContext) -> StreamConverter {
        StreamConverter::with_parser(ctx, SseParser::default())
    }

    pub fn with_parser(ctx: ResponseContext, parser: SseParser) -> StreamConverter {
        SseConverter::from_parts(ResponsesToEvents::new(ctx, MAX_HELD_BYTES), parser)
    }

    /// A converter that never holds more than `cap` bytes at once
    /// (`max_held_bytes`: the parser's partial event and the items not yet
    /// closed together); past it the stream ends in an error.
    pub fn with_cap(ctx: ResponseContext, cap: usize) -> StreamConverter {
        StreamConverter::with_limits(ctx, MAX_LINE_BYTES, cap)
    }

    /// `with_cap` with another bound on one SSE line or event.
    pub fn with_limits(ctx: ResponseContext, max_line_bytes: usize, cap: usize) -> StreamConverter {
        SseConverter::from_parts(
            ResponsesToEvents::new(ctx, cap),
            SseParser::with_cap(max_line_bytes, cap),
        )
    }
}

impl SseHandler for ResponsesToEvents {
    fn on_item(&mut self, item: SseItem<'_>, out: &mut Vec<u8>) {
        if self.phase == Phase::Done {
            return;
        }
        if let SseItem::Event {
            event,
            data,
            terminated,
        } = item
        {
            self.on_data(event, data.trim(), terminated, out);
        }
    }

    fn on_invalid(&mut self, error: &SseError, out: &mut Vec<u8>) {
        let failure = match error {
            SseError::OverCap { .. } => StreamFailure::OverHeldLimit,
            SseError::LineTooLong { .. } => StreamFailure::Invalid,
        };
        self.error(out, failure, "api_error", &error.to_string());
    }

    /// A stream that stopped before its terminal event gets an error.
    fn on_end(&mut self, out: &mut Vec<u8>) {
        self.error(
            out,
            StreamFailure::Incomplete,
            "api_error",
            STREAM_INCOMPLETE,
        );
    }

    fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    fn held_bytes(&self) -> usize {
        self.held_bytes
    }
}

impl StreamOutcome for ResponsesToEvents {
    fn failure(&self) -> Option<StreamFailure> {
        self.failure
    }

    fn tokens(&self) -> Option<Tokens> {
        self.usage
            .as_ref()
            .map(|u| Tokens::from(&anthropic_usage(Some(u))))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Reasoning,
    Message,
    FunctionCall,
    CustomToolCall,
    /// Built-in tool calls and anything else: no block.
    Other,
}

impl Kind {
    fn of(item_type: &str) -> Kind {
        match item_type {
            "reasoning" => Kind::Reasoning,
            "message" => Kind::Message,
            "function_call" => Kind::FunctionCall,
            "custom_tool_call" => Kind::CustomToolCall,
            _ => Kind::Other,
        }
    }

    fn is_tool(self) -> bool {
        matches!(self, Kind::FunctionCall | Kind::CustomToolCall)
    }
}

/// Which deltas carry a reasoning item's thinking text: the first kind seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReasoningSource {
    Summary,
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    /// Not opened (yet).
    None,
    Open(u32),
    Closed,
}

/// One output item and its (future) block.
#[derive(Debug)]
struct ItemState {
    id: String,
    kind: Kind,
    call_id: String,
    name: String,
    /// Deltas not yet written (an earlier item's block is open).
    held: String,
    /// Deltas were received (written or held).
    streamed: bool,
    /// `function_call`: its arguments so far, checked to be one JSON object.
    scan: ObjectScan,
    /// Tool calls: which one it is (0, 1, …), for error messages.
    ordinal: usize,
    block: Block,
    source: Option<ReasoningSource>,
    summary_index: Option<u32>,
    signer: Signer,
    /// `output_item.done` arrived; for reasoning, its encrypted content.
    done: bool,
    encrypted: Option<String>,
    /// Done form of an item that streamed no deltas.
    final_text: Option<String>,
}

impl ItemState {
    fn new(kind: Kind, id: &str) -> ItemState {
        ItemState {
            id: id.to_string(),
            kind,
            call_id: String::new(),
            name: String::new(),
            held: String::new(),
            streamed: false,
            scan: ObjectScan::default(),
            ordinal: 0,
            block: Block::None,
            source: None,
            summary_index: None,
            signer: Signer::default(),
            done: false,
            encrypted: None,
            final_text: None,
        }
    }
}

/// The state of one Responses stream being written as Anthropic events.
#[derive(Debug)]
pub struct ResponsesToEvents {
    ctx: ResponseContext,
    phase: Phase,
    message_id: String,
    next_index: u32,
    items: Vec<ItemState>,
    by_output_index: HashMap<u32, usize>,
    /// The first item whose block is not closed.
    current: usize,
    held_bytes: usize,
    cap: usize,
    /// Tool blocks opened so far.
    tool_calls: usize,
    refused: bool,
    usage: Option<ResponseUsage>,
    failure: Option<StreamFailure>,
}

impl ResponsesToEvents {
    fn new(ctx: ResponseContext, cap: usize) -> ResponsesToEvents {
        ResponsesToEvents {
            message_id: ctx.fallback_id.clone(),
            ctx,
            phase: Phase::Waiting,
            next_index: 0,
            items: Vec::new(),
            by_output_index: HashMap::new(),
            current: 0,
            held_bytes: 0,
            cap,
            tool_calls: 0,
            refused: false,
            usage: None,
            failure: None,
        }
    }

    fn on_data(&mut self, name: &str, data: &str, terminated: bool, out: &mut Vec<u8>) {
        if data.is_empty() || data == "[DONE]" {
            return;
        }
        let event: ResponsesEvent<'_> = match serde_json::from_slice(data.as_bytes()) {
            Ok(event) => event,
            Err(e) => {
                let (failure, message) = unparsable_event(terminated, "event", &e);
                self.error(out, failure, "api_error", &message);
                return;
            }
        };
        // Some servers send a bare `{"error": {...}}` on a failure.
        let kind = match (event.kind.as_str(), name) {
            ("", "") if event.error.is_some() => "error",
            ("", name) => name,
            (kind, _) => kind,
        };
        match kind {
            "response.created" | "response.in_progress" | "response.queued" => {
                let id = event.response.as_ref().map_or("", |r| r.id.as_str());
                self.start(out, id);
            }
            "response.output_item.added" => {
                self.start(out, "");
                if let Some(item) = &event.item {
                    self.add_item(item, event.output_index, out);
                }
            }
            "response.output_item.done" => {
                self.start(out, "");
                if let Some(item) = event.item {
                    self.item_done(item, event.output_index, out);
                }
            }
            "response.output_text.delta" => self.delta(&event, Kind::Message, out),
            "response.refusal.delta" => {
                self.refused |= event.delta.as_ref().is_some_and(|d| !d.is_empty());
                self.delta(&event, Kind::Message, out);
            }
            "response.reasoning_summary_text.delta" => {
                self.reasoning_delta(&event, ReasoningSource::Summary, out)
            }
            "response.reasoning_text.delta" => {
                self.reasoning_delta(&event, ReasoningSource::Text, out)
            }
            "response.function_call_arguments.delta" => self.delta(&event, Kind::FunctionCall, out),
            "response.custom_tool_call_input.delta" => {
                self.delta(&event, Kind::CustomToolCall, out)
            }
            "response.completed" | "response.incomplete" => {
                self.start(out, "");
                let cut = kind == "response.incomplete";
                self.finish(event.response, cut, out);
            }
            "response.failed" => {
                let error = event.response.and_then(|r| r.error);
                let code = error.as_ref().and_then(|e| e.code.as_deref());
                let message = error
                    .as_ref()
                    .map(|e| excerpt(&e.message, MAX_MESSAGE_BYTES))
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| "upstream response failed".to_string());
                self.error(
                    out,
                    StreamFailure::UpstreamError,
                    error_type(code),
                    &message,
                );
            }
            "error" => {
                let nested = event.error.as_ref();
                let code = event
                    .code
                    .as_deref()
                    .or_else(|| nested.and_then(|e| e.code.as_deref()))
                    .or_else(|| nested.and_then(|e| e.kind.as_deref()));
                let message = event
                    .message
                    .as_deref()
                    .or_else(|| nested.and_then(|e| e.message.as_deref()))
                    .map(|m| excerpt(m, MAX_MESSAGE_BYTES))
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| "upstream stream error".to_string());
                self.error(
                    out,
                    StreamFailure::UpstreamError,
                    error_type(code),
                    &message,
                );
            }
            _ => {}
        }
    }

    /// `message_start`, naming the model the client asked for (`ctx.model`),
    /// never the upstream's.
    fn start(&mut self, out: &mut Vec<u8>, id: &str) {
        if self.phase != Phase::Waiting {
            return;
        }
        if !id.is_empty() {
            self.message_id = id.to_string();
        }
        let message = Message {
            id: CowStr::borrowed(&self.message_id),
            kind: CowStr::borrowed("message"),
            role: crate::anthropic::Role::Assistant,
            model: CowStr::borrowed(&self.ctx.model),
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

    /// The item an event is about: by `output_index`, else by `item_id`,
    /// else (`latest`) the last one; created (of `kind`) when not found.
    fn item_for(
        &mut self,
        output_index: Option<u32>,
        item_id: Option<&str>,
        kind: Kind,
        latest: bool,
        out: &mut Vec<u8>,
    ) -> Option<usize> {
        let item_id = item_id.filter(|id| !id.is_empty());
        let found = match (output_index, item_id) {
            (Some(index), _) => self.by_output_index.get(&index).copied(),
            (None, Some(id)) => self.items.iter().rposition(|i| i.id == id),
            (None, None) if latest => self.items.len().checked_sub(1),
            (None, None) => None,
        };
        if found.is_some() {
            return found;
        }
        if self.items.len() >= MAX_ITEMS {
            self.error(
                out,
                StreamFailure::Invalid,
                "api_error",
                &format!("upstream sent more than {MAX_ITEMS} output items"),
            );
            return None;
        }
        let id = item_id.unwrap_or("");
        if !self.hold(id.len(), out) {
            return None;
        }
        let position = self.items.len();
        if let Some(index) = output_index {
            self.by_output_index.insert(index, position);
        }
        self.items.push(ItemState::new(kind, id));
        Some(position)
    }

    /// `output_item.added` (and `done`): the item's kind, call id and name.
    fn add_item(
        &mut self,
        item: &Item<'_>,
        output_index: Option<u32>,
        out: &mut Vec<u8>,
    ) -> Option<usize> {
        let kind = Kind::of(item.kind());
        let position = self.item_for(output_index, item.id.as_deref(), kind, false, out)?;
        let client_name = item
            .name
            .as_deref()
            .map(|name| self.ctx.tool_names.client(name).to_string());
        let state = self.items.get_mut(position)?;
        if state.block == Block::None {
            state.kind = kind;
        }
        let before = state.call_id.len() + state.name.len();
        if state.call_id.is_empty() && state.block == Block::None {
            state.call_id = item.call_id.as_deref().unwrap_or("").to_string();
        }
        if state.name.is_empty() && state.block == Block::None {
            state.name = client_name.unwrap_or_default();
        }
        let added = (state.call_id.len() + state.name.len()).saturating_sub(before);
        self.hold(added, out).then_some(position)
    }

    /// `output_item.done`: what the item's block still needs (its encrypted
    /// content; its whole text if it streamed none); then every done item
    /// at the front is closed.
    fn item_done(&mut self, item: Item<'_>, output_index: Option<u32>, out: &mut Vec<u8>) {
        let Some(position) = self.add_item(&item, output_index, out) else {
            return;
        };
        let Some(state) = self.items.get_mut(position) else {
            return;
        };
        if state.done {
            return;
        }
        state.done = true;
        state.encrypted = item
            .encrypted_content
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        if !state.streamed && state.block != Block::Closed {
            state.final_text = match state.kind {
                Kind::Reasoning => Some(reasoning_text(&item)),
                Kind::Message => {
                    let (text, refused) = message_text(item.content);
                    self.refused |= refused;
                    text.map(|t| t.to_string())
                }
                Kind::FunctionCall => item.arguments.map(|a| a.to_string()),
                Kind::CustomToolCall => item.input.map(|i| escape_fragment(&i)),
                Kind::Other => None,
            };
        }
        let Some(state) = self.items.get(position) else {
            return;
        };
        let kept = state.encrypted.as_ref().map_or(0, String::len)
            + state.final_text.as_ref().map_or(0, String::len);
        if self.hold(kept, out) {
            self.advance(out);
        }
    }

    fn reasoning_delta(
        &mut self,
        event: &ResponsesEvent<'_>,
        source: ReasoningSource,
        out: &mut Vec<u8>,
    ) {
        let Some(position) = self.event_item(event, Kind::Reasoning, out) else {
            return;
        };
        let Some(state) = self.items.get_mut(position) else {
            return;
        };
        if *state.source.get_or_insert(source) != source {
            return;
        }
        let delta = event.delta.as_deref().unwrap_or("");
        if delta.is_empty() {
            return;
        }
        let new_part = source == ReasoningSource::Summary
            && state.summary_index.is_some()
            && state.summary_index != event.summary_index;
        if source == ReasoningSource::Summary {
            state.summary_index = event.summary_index.or(state.summary_index);
        }
        if new_part {
            self.content(position, SUMMARY_SEPARATOR, out);
        }
        self.content(position, delta, out);
    }

    fn delta(&mut self, event: &ResponsesEvent<'_>, kind: Kind, out: &mut Vec<u8>) {
        let Some(position) = self.event_item(event, kind, out) else {
            return;
        };
        let delta = event.delta.as_deref().unwrap_or("");
        match self.items.get(position).map(|s| s.kind) {
            Some(Kind::CustomToolCall) => self.content(position, &escape_fragment(delta), out),
            _ => self.content(position, delta, out),
        }
    }

    fn event_item(
        &mut self,
        event: &ResponsesEvent<'_>,
        kind: Kind,
        out: &mut Vec<u8>,
    ) -> Option<usize> {
        self.start(out, "");
        self.item_for(
            event.output_index,
            event.item_id.as_deref(),
            kind,
            true,
            out,
        )
    }

    /// Writes a fragment of an item's block, or holds it until the block
    /// can open; fragments of a closed item are dropped.
    fn content(&mut self, position: usize, fragment: &str, out: &mut Vec<u8>) {
        if fragment.is_empty() || self.phase != Phase::Streaming {
            return;
        }
        let current = self.current;
        let Some(state) = self.items.get_mut(position) else {
            return;
        };
        if state.kind == Kind::Other {
            return;
        }
        state.streamed = true;
        if state.block == Block::Closed {
            log::warn!("dropped a delta for an output item whose block was closed");
            return;
        }
        if position != current {
            state.held.push_str(fragment);
            self.hold(fragment.len(), out);
            return;
        }
        self.write(position, fragment, out);
    }

    /// Opens the item's block if needed and writes `fragment` into it.
    fn write(&mut self, position: usize, fragment: &str, out: &mut Vec<u8>) {
        if fragment.is_empty() {
            return;
        }
        let index = match self.items.get(position).map(|s| s.block) {
            Some(Block::Open(index)) => index,
            Some(Block::None) => match self.open(position, out) {
                Some(index) => index,
                None => return,
            },
            _ => return,
        };
        let Some(state) = self.items.get_mut(position) else {
            return;
        };
        if state.kind == Kind::FunctionCall {
            if let Err(problem) = state.scan.feed(fragment) {
                let message = tool_arguments_error(state.ordinal, &state.name, problem);
                self.error(out, StreamFailure::Invalid, "api_error", &message);
                return;
            }
            // Whitespace before the object is not written: SDKs parse
            // `partial_json` as it accumulates.
            if state.scan.is_empty() {
                return;
            }
        }
        let delta = match state.kind {
            Kind::Reasoning => {
                state.signer.write(fragment);
                Delta {
                    thinking: Some(CowStr::borrowed(fragment)),
                    ..delta("thinking_delta")
                }
            }
            Kind::Message => Delta {
                text: Some(CowStr::borrowed(fragment)),
                ..delta("text_delta")
            },
            Kind::FunctionCall | Kind::CustomToolCall => Delta {
                partial_json: Some(CowStr::borrowed(fragment)),
                ..delta("input_json_delta")
            },
            Kind::Other => return,
        };
        write_delta(out, index, delta);
    }

    fn open(&mut self, position: usize, out: &mut Vec<u8>) -> Option<u32> {
        let fallback_id = tool_fallback_id(&self.message_id, self.next_index as usize);
        let state = self.items.get_mut(position)?;
        let block = match state.kind {
            Kind::Reasoning => ContentBlock::thinking("", ""),
            Kind::Message => ContentBlock::text(""),
            Kind::FunctionCall | Kind::CustomToolCall => {
                if state.call_id.is_empty() {
                    state.call_id = fallback_id;
                }
                state.ordinal = self.tool_calls;
                self.tool_calls += 1;
                ContentBlock::tool_use(
                    state.call_id.as_str(),
                    state.name.as_str(),
                    RawJson::empty_object(),
                )
            }
            Kind::Other => return None,
        };
        let index = open_block(&mut self.next_index, out, block);
        state.block = Block::Open(index);
        if state.kind == Kind::CustomToolCall {
            let prefix = format!("{{\"{CUSTOM_INPUT_KEY}\":\"");
            write_delta(
                out,
                index,
                Delta {
                    partial_json: Some(CowStr::from(prefix)),
                    ..delta("input_json_delta")
                },
            );
        }
        Some(index)
    }

    /// Closes the item's block: what it still holds or its done form is
    /// written first; thinking gets its signature, a tool its input's end.
    fn close(&mut self, position: usize, out: &mut Vec<u8>) {
        let Some(state) = self.items.get_mut(position) else {
            return;
        };
        if state.block == Block::Closed {
            return;
        }
        let held = std::mem::take(&mut state.held);
        let streamed = state.streamed;
        let final_text = state.final_text.take();
        let released = held.len()
            + final_text.as_ref().map_or(0, String::len)
            + state.encrypted.as_ref().map_or(0, String::len)
            + state.call_id.len()
            + state.name.len();
        let final_text = final_text.filter(|_| !streamed);
        self.held_bytes = self.held_bytes.saturating_sub(released);
        self.write(position, &held, out);
        if let Some(text) = final_text {
            self.write(position, &text, out);
        }
        let must_exist = match self.items.get(position) {
            Some(state) if state.block == Block::None => match state.kind {
                Kind::Reasoning => state.encrypted.is_some(),
                Kind::FunctionCall | Kind::CustomToolCall => true,
                Kind::Message | Kind::Other => false,
            },
            _ => false,
        };
        if must_exist {
            self.open(position, out);
        }
        let Some(state) = self.items.get_mut(position) else {
            return;
        };
        let encrypted = state.encrypted.take();
        let name = std::mem::take(&mut state.name);
        state.call_id = String::new();
        let Block::Open(index) = state.block else {
            state.block = Block::Closed;
            return;
        };
        state.block = Block::Closed;
        let end = match state.kind {
            Kind::Reasoning => {
                let signature = match encrypted {
                    Some(encrypted) => reasoning_signature(&encrypted),
                    None => state.signer.signature(),
                };
                Ok(Some(Delta {
                    signature: Some(CowStr::from(signature)),
                    ..delta("signature_delta")
                }))
            }
            // A call without arguments: its input is `{}`.
            Kind::FunctionCall if state.scan.is_empty() => Ok(Some(Delta {
                partial_json: Some(CowStr::borrowed("{}")),
                ..delta("input_json_delta")
            })),
            Kind::FunctionCall => state
                .scan
                .finish()
                .map(|()| None)
                .map_err(|problem| tool_arguments_error(state.ordinal, &name, problem)),
            Kind::CustomToolCall => Ok(Some(Delta {
                partial_json: Some(CowStr::borrowed("\"}")),
                ..delta("input_json_delta")
            })),
            Kind::Message | Kind::Other => Ok(None),
        };
        match end {
            Ok(Some(end)) => write_delta(out, index, end),
            Ok(None) => {}
            Err(message) => {
                self.error(out, StreamFailure::Invalid, "api_error", &message);
                return;
            }
        }
        write_event(
            out,
            "content_block_stop",
            &StreamEvent {
                index: Some(index),
                ..event("content_block_stop")
            },
        );
    }

    /// Counts `bytes` more held for items; past the cap the stream ends in
    /// an error (false).
    fn hold(&mut self, bytes: usize, out: &mut Vec<u8>) -> bool {
        self.held_bytes = self.held_bytes.saturating_add(bytes);
        if self.held_bytes <= self.cap {
            return true;
        }
        let message = over_cap(self.cap);
        self.error(out, StreamFailure::OverHeldLimit, "api_error", &message);
        false
    }

    /// Moves past every done item at the front, closing its block, and
    /// writes what the next open item holds.
    fn advance(&mut self, out: &mut Vec<u8>) {
        while self.phase == Phase::Streaming {
            let Some(state) = self.items.get_mut(self.current) else {
                return;
            };
            if !state.done {
                if !state.held.is_empty() {
                    let held = std::mem::take(&mut state.held);
                    self.held_bytes = self.held_bytes.saturating_sub(held.len());
                    self.write(self.current, &held, out);
                }
                return;
            }
            self.close(self.current, out);
            self.current += 1;
        }
    }

    /// `response.completed` / `response.incomplete`: every block closed in
    /// order, then `message_delta` and `message_stop`.
    fn finish(&mut self, response: Option<Response<'_>>, cut: bool, out: &mut Vec<u8>) {
        if self.phase != Phase::Streaming {
            return;
        }
        while self.current < self.items.len() {
            self.close(self.current, out);
            self.current += 1;
        }
        let (status, reason, usage) = match response {
            Some(r) => (
                r.status,
                r.incomplete_details.and_then(|d| d.reason),
                r.usage,
            ),
            None => (None, None, None),
        };
        if usage.is_some() {
            self.usage = usage;
        }
        let cut = status.as_deref().map_or(cut, |s| s == "incomplete");
        let incomplete = cut.then(|| reason.as_deref().unwrap_or("").to_string());
        let has_tools = self.items.iter().any(|i| i.kind.is_tool());
        let stop = stop_reason(self.refused, incomplete.as_deref(), has_tools);
        write_event(
            out,
            "message_delta",
            &StreamEvent {
                delta: Some(Delta {
                    stop_reason: Some(Some(CowStr::borrowed(stop))),
                    stop_sequence: Some(None),
                    ..Default::default()
                }),
                usage: Some(anthropic_usage(self.usage.as_ref())),
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
    }
}

/// A whole Responses body answering a streaming request (a server that
/// ignored `stream: true`), as the Anthropic stream of the same message,
/// with its usage; for a body that is not a response, the message of the
/// error the client gets instead.
pub fn response_as_stream(body: &[u8], ctx: &ResponseContext) -> Result<(Vec<u8>, Tokens), String> {
    let message = message_from_body(body, ctx)?;
    Ok((message_as_stream(&message), Tokens::from(&message.usage)))
}

/// The Anthropic error type for a Responses error `code`.
pub fn error_type(code: Option<&str>) -> &'static str {
    match code.unwrap_or("") {
        "rate_limit_exceeded" | "rate_limit_error" => "rate_limit_error",
        "insufficient_quota" => "billing_error",
        "server_is_overloaded" | "slow_down" => "overloaded_error",
        "invalid_prompt" | "context_length_exceeded" | "invalid_request_error" => {
            "invalid_request_error"
        }
        "authentication_error" | "invalid_api_key" => "authentication_error",
        _ => "api_error",
    }
}

/// Freeform text as the inside of a JSON string.
fn escape_fragment(text: &str) -> String {
    let mut quoted = Vec::with_capacity(text.len() + 2);
    crate::json::write_str(&mut quoted, text);
    let inner = quoted
        .get(1..quoted.len().saturating_sub(1))
        .unwrap_or_default();
    String::from_utf8_lossy(inner).into_owned()
}

fn event(kind: &'static str) -> StreamEvent<'static> {
    StreamEvent {
        kind: CowStr::borrowed(kind),
        ..Default::default()
    }
}

fn delta(kind: &'static str) -> Delta<'static> {
    Delta {
        kind: Some(CowStr::borrowed(kind)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_fragments_concatenate_to_the_escaped_whole() {
        let pieces = ["a\"b", "\\", "\n", "é🦀", ""];
        let whole: String = pieces.concat();
        let joined: String = pieces.iter().map(|p| escape_fragment(p)).collect();
        assert_eq!(joined, escape_fragment(&whole));
        let value: String = serde_json::from_str(&format!("\"{joined}\"")).unwrap();
        assert_eq!(value, whole);
    }
}
