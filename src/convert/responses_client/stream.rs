//! Anthropic stream events → the Responses event grammar (issue 14,
//! "Streaming"): `event: <type>\ndata: <json>\n\n`, every payload with its
//! `type` and a `sequence_number` counting from 0; `response.created` and
//! `response.in_progress` first; one output item open at a time, opened by
//! `output_item.added` and closed by `output_item.done` with the complete
//! item (Codex takes tool calls only from there); exactly one of
//! `response.completed`, `response.incomplete` or `response.failed` last.
//!
//! Consecutive text blocks are one `message` item with one `output_text`
//! part. A thinking block is a `reasoning` item that stays open until the
//! block ends, so its `encrypted_content` has the signature. A custom
//! tool's input arrives as JSON (`{"input": "..."}`) and is sent whole, as
//! one `custom_tool_call_input.delta`, when the block ends. The finished
//! items are kept for the terminal event's `output`.

use super::response::{
    call_input, call_item, carried_content, fail, failure, finish, message_item, reasoning_item,
    response_object, Ids, ItemKind, ResponseContext,
};
use super::tools::{ClientTool, ToolKind};
use crate::anthropic::{ContentBlock, Delta, StreamEvent, Usage};
use crate::convert::error::{upstream_error_from_json, UpstreamError};
use crate::convert::{unparsable_event, STREAM_INCOMPLETE};
use crate::report::LogSafe;
use crate::report::{StreamFailure, StreamOutcome, Tokens};
use crate::responses::{ContentPart, Item, Response, StreamEvent as Event};
use crate::sse::{
    write_event, SseConverter, SseError, SseHandler, SseItem, SseParser, MAX_LINE_BYTES,
};
use crate::wire::CowStr;

/// Most bytes of the answer held until the terminal event, which repeats
/// every finished item (Anthropic's largest answers are well under 1 MB).
pub const MAX_HELD_BYTES: usize = 8 * 1024 * 1024;

/// Counted for each output item besides its text (ids, call ids, names).
const ITEM_OVERHEAD: usize = 128;

/// Converts one streamed response; feed it the body as it arrives
/// (`push`, then `finish` at the end of the body).
pub type StreamConverter = SseConverter<EventsToResponses>;

impl StreamConverter {
    pub fn new(ctx: ResponseContext) -> StreamConverter {
        StreamConverter::with_parser(ctx, SseParser::default())
    }

    pub fn with_parser(ctx: ResponseContext, parser: SseParser) -> StreamConverter {
        SseConverter::from_parts(EventsToResponses::new(ctx), parser)
    }

    /// A converter that never holds more than `cap` bytes at once
    /// (`max_held_bytes`): past it, the response fails.
    pub fn with_cap(ctx: ResponseContext, cap: usize) -> StreamConverter {
        StreamConverter::with_parser(ctx, SseParser::with_cap(MAX_LINE_BYTES, cap))
    }
}

impl SseHandler for EventsToResponses {
    fn on_item(&mut self, item: SseItem<'_>, out: &mut Vec<u8>) {
        if let SseItem::Event {
            data, terminated, ..
        } = item
        {
            if !self.done {
                self.on_data(data.trim(), terminated, out);
            }
        }
    }

    fn on_invalid(&mut self, error: &SseError, out: &mut Vec<u8>) {
        let failure = match error {
            SseError::OverCap { .. } => StreamFailure::OverHeldLimit,
            SseError::LineTooLong { .. } => StreamFailure::Invalid,
        };
        self.fail(out, failure, "server_error", &error.to_string());
    }

    /// A stream that ended before `message_stop` fails: never a silent end.
    fn on_end(&mut self, out: &mut Vec<u8>) {
        self.fail(
            out,
            StreamFailure::Incomplete,
            "server_error",
            STREAM_INCOMPLETE,
        );
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn held_bytes(&self) -> usize {
        self.held
    }
}

impl StreamOutcome for EventsToResponses {
    fn failure(&self) -> Option<StreamFailure> {
        self.failure
    }

    fn tokens(&self) -> Option<Tokens> {
        self.started.then(|| Tokens::from(&self.usage))
    }
}

/// The output item being streamed.
#[derive(Debug)]
enum Open {
    /// A message with its one `output_text` part.
    Message { text: String },
    /// A reasoning item; `part` once its summary part was added.
    Reasoning {
        thinking: String,
        signature: String,
        part: bool,
    },
    Call {
        call_id: String,
        tool: ClientTool,
        json: String,
    },
}

#[derive(Debug)]
struct OpenItem {
    id: String,
    index: u32,
    open: Open,
}

/// What the current Anthropic block feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    Thinking,
    Tool,
    /// Server-side tool blocks and anything unknown.
    Ignored,
}

