//! OpenAI Chat Completions request → Anthropic Messages request
//! (docs/openai_client.md#request-mapping). Built field by field like the other
//! direction: what is not converted here never reaches the upstream.

use crate::anthropic::block;
use crate::anthropic::{
    ContentBlock, InputMessage, MessagesRequest, Metadata, OutputConfig, OutputFormat, Role,
    Source, Thinking, Tool, ToolChoice,
};
use crate::config::Config;
use crate::convert::error::ClientError;
use crate::openai::{part, role, FUNCTION};
use crate::openai::{
    ChatMessage, ChatRequest, ChatTool, ChatToolChoice, ContentPart, ResponseFormat, ToolCall,
};
use crate::report::LogSafe;
use crate::wire::{CowStr, RawJson, TextOr};
use std::borrow::Cow;

/// Thinking budgets for `reasoning_effort` low / medium / high.
pub const BUDGET_LOW: u64 = 1024;
pub const BUDGET_MEDIUM: u64 = 8192;
pub const BUDGET_HIGH: u64 = 16384;

/// The converted request and what the response conversion needs.
#[derive(Debug)]
pub struct ConvertedRequest {
    pub body: Vec<u8>,
    pub stream: bool,
    /// `stream_options.include_usage`: the client wants the final usage chunk.
    pub include_usage: bool,
    /// The model name sent upstream.
    pub model: String,
}

pub fn convert_request(body: &[u8], config: &Config) -> Result<ConvertedRequest, ClientError> {
    let request: ChatRequest<'_> = crate::convert::error::parse_body(body)?;
    if request.messages.is_empty() {
        return Err(ClientError::invalid_request(
            "messages: at least one message is required",
        ));
    }
    if request.n.is_some_and(|n| n > 1) {
        return Err(ClientError::invalid_request(
            "n: an Anthropic upstream returns one choice; n must be 1",
        ));
    }
    super::validate::validate(&request)?;
    let stream = request.stream == Some(true);
    let include_usage = stream
        && request
            .stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            == Some(true);
    let mut messages_request = messages_request(request, config)?;
    if config.prompt_caching {
        crate::convert::prompt_cache::place_breakpoints(&mut messages_request);
    }
    let model = messages_request.model.to_string();
    let mut out = Vec::with_capacity(body.len() + 256);
    crate::json::write(&mut out, &messages_request)
        .map_err(|e| ClientError::invalid_request(format!("request cannot be converted: {e}")))?;
    Ok(ConvertedRequest {
        body: out,
        stream,
        include_usage,
        model,
    })
}

fn log_dropped_fields(request: &ChatRequest<'_>) {
    let ignored = [
        ("frequency_penalty", request.frequency_penalty.is_some()),
        ("presence_penalty", request.presence_penalty.is_some()),
        ("seed", request.seed.is_some()),
        ("logit_bias", request.logit_bias.is_some()),
        ("logprobs", request.logprobs.is_some()),
        ("top_logprobs", request.top_logprobs.is_some()),
        ("service_tier", request.service_tier.is_some()),
    ];
    crate::convert::log_dropped_fields(&ignored, "Anthropic");
}

