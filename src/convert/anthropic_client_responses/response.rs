//! OpenAI Responses `response` object → Anthropic message, plus the item,
//! stop-reason and usage rules the stream shares.
//!
//! Output items keep their order: `reasoning` → a thinking block (summary
//! text, signed `aob2.` + the encrypted content), `message` → a text block,
//! `function_call` → `tool_use`. Built-in tool items have no Anthropic form
//! and are skipped.

use crate::anthropic::{ContentBlock, Message, Usage};
use crate::convert::anthropic_client::response::{
    tool_fallback_id, tool_input, zero_usage, ResponseContext,
};
use crate::convert::error::{anthropic_error_body, upstream_error_from_json};
use crate::convert::signature::{reasoning_signature, sign};
use crate::report::Tokens;
use crate::responses::{ContentPart, Item, Response, ResponseUsage};
use crate::wire::{CowStr, RawJson, TextOr};

/// How the parts of a reasoning summary are joined into one thinking text.
pub const SUMMARY_SEPARATOR: &str = "\n\n";

/// Converts a 2xx Responses body. A body that is not a response (an
/// `{"error":…}`, a failed response, garbage) becomes an Anthropic error
/// body: the status is already on its way to the client.
pub fn convert_response(body: &[u8], ctx: &ResponseContext) -> (Vec<u8>, Option<Tokens>) {
    match message_from_body(body, ctx) {
        Ok(message) => (
            crate::json::to_vec(&message).unwrap_or_default(),
            Some(Tokens::from(&message.usage)),
        ),
        Err(message) => {
            log::warn!("upstream 2xx body is not a completed response");
            log::debug!("upstream 2xx body is not a completed response: {message}");
            (anthropic_error_body("api_error", &message), None)
        }
    }
}

/// Parses a response body into an Anthropic message, or says why not.
pub fn message_from_body<'a>(body: &'a [u8], ctx: &ResponseContext) -> Result<Message<'a>, String> {
    let parsed: Result<Response<'a>, _> = serde_json::from_slice(body);
    match parsed {
        Ok(response) if response.status.as_deref() == Some("failed") => Err(response
            .error
            .map(|e| e.message.to_string())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "upstream response failed".to_string())),
        Ok(response) if response.object.as_str() == "response" || !response.output.is_empty() => {
            Ok(message_from_response(response, ctx))
        }
        _ => {
            let json = serde_json::from_slice::<serde_json::Value>(body).ok();
            Err(match json.as_ref().and_then(upstream_error_from_json) {
                Some(error) => error.message,
                None => "upstream returned a body that is not a Responses API response".to_string(),
            })
        }
    }
}

pub fn message_from_response<'a>(response: Response<'a>, ctx: &ResponseContext) -> Message<'a> {
    let usage = anthropic_usage(response.usage.as_ref());
    let id = non_empty(response.id).unwrap_or_else(|| ctx.fallback_id.clone().into());
    let mut content = Vec::with_capacity(response.output.len());
    let mut refused = false;
    let mut has_tools = false;
    for item in response.output {
        match item.kind() {
            "reasoning" => content.extend(thinking_block(item)),
            "message" => {
                let (text, refusal) = message_text(item.content);
                refused |= refusal;
                content.extend(text.map(ContentBlock::text));
            }
            "function_call" | "custom_tool_call" => {
                let position = content.len();
                content.push(tool_use_block(item, &id, position, ctx));
                has_tools = true;
            }
            other => log::debug!("skipped a `{other}` output item: no Anthropic form"),
        }
    }
    let incomplete = (response.status.as_deref() == Some("incomplete"))
        .then(|| response.incomplete_details.and_then(|d| d.reason));
    Message {
        kind: CowStr::borrowed("message"),
        role: crate::anthropic::Role::Assistant,
        model: non_empty(response.model).unwrap_or_else(|| ctx.model.clone().into()),
        content,
        stop_reason: Some(CowStr::borrowed(stop_reason(
            refused,
            incomplete.as_ref().map(|r| r.as_deref().unwrap_or("")),
            has_tools,
        ))),
        stop_sequence: None,
        usage,
        id,
    }
}

fn non_empty(s: CowStr<'_>) -> Option<CowStr<'_>> {
    (!s.is_empty()).then_some(s)
}

/// The stop reason: a refusal, then a cut-off answer (`incomplete`, with its
/// reason), then tool calls, else `end_turn`.
pub fn stop_reason(refused: bool, incomplete: Option<&str>, has_tools: bool) -> &'static str {
    match (refused, incomplete) {
        (true, _) | (false, Some("content_filter")) => "refusal",
        (false, Some(_)) => "max_tokens",
        (false, None) if has_tools => "tool_use",
        (false, None) => "end_turn",
    }
}

