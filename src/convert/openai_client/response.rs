//! Anthropic message → OpenAI chat completion
//! (docs/openai_client.md#response-mapping), plus the stop-reason and usage rules the stream shares.

use crate::anthropic::block;
use crate::anthropic::{ContentBlock, Message, Usage};
use crate::convert::error::{
    excerpt, openai_error_body, openai_error_type, upstream_error_from_json,
};
pub use crate::convert::reasons::finish_reason;
use crate::openai::{role, FUNCTION};
use crate::openai::{
    ChatCompletion, ChatMessage, ChatUsage, Choice, FunctionCall, PromptTokensDetails, ToolCall,
};
use crate::report::Tokens;
use crate::wire::{CowStr, TextOr};
use std::borrow::Cow;

/// What the response conversion knows about the request.
#[derive(Debug, Clone, Default)]
pub struct ResponseContext {
    /// The model sent upstream, used when the upstream names none.
    pub model: String,
    /// `created` for the completion: the host clock when the response began.
    pub created: u64,
    pub fallback_id: String,
    pub include_usage: bool,
}

/// Converts a 2xx message body; a body that is not a message becomes an
/// OpenAI error body (the status is already on its way to the client).
pub fn convert_response(body: &[u8], ctx: &ResponseContext) -> (Vec<u8>, Option<Tokens>) {
    match message_from_body(body) {
        Ok(message) => {
            let tokens = Tokens::from(&message.usage);
            let completion = completion_from_message(message, ctx);
            (
                crate::json::to_vec(&completion).unwrap_or_default(),
                Some(tokens),
            )
        }
        Err(message) => (
            openai_error_body(openai_error_type(502), &message, None),
            None,
        ),
    }
}

/// Parses a 2xx body into an Anthropic message, or says why it is not one
/// (the upstream's error message if it sent an error object, never the
/// body itself): the same for a whole response and one sent as a stream.
pub fn message_from_body(body: &[u8]) -> Result<Message<'_>, String> {
    match serde_json::from_slice::<Message<'_>>(body) {
        Ok(message) if message.kind.as_str() == "message" => Ok(message),
        _ => {
            let json = serde_json::from_slice::<serde_json::Value>(body).ok();
            let message = match json.as_ref().and_then(upstream_error_from_json) {
                Some(error) => error.message,
                None => "upstream returned a response that is not a message".to_string(),
            };
            log::warn!("upstream 2xx body is not an Anthropic message");
            log::debug!("upstream 2xx body is not an Anthropic message: {message}");
            Err(message)
        }
    }
}

pub fn completion_from_message<'a>(
    message: Message<'a>,
    ctx: &ResponseContext,
) -> ChatCompletion<'a> {
    let usage = openai_usage(&message.usage);
    let finish = finish_reason(message.stop_reason.as_deref());
    let mut texts: Vec<CowStr<'a>> = Vec::new();
    let mut reasoning: Vec<CowStr<'a>> = Vec::new();
    let mut thinking_blocks = Vec::new();
    let mut tool_calls = Vec::new();
    for block in message.content {
        match block.kind.as_str() {
            block::TEXT => texts.extend(block.text),
            block::THINKING => {
                reasoning.extend(block.thinking.clone());
                thinking_blocks.push(replay_block(block));
            }
            block::REDACTED_THINKING => thinking_blocks.push(replay_block(block)),
            block::TOOL_USE => {
                let position = tool_calls.len();
                tool_calls.push(tool_call(block, None, &ctx.fallback_id, position));
            }
            other => log::debug!(
                "skipped a `{}` block: it ran on the upstream's side",
                excerpt(other, 64)
            ),
        }
    }
    let content = match (texts.is_empty(), tool_calls.is_empty()) {
        (true, false) => None,
        _ => Some(TextOr::Text(concat(texts))),
    };
    ChatCompletion {
        id: non_empty(message.id).unwrap_or_else(|| ctx.fallback_id.clone().into()),
        object: CowStr::borrowed("chat.completion"),
        created: ctx.created,
        model: non_empty(message.model).unwrap_or_else(|| ctx.model.clone().into()),
        choices: vec![Choice {
            index: 0,
            message: ChatMessage {
                role: Some(CowStr::borrowed(role::ASSISTANT)),
                content,
                reasoning_content: (!reasoning.is_empty()).then(|| concat(reasoning)),
                thinking_blocks: (!thinking_blocks.is_empty()).then_some(thinking_blocks),
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                ..Default::default()
            },
            finish_reason: Some(CowStr::borrowed(finish)),
            stop_reason: None,
        }],
        usage: Some(usage),
    }
}

