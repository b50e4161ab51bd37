//! Anthropic Messages request → OpenAI Chat Completions request
//! (docs/anthropic_client.md#request-mapping). The OpenAI body is built field by field;
//! nothing is copied across wholesale, so a field nobody converted cannot
//! reach the upstream.

use crate::anthropic::block;
use crate::anthropic::{ContentBlock, InputMessage, MessagesRequest, Role, Source, Thinking, Tool};
use crate::config::{Config, MaxTokensField};
use crate::convert::error::ClientError;
use crate::convert::signature::is_bridge_signature;
use crate::convert::tool_names::ToolNames;
use crate::digest::fnv64;
use crate::openai::{part, role, FUNCTION};
use crate::openai::{
    ChatMessage, ChatRequest, ChatTool, ChatToolChoice, ContentPart, FilePart, FunctionCall,
    FunctionDef, ImageUrl, JsonSchemaFormat, ResponseFormat, StreamOptions, ToolCall,
};
use crate::report::LogSafe;
use crate::wire::{CowStr, RawJson, TextOr};
use std::borrow::Cow;
use std::sync::OnceLock;

/// How text blocks that become one string are separated.
pub const BLOCK_SEPARATOR: &str = "\n\n";

/// Longest `user` OpenAI accepts; longer ids (Claude Code sends ~150 bytes of
/// JSON) are replaced by a stable digest so requests are not rejected.
pub const MAX_USER_LEN: usize = 64;

/// The converted request and what the response conversion needs to know.
#[derive(Debug)]
pub struct ConvertedRequest {
    pub body: Vec<u8>,
    pub stream: bool,
    pub tool_names: ToolNames,
    /// The model name sent upstream.
    pub model: String,
}

/// Converts an Anthropic Messages request body; errors are the client's 400s.
pub fn convert_request(body: &[u8], config: &Config) -> Result<ConvertedRequest, ClientError> {
    convert_parsed(parse_request(body)?, config, body.len(), |_| ())
}

/// Converts a `/v1/messages/count_tokens` body as the messages request it
/// describes, answered with one token and not streamed (the upstream's
/// `prompt_tokens` is then the count); also returns the local estimate of
/// that count. Bad input gets the same errors as a messages request.
pub fn convert_count_tokens(
    body: &[u8],
    config: &Config,
) -> Result<(ConvertedRequest, u64), ClientError> {
    let mut request = parse_request(body)?;
    request.max_tokens = Some(1);
    request.stream = None;
    let mut estimate = 0;
    let converted = convert_parsed(request, config, body.len(), |chat| {
        estimate = super::count_tokens::estimate(chat);
    })?;
    Ok((converted, estimate))
}

/// Converts a parsed request; `inspect` sees the built request before it is
/// written.
fn convert_parsed(
    request: MessagesRequest<'_>,
    config: &Config,
    body_len: usize,
    inspect: impl FnOnce(&ChatRequest<'_>),
) -> Result<ConvertedRequest, ClientError> {
    if request.messages.is_empty() {
        return Err(ClientError::invalid_request(
            "messages: at least one message is required",
        ));
    }
    super::validate::validate(&request)?;
    let tool_names = tool_names_of(&request);
    let stream = request.stream == Some(true);
    let chat = chat_request(request, config, &tool_names)?;
    inspect(&chat);
    let model = chat.model.to_string();
    let mut out = Vec::with_capacity(body_len + 256);
    crate::json::write(&mut out, &chat)
        .map_err(|e| ClientError::invalid_request(format!("request cannot be converted: {e}")))?;
    Ok(ConvertedRequest {
        body: out,
        stream,
        tool_names,
        model,
    })
}

/// Parses the body, telling malformed JSON apart from a wrong shape.
pub fn parse_request(body: &[u8]) -> Result<MessagesRequest<'_>, ClientError> {
    crate::convert::error::parse_body(body)
}

/// Every tool name the request mentions: tools, `tool_choice`, history.
pub(crate) fn tool_names_of(request: &MessagesRequest<'_>) -> ToolNames {
    let tools = request
        .tools
        .iter()
        .flatten()
        .filter(|t| t.is_custom())
        .map(|t| t.name.as_str());
    let choice = request.tool_choice.iter().filter_map(|c| c.name.as_deref());
    let history = request.messages.iter().flat_map(|m| match &m.content {
        TextOr::Items(blocks) => blocks.as_slice(),
        TextOr::Text(_) => &[],
    });
    let used = history
        .filter(|b| b.is(block::TOOL_USE))
        .filter_map(|b| b.name.as_deref());
    ToolNames::new(tools.chain(choice).chain(used))
}