/// A reasoning item's thinking text: its summary parts joined, or (servers
/// that stream raw reasoning, without a summary) its `reasoning_text`.
pub fn reasoning_text(item: &Item<'_>) -> String {
    let summary = item.summary.as_deref().unwrap_or_default();
    let summary = texts_of(summary, "summary_text");
    if !summary.is_empty() {
        return summary.join(SUMMARY_SEPARATOR);
    }
    match &item.content {
        Some(TextOr::Items(parts)) => texts_of(parts, "reasoning_text").concat(),
        Some(TextOr::Text(text)) => text.to_string(),
        None => String::new(),
    }
}

fn texts_of<'p>(parts: &'p [ContentPart<'_>], kind: &str) -> Vec<&'p str> {
    parts
        .iter()
        .filter(|p| p.is(kind))
        .filter_map(|p| p.text.as_deref())
        .filter(|t| !t.is_empty())
        .collect()
}

/// `reasoning` → thinking, signed with its encrypted content (or, from a
/// server that sends none, with the bridge's digest of the text). A
/// reasoning item with neither text nor encrypted content has nothing to
/// carry and gives no block.
fn thinking_block(item: Item<'_>) -> Option<ContentBlock<'static>> {
    let text = reasoning_text(&item);
    let signature = match item.encrypted_content.filter(|c| !c.is_empty()) {
        Some(encrypted) => reasoning_signature(&encrypted),
        None if text.is_empty() => return None,
        None => sign(&text),
    };
    Some(ContentBlock::thinking(text, signature))
}

/// A message's text parts concatenated (`output_text` and `refusal`), and
/// whether it refused.
pub fn message_text<'a>(
    content: Option<TextOr<'a, ContentPart<'a>>>,
) -> (Option<CowStr<'a>>, bool) {
    let parts = match content {
        None => return (None, false),
        Some(TextOr::Text(text)) => return (non_empty(text), false),
        Some(TextOr::Items(parts)) => parts,
    };
    let refused = parts
        .iter()
        .any(|p| p.is("refusal") && p.refusal.as_ref().is_some_and(|r| !r.is_empty()));
    let mut texts: Vec<CowStr<'a>> = parts
        .into_iter()
        .filter_map(|p| match p.kind.as_str() {
            "output_text" => p.text,
            "refusal" => p.refusal,
            _ => None,
        })
        .filter(|t| !t.is_empty())
        .collect();
    let text = match texts.len() {
        0 => None,
        1 => texts.pop(),
        _ => Some(texts.iter().map(|t| t.as_str()).collect::<String>().into()),
    };
    (text, refused)
}

/// `function_call` → `tool_use` (id = `call_id`, arguments parsed, `{}`
/// when empty); a `custom_tool_call`'s freeform input becomes `{"input": …}`.
fn tool_use_block<'a>(
    item: Item<'a>,
    message_id: &str,
    position: usize,
    ctx: &ResponseContext,
) -> ContentBlock<'a> {
    let input = match item.kind() {
        "custom_tool_call" => custom_input(item.input.as_deref().unwrap_or("")),
        _ => tool_input(item.arguments.as_deref().unwrap_or("")).unwrap_or_else(|problem| {
            log::warn!("tool call arguments {}; sent as {{}}", problem.as_str());
            RawJson::empty_object()
        }),
    };
    let name = item.name.unwrap_or_default();
    let name = match ctx.tool_names.client(&name) {
        client if client == name.as_str() => name,
        client => client.to_string().into(),
    };
    let id = item
        .call_id
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| tool_fallback_id(message_id, position).into());
    ContentBlock::tool_use(id, name, input)
}

/// The key a custom tool call's freeform input is given in `tool_use.input`.
pub const CUSTOM_INPUT_KEY: &str = "input";

/// `{"input": <text>}`
fn custom_input(text: &str) -> RawJson<'static> {
    let mut json = Vec::with_capacity(text.len() + 12);
    json.extend_from_slice(b"{\"");
    json.extend_from_slice(CUSTOM_INPUT_KEY.as_bytes());
    json.extend_from_slice(b"\":");
    crate::json::write_str(&mut json, text);
    json.push(b'}');
    String::from_utf8(json)
        .ok()
        .and_then(|json| RawJson::object_from_text(&json))
        .unwrap_or_else(RawJson::empty_object)
}

/// Responses usage → Anthropic usage: `input_tokens` includes cache reads
/// and writes, which Anthropic counts apart.
pub fn anthropic_usage(usage: Option<&ResponseUsage>) -> Usage {
    let Some(usage) = usage else {
        return zero_usage();
    };
    let details = usage.input_tokens_details.unwrap_or_default();
    let cache_read = details.cached_tokens;
    let cache_creation = details.cache_write_tokens.unwrap_or(0);
    Usage {
        input_tokens: Some(
            usage
                .input_tokens
                .saturating_sub(cache_read)
                .saturating_sub(cache_creation),
        ),
        cache_creation_input_tokens: Some(cache_creation),
        cache_read_input_tokens: Some(cache_read),
        output_tokens: Some(usage.output_tokens),
    }
}
