//! Anthropic message → Responses `response` object (issue 14, "Response"),
//! plus the item, id, status, usage and error rules the stream shares.
//!
//! Blocks become output items in order: consecutive text blocks one
//! `message` (Anthropic splits one answer into several text blocks at
//! citations), `thinking` a `reasoning` item whose summary is the thinking
//! text and whose `encrypted_content` carries the block back
//! (`reasoning.rs`), `tool_use` a `function_call`, or a `custom_tool_call`
//! with the string input when the client declared the tool as custom.

use super::reasoning;
use super::tools::{ClientTool, ToolKind, CUSTOM_INPUT};
use crate::anthropic::{ContentBlock, Message, Usage};
use crate::convert::error::{openai_error_body, openai_error_type, truncate};
use crate::convert::openai_client::response::compact_json;
use crate::report::LogSafe;
use crate::report::Tokens;
use crate::responses::{
    ContentPart, IncompleteDetails, InputTokensDetails, Item, OutputTokensDetails, Response,
    ResponseError, ResponseUsage, ToolChoice,
};
use crate::wire::{CowStr, TextOr};

/// What the response conversion knows about the request.
#[derive(Debug, Clone, Default)]
pub struct ResponseContext {
    /// The model sent upstream, used when the upstream names none.
    pub model: String,
    /// `created_at`: the host clock (seconds) when the response began.
    pub created_at: u64,
    /// The id base when the upstream's message has no id.
    pub fallback_id: String,
    pub tools: super::tools::ToolTable,
    /// Echoed in the response object, as OpenAI does (its SDKs require
    /// them); `tools` is echoed empty rather than copied back whole.
    pub tool_choice: Option<ToolChoice<'static>>,
    pub parallel_tool_calls: bool,
    /// The upstream's `retry-after` in seconds, when it sent one.
    pub retry_after: Option<u64>,
}

/// The longest id base taken from the upstream's message id.
const MAX_ID_BASE: usize = 64;

/// Ids for one response, all from the upstream message id (`msg_X`):
/// `resp_X`, and `msg_X_n`, `rs_X_n`, `fc_X_n`, `ctc_X_n` for output item n.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ids {
    base: String,
}

impl Ids {
    pub fn new(message_id: &str, fallback: &str) -> Ids {
        let id = if message_id.is_empty() {
            fallback
        } else {
            message_id
        };
        let base = id.strip_prefix("msg_").unwrap_or(id);
        Ids {
            base: truncate(base, MAX_ID_BASE).to_string(),
        }
    }

    pub fn response(&self) -> String {
        ["resp_", &self.base].concat()
    }

    pub fn item(&self, kind: ItemKind, n: usize) -> String {
        format!("{}{}_{n}", kind.prefix(), self.base)
    }
}

/// The output item types the bridge makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Message,
    Reasoning,
    FunctionCall,
    CustomToolCall,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Message => "message",
            ItemKind::Reasoning => "reasoning",
            ItemKind::FunctionCall => "function_call",
            ItemKind::CustomToolCall => "custom_tool_call",
        }
    }

    /// The id prefix OpenAI uses for the type.
    pub fn prefix(self) -> &'static str {
        match self {
            ItemKind::Message => "msg_",
            ItemKind::Reasoning => "rs_",
            ItemKind::FunctionCall => "fc_",
            ItemKind::CustomToolCall => "ctc_",
        }
    }

    pub fn of_call(tool: &ClientTool) -> ItemKind {
        match tool.kind {
            ToolKind::Function => ItemKind::FunctionCall,
            ToolKind::Custom => ItemKind::CustomToolCall,
        }
    }
}

/// `stop_reason` → the response `status` and `incomplete_details.reason`.
pub fn status_of(stop: Option<&str>) -> (&'static str, Option<&'static str>) {
    match stop {
        Some("max_tokens" | "model_context_window_exceeded") => {
            ("incomplete", Some("max_output_tokens"))
        }
        Some("refusal") => ("incomplete", Some("content_filter")),
        _ => ("completed", None),
    }
}

/// Anthropic usage → Responses usage: cache reads and writes are part of
/// the input, and reads are reported as cached. Anthropic does not count
/// thinking tokens apart, so `reasoning_tokens` is 0.
pub fn responses_usage(usage: &Usage) -> ResponseUsage {
    let cache_read = usage.cache_read_input_tokens.unwrap_or(0);
    let input = usage
        .input_tokens
        .unwrap_or(0)
        .saturating_add(cache_read)
        .saturating_add(usage.cache_creation_input_tokens.unwrap_or(0));
    let output = usage.output_tokens.unwrap_or(0);
    ResponseUsage {
        input_tokens: input,
        input_tokens_details: Some(InputTokensDetails {
            cached_tokens: cache_read,
            cache_write_tokens: Some(usage.cache_creation_input_tokens.unwrap_or(0)),
        }),
        output_tokens: output,
        output_tokens_details: Some(OutputTokensDetails {
            reasoning_tokens: 0,
        }),
        total_tokens: input.saturating_add(output),
    }
}