/// The state of one Anthropic event stream being written as Responses events.
#[derive(Debug)]
pub struct EventsToResponses {
    ctx: ResponseContext,
    ids: Ids,
    model: String,
    sequence: u64,
    started: bool,
    done: bool,
    block: Option<(u32, Block)>,
    item: Option<OpenItem>,
    output: Vec<Item<'static>>,
    usage: Usage,
    stop_reason: Option<String>,
    failure: Option<StreamFailure>,
    /// Bytes of the answer held, counted against `MAX_HELD_BYTES`.
    held: usize,
}

fn owned(text: &str) -> CowStr<'static> {
    CowStr::from(text.to_string())
}

impl EventsToResponses {
    fn new(ctx: ResponseContext) -> EventsToResponses {
        EventsToResponses {
            ids: Ids::new("", &ctx.fallback_id),
            model: ctx.model.clone(),
            ctx,
            sequence: 0,
            started: false,
            done: false,
            block: None,
            item: None,
            output: Vec::new(),
            usage: Usage::default(),
            stop_reason: None,
            failure: None,
            held: 0,
        }
    }

    /// Counts `bytes` more held; past the bound the response fails.
    fn hold(&mut self, bytes: usize, out: &mut Vec<u8>) -> bool {
        self.held = self.held.saturating_add(bytes);
        if self.held <= MAX_HELD_BYTES {
            return true;
        }
        self.fail(
            out,
            StreamFailure::OverHeldLimit,
            "server_error",
            &format!("upstream answer is larger than the {MAX_HELD_BYTES} bytes the bridge holds"),
        );
        false
    }