fn non_empty(s: CowStr<'_>) -> Option<CowStr<'_>> {
    (!s.is_empty()).then_some(s)
}

/// Text blocks are pieces of one answer (citations split it mid-sentence),
/// so they are concatenated as they are.
fn concat(mut texts: Vec<CowStr<'_>>) -> CowStr<'_> {
    if texts.len() == 1 {
        return texts.pop().unwrap_or_default();
    }
    texts.iter().map(|t| t.as_str()).collect::<String>().into()
}

/// A thinking or redacted_thinking block as the client must send it back:
/// the type, the text or data, and the signature, nothing else.
pub fn replay_block(block: ContentBlock<'_>) -> ContentBlock<'_> {
    ContentBlock {
        kind: block.kind,
        thinking: block.thinking,
        signature: block.signature,
        data: block.data,
        ..Default::default()
    }
}

/// `tool_use` → `{id, type: function, function: {name, arguments}}`, the
/// input written as compact JSON; `index` set in stream deltas.
pub fn tool_call<'a>(
    block: ContentBlock<'a>,
    index: Option<u32>,
    message_id: &str,
    position: usize,
) -> ToolCall<'a> {
    let arguments = block.input.map_or(CowStr::borrowed("{}"), |input| {
        compact_json(input.into_text())
    });
    let (id, name) = call_identity(block.id, block.name, message_id, position);
    ToolCall {
        index,
        id: Some(id),
        kind: Some(CowStr::borrowed(FUNCTION)),
        function: Some(FunctionCall {
            name: Some(name),
            arguments: Some(arguments),
        }),
    }
}

/// A tool call's `id` and `function.name`, which OpenAI clients require
/// (openai-node's stream helper throws without them): a `tool_use` missing
/// either (a broken upstream) gets a made-up one.
pub fn call_identity<'a>(
    id: Option<CowStr<'a>>,
    name: Option<CowStr<'a>>,
    message_id: &str,
    position: usize,
) -> (CowStr<'a>, CowStr<'a>) {
    let id = id
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| format!("call_{message_id}_{position}").into());
    let name = name.filter(|name| !name.is_empty()).unwrap_or_else(|| {
        log::warn!("upstream tool_use block without a name");
        CowStr::borrowed("unnamed_tool")
    });
    (id, name)
}

/// JSON text without insignificant whitespace (borrowed when already compact).
pub fn compact_json(text: CowStr<'_>) -> CowStr<'_> {
    let mut in_string = false;
    let mut escaped = false;
    let needs_work = text.bytes().any(|b| {
        let outside = !in_string;
        match b {
            _ if escaped => escaped = false,
            b'\\' if in_string => escaped = true,
            b'"' => in_string = !in_string,
            _ => {}
        }
        outside && b.is_ascii_whitespace()
    });
    if !needs_work {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            c if !in_string && c.is_ascii_whitespace() => continue,
            _ => {}
        }
        out.push(c);
    }
    CowStr(Cow::Owned(out))
}

/// Anthropic usage → OpenAI usage: cache reads and writes are part of the
/// prompt, and reads are reported as cached. Sums saturate at `u64::MAX`.
pub fn openai_usage(usage: &Usage) -> ChatUsage {
    let cache_read = usage.cache_read_input_tokens.unwrap_or(0);
    let prompt = usage
        .input_tokens
        .unwrap_or(0)
        .saturating_add(cache_read)
        .saturating_add(usage.cache_creation_input_tokens.unwrap_or(0));
    let completion = usage.output_tokens.unwrap_or(0);
    ChatUsage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt.saturating_add(completion),
        prompt_tokens_details: Some(PromptTokensDetails {
            cached_tokens: Some(cache_read),
            ..Default::default()
        }),
        ..Default::default()
    }
}