fn messages_request<'a>(
    request: ChatRequest<'a>,
    config: &Config,
) -> Result<MessagesRequest<'a>, ClientError> {
    log_dropped_fields(&request);
    let (system, messages) = split_messages(request.messages)?;
    if messages.is_empty() {
        return Err(ClientError::invalid_request(
            "messages: no user or assistant message with content is left to send (an Anthropic upstream needs at least one; system and developer messages become `system`)",
        ));
    }
    let requested = request.max_completion_tokens.or(request.max_tokens);
    let max_tokens = config.clamp_max_tokens(requested.unwrap_or(config.default_max_tokens));
    let thinking = thinking_budget(request.reasoning_effort.as_deref())
        .and_then(|budget| fit_thinking(budget, max_tokens, config));
    let max_tokens = thinking.map_or(max_tokens, |(_, max_tokens)| max_tokens);
    let tools: Vec<Tool<'a>> = request
        .tools
        .into_iter()
        .flatten()
        .filter_map(anthropic_tool)
        .collect();
    let mut tool_choice = match request.tool_choice {
        Some(choice) if !tools.is_empty() => Some(tool_choice(choice, thinking.is_some())),
        _ => None,
    };
    if request.parallel_tool_calls == Some(false) && !tools.is_empty() {
        tool_choice
            .get_or_insert_with(|| ToolChoice {
                kind: CowStr::borrowed("auto"),
                ..Default::default()
            })
            .disable_parallel_tool_use = Some(true);
    }
    let (temperature, top_p) = match thinking {
        Some(_) => {
            if request.temperature.is_some() || request.top_p.is_some() {
                log::debug!("dropped temperature/top_p: Anthropic rejects them with thinking on");
            }
            (None, None)
        }
        None => (request.temperature.map(clamp_temperature), request.top_p),
    };
    Ok(MessagesRequest {
        model: config.model_map.map_cow(request.model.0).into(),
        messages,
        system,
        max_tokens: Some(max_tokens),
        temperature,
        top_p,
        stop_sequences: request.stop.map(stop_sequences).filter(|s| !s.is_empty()),
        stream: (request.stream == Some(true)).then_some(true),
        metadata: request.user.map(|user| Metadata {
            user_id: Some(user),
        }),
        service_tier: None,
        thinking: thinking.map(|(budget, _)| Thinking {
            kind: CowStr::borrowed("enabled"),
            budget_tokens: Some(budget),
        }),
        output_config: request
            .response_format
            .and_then(output_format)
            .map(|format| OutputConfig {
                effort: None,
                format: Some(format),
            }),
        output_format: None,
        tools: (!tools.is_empty()).then_some(tools),
        tool_choice,
        ..Default::default()
    })
}

/// `reasoning_effort` → a thinking budget; `none` (and unknown values) → none.
pub(crate) fn thinking_budget(effort: Option<&str>) -> Option<u64> {
    match effort? {
        "minimal" | "low" => Some(BUDGET_LOW),
        "medium" => Some(BUDGET_MEDIUM),
        "high" | "xhigh" => Some(BUDGET_HIGH),
        _ => None,
    }
}

/// Anthropic needs `budget_tokens < max_tokens`: `max_tokens` is raised to
/// leave the client's own answer budget on top of the thinking budget,
/// within `max_tokens_limit`; if the limit leaves no room, the budget shrinks
/// (to no less than Anthropic's minimum of 1024), else thinking is dropped.
pub(crate) fn fit_thinking(budget: u64, max_tokens: u64, config: &Config) -> Option<(u64, u64)> {
    if budget < max_tokens {
        return Some((budget, max_tokens));
    }
    let raised = config.clamp_max_tokens(budget.saturating_add(max_tokens));
    if budget < raised {
        return Some((budget, raised));
    }
    let shrunk = raised.saturating_sub(1);
    if shrunk >= BUDGET_LOW {
        return Some((shrunk, raised));
    }
    log::debug!("reasoning_effort dropped: max_tokens_limit leaves no room for a thinking budget");
    None
}

/// Anthropic's range is [0, 1]; OpenAI's is [0, 2].
pub(crate) fn clamp_temperature(t: f64) -> f64 {
    let clamped = t.clamp(0.0, 1.0);
    if clamped != t {
        log::debug!("temperature {t} clamped to {clamped}");
    }
    clamped
}

fn stop_sequences<'a>(stop: TextOr<'a, CowStr<'a>>) -> Vec<CowStr<'a>> {
    let all = match stop {
        TextOr::Text(one) => vec![one],
        TextOr::Items(many) => many,
    };
    let count = all.len();
    let kept: Vec<CowStr<'a>> = all.into_iter().filter(|s| !s.trim().is_empty()).collect();
    if kept.len() != count {
        log::debug!("dropped whitespace-only stop sequences: Anthropic rejects them");
    }
    kept
}

