//! OpenAI chat completion → Anthropic message
//! (docs/anthropic_client.md#response-mapping), plus the finish-reason and usage rules the stream shares.

use crate::anthropic::{ContentBlock, Message, Usage};
use crate::convert::error::{
    anthropic_error_body, excerpt, upstream_error_from_json, MAX_EXCERPT_BYTES,
};
pub use crate::convert::reasons::{finish_stop_reason, StopReason};
use crate::convert::signature::sign;
use crate::convert::tool_arguments::{check_object, ArgumentsProblem};
use crate::convert::tool_names::ToolNames;
use crate::openai::part;
use crate::openai::{ChatCompletion, ChatMessage, ChatUsage, ContentPart, ToolCall};
use crate::report::Tokens;
use crate::wire::{CowStr, RawJson, TextOr};
use serde_json::value::RawValue;

/// What the response conversion knows about the request.
#[derive(Debug, Clone, Default)]
pub struct ResponseContext {
    pub tool_names: ToolNames,
    /// The model sent upstream, used when the upstream names none.
    pub model: String,
    /// An id for the message (and its tool calls) when the upstream gives none.
    pub fallback_id: String,
}

/// Converts a 2xx completion body. A body that is not a completion (an
/// `{"error":…}` some servers send with 200, or garbage), or one that cannot
/// be an Anthropic message (tool arguments that are not a JSON object),
/// becomes an Anthropic error body: the status is already on its way to the
/// client.
pub fn convert_response(body: &[u8], ctx: &ResponseContext) -> (Vec<u8>, Option<Tokens>) {
    match message_from_body(body, ctx) {
        Ok(message) => (
            crate::json::to_vec(&message).unwrap_or_default(),
            Some(Tokens::from(&message.usage)),
        ),
        Err(message) => (anthropic_error_body("api_error", &message), None),
    }
}

/// Parses a completion body into an Anthropic message, or says why not.
pub fn message_from_body<'a>(body: &'a [u8], ctx: &ResponseContext) -> Result<Message<'a>, String> {
    let value: Result<ChatCompletion<'a>, _> = serde_json::from_slice(body);
    match value {
        Ok(completion) if !completion.choices.is_empty() || completion.usage.is_some() => {
            message_from_completion(completion, ctx)
        }
        _ => {
            let json = serde_json::from_slice::<serde_json::Value>(body).ok();
            let message = match json.as_ref().and_then(upstream_error_from_json) {
                Some(error) => error.message,
                None => "upstream returned a response that is not a chat completion".to_string(),
            };
            log::warn!("upstream 2xx body is not a chat completion");
            log::debug!("upstream 2xx body is not a chat completion: {message}");
            Err(message)
        }
    }
}

/// The message, or why the completion has none (a tool call whose
/// arguments are not a JSON object: `tool_use.input` must be one).
pub fn message_from_completion<'a>(
    completion: ChatCompletion<'a>,
    ctx: &ResponseContext,
) -> Result<Message<'a>, String> {
    let usage = anthropic_usage(completion.usage.as_ref());
    let choice = completion.choices.into_iter().min_by_key(|c| c.index);
    let (message, finish, stop_string) = match choice {
        Some(choice) => (
            choice.message,
            choice.finish_reason,
            vllm_stop_string(choice.stop_reason),
        ),
        None => (ChatMessage::default(), None, None),
    };
    let mut content = Vec::new();
    if let Some(reasoning) = reasoning_text(&message) {
        let signature = sign(&reasoning);
        content.push(ContentBlock::thinking(reasoning, signature));
    }
    if let Some(text) = message.content.and_then(content_text) {
        content.push(ContentBlock::text(text));
    }
    let refused = message.refusal.as_ref().is_some_and(|r| !r.is_empty());
    if let Some(refusal) = message.refusal.filter(|r| !r.is_empty()) {
        content.push(ContentBlock::text(refusal));
    }
    let tool_calls = message.tool_calls.unwrap_or_default();
    let has_tools = !tool_calls.is_empty();
    for (i, call) in tool_calls.into_iter().enumerate() {
        content.push(tool_use_block(call, i, ctx)?);
    }
    let (stop_reason, stop_sequence) = match (refused, finish_stop_reason(finish.as_deref())) {
        (true, _) => (StopReason::Refusal.as_str(), None),
        (false, stop) => final_stop(stop.unwrap_or(StopReason::EndTurn), stop_string, has_tools),
    };
    Ok(Message {
        id: non_empty(completion.id).unwrap_or_else(|| ctx.fallback_id.clone().into()),
        kind: CowStr::borrowed("message"),
        role: crate::anthropic::Role::Assistant,
        model: non_empty(completion.model).unwrap_or_else(|| ctx.model.clone().into()),
        content,
        stop_reason: Some(CowStr::borrowed(stop_reason)),
        stop_sequence: stop_sequence.map(CowStr::from),
        usage,
    })
}

fn non_empty(s: CowStr<'_>) -> Option<CowStr<'_>> {
    (!s.is_empty()).then_some(s)
}

/// `reasoning_content` (DeepSeek, vLLM) or `reasoning` (Ollama, Groq, OpenRouter).
fn reasoning_text<'a>(message: &ChatMessage<'a>) -> Option<CowStr<'a>> {
    [&message.reasoning_content, &message.reasoning]
        .into_iter()
        .flatten()
        .find(|r| !r.is_empty())
        .cloned()
}