fn chat_request<'a>(
    request: MessagesRequest<'a>,
    config: &Config,
    tool_names: &ToolNames,
) -> Result<ChatRequest<'a>, ClientError> {
    log_dropped_fields(&request);
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = request.system.and_then(system_message) {
        messages.push(system);
    }
    let mut first_emptied = None;
    for (index, message) in request.messages.into_iter().enumerate() {
        let before = messages.len();
        convert_message(message, index, tool_names, &mut messages)?;
        if messages.len() == before {
            first_emptied.get_or_insert(index);
        }
    }
    if !messages
        .iter()
        .any(|m| m.role.as_deref() != Some(role::SYSTEM))
    {
        return Err(nothing_left(first_emptied));
    }
    let max_tokens = request.max_tokens.map(|n| config.clamp_max_tokens(n));
    let (max_completion_tokens, max_tokens) = match config.max_tokens_field {
        MaxTokensField::MaxCompletionTokens => (max_tokens, None),
        MaxTokensField::MaxTokens => (None, max_tokens),
    };
    let stream = request.stream == Some(true);
    let tools: Vec<ChatTool<'a>> = request
        .tools
        .into_iter()
        .flatten()
        .filter_map(|tool| chat_tool(tool, tool_names))
        .collect();
    let (tool_choice, parallel_tool_calls) = match request.tool_choice {
        Some(choice) if !tools.is_empty() => {
            let parallel = choice
                .disable_parallel_tool_use
                .filter(|d| *d)
                .map(|_| false);
            (
                Some(chat_tool_choice(choice.kind, choice.name, tool_names)?),
                parallel,
            )
        }
        _ => (None, None),
    };
    let (effort, config_format) = match request.output_config {
        Some(output_config) => (output_config.effort, output_config.format),
        None => (None, None),
    };
    let output_format = request.output_format.or(config_format);
    Ok(ChatRequest {
        model: config.model_map.map_cow(request.model.0).into(),
        messages,
        max_completion_tokens,
        max_tokens,
        temperature: request.temperature,
        top_p: request.top_p,
        stop: request
            .stop_sequences
            .filter(|s| !s.is_empty())
            .map(TextOr::Items),
        stream: stream.then_some(true),
        stream_options: stream.then_some(StreamOptions {
            include_usage: Some(true),
        }),
        user: request.metadata.and_then(|m| m.user_id).map(user_field),
        service_tier: request
            .service_tier
            .and_then(|tier| service_tier(&tier))
            .map(CowStr::borrowed),
        reasoning_effort: reasoning_effort(request.thinking.as_ref(), effort.as_deref())
            .map(CowStr::borrowed),
        response_format: output_format.and_then(response_format),
        tools: (!tools.is_empty()).then_some(tools),
        tool_choice,
        parallel_tool_calls,
        ..Default::default()
    })
}

/// Every message converted to nothing (or only to system text): the OpenAI
/// upstream would get no conversation, so the client hears which was empty.
fn nothing_left(first_emptied: Option<usize>) -> ClientError {
    let field = match first_emptied {
        Some(index) => format!("messages[{index}].content"),
        None => "messages".to_string(),
    };
    ClientError::invalid_request(format!(
        "{field}: no content an OpenAI upstream can take (empty, `text: null` or only unsupported blocks); no message is left to send"
    ))
}

fn log_dropped_fields(request: &MessagesRequest<'_>) {
    let ignored = [
        ("top_k", request.top_k.is_some()),
        ("container", request.container.is_some()),
        ("mcp_servers", request.mcp_servers.is_some()),
        ("context_management", request.context_management.is_some()),
    ];
    crate::convert::log_dropped_fields(&ignored, "OpenAI");
    if let Some(tier) = request
        .service_tier
        .as_deref()
        .filter(|t| service_tier(t).is_none())
    {
        log::debug!(
            "dropped service_tier `{}`: no OpenAI equivalent",
            LogSafe(tier)
        );
    }
    if let Some(tools) = &request.tools {
        for tool in tools.iter().filter(|t| !t.is_custom()) {
            log::debug!(
                "dropped server tool `{}` ({}): an OpenAI upstream cannot run it",
                LogSafe(tool.name.as_str()),
                LogSafe(tool.kind.as_deref().unwrap_or_default())
            );
        }
    }
}