/// An Anthropic error type → an error `code` Codex acts on:
/// `rate_limit_exceeded` (retried), `insufficient_quota`,
/// `context_length_exceeded` (a prompt-too-long request), else
/// `server_error`.
pub fn error_code(kind: &str, message: &str) -> &'static str {
    match kind {
        "rate_limit_error" => "rate_limit_exceeded",
        "billing_error" => "insufficient_quota",
        "invalid_request_error" if message.contains("prompt is too long") => {
            "context_length_exceeded"
        }
        "invalid_request_error" => "invalid_request_error",
        "authentication_error" => "invalid_api_key",
        "permission_error" => "permission_denied",
        "not_found_error" => "not_found",
        _ => "server_error",
    }
}

/// A failure's `code` and `message`. Codex reads a rate limit's delay only
/// from the message ("try again in 7s"), so a known `retry-after` is added
/// to it, as a sentence of its own, when the upstream's message does not say.
pub fn failure(kind: &str, message: &str, retry_after: Option<u64>) -> (&'static str, String) {
    let code = error_code(kind, message);
    let says_when = message.to_ascii_lowercase().contains("try again in");
    match retry_after {
        Some(seconds) if code == "rate_limit_exceeded" && !says_when => {
            let message = message.trim_end();
            let sep = match message.chars().last() {
                None => "",
                Some('.' | '!' | '?') => " ",
                Some(_) => ". ",
            };
            (
                code,
                format!("{message}{sep}Please try again in {seconds}s."),
            )
        }
        _ => (code, message.to_string()),
    }
}

fn owned(text: impl Into<String>) -> CowStr<'static> {
    CowStr::from(text.into())
}

fn status(done: bool) -> Option<CowStr<'static>> {
    Some(CowStr::borrowed(if done {
        "completed"
    } else {
        "in_progress"
    }))
}

/// An assistant `message` item with one `output_text` part (none while it
/// is only added).
pub fn message_item(id: &str, text: Option<&str>, done: bool) -> Item<'static> {
    let content = text.map(|t| ContentPart::output_text(owned(t)));
    Item {
        kind: Some(CowStr::borrowed("message")),
        id: Some(owned(id)),
        status: status(done),
        role: Some(CowStr::borrowed("assistant")),
        content: Some(TextOr::Items(content.into_iter().collect())),
        ..Default::default()
    }
}

/// A `reasoning` item: the thinking text as its one summary part (none when
/// empty) and the block it came from in `encrypted_content`.
pub fn reasoning_item(id: &str, summary: Option<&str>, encrypted: Option<String>) -> Item<'static> {
    let summary = summary.map(|t| ContentPart::text("summary_text", owned(t)));
    Item {
        kind: Some(CowStr::borrowed("reasoning")),
        id: Some(owned(id)),
        summary: Some(summary.into_iter().collect()),
        encrypted_content: encrypted.map(CowStr::from),
        ..Default::default()
    }
}

/// A `function_call` (arguments) or `custom_tool_call` (input) item.
pub fn call_item(
    id: &str,
    call_id: &str,
    tool: &ClientTool,
    input: &str,
    done: bool,
) -> Item<'static> {
    let kind = ItemKind::of_call(tool);
    let input = Some(owned(input));
    let (arguments, input) = match kind {
        ItemKind::CustomToolCall => (None, input),
        _ => (input, None),
    };
    Item {
        kind: Some(CowStr::borrowed(kind.as_str())),
        id: Some(owned(id)),
        status: status(done),
        call_id: Some(owned(call_id)),
        name: Some(owned(tool.name.as_str())),
        namespace: tool.namespace.as_deref().map(owned),
        arguments,
        input,
        ..Default::default()
    }
}

/// A custom tool's freeform input from the tool_use input object: its
/// `input` string; if the model named the one string member otherwise, that
/// string; anything else the JSON text as it came.
pub fn custom_input(arguments: &str) -> String {
    let Ok(serde_json::Value::Object(object)) = serde_json::from_str(arguments) else {
        return arguments.to_string();
    };
    if let Some(serde_json::Value::String(input)) = object.get(CUSTOM_INPUT) {
        return input.clone();
    }
    let mut strings = object.values().filter_map(|v| v.as_str());
    match (strings.next(), strings.next(), object.len()) {
        (Some(only), None, 1) => only.to_string(),
        _ => arguments.to_string(),
    }
}

/// A tool call's text for the client: compact JSON arguments (`{}` when
/// empty), or a custom tool's freeform input.
pub fn call_input(kind: ToolKind, json: &str) -> String {
    let json = if json.trim().is_empty() { "{}" } else { json };
    match kind {
        ToolKind::Function => compact_json(CowStr::borrowed(json)).to_string(),
        ToolKind::Custom => custom_input(json),
    }
}