/// Message content as one text: a string, or the text parts of an array.
pub fn content_text<'a>(content: TextOr<'a, ContentPart<'a>>) -> Option<CowStr<'a>> {
    match content {
        TextOr::Text(text) => non_empty(text),
        TextOr::Items(parts) => {
            let text: String = parts
                .iter()
                .filter(|p| p.kind.as_str() == part::TEXT)
                .filter_map(|p| p.text.as_deref())
                .collect();
            (!text.is_empty()).then(|| text.into())
        }
    }
}

/// `tool_calls[i]` → `tool_use`: arguments parsed (none → `{}`; anything
/// but one JSON object → an error naming the call), the client's own tool
/// name restored.
fn tool_use_block<'a>(
    call: ToolCall<'a>,
    position: usize,
    ctx: &ResponseContext,
) -> Result<ContentBlock<'a>, String> {
    let function = call.function.unwrap_or_default();
    let name = function.name.unwrap_or_default();
    let name = match ctx.tool_names.client(&name) {
        client if client == name.as_str() => name,
        client => client.to_string().into(),
    };
    let id = call
        .id
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| tool_fallback_id(&ctx.fallback_id, position).into());
    match tool_input(function.arguments.as_deref().unwrap_or("")) {
        Ok(input) => Ok(ContentBlock::tool_use(id, name, input)),
        Err(problem) => Err(tool_arguments_error(position, &name, problem)),
    }
}

/// The error for a tool call whose arguments cannot be a `tool_use.input`,
/// the same in a stream and a whole response. The arguments themselves are
/// not quoted (they are the model's output, not the bridge's to echo).
pub fn tool_arguments_error(position: usize, name: &str, problem: ArgumentsProblem) -> String {
    log::warn!(
        "tool call arguments are not a JSON object: they {}; the answer cannot be converted",
        problem.as_str()
    );
    format!(
        "upstream tool call {position} (`{}`): its arguments {}, and an Anthropic tool_use input must be a JSON object",
        excerpt(name, MAX_EXCERPT_BYTES / 2),
        problem.as_str()
    )
}

pub fn tool_fallback_id(message_id: &str, position: usize) -> String {
    format!("toolu_{message_id}_{position}")
}

/// Tool arguments text → the `input` object. Empty arguments (what OpenAI
/// servers send for a call without parameters) are `{}`.
pub fn tool_input(arguments: &str) -> Result<RawJson<'static>, ArgumentsProblem> {
    check_object(arguments)?;
    if arguments.trim().is_empty() {
        return Ok(RawJson::empty_object());
    }
    RawJson::object_from_text(arguments).ok_or(ArgumentsProblem::Invalid)
}

/// The final `(stop_reason, stop_sequence)`: a plain stop becomes
/// `stop_sequence` when the upstream named the matched string (vLLM), and
/// `tool_use` when the turn holds tool calls (some servers say `stop` then).
pub fn final_stop(
    stop: StopReason,
    stop_string: Option<String>,
    has_tools: bool,
) -> (&'static str, Option<String>) {
    match (stop, stop_string) {
        (StopReason::EndTurn, _) if has_tools => (StopReason::ToolUse.as_str(), None),
        (StopReason::EndTurn, Some(sequence)) => {
            (StopReason::StopSequence.as_str(), Some(sequence))
        }
        (stop, _) => (stop.as_str(), None),
    }
}

/// vLLM's `stop_reason`: the matched stop string (a token id is not one).
pub fn vllm_stop_string(stop_reason: Option<&RawValue>) -> Option<String> {
    serde_json::from_slice::<String>(stop_reason?.get().as_bytes()).ok()
}

/// OpenAI usage → Anthropic usage. Anthropic counts cache reads and writes
/// apart from `input_tokens`, OpenAI includes them in `prompt_tokens`, so
/// both are subtracted (docs/anthropic_client.md#usage).
pub fn anthropic_usage(usage: Option<&ChatUsage>) -> Usage {
    let Some(usage) = usage else {
        return zero_usage();
    };
    let details = usage.prompt_tokens_details.unwrap_or_default();
    let cache_read = details
        .cached_tokens
        .or(usage.prompt_cache_hit_tokens)
        .unwrap_or(0);
    let cache_creation = details
        .cache_write_tokens
        .or(details.cache_creation_tokens)
        .or(usage.cache_creation_input_tokens)
        .unwrap_or(0);
    Usage {
        input_tokens: Some(
            usage
                .prompt_tokens
                .saturating_sub(cache_read)
                .saturating_sub(cache_creation),
        ),
        cache_creation_input_tokens: Some(cache_creation),
        cache_read_input_tokens: Some(cache_read),
        output_tokens: Some(usage.completion_tokens),
    }
}

pub fn zero_usage() -> Usage {
    Usage {
        input_tokens: Some(0),
        cache_creation_input_tokens: Some(0),
        cache_read_input_tokens: Some(0),
        output_tokens: Some(0),
    }
}