/// `system` string or text blocks → one system message; the blocks are
/// joined, `cache_control` dropped, Claude Code's billing nonce removed.
fn system_message<'a>(system: TextOr<'a, ContentBlock<'a>>) -> Option<ChatMessage<'a>> {
    Some(ChatMessage {
        role: Some(CowStr::borrowed(role::SYSTEM)),
        content: Some(TextOr::Text(system_text(system)?)),
        ..Default::default()
    })
}

/// The text of `system`, as `system_message` sends it.
pub(crate) fn system_text<'a>(system: TextOr<'a, ContentBlock<'a>>) -> Option<CowStr<'a>> {
    let texts: Vec<CowStr<'a>> = match system {
        TextOr::Text(text) => vec![text],
        TextOr::Items(blocks) => blocks
            .into_iter()
            .filter(|b| b.is(block::TEXT))
            .filter_map(|b| b.text)
            .collect(),
    };
    let texts: Vec<CowStr<'a>> = texts.into_iter().filter_map(strip_billing_nonce).collect();
    join(texts)
}

const BILLING_HEADER: &str = "x-anthropic-billing-header:";

/// Claude Code starts its system prompt with
/// `x-anthropic-billing-header: cc_version=…; cc_entrypoint=…; cch=<nonce>;`.
/// The nonce changes on every request and would defeat the upstream's prefix
/// prompt cache, so the `cch=` entry is removed; a block left with nothing
/// but the header name disappears.
pub(crate) fn strip_billing_nonce(text: CowStr<'_>) -> Option<CowStr<'_>> {
    if !text.starts_with(BILLING_HEADER) {
        return Some(text);
    }
    static NONCE: OnceLock<Option<regex_lite::Regex>> = OnceLock::new();
    let nonce = NONCE.get_or_init(|| regex_lite::Regex::new(r"[ \t]*\bcch=[^;\s]*;?").ok());
    let (line, rest) = match text.split_once('\n') {
        Some((line, rest)) => (line, Some(rest)),
        None => (text.as_str(), None),
    };
    let stripped = match nonce {
        Some(re) => re.replace_all(line, ""),
        None => Cow::Borrowed(line),
    };
    if let Cow::Borrowed(_) = stripped {
        return Some(text);
    }
    log::debug!("removed the per-request `cch=` nonce from Claude Code's billing header");
    let header_is_empty = stripped
        .get(BILLING_HEADER.len()..)
        .is_none_or(|v| v.trim().is_empty());
    let result = match (header_is_empty, rest) {
        (true, None) => return None,
        (true, Some(rest)) if rest.trim().is_empty() => return None,
        (true, Some(rest)) => rest.trim_start_matches('\n').to_string(),
        (false, None) => stripped.into_owned(),
        (false, Some(rest)) => format!("{stripped}\n{rest}"),
    };
    Some(result.into())
}

/// Joins texts with `BLOCK_SEPARATOR`, borrowing when there is just one.
pub(crate) fn join(mut texts: Vec<CowStr<'_>>) -> Option<CowStr<'_>> {
    match texts.len() {
        0 => None,
        1 => texts.pop(),
        _ => Some(
            texts
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(BLOCK_SEPARATOR)
                .into(),
        ),
    }
}

fn convert_message<'a>(
    message: InputMessage<'a>,
    index: usize,
    tool_names: &ToolNames,
    out: &mut Vec<ChatMessage<'a>>,
) -> Result<(), ClientError> {
    match message.role {
        Role::User => user_messages(message.content, index, out),
        Role::Assistant => {
            if let Some(message) = assistant_message(message.content, index, tool_names)? {
                out.push(message);
            }
            Ok(())
        }
        Role::System => {
            out.extend(positioned_system_message(message.content));
            Ok(())
        }
    }
}

/// A system message inside `messages` stays where it is: an OpenAI system
/// message at the same position (its text blocks joined).
fn positioned_system_message<'a>(content: TextOr<'a, ContentBlock<'a>>) -> Option<ChatMessage<'a>> {
    let text = match content {
        TextOr::Text(text) => Some(text).filter(|t| !t.is_empty()),
        TextOr::Items(blocks) => join(
            blocks
                .into_iter()
                .filter(|b| b.is(block::TEXT))
                .filter_map(|b| b.text)
                .filter(|t| !t.is_empty())
                .collect(),
        ),
    }?;
    Some(chat_message(role::SYSTEM, TextOr::Text(text)))
}

fn chat_message<'a>(role: &'static str, content: TextOr<'a, ContentPart<'a>>) -> ChatMessage<'a> {
    ChatMessage {
        role: Some(CowStr::borrowed(role)),
        content: Some(content),
        ..Default::default()
    }
}