    fn on_data(&mut self, data: &str, terminated: bool, out: &mut Vec<u8>) {
        if data.is_empty() {
            return;
        }
        let event: StreamEvent<'_> = match serde_json::from_slice(data.as_bytes()) {
            Ok(event) => event,
            Err(e) => {
                let (failure, message) = unparsable_event(terminated, "event", &e);
                self.fail(out, failure, "server_error", &message);
                return;
            }
        };
        match event.kind.as_str() {
            "message_start" => self.message_start(event, out),
            "content_block_start" => self.block_start(event, out),
            "content_block_delta" => self.block_delta(event, out),
            "content_block_stop" => self.block_stop(event, out),
            "message_delta" => self.message_delta(event),
            "message_stop" => self.message_stop(out),
            "ping" => {}
            "error" => {
                let value = serde_json::from_slice::<serde_json::Value>(data.as_bytes())
                    .unwrap_or_default();
                let error = upstream_error_from_json(&value).unwrap_or_else(|| UpstreamError {
                    message: "upstream reported an error".to_string(),
                    ..Default::default()
                });
                let kind = error.kind.as_deref().unwrap_or("");
                let (code, message) = failure(kind, &error.message, self.ctx.retry_after);
                self.fail(out, StreamFailure::UpstreamError, code, &message);
            }
            other => log::debug!("ignored stream event `{}`", LogSafe(other)),
        }
    }

    /// Writes one event with the next sequence number; nothing once ended.
    fn emit(&mut self, out: &mut Vec<u8>, mut event: Event<'_>) {
        if self.done {
            return;
        }
        event.sequence_number = Some(self.sequence);
        self.sequence += 1;
        write_event(out, &event.kind.0.clone(), &event);
    }

    fn response(&self, status: &'static str) -> Response<'static> {
        response_object(&self.ids, &self.ctx, &self.model, status, Vec::new())
    }

    fn message_start(&mut self, event: StreamEvent<'_>, out: &mut Vec<u8>) {
        if let Some(message) = event.message {
            if !self.started {
                self.ids = Ids::new(&message.id, &self.ctx.fallback_id);
                if !message.model.is_empty() {
                    self.model = message.model.to_string();
                }
            }
            merge_usage(&mut self.usage, &message.usage);
        }
        self.start(out);
    }

    /// `response.created` and `response.in_progress`, once.
    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        for kind in ["response.created", "response.in_progress"] {
            let event = Event {
                response: Some(self.response("in_progress")),
                ..Event::new(kind)
            };
            self.emit(out, event);
        }
    }

    fn item_event(&self, kind: &'static str, item: &OpenItem) -> Event<'static> {
        Event {
            item_id: Some(owned(&item.id)),
            output_index: Some(item.index),
            ..Event::new(kind)
        }
    }

    fn open_item(&mut self, out: &mut Vec<u8>, kind: ItemKind, open: Open) {
        if !self.hold(ITEM_OVERHEAD, out) {
            return;
        }
        let n = self.output.len();
        let item = OpenItem {
            id: self.ids.item(kind, n),
            index: u32::try_from(n).unwrap_or(u32::MAX),
            open,
        };
        let added = match &item.open {
            Open::Message { .. } => message_item(&item.id, None, false),
            Open::Reasoning { .. } => reasoning_item(&item.id, None, None),
            Open::Call { call_id, tool, .. } => call_item(&item.id, call_id, tool, "", false),
        };
        let event = Event {
            output_index: Some(item.index),
            item: Some(added),
            ..Event::new("response.output_item.added")
        };
        self.emit(out, event);
        if let Open::Message { .. } = item.open {
            let part = Event {
                content_index: Some(0),
                part: Some(ContentPart::output_text("")),
                ..self.item_event("response.content_part.added", &item)
            };
            self.emit(out, part);
        }
        self.item = Some(item);
    }

    fn block_start(&mut self, event: StreamEvent<'_>, out: &mut Vec<u8>) {
        if self.stop_reason.is_some() {
            log::debug!("ignored a content block after message_delta");
            return;
        }
        self.start(out);
        let (Some(index), Some(block)) = (event.index, event.content_block) else {
            return;
        };
        let kind = match block.kind.as_str() {
            "text" => Block::Text,
            "thinking" => Block::Thinking,
            "redacted_thinking" => {
                self.redacted(&block, out);
                Block::Ignored
            }
            "tool_use" => Block::Tool,
            other => {
                log::debug!(
                    "block `{}` ran on the upstream's side; not a client tool call",
                    LogSafe(other)
                );
                Block::Ignored
            }
        };
        self.block = Some((index, kind));
        let message_open = matches!(
            self.item,
            Some(OpenItem {
                open: Open::Message { .. },
                ..
            })
        );
        match kind {
            Block::Text if message_open => {}
            Block::Text => {
                self.close_item(out);
                let open = Open::Message {
                    text: String::new(),
                };
                self.open_item(out, ItemKind::Message, open);
            }
            Block::Thinking => {
                self.close_item(out);
                let open = Open::Reasoning {
                    thinking: String::new(),
                    signature: String::new(),
                    part: false,
                };
                self.open_item(out, ItemKind::Reasoning, open);
            }
            Block::Tool => {
                self.close_item(out);
                let named = block.id.as_deref().map_or(0, str::len)
                    + block.name.as_deref().map_or(0, str::len);
                if !self.hold(named, out) {
                    return;
                }
                let tool = self.ctx.tools.client(block.name.as_deref().unwrap_or(""));
                let call_id = block
                    .id
                    .as_deref()
                    .filter(|id| !id.is_empty())
                    .map_or_else(|| format!("call_{}", self.output.len()), str::to_string);
                let kind = ItemKind::of_call(&tool);
                let open = Open::Call {
                    call_id,
                    tool,
                    json: String::new(),
                };
                self.open_item(out, kind, open);
            }
            Block::Ignored => {}
        }
        if kind == Block::Text {
            if let Some(text) = block.text.filter(|t| !t.is_empty()) {
                self.text_delta(out, &text);
            }
        }
    }

    /// A redacted_thinking block is a reasoning item with no summary, whole
    /// at once.
    fn redacted(&mut self, block: &ContentBlock<'_>, out: &mut Vec<u8>) {
        self.close_item(out);
        if !self.hold(block.data.as_deref().map_or(0, str::len), out) {
            return;
        }
        let open = Open::Reasoning {
            thinking: String::new(),
            signature: String::new(),
            part: false,
        };
        self.open_item(out, ItemKind::Reasoning, open);
        if let Some(item) = self.item.take() {
            let done = reasoning_item(&item.id, None, carried_content(block));
            self.item_done(out, item.index, done);
        }
    }

    fn block_delta(&mut self, event: StreamEvent<'_>, out: &mut Vec<u8>) {
        let (Some(delta), Some((index, kind))) = (event.delta, self.block) else {
            return;
        };
        if event.index != Some(index) || self.stop_reason.is_some() {
            log::debug!("ignored a delta outside the open block");
            return;
        }
        match (kind, delta.kind.as_deref()) {
            (Block::Text, Some("text_delta")) => {
                if let Some(text) = delta.text.filter(|t| !t.is_empty()) {
                    self.text_delta(out, &text);
                }
            }
            (Block::Thinking, Some("thinking_delta")) => {
                if let Some(thinking) = delta.thinking.filter(|t| !t.is_empty()) {
                    self.thinking_delta(out, &thinking);
                }
            }
            (Block::Thinking, Some("signature_delta")) => {
                if let Some(piece) = delta.signature {
                    if !self.hold(piece.len(), out) {
                        return;
                    }
                    if let Some(OpenItem {
                        open: Open::Reasoning { signature, .. },
                        ..
                    }) = self.item.as_mut()
                    {
                        signature.push_str(&piece);
                    }
                }
            }
            (Block::Tool, Some("input_json_delta")) => {
                if let Some(partial) = delta.partial_json.filter(|p| !p.is_empty()) {
                    self.input_delta(out, &partial);
                }
            }
            (_, kind) => log::debug!("ignored a `{}` delta", LogSafe(kind.unwrap_or("untyped"))),
        }
    }

    fn text_delta(&mut self, out: &mut Vec<u8>, piece: &str) {
        if !self.hold(piece.len(), out) {
            return;
        }
        let Some(item) = self.item.as_mut() else {
            return;
        };
        let Open::Message { text } = &mut item.open else {
            return;
        };
        text.push_str(piece);
        let event = Event {
            content_index: Some(0),
            delta: Some(owned(piece)),
            logprobs: Some(Vec::new()),
            ..self.item_event_of("response.output_text.delta")
        };
        self.emit(out, event);
    }

    fn item_event_of(&self, kind: &'static str) -> Event<'static> {
        match &self.item {
            Some(item) => self.item_event(kind, item),
            None => Event::new(kind),
        }
    }

    fn thinking_delta(&mut self, out: &mut Vec<u8>, piece: &str) {
        // Held twice: the summary text and the thinking the item carries.
        if !self.hold(piece.len().saturating_mul(2), out) {
            return;
        }
        let Some(item) = self.item.as_mut() else {
            return;
        };
        let Open::Reasoning { thinking, part, .. } = &mut item.open else {
            return;
        };
        thinking.push_str(piece);
        let first = !*part;
        *part = true;
        if first {
            let added = Event {
                summary_index: Some(0),
                part: Some(ContentPart::text("summary_text", "")),
                ..self.item_event_of("response.reasoning_summary_part.added")
            };
            self.emit(out, added);
        }
        let event = Event {
            summary_index: Some(0),
            delta: Some(owned(piece)),
            ..self.item_event_of("response.reasoning_summary_text.delta")
        };
        self.emit(out, event);
    }

    /// Function arguments stream as they come; a custom tool's input is
    /// JSON around the string the client wants, so it is held to the end.
    fn input_delta(&mut self, out: &mut Vec<u8>, partial: &str) {
        if !self.hold(partial.len(), out) {
            return;
        }
        let Some(item) = self.item.as_mut() else {
            return;
        };
        let Open::Call { json, tool, .. } = &mut item.open else {
            return;
        };
        json.push_str(partial);
        if tool.kind == ToolKind::Function {
            let event = Event {
                delta: Some(owned(partial)),
                ..self.item_event_of("response.function_call_arguments.delta")
            };
            self.emit(out, event);
        }
    }

    /// Only a text block leaves its item open: the next text block joins it.
    fn block_stop(&mut self, event: StreamEvent<'_>, out: &mut Vec<u8>) {
        let Some((index, kind)) = self.block else {
            return;
        };
        if event.index != Some(index) {
            return;
        }
        self.block = None;
        if matches!(kind, Block::Thinking | Block::Tool) {
            self.close_item(out);
        }
    }

    fn item_done(&mut self, out: &mut Vec<u8>, index: u32, item: Item<'static>) {
        let event = Event {
            output_index: Some(index),
            item: Some(item.clone()),
            ..Event::new("response.output_item.done")
        };
        self.emit(out, event);
        self.output.push(item);
    }

    /// Ends the open item: its closing events, then `output_item.done`.
    fn close_item(&mut self, out: &mut Vec<u8>) {
        let Some(item) = self.item.take() else {
            return;
        };
        let done = match &item.open {
            Open::Message { text } => {
                let text_done = Event {
                    content_index: Some(0),
                    text: Some(owned(text)),
                    logprobs: Some(Vec::new()),
                    ..self.item_event("response.output_text.done", &item)
                };
                self.emit(out, text_done);
                let part_done = Event {
                    content_index: Some(0),
                    part: Some(ContentPart::output_text(owned(text))),
                    ..self.item_event("response.content_part.done", &item)
                };
                self.emit(out, part_done);
                message_item(&item.id, Some(text), true)
            }
            Open::Reasoning {
                thinking,
                signature,
                part,
            } => {
                if *part {
                    let text_done = Event {
                        summary_index: Some(0),
                        text: Some(owned(thinking)),
                        ..self.item_event("response.reasoning_summary_text.done", &item)
                    };
                    self.emit(out, text_done);
                    let part_done = Event {
                        summary_index: Some(0),
                        part: Some(ContentPart::text("summary_text", owned(thinking))),
                        ..self.item_event("response.reasoning_summary_part.done", &item)
                    };
                    self.emit(out, part_done);
                }
                let block = ContentBlock::thinking(thinking.as_str(), signature.as_str());
                let summary = part.then_some(thinking.as_str());
                reasoning_item(&item.id, summary, carried_content(&block))
            }
            Open::Call {
                call_id,
                tool,
                json,
            } => {
                let (input, streamed, delta_kind, done_kind) = match tool.kind {
                    ToolKind::Function => (
                        function_arguments(json),
                        json.len(),
                        "response.function_call_arguments.delta",
                        "response.function_call_arguments.done",
                    ),
                    ToolKind::Custom => (
                        call_input(ToolKind::Custom, json),
                        0,
                        "response.custom_tool_call_input.delta",
                        "response.custom_tool_call_input.done",
                    ),
                };
                // What streamed so far and this add up to the .done text.
                if let Some(rest) = input.get(streamed..).filter(|r| !r.is_empty()) {
                    let delta = Event {
                        delta: Some(owned(rest)),
                        ..self.item_event(delta_kind, &item)
                    };
                    self.emit(out, delta);
                }
                let mut done_event = self.item_event(done_kind, &item);
                match tool.kind {
                    ToolKind::Function => done_event.arguments = Some(owned(&input)),
                    ToolKind::Custom => done_event.input = Some(owned(&input)),
                }
                self.emit(out, done_event);
                call_item(&item.id, call_id, tool, &input, true)
            }
        };
        self.item_done(out, item.index, done);
    }

    fn message_delta(&mut self, event: StreamEvent<'_>) {
        if let Some(usage) = &event.usage {
            merge_usage(&mut self.usage, usage);
        }
        if let Some(stop) = event.delta.and_then(|d| d.stop_reason).flatten() {
            self.stop_reason.get_or_insert_with(|| stop.to_string());
        }
    }

    /// The terminal event with every finished item.
    fn message_stop(&mut self, out: &mut Vec<u8>) {
        self.start(out);
        self.close_item(out);
        let mut response = self.response("completed");
        finish(&mut response, self.stop_reason.as_deref(), &self.usage);
        response.output = std::mem::take(&mut self.output);
        let kind = match response.status.as_deref() {
            Some("incomplete") => "response.incomplete",
            _ => "response.completed",
        };
        let event = Event {
            response: Some(response),
            ..Event::new(kind)
        };
        self.emit(out, event);
        self.done = true;
    }

    /// `response.failed` ends the stream (after created/in_progress, which
    /// a client needs first).
    fn fail(&mut self, out: &mut Vec<u8>, failure: StreamFailure, code: &str, message: &str) {
        if self.done {
            return;
        }
        self.failure = Some(failure);
        self.start(out);
        let mut response = self.response("failed");
        fail(&mut response, code, message);
        let event = Event {
            response: Some(response),
            ..Event::new("response.failed")
        };
        self.emit(out, event);
        self.done = true;
    }
}

/// Function arguments as they streamed, the JSON text of the input; a
/// tool_use with no input streamed gets `{}` (the deltas still add up).
fn function_arguments(json: &str) -> String {
    if json.trim().is_empty() {
        [json, "{}"].concat()
    } else {
        json.to_string()
    }
}

/// Later usage (message_delta) overrides earlier (message_start) field by field.
fn merge_usage(into: &mut Usage, from: &Usage) {
    into.input_tokens = from.input_tokens.or(into.input_tokens);
    into.cache_creation_input_tokens = from
        .cache_creation_input_tokens
        .or(into.cache_creation_input_tokens);
    into.cache_read_input_tokens = from
        .cache_read_input_tokens
        .or(into.cache_read_input_tokens);
    into.output_tokens = from.output_tokens.or(into.output_tokens);
}

/// A whole message written as the event stream a streaming client expects
/// (a JSON answer to a streaming request): its blocks replayed through the
/// stream converter as Anthropic events, one delta each.
pub fn message_as_stream(
    mut message: crate::anthropic::Message<'_>,
    ctx: &ResponseContext,
) -> Vec<u8> {
    let mut state = EventsToResponses::new(ctx.clone());
    let mut out = Vec::new();
    let content = std::mem::take(&mut message.content);
    let stop_reason = message.stop_reason.take();
    let usage = message.usage;
    state.message_start(
        StreamEvent {
            message: Some(message),
            ..anthropic_event("message_start")
        },
        &mut out,
    );
    for (index, block) in content.into_iter().enumerate() {
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        for event in replayed_block(index, block) {
            match event.kind.as_str() {
                "content_block_start" => state.block_start(event, &mut out),
                "content_block_delta" => state.block_delta(event, &mut out),
                _ => state.block_stop(event, &mut out),
            }
        }
    }
    state.message_delta(StreamEvent {
        delta: Some(Delta {
            stop_reason: Some(stop_reason),
            ..Delta::default()
        }),
        usage: Some(usage),
        ..anthropic_event("message_delta")
    });
    state.message_stop(&mut out);
    out
}

/// A stream holding only a failure: `response.created`,
/// `response.in_progress`, then `response.failed` with `code`.
pub fn error_stream(ctx: &ResponseContext, code: &str, message: &str) -> Vec<u8> {
    let mut state = EventsToResponses::new(ctx.clone());
    let mut out = Vec::new();
    state.fail(&mut out, StreamFailure::UpstreamError, code, message);
    out
}

fn anthropic_event(kind: &'static str) -> StreamEvent<'static> {
    StreamEvent {
        kind: CowStr::borrowed(kind),
        ..StreamEvent::default()
    }
}

/// One content block as its start, one delta with all of it, and its stop.
fn replayed_block(index: u32, block: ContentBlock<'_>) -> Vec<StreamEvent<'_>> {
    fn delta_event(index: u32, delta: Delta<'_>) -> StreamEvent<'_> {
        StreamEvent {
            index: Some(index),
            delta: Some(delta),
            ..anthropic_event("content_block_delta")
        }
    }
    let delta = |delta| delta_event(index, delta);
    let mut events = Vec::with_capacity(4);
    let mut start = ContentBlock {
        kind: block.kind.clone(),
        ..ContentBlock::default()
    };
    let mut deltas = Vec::new();
    match block.kind.as_str() {
        "text" => {
            start.text = Some(CowStr::borrowed(""));
            deltas.push(delta(Delta {
                kind: Some(CowStr::borrowed("text_delta")),
                text: block.text,
                ..Delta::default()
            }));
        }
        "thinking" => {
            start.thinking = Some(CowStr::borrowed(""));
            deltas.push(delta(Delta {
                kind: Some(CowStr::borrowed("thinking_delta")),
                thinking: block.thinking,
                ..Delta::default()
            }));
            deltas.push(delta(Delta {
                kind: Some(CowStr::borrowed("signature_delta")),
                signature: block.signature,
                ..Delta::default()
            }));
        }
        "tool_use" => {
            start.id = block.id;
            start.name = block.name;
            deltas.push(delta(Delta {
                kind: Some(CowStr::borrowed("input_json_delta")),
                partial_json: block.input.map(|input| input.into_text()),
                ..Delta::default()
            }));
        }
        _ => start = block,
    }
    events.push(StreamEvent {
        index: Some(index),
        content_block: Some(start),
        ..anthropic_event("content_block_start")
    });
    events.extend(deltas);
    events.push(StreamEvent {
        index: Some(index),
        ..anthropic_event("content_block_stop")
    });
    events
}