/// The bridge-made `encrypted_content` of a thinking or redacted block.
pub fn carried_content(block: &ContentBlock<'_>) -> Option<String> {
    if block.is("redacted_thinking") {
        return reasoning::redacted_content(block.data.as_deref().unwrap_or(""));
    }
    let content = reasoning::thinking_content(
        block.thinking.as_deref().unwrap_or(""),
        block.signature.as_deref().unwrap_or(""),
    );
    if content.is_none() {
        log::debug!("a thinking block without a usable signature cannot be carried back");
    }
    content
}

/// The response object around finished output items.
pub fn response_object(
    ids: &Ids,
    ctx: &ResponseContext,
    model: &str,
    status: &'static str,
    output: Vec<Item<'static>>,
) -> Response<'static> {
    Response {
        id: owned(ids.response()),
        object: CowStr::borrowed("response"),
        created_at: ctx.created_at,
        status: Some(CowStr::borrowed(status)),
        model: owned(if model.is_empty() { &ctx.model } else { model }),
        output,
        tool_choice: Some(
            ctx.tool_choice
                .clone()
                .unwrap_or(ToolChoice::Mode(CowStr::borrowed("auto"))),
        ),
        tools: Some(Vec::new()),
        parallel_tool_calls: Some(ctx.parallel_tool_calls),
        ..Default::default()
    }
}

/// The response's end: status, incomplete reason and usage.
pub fn finish(response: &mut Response<'static>, stop: Option<&str>, usage: &Usage) {
    let (status, reason) = status_of(stop);
    response.status = Some(CowStr::borrowed(status));
    response.incomplete_details = reason.map(|reason| IncompleteDetails {
        reason: Some(CowStr::borrowed(reason)),
    });
    response.usage = Some(responses_usage(usage));
}

/// A failed response's `error`.
pub fn fail(response: &mut Response<'static>, code: &str, message: &str) {
    response.status = Some(CowStr::borrowed("failed"));
    response.error = Some(ResponseError {
        code: Some(owned(code)),
        message: owned(message),
    });
}

/// Converts a 2xx message body; a body that is not a message becomes an
/// OpenAI error body (the status is already on its way to the client).
pub fn convert_response(body: &[u8], ctx: &ResponseContext) -> (Vec<u8>, Option<Tokens>) {
    match serde_json::from_slice::<Message<'_>>(body) {
        Ok(message) if message.kind.as_str() == "message" => {
            let tokens = Tokens::from(&message.usage);
            let response = response_from_message(message, ctx);
            (
                crate::json::to_vec(&response).unwrap_or_default(),
                Some(tokens),
            )
        }
        _ => {
            log::warn!("upstream 2xx body is not an Anthropic message");
            let message = "upstream returned a response that is not a message";
            (
                openai_error_body(openai_error_type(502), message, None),
                None,
            )
        }
    }
}

pub fn response_from_message(message: Message<'_>, ctx: &ResponseContext) -> Response<'static> {
    let ids = Ids::new(&message.id, &ctx.fallback_id);
    let mut output: Vec<Item<'static>> = Vec::new();
    let mut text: Option<String> = None;
    for block in &message.content {
        if block.is("text") {
            text.get_or_insert_with(String::new)
                .push_str(block.text.as_deref().unwrap_or(""));
            continue;
        }
        if let Some(text) = text.take() {
            let id = ids.item(ItemKind::Message, output.len());
            output.push(message_item(&id, Some(&text), true));
        }
        if let Some(item) = block_item(block, &ids, output.len(), ctx) {
            output.push(item);
        }
    }
    if let Some(text) = text {
        let id = ids.item(ItemKind::Message, output.len());
        output.push(message_item(&id, Some(&text), true));
    }
    let mut response = response_object(&ids, ctx, &message.model, "completed", output);
    finish(
        &mut response,
        message.stop_reason.as_deref(),
        &message.usage,
    );
    response
}

/// The output item of a non-text block, if it has one.
fn block_item(
    block: &ContentBlock<'_>,
    ids: &Ids,
    n: usize,
    ctx: &ResponseContext,
) -> Option<Item<'static>> {
    match block.kind.as_str() {
        "thinking" | "redacted_thinking" => {
            let summary = block.thinking.as_deref().filter(|t| !t.is_empty());
            let id = ids.item(ItemKind::Reasoning, n);
            Some(reasoning_item(&id, summary, carried_content(block)))
        }
        "tool_use" => {
            let tool = ctx.tools.client(block.name.as_deref().unwrap_or(""));
            let json = block.input.as_ref().map_or("{}", |input| input.get());
            let input = call_input(tool.kind, json);
            let call_id = block.id.as_deref().unwrap_or("");
            let id = ids.item(ItemKind::of_call(&tool), n);
            Some(call_item(&id, call_id, &tool, &input, true))
        }
        other => {
            log::debug!(
                "skipped a `{}` block: it ran on the upstream's side",
                LogSafe(other)
            );
            None
        }
    }
}