/// A user turn: one `tool` message per `tool_result`, in order, first; then a
/// user message with the images/documents the results held (tool messages
/// carry text only) followed by the rest of the turn's content.
fn user_messages<'a>(
    content: TextOr<'a, ContentBlock<'a>>,
    index: usize,
    out: &mut Vec<ChatMessage<'a>>,
) -> Result<(), ClientError> {
    let blocks = match content {
        TextOr::Text(text) => {
            out.push(chat_message(role::USER, TextOr::Text(text)));
            return Ok(());
        }
        TextOr::Items(blocks) => blocks,
    };
    let mut result_media = Vec::new();
    let mut parts = Vec::with_capacity(blocks.len());
    let mut tool_results = 0;
    for block in blocks {
        match block.kind.as_str() {
            block::TOOL_RESULT => {
                tool_results += 1;
                out.push(tool_message(block, index, &mut result_media)?);
            }
            _ => content_parts(block, index, &mut parts)?,
        }
    }
    if !result_media.is_empty() {
        log::debug!("messages[{index}]: tool-result images/documents sent in a user message after the tool messages");
    }
    result_media.append(&mut parts);
    match parts_content(result_media) {
        Some(content) => out.push(chat_message(role::USER, content)),
        None if tool_results == 0 => {
            log::debug!("messages[{index}]: dropped a user message with nothing left to send")
        }
        None => {}
    }
    Ok(())
}

/// A single text part is sent as a plain string, which every server accepts.
fn parts_content(mut parts: Vec<ContentPart<'_>>) -> Option<TextOr<'_, ContentPart<'_>>> {
    match parts.as_slice() {
        [] => None,
        [only] if only.kind.as_str() == part::TEXT => {
            parts.pop().and_then(|p| p.text).map(TextOr::Text)
        }
        _ => Some(TextOr::Items(parts)),
    }
}

/// Converts one user content block (not a tool result) into parts.
fn content_parts<'a>(
    block: ContentBlock<'a>,
    index: usize,
    parts: &mut Vec<ContentPart<'a>>,
) -> Result<(), ClientError> {
    match block.kind.as_str() {
        block::TEXT => {
            if let Some(text) = block.text.filter(|t| !t.is_empty()) {
                parts.push(ContentPart::text(text));
            }
        }
        block::IMAGE => parts.push(image_part(block.source, index)?),
        block::DOCUMENT => document_parts(block.source, block.title, index, parts)?,
        other => log::debug!(
            "messages[{index}]: skipped a `{}` block an OpenAI upstream has no form for",
            LogSafe(other)
        ),
    }
    Ok(())
}

pub(crate) fn missing_source(index: usize, kind: &str) -> ClientError {
    ClientError::invalid_request(format!(
        "messages[{index}]: {kind} block without a `source`"
    ))
}

/// `image` → `image_url` with a `data:` URL, or the image's own URL.
fn image_part<'a>(
    source: Option<Source<'a>>,
    index: usize,
) -> Result<ContentPart<'a>, ClientError> {
    let source = source.ok_or_else(|| missing_source(index, block::IMAGE))?;
    let url = match source.kind.as_str() {
        "base64" => data_url(
            source.media_type.as_deref().unwrap_or("image/png"),
            source.data.as_deref().unwrap_or(""),
        ),
        "url" => source.url.ok_or_else(|| {
            ClientError::invalid_request(format!(
                "messages[{index}]: image url source without `url`"
            ))
        })?,
        other => return Err(unsupported_source(index, block::IMAGE, other)),
    };
    Ok(ContentPart {
        kind: CowStr::borrowed(part::IMAGE_URL),
        image_url: Some(ImageUrl { url, detail: None }),
        ..Default::default()
    })
}

pub(crate) fn data_url(media_type: &str, data: &str) -> CowStr<'static> {
    format!("data:{media_type};base64,{data}").into()
}

pub(crate) fn unsupported_source(index: usize, block: &str, source: &str) -> ClientError {
    ClientError::invalid_request(format!(
        "messages[{index}]: {block} source type `{source}` is not supported by an OpenAI upstream"
    ))
}