fn anthropic_tool(tool: ChatTool<'_>) -> Option<Tool<'_>> {
    if tool.kind.as_str() != FUNCTION {
        log::debug!(
            "dropped a `{}` tool: only function tools convert",
            LogSafe(tool.kind.as_str())
        );
        return None;
    }
    let function = tool.function?;
    Some(Tool {
        kind: None,
        name: function.name,
        description: function.description,
        input_schema: Some(function.parameters.unwrap_or_else(|| empty_object_schema())),
        cache_control: None,
    })
}

pub(crate) fn empty_object_schema() -> &'static serde_json::value::RawValue {
    match serde_json::from_slice(br#"{"type":"object"}"#) {
        Ok(raw) => raw,
        Err(_) => serde_json::value::RawValue::NULL,
    }
}

/// With thinking on, Anthropic accepts only `auto` and `none`.
fn tool_choice(choice: ChatToolChoice<'_>, thinking: bool) -> ToolChoice<'_> {
    let (kind, name) = match choice {
        ChatToolChoice::Mode(mode) => match mode.as_str() {
            "required" => ("any", None),
            "none" => ("none", None),
            _ => ("auto", None),
        },
        ChatToolChoice::Function(name) => ("tool", Some(name)),
    };
    let (kind, name) = if thinking && matches!(kind, "any" | "tool") {
        log::debug!(
            "tool_choice `{kind}` downgraded to auto: Anthropic rejects it with thinking on"
        );
        ("auto", None)
    } else {
        (kind, name)
    };
    ToolChoice {
        kind: CowStr::borrowed(kind),
        name,
        disable_parallel_tool_use: None,
    }
}

fn output_format(format: ResponseFormat<'_>) -> Option<OutputFormat<'_>> {
    match format.kind.as_str() {
        "json_schema" => Some(OutputFormat {
            kind: CowStr::borrowed("json_schema"),
            schema: format.json_schema?.schema,
        }),
        other => {
            log::debug!(
                "dropped response_format `{}`: only json_schema converts",
                LogSafe(other)
            );
            None
        }
    }
}

/// System and developer messages become top-level `system`; the rest become
/// Anthropic turns, same-role neighbours merged (so tool results and the user
/// text after them form one user turn, results first).
fn split_messages<'a>(
    messages: Vec<ChatMessage<'a>>,
) -> Result<(Option<TextOr<'a, ContentBlock<'a>>>, Vec<InputMessage<'a>>), ClientError> {
    let mut system: Vec<ContentBlock<'a>> = Vec::new();
    let mut turns: Vec<InputMessage<'a>> = Vec::with_capacity(messages.len());
    for (index, message) in messages.into_iter().enumerate() {
        match message.role.as_deref().unwrap_or("") {
            role::SYSTEM | role::DEVELOPER => system.extend(text_blocks(message.content, index)?),
            role::USER => push_turn(&mut turns, Role::User, user_blocks(message.content, index)?),
            role::ASSISTANT => push_turn(&mut turns, Role::Assistant, assistant_blocks(message, index)?),
            role::TOOL => push_turn(&mut turns, Role::User, vec![tool_result(message, index)?]),
            other => {
                return Err(ClientError::invalid_request(format!(
                    "messages[{index}]: unsupported role `{other}` (expected system, developer, user, assistant or tool)"
                )))
            }
        }
    }
    let system = match system.len() {
        0 => None,
        1 => system.pop().and_then(|b| b.text).map(TextOr::Text),
        _ => Some(TextOr::Items(system)),
    };
    Ok((system, turns))
}

pub(crate) fn push_turn<'a>(
    turns: &mut Vec<InputMessage<'a>>,
    role: Role,
    mut blocks: Vec<ContentBlock<'a>>,
) {
    if blocks.is_empty() {
        log::debug!("dropped an empty {role:?} message");
        return;
    }
    if let Some(last) = turns.last_mut().filter(|m| m.role == role) {
        if let TextOr::Items(existing) = &mut last.content {
            existing.append(&mut blocks);
            return;
        }
    }
    turns.push(InputMessage {
        role,
        content: TextOr::Items(blocks),
    });
}

