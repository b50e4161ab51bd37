//! Anthropic stream events → OpenAI chat completion chunks
//! (docs/openai_client.md#stream-event-grammar): `data: <chunk>\n\n` per event, one `id`,
//! `created` and `model` for the whole stream, `finish_reason` exactly once,
//! the usage chunk only when the client asked for it, then `data: [DONE]`.
//!
//! Tool calls are numbered 0, 1, … over tool blocks only: Anthropic's block
//! indexes also count text, thinking and server-side tool blocks. Thinking
//! blocks are collected with their signatures and sent once, as
//! `thinking_blocks` in the finish chunk, so the client can replay them.

use super::response::{call_identity, finish_reason, openai_usage, replay_block, ResponseContext};
use crate::anthropic::block;
use crate::anthropic::{ContentBlock, StreamEvent, Usage};
use crate::convert::error::{
    anthropic_error_status, excerpt, openai_error_type, upstream_error_from_json, UpstreamError,
};
use crate::convert::{unparsable_event, STREAM_INCOMPLETE};
use crate::openai::{role, FUNCTION};
use crate::openai::{ChatCompletionChunk, ChatMessage, ChunkChoice, FunctionCall, ToolCall};
use crate::report::{StreamFailure, StreamOutcome, Tokens};
use crate::sse::{
    over_cap, write_comment, write_data, write_raw_data, SseConverter, SseError, SseHandler,
    SseItem, SseParser, MAX_LINE_BYTES,
};
use crate::wire::{CowStr, TextOr};
use std::collections::HashMap;

/// Converts one streamed response; feed it the body as it arrives
/// (`push`, then `finish` at the end of the body).
pub type StreamConverter = SseConverter<EventsToChunks>;

impl StreamConverter {
    pub fn new(ctx: ResponseContext) -> StreamConverter {
        StreamConverter::with_parser(ctx, SseParser::default())
    }

    pub fn with_parser(ctx: ResponseContext, parser: SseParser) -> StreamConverter {
        SseConverter::from_parts(EventsToChunks::new(ctx, usize::MAX), parser)
    }

    /// A converter that never holds more than `cap` bytes at once
    /// (`max_held_bytes`): past it, the stream ends with an error chunk.
    pub fn with_cap(ctx: ResponseContext, cap: usize) -> StreamConverter {
        StreamConverter::with_limits(ctx, MAX_LINE_BYTES, cap)
    }

    /// `with_cap` with another bound on one SSE line or event.
    pub fn with_limits(ctx: ResponseContext, max_line_bytes: usize, cap: usize) -> StreamConverter {
        SseConverter::from_parts(
            EventsToChunks::new(ctx, cap),
            SseParser::with_cap(max_line_bytes, cap),
        )
    }
}

impl SseHandler for EventsToChunks {
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