/// `document`: base64 PDF → `file` part; plain text or content blocks → text parts.
fn document_parts<'a>(
    source: Option<Source<'a>>,
    title: Option<CowStr<'a>>,
    index: usize,
    parts: &mut Vec<ContentPart<'a>>,
) -> Result<(), ClientError> {
    let source = source.ok_or_else(|| missing_source(index, block::DOCUMENT))?;
    match source.kind.as_str() {
        "base64" => parts.push(ContentPart {
            kind: CowStr::borrowed(part::FILE),
            file: Some(FilePart {
                filename: Some(title.unwrap_or(CowStr::borrowed("document.pdf"))),
                file_data: Some(data_url(
                    source.media_type.as_deref().unwrap_or("application/pdf"),
                    source.data.as_deref().unwrap_or(""),
                )),
                file_id: None,
            }),
            ..Default::default()
        }),
        "text" => {
            if let Some(text) = source.data.filter(|t| !t.is_empty()) {
                parts.push(ContentPart::text(text));
            }
        }
        "content" => match source.content {
            Some(TextOr::Text(text)) => parts.push(ContentPart::text(text)),
            Some(TextOr::Items(blocks)) => {
                for block in blocks {
                    content_parts(block, index, parts)?;
                }
            }
            None => {}
        },
        other => return Err(unsupported_source(index, block::DOCUMENT, other)),
    }
    Ok(())
}

/// `tool_result` → a `tool` message: text joined, `Error: ` prefixed when
/// `is_error`; images and documents are moved to `media`.
fn tool_message<'a>(
    block: ContentBlock<'a>,
    index: usize,
    media: &mut Vec<ContentPart<'a>>,
) -> Result<ChatMessage<'a>, ClientError> {
    let id = block.tool_use_id.ok_or_else(|| {
        ClientError::invalid_request(format!(
            "messages[{index}]: tool_result without `tool_use_id`"
        ))
    })?;
    let texts = match block.content {
        None => Vec::new(),
        Some(TextOr::Text(text)) => vec![text],
        Some(TextOr::Items(blocks)) => {
            let mut parts = Vec::new();
            for inner in blocks {
                content_parts(inner, index, &mut parts)?;
            }
            let mut texts = Vec::new();
            for part in parts {
                match part.kind.as_str() {
                    part::TEXT => texts.extend(part.text),
                    _ => media.push(part),
                }
            }
            texts
        }
    };
    let text = join(texts).unwrap_or_default();
    let text = if block.is_error == Some(true) {
        CowStr::from(format!("Error: {}", text.as_str()))
    } else {
        text
    };
    Ok(ChatMessage {
        role: Some(CowStr::borrowed(role::TOOL)),
        content: Some(TextOr::Text(text)),
        tool_call_id: Some(id),
        ..Default::default()
    })
}

/// An assistant turn: text → `content` (null when none), `tool_use` →
/// `tool_calls`, bridge-made thinking → `reasoning_content`; other thinking
/// is dropped (an OpenAI upstream has no input form for it). A turn with
/// nothing left is dropped.
fn assistant_message<'a>(
    content: TextOr<'a, ContentBlock<'a>>,
    index: usize,
    tool_names: &ToolNames,
) -> Result<Option<ChatMessage<'a>>, ClientError> {
    let blocks = match content {
        TextOr::Text(text) if text.is_empty() => return Ok(None),
        TextOr::Text(text) => return Ok(Some(chat_message(role::ASSISTANT, TextOr::Text(text)))),
        TextOr::Items(blocks) => blocks,
    };
    let mut texts = Vec::new();
    let mut tool_calls = Vec::new();
    let mut reasoning = Vec::new();
    for block in blocks {
        match block.kind.as_str() {
            block::TEXT => texts.extend(block.text.filter(|t| !t.is_empty())),
            block::TOOL_USE => tool_calls.push(tool_call(block, index, tool_names)?),
            block::THINKING if block.signature.as_deref().is_some_and(is_bridge_signature) => {
                reasoning.extend(block.thinking)
            }
            other => log::debug!(
                "messages[{index}]: dropped an assistant `{}` block",
                LogSafe(other)
            ),
        }
    }
    let content = join(texts);
    let reasoning_content = join(reasoning);
    if content.is_none() && tool_calls.is_empty() && reasoning_content.is_none() {
        return Ok(None);
    }
    Ok(Some(ChatMessage {
        role: Some(CowStr::borrowed(role::ASSISTANT)),
        content: match (&content, &reasoning_content, tool_calls.is_empty()) {
            (None, Some(_), true) => Some(TextOr::Text(CowStr::default())),
            _ => content.map(TextOr::Text),
        },
        tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
        reasoning_content,
        ..Default::default()
    }))
}