/// Text of a system/developer/tool message: a string or text parts.
fn text_blocks<'a>(
    content: Option<TextOr<'a, ContentPart<'a>>>,
    index: usize,
) -> Result<Vec<ContentBlock<'a>>, ClientError> {
    let mut blocks = Vec::new();
    match content {
        None => {}
        Some(TextOr::Text(text)) => blocks.extend(non_empty_text(text)),
        Some(TextOr::Items(parts)) => {
            for part in parts {
                match part.kind.as_str() {
                    part::TEXT => blocks.extend(part.text.and_then(non_empty_text)),
                    other => {
                        return Err(ClientError::invalid_request(format!(
                            "messages[{index}]: a `{other}` part is not allowed here"
                        )))
                    }
                }
            }
        }
    }
    Ok(blocks)
}

pub(crate) fn non_empty_text(text: CowStr<'_>) -> Option<ContentBlock<'_>> {
    (!text.is_empty()).then(|| ContentBlock::text(text))
}

fn user_blocks<'a>(
    content: Option<TextOr<'a, ContentPart<'a>>>,
    index: usize,
) -> Result<Vec<ContentBlock<'a>>, ClientError> {
    let parts = match content {
        None => return Ok(Vec::new()),
        Some(TextOr::Text(text)) => return Ok(non_empty_text(text).into_iter().collect()),
        Some(TextOr::Items(parts)) => parts,
    };
    let mut blocks = Vec::with_capacity(parts.len());
    for part in parts {
        match part.kind.as_str() {
            part::TEXT => blocks.extend(part.text.and_then(non_empty_text)),
            part::IMAGE_URL => blocks.push(image_block(part, index)?),
            part::FILE => blocks.push(document_block(part, index)?),
            part::INPUT_AUDIO => {
                return Err(ClientError::invalid_request(format!(
                    "messages[{index}]: input_audio is not supported by an Anthropic upstream"
                )))
            }
            other => log::debug!(
                "messages[{index}]: skipped a `{}` part an Anthropic upstream has no form for",
                LogSafe(other)
            ),
        }
    }
    Ok(blocks)
}

/// `data:<media type>;base64,<data>` → (media type, data).
fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media_type = meta.strip_suffix(";base64")?;
    Some((media_type, data))
}

/// A base64 source from a data URL, borrowing its pieces when the URL is
/// borrowed (image data is often megabytes).
pub(crate) fn data_url_source<'a>(url: &CowStr<'a>) -> Option<Source<'a>> {
    let (media_type, data): (CowStr<'a>, CowStr<'a>) = match &url.0 {
        Cow::Borrowed(url) => {
            let (media_type, data) = parse_data_url(url)?;
            (media_type.into(), data.into())
        }
        Cow::Owned(url) => {
            let (media_type, data) = parse_data_url(url)?;
            (media_type.to_string().into(), data.to_string().into())
        }
    };
    Some(base64_source(media_type, data))
}

pub(crate) fn base64_source<'a>(media_type: CowStr<'a>, data: CowStr<'a>) -> Source<'a> {
    Source {
        kind: CowStr::borrowed("base64"),
        media_type: Some(media_type),
        data: Some(data),
        ..Default::default()
    }
}

/// `image_url`: a base64 `data:` URL → base64 image, http(s) → url image.
fn image_block<'a>(part: ContentPart<'a>, index: usize) -> Result<ContentBlock<'a>, ClientError> {
    let url = part.image_url.map(|i| i.url).ok_or_else(|| {
        ClientError::invalid_request(format!(
            "messages[{index}]: image_url part without `image_url.url`"
        ))
    })?;
    image_from_url(url, "messages", index)
}

/// An image by URL (both OpenAI APIs): a base64 `data:` URL → base64 image,
/// http(s) → url image; `list[index]` names the message or item in an error.
pub(crate) fn image_from_url<'a>(
    url: CowStr<'a>,
    list: &str,
    index: usize,
) -> Result<ContentBlock<'a>, ClientError> {
    let source = if url.starts_with("data:") {
        data_url_source(&url).ok_or_else(|| {
            ClientError::invalid_request(format!(
                "{list}[{index}]: image data URLs must be base64 (`data:<type>;base64,…`)"
            ))
        })?
    } else if url.starts_with("https://") || url.starts_with("http://") {
        Source {
            kind: CowStr::borrowed("url"),
            url: Some(url),
            ..Default::default()
        }
    } else {
        return Err(ClientError::invalid_request(format!(
            "{list}[{index}]: image_url must be an http(s) or base64 data URL"
        )));
    };
    Ok(ContentBlock {
        kind: CowStr::borrowed(block::IMAGE),
        source: Some(source),
        ..Default::default()
    })
}