    /// A stream that ended before `message_stop` gets an error chunk.
    fn on_end(&mut self, out: &mut Vec<u8>) {
        self.error(
            out,
            StreamFailure::Incomplete,
            "api_error",
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

impl StreamOutcome for EventsToChunks {
    fn failure(&self) -> Option<StreamFailure> {
        self.failure
    }

    /// The usage the upstream reported (once the message started).
    fn tokens(&self) -> Option<Tokens> {
        self.started.then(|| Tokens::from(&self.usage))
    }
}

/// What an Anthropic content block index stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum BlockKind {
    Text,
    Thinking,
    /// A client tool call, numbered among tool calls only.
    Tool(u32),
    /// Server-side tool blocks and anything unknown.
    Ignored,
}

/// What one entry of the block index costs.
const BLOCK_COST: usize = 32;
/// What one collected thinking block costs beyond its strings.
const THINKING_COST: usize = std::mem::size_of::<ContentBlock<'static>>();

/// The state of one Anthropic event stream being written as OpenAI chunks.
#[derive(Debug)]
pub struct EventsToChunks {
    ctx: ResponseContext,
    id: String,
    model: String,
    started: bool,
    done: bool,
    /// What each Anthropic block index stands for (the latest start wins).
    blocks: HashMap<u32, BlockKind>,
    next_tool: u32,
    thinking_blocks: Vec<ContentBlock<'static>>,
    /// `data: {"id":…,"object":…,"created":…,"model":…,"choices":[{"index":0,"delta":`
    envelope: Vec<u8>,
    usage: Usage,
    finished: bool,
    failure: Option<StreamFailure>,
    /// Bytes held across events (block index, collected thinking, id and
    /// model), bounded by `cap` together with the event being handled
    /// (`in_flight`, in the parser).
    held: usize,
    thinking_held: usize,
    in_flight: usize,
    cap: usize,
}

impl EventsToChunks {
    fn new(ctx: ResponseContext, cap: usize) -> EventsToChunks {
        EventsToChunks {
            id: ctx.fallback_id.clone(),
            model: ctx.model.clone(),
            ctx,
            started: false,
            done: false,
            blocks: HashMap::new(),
            next_tool: 0,
            thinking_blocks: Vec::new(),
            envelope: Vec::new(),
            usage: Usage::default(),
            finished: false,
            failure: None,
            held: 0,
            thinking_held: 0,
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

    /// `reserve` for collected thinking, freed when it is sent.
    fn reserve_thinking(&mut self, bytes: usize, out: &mut Vec<u8>) -> bool {
        let reserved = self.reserve(bytes, out);
        if reserved {
            self.thinking_held += bytes;
        }
        reserved
    }

    fn item(&mut self, item: SseItem<'_>, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match item {
            SseItem::Comment(_) => write_comment(out, "ping"),
            SseItem::Event {
                event,
                data,
                terminated,
            } => {
                self.in_flight = event.len() + data.len();
                self.on_data(data.trim(), terminated, out);
                self.in_flight = 0;
            }
        }
    }

    fn on_data(&mut self, data: &str, terminated: bool, out: &mut Vec<u8>) {
        if data.is_empty() {
            return;
        }
        let event: StreamEvent<'_> = match serde_json::from_slice(data.as_bytes()) {
            Ok(event) => event,
            Err(e) => {
                let (failure, message) = unparsable_event(terminated, "event", &e);
                self.error(out, failure, "api_error", &message);
                return;
            }
        };
        match event.kind.as_str() {
            "message_start" => self.message_start(event, out),
            "content_block_start" => self.block_start(event, out),
            "content_block_delta" => self.block_delta(event, out),
            "content_block_stop" => {}
            "message_delta" => self.message_delta(event, out),
            "message_stop" => self.message_stop(out),
            "ping" => write_comment(out, "ping"),
            "error" => {
                let value = serde_json::from_slice::<serde_json::Value>(data.as_bytes())
                    .unwrap_or_default();
                let error = upstream_error_from_json(&value).unwrap_or_else(|| UpstreamError {
                    message: "upstream reported an error".to_string(),
                    ..Default::default()
                });
                let code = error.kind.unwrap_or_else(|| "api_error".to_string());
                self.error(out, StreamFailure::UpstreamError, &code, &error.message);
            }
            other => log::debug!("ignored stream event `{}`", excerpt(other, 64)),
        }
    }

    /// Takes the message's id and model, unless an earlier event already
    /// started the chunk stream: every chunk must carry the same ones.
    fn message_start(&mut self, event: StreamEvent<'_>, out: &mut Vec<u8>) {
        if let Some(message) = event.message {
            if !self.started && !message.id.is_empty() {
                // Held twice: on its own and in the chunk envelope.
                if !self.reserve(2 * message.id.len(), out) {
                    return;
                }
                self.id = message.id.to_string();
            }
            if !self.started && !message.model.is_empty() {
                if !self.reserve(2 * message.model.len(), out) {
                    return;
                }
                self.model = message.model.to_string();
            }
            merge_usage(&mut self.usage, &message.usage);
        }
        self.start(out);
    }

    /// The first chunk: the assistant role with empty content. From here on
    /// the id, created and model are fixed, so the envelope every content
    /// chunk shares is written out once.
    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        self.envelope = chunk_envelope(&self.id, self.ctx.created, &self.model);
        self.write_delta(
            out,
            ChatMessage {
                role: Some(CowStr::borrowed(role::ASSISTANT)),
                content: Some(TextOr::Text(CowStr::borrowed(""))),
                ..Default::default()
            },
        );
    }

    fn block_start(&mut self, event: StreamEvent<'_>, out: &mut Vec<u8>) {
        if self.finished {
            log::debug!("ignored a content block after message_delta");
            return;
        }
        self.start(out);
        let (Some(index), Some(block)) = (event.index, event.content_block) else {
            return;
        };
        if !self.blocks.contains_key(&index) && !self.reserve(BLOCK_COST, out) {
            return;
        }
        let kind = match block.kind.as_str() {
            block::TEXT => {
                if let Some(text) = block.text.filter(|t| !t.is_empty()) {
                    self.write_content(out, text);
                }
                BlockKind::Text
            }
            block::THINKING => {
                if !self.reserve_thinking(THINKING_COST, out) {
                    return;
                }
                self.thinking_blocks
                    .push(owned_replay(ContentBlock::thinking("", "")));
                BlockKind::Thinking
            }
            block::REDACTED_THINKING => {
                let data = block.data.as_deref().map_or(0, str::len);
                if !self.reserve_thinking(THINKING_COST + data, out) {
                    return;
                }
                self.thinking_blocks.push(owned_replay(replay_block(block)));
                BlockKind::Ignored
            }
            block::TOOL_USE => {
                let k = self.next_tool;
                self.next_tool += 1;
                let (id, name) = call_identity(block.id, block.name, &self.id, k as usize);
                let call = ToolCall {
                    index: Some(k),
                    id: Some(id),
                    kind: Some(CowStr::borrowed(FUNCTION)),
                    function: Some(FunctionCall {
                        name: Some(name),
                        arguments: Some(CowStr::borrowed("")),
                    }),
                };
                self.write_delta(
                    out,
                    ChatMessage {
                        tool_calls: Some(vec![call]),
                        ..Default::default()
                    },
                );
                BlockKind::Tool(k)
            }
            other => {
                log::debug!(
                    "block {index} (`{}`) ran on the upstream's side; not a client tool call",
                    excerpt(other, 64)
                );
                BlockKind::Ignored
            }
        };
        self.blocks.insert(index, kind);
    }

    fn block_kind(&self, index: Option<u32>) -> BlockKind {
        index
            .and_then(|i| self.blocks.get(&i))
            .map_or(BlockKind::Ignored, BlockKind::clone)
    }

    fn block_delta(&mut self, event: StreamEvent<'_>, out: &mut Vec<u8>) {
        let Some(delta) = event.delta.filter(|_| !self.finished) else {
            return;
        };
        match (self.block_kind(event.index), delta.kind.as_deref()) {
            (BlockKind::Text, Some("text_delta")) => {
                if let Some(text) = delta.text.filter(|t| !t.is_empty()) {
                    self.write_content(out, text);
                }
            }
            (BlockKind::Thinking, Some("thinking_delta")) => {
                if let Some(thinking) = delta.thinking.filter(|t| !t.is_empty()) {
                    if !self.reserve_thinking(thinking.len(), out) {
                        return;
                    }
                    if let Some(block) = self.thinking_blocks.last_mut() {
                        let text = block.thinking.get_or_insert_with(CowStr::default);
                        text.0.to_mut().push_str(&thinking);
                    }
                    self.write_delta(
                        out,
                        ChatMessage {
                            reasoning_content: Some(thinking),
                            ..Default::default()
                        },
                    );
                }
            }
            (BlockKind::Thinking, Some("signature_delta")) => {
                let size = delta.signature.as_deref().map_or(0, str::len);
                if !self.reserve_thinking(size, out) {
                    return;
                }
                if let (Some(block), Some(signature)) =
                    (self.thinking_blocks.last_mut(), delta.signature)
                {
                    let text = block.signature.get_or_insert_with(CowStr::default);
                    text.0.to_mut().push_str(&signature);
                }
            }
            (BlockKind::Tool(k), Some("input_json_delta")) => {
                if let Some(partial) = delta.partial_json.filter(|p| !p.is_empty()) {
                    let call = ToolCall {
                        index: Some(k),
                        function: Some(FunctionCall {
                            name: None,
                            arguments: Some(partial),
                        }),
                        ..Default::default()
                    };
                    self.write_delta(
                        out,
                        ChatMessage {
                            tool_calls: Some(vec![call]),
                            ..Default::default()
                        },
                    );
                }
            }
            (_, kind) => log::debug!(
                "ignored a `{}` delta",
                excerpt(kind.unwrap_or("untyped"), 64)
            ),
        }
    }

    /// `message_delta` carries the stop reason (→ the one `finish_reason`)
    /// and the final usage.
    fn message_delta(&mut self, event: StreamEvent<'_>, out: &mut Vec<u8>) {
        self.start(out);
        if let Some(usage) = &event.usage {
            merge_usage(&mut self.usage, usage);
        }
        let stop = event.delta.and_then(|d| d.stop_reason).flatten();
        if self.finished {
            return;
        }
        self.finished = true;
        let thinking_blocks = std::mem::take(&mut self.thinking_blocks);
        self.held = self.held.saturating_sub(self.thinking_held);
        self.thinking_held = 0;
        let chunk = self.chunk(
            ChatMessage {
                thinking_blocks: (!thinking_blocks.is_empty()).then_some(thinking_blocks),
                ..Default::default()
            },
            Some(finish_reason(stop.as_deref())),
        );
        write_data(out, &chunk);
    }

    /// `message_stop`: the usage chunk if asked for, then `[DONE]`.
    fn message_stop(&mut self, out: &mut Vec<u8>) {
        self.start(out);
        if !self.finished {
            self.finished = true;
            let chunk = self.chunk(ChatMessage::default(), Some("stop"));
            write_data(out, &chunk);
        }
        if self.ctx.include_usage {
            let mut chunk = self.chunk(ChatMessage::default(), None);
            chunk.choices.clear();
            chunk.usage = Some(openai_usage(&self.usage));
            write_data(out, &chunk);
        }
        write_raw_data(out, "[DONE]");
        self.done = true;
    }

    fn write_content(&self, out: &mut Vec<u8>, text: CowStr<'_>) {
        self.write_delta(
            out,
            ChatMessage {
                content: Some(TextOr::Text(text)),
                ..Default::default()
            },
        );
    }

    /// A content chunk: the stream's fixed envelope (written once, in
    /// `start`), then the delta. Same bytes as serializing the whole chunk.
    fn write_delta(&self, out: &mut Vec<u8>, delta: ChatMessage<'_>) {
        out.extend_from_slice(&self.envelope);
        // Serializing plain structs into a Vec cannot fail.
        let _ = crate::json::write(out, &delta);
        out.extend_from_slice(b",\"finish_reason\":null}]}\n\n");
    }

    fn chunk<'c>(
        &'c self,
        delta: ChatMessage<'c>,
        finish: Option<&'c str>,
    ) -> ChatCompletionChunk<'c> {
        ChatCompletionChunk {
            id: CowStr::borrowed(&self.id),
            object: CowStr::borrowed("chat.completion.chunk"),
            created: self.ctx.created,
            model: CowStr::borrowed(&self.model),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish.map(CowStr::borrowed),
                stop_reason: None,
            }],
            usage: None,
            error: None,
        }
    }

    /// `data: {"error": {...}}` ends the stream (no `[DONE]`).
    fn error(&mut self, out: &mut Vec<u8>, failure: StreamFailure, code: &str, message: &str) {
        if self.done {
            return;
        }
        self.failure = Some(failure);
        let status = anthropic_error_status(code).unwrap_or(500);
        let body = crate::openai::ErrorResponse {
            error: crate::openai::ErrorBody {
                message: CowStr::borrowed(message),
                kind: CowStr::borrowed(openai_error_type(status)),
                param: None,
                code: Some(CowStr::borrowed(code)),
            },
        };
        write_data(out, &body);
        self.done = true;
        self.release();
    }

    /// After the end nothing is converted: drop what was held.
    fn release(&mut self) {
        self.blocks = HashMap::new();
        self.thinking_blocks = Vec::new();
        self.held = 0;
        self.thinking_held = 0;
    }
}