/// `tool_use` → `{id, type: function, function: {name, arguments}}`; the
/// input's JSON text is passed through as the arguments string.
fn tool_call<'a>(
    block: ContentBlock<'a>,
    index: usize,
    tool_names: &ToolNames,
) -> Result<ToolCall<'a>, ClientError> {
    let id = block.id.ok_or_else(|| {
        ClientError::invalid_request(format!("messages[{index}]: tool_use without `id`"))
    })?;
    let name = block.name.ok_or_else(|| {
        ClientError::invalid_request(format!("messages[{index}]: tool_use without `name`"))
    })?;
    let arguments = block
        .input
        .map_or(CowStr::borrowed("{}"), RawJson::into_text);
    Ok(ToolCall {
        index: None,
        id: Some(id),
        kind: Some(CowStr::borrowed(FUNCTION)),
        function: Some(FunctionCall {
            name: Some(upstream_name(name, tool_names)),
            arguments: Some(arguments),
        }),
    })
}

pub(crate) fn upstream_name<'a>(name: CowStr<'a>, tool_names: &ToolNames) -> CowStr<'a> {
    match tool_names.upstream(&name) {
        mapped if mapped == name.as_str() => name,
        mapped => mapped.to_string().into(),
    }
}

/// Custom tools become functions; server tools are dropped.
fn chat_tool<'a>(tool: Tool<'a>, tool_names: &ToolNames) -> Option<ChatTool<'a>> {
    if !tool.is_custom() {
        return None;
    }
    Some(ChatTool {
        kind: CowStr::borrowed(FUNCTION),
        function: Some(FunctionDef {
            name: upstream_name(tool.name, tool_names),
            description: tool.description,
            parameters: tool.input_schema,
        }),
    })
}

fn chat_tool_choice<'a>(
    kind: CowStr<'a>,
    name: Option<CowStr<'a>>,
    tool_names: &ToolNames,
) -> Result<ChatToolChoice<'a>, ClientError> {
    Ok(match kind.as_str() {
        "any" => ChatToolChoice::Mode(CowStr::borrowed("required")),
        "none" => ChatToolChoice::Mode(CowStr::borrowed("none")),
        "tool" => ChatToolChoice::Function(upstream_name(
            name.ok_or_else(|| {
                ClientError::invalid_request("tool_choice: type `tool` needs a `name`")
            })?,
            tool_names,
        )),
        _ => ChatToolChoice::Mode(CowStr::borrowed("auto")),
    })
}

/// `metadata.user_id` → `user`; ids longer than OpenAI accepts become a
/// stable digest of themselves (same user, same value).
pub(crate) fn user_field(user_id: CowStr<'_>) -> CowStr<'_> {
    if user_id.len() <= MAX_USER_LEN {
        return user_id;
    }
    log::debug!("metadata.user_id is longer than {MAX_USER_LEN} bytes; sent as its digest");
    format!("user-{:016x}", fnv64(user_id.as_bytes())).into()
}

pub(crate) fn service_tier(tier: &str) -> Option<&'static str> {
    match tier {
        "auto" => Some("auto"),
        "standard_only" => Some("default"),
        _ => None,
    }
}

/// `thinking` (and adaptive thinking's `output_config.effort`) → `reasoning_effort`.
pub fn reasoning_effort(
    thinking: Option<&Thinking<'_>>,
    effort: Option<&str>,
) -> Option<&'static str> {
    match thinking?.kind.as_str() {
        "enabled" => Some(match thinking?.budget_tokens {
            Some(budget) if budget < 4096 => "low",
            Some(budget) if budget >= 16384 => "high",
            _ => "medium",
        }),
        "adaptive" => Some(match effort {
            Some("low") => "low",
            Some("high") | Some("max") | Some("xhigh") => "high",
            _ => "medium",
        }),
        _ => None,
    }
}

fn response_format(format: crate::anthropic::OutputFormat<'_>) -> Option<ResponseFormat<'_>> {
    if format.kind.as_str() != "json_schema" {
        return None;
    }
    Some(ResponseFormat {
        kind: CowStr::borrowed("json_schema"),
        json_schema: Some(JsonSchemaFormat {
            name: CowStr::borrowed("response"),
            schema: Some(format.schema?),
            strict: Some(true),
        }),
    })
}