/// `file` with inline `file_data` (a PDF) → base64 `document`.
fn document_block<'a>(
    part: ContentPart<'a>,
    index: usize,
) -> Result<ContentBlock<'a>, ClientError> {
    let file = part.file.unwrap_or_default();
    let Some(data) = file.file_data else {
        return Err(ClientError::invalid_request(format!(
            "messages[{index}]: file parts need inline `file_data`; uploaded file ids are not supported by an Anthropic upstream"
        )));
    };
    let source = match data_url_source(&data) {
        Some(source) => source,
        None => base64_source(CowStr::borrowed("application/pdf"), data),
    };
    Ok(ContentBlock {
        kind: CowStr::borrowed(block::DOCUMENT),
        source: Some(source),
        title: file.filename,
        ..Default::default()
    })
}

/// An assistant turn: replayed `thinking_blocks` first (verbatim, with
/// their signatures), then text, then `tool_use` for each tool call.
fn assistant_blocks<'a>(
    message: ChatMessage<'a>,
    index: usize,
) -> Result<Vec<ContentBlock<'a>>, ClientError> {
    let mut blocks: Vec<ContentBlock<'a>> = message
        .thinking_blocks
        .into_iter()
        .flatten()
        .filter(|b| b.is(block::THINKING) || b.is(block::REDACTED_THINKING))
        .collect();
    match message.content {
        None => {}
        Some(TextOr::Text(text)) => blocks.extend(non_empty_text(text)),
        Some(TextOr::Items(parts)) => {
            for part in parts {
                let text = match part.kind.as_str() {
                    part::TEXT => part.text,
                    "refusal" => part.refusal,
                    _ => None,
                };
                blocks.extend(text.and_then(non_empty_text));
            }
        }
    }
    for call in message.tool_calls.into_iter().flatten() {
        blocks.push(tool_use(call, index)?);
    }
    Ok(blocks)
}

fn tool_use<'a>(call: ToolCall<'a>, index: usize) -> Result<ContentBlock<'a>, ClientError> {
    let function = call.function.unwrap_or_default();
    let arguments = function.arguments.unwrap_or_default();
    let input = if arguments.trim().is_empty() {
        RawJson::empty_object()
    } else {
        RawJson::object_from_text(&arguments).ok_or_else(|| {
            ClientError::invalid_request(format!(
                "messages[{index}]: tool call arguments must be a JSON object"
            ))
        })?
    };
    let id = call.id.ok_or_else(|| {
        ClientError::invalid_request(format!("messages[{index}]: tool call without `id`"))
    })?;
    let name = function.name.ok_or_else(|| {
        ClientError::invalid_request(format!(
            "messages[{index}]: tool call without `function.name`"
        ))
    })?;
    Ok(ContentBlock::tool_use(id, name, input))
}

/// A `tool` message → `tool_result`.
fn tool_result<'a>(
    message: ChatMessage<'a>,
    index: usize,
) -> Result<ContentBlock<'a>, ClientError> {
    let id = message.tool_call_id.ok_or_else(|| {
        ClientError::invalid_request(format!(
            "messages[{index}]: tool message without `tool_call_id`"
        ))
    })?;
    let content = match message.content {
        Some(TextOr::Text(text)) if !text.is_empty() => Some(TextOr::Text(text)),
        Some(TextOr::Items(parts)) => {
            let blocks = text_blocks(Some(TextOr::Items(parts)), index)?;
            (!blocks.is_empty()).then_some(TextOr::Items(blocks))
        }
        _ => None,
    };
    Ok(ContentBlock {
        kind: CowStr::borrowed(block::TOOL_RESULT),
        tool_use_id: Some(id),
        content,
        ..Default::default()
    })
}