/// The start of every content chunk of a stream, up to its delta.
fn chunk_envelope(id: &str, created: u64, model: &str) -> Vec<u8> {
    let mut out = b"data: {\"id\":".to_vec();
    crate::json::write_str(&mut out, id);
    out.extend_from_slice(b",\"object\":\"chat.completion.chunk\",\"created\":");
    out.extend_from_slice(created.to_string().as_bytes());
    out.extend_from_slice(b",\"model\":");
    crate::json::write_str(&mut out, model);
    out.extend_from_slice(b",\"choices\":[{\"index\":0,\"delta\":");
    out
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

fn owned_replay(block: ContentBlock<'_>) -> ContentBlock<'static> {
    let own = |s: Option<CowStr<'_>>| s.map(|s| CowStr::from(s.to_string()));
    ContentBlock {
        kind: CowStr::from(block.kind.to_string()),
        thinking: own(block.thinking),
        signature: own(block.signature),
        data: own(block.data),
        ..Default::default()
    }
}

/// A whole message written as the chunk stream a streaming client expects.
pub fn message_as_stream(message: crate::anthropic::Message<'_>, ctx: &ResponseContext) -> Vec<u8> {
    let completion = super::response::completion_from_message(message, ctx);
    let mut out = Vec::new();
    let mut state = EventsToChunks::new(ctx.clone(), usize::MAX);
    state.id = completion.id.to_string();
    state.model = completion.model.to_string();
    state.start(&mut out);
    let Some(choice) = completion.choices.into_iter().next() else {
        return out;
    };
    let message = choice.message;
    if let Some(reasoning) = message.reasoning_content {
        state.write_delta(
            &mut out,
            ChatMessage {
                reasoning_content: Some(reasoning),
                ..Default::default()
            },
        );
    }
    if let Some(TextOr::Text(text)) = message
        .content
        .filter(|c| !matches!(c, TextOr::Text(t) if t.is_empty()))
    {
        state.write_content(&mut out, text);
    }
    for (k, mut call) in message.tool_calls.into_iter().flatten().enumerate() {
        call.index = u32::try_from(k).ok();
        state.write_delta(
            &mut out,
            ChatMessage {
                tool_calls: Some(vec![call]),
                ..Default::default()
            },
        );
    }
    let chunk = state.chunk(
        ChatMessage {
            thinking_blocks: message.thinking_blocks,
            ..Default::default()
        },
        choice.finish_reason.as_deref(),
    );
    write_data(&mut out, &chunk);
    if ctx.include_usage {
        let mut chunk = state.chunk(ChatMessage::default(), None);
        chunk.choices.clear();
        chunk.usage = completion.usage;
        write_data(&mut out, &chunk);
    }
    write_raw_data(&mut out, "[DONE]");
    out
}

/// A whole message body for a streaming request, as the chunk stream and
/// its usage; for a body that is not a message, what it says.
pub fn message_body_as_stream(
    body: &[u8],
    ctx: &ResponseContext,
) -> Result<(Vec<u8>, Tokens), String> {
    let message = super::response::message_from_body(body)?;
    let tokens = Tokens::from(&message.usage);
    Ok((message_as_stream(message, ctx), tokens))
}

/// A stream holding only an error.
pub fn error_stream(code: &str, message: &str) -> Vec<u8> {
    let mut state = EventsToChunks::new(ResponseContext::default(), usize::MAX);
    let mut out = Vec::new();
    state.error(&mut out, StreamFailure::UpstreamError, code, message);
    out
}
