//! Anthropic Messages request → OpenAI Responses request. Built field by
//! field, like the Chat Completions pair, whose helpers (billing-nonce strip,
//! `user_id` digest, tool-name sanitising, thinking-effort rules) it calls.
//!
//! The bridge keeps no state: it asks for `store: false` and for the
//! reasoning's `encrypted_content`, never sends an item id or
//! `previous_response_id`, and rebuilds every `reasoning` item from the
//! thinking block whose signature carries it.

use crate::anthropic::{ContentBlock, InputMessage, MessagesRequest, Role, Source, Tool};
use crate::config::Config;
use crate::convert::anthropic_client::request::{
    data_url, join, missing_source, parse_request, reasoning_effort, service_tier, system_text,
    tool_names_of, unsupported_source, upstream_name, user_field, ConvertedRequest,
};
use crate::convert::error::ClientError;
use crate::convert::signature::reasoning_encrypted_content;
use crate::convert::tool_names::ToolNames;
use crate::digest::fnv64;
use crate::responses::{
    ContentPart, Item, Reasoning, ResponsesRequest, TextConfig, TextFormat, Tool as ResponsesTool,
    ToolChoice,
};
use crate::wire::{CowStr, RawJson, TextOr};

/// The smallest `max_output_tokens` the Responses API accepts; smaller
/// values (a client probing with `max_tokens: 1`) are raised to it.
pub const MIN_MAX_OUTPUT_TOKENS: u64 = 16;

/// What `include` asks for: the reasoning, to be sent back next turn.
pub const INCLUDE_ENCRYPTED_REASONING: &str = "reasoning.encrypted_content";

/// Converts an Anthropic Messages request body; errors are the client's 400s.
pub fn convert_request(body: &[u8], config: &Config) -> Result<ConvertedRequest, ClientError> {
    let request = parse_request(body)?;
    if request.messages.is_empty() {
        return Err(ClientError::invalid_request(
            "messages: at least one message is required",
        ));
    }
    let tool_names = tool_names_of(&request);
    let stream = request.stream == Some(true);
    let responses = responses_request(request, config, &tool_names)?;
    let model = responses.model.to_string();
    let mut out = Vec::with_capacity(body.len() + 256);
    crate::json::write(&mut out, &responses)
        .map_err(|e| ClientError::invalid_request(format!("request cannot be converted: {e}")))?;
    Ok(ConvertedRequest {
        body: out,
        stream,
        tool_names,
        model,
    })
}

fn responses_request<'a>(
    request: MessagesRequest<'a>,
    config: &Config,
    tool_names: &ToolNames,
) -> Result<ResponsesRequest<'a>, ClientError> {
    log_dropped_fields(&request);
    let mut input = Vec::with_capacity(request.messages.len());
    for (index, message) in request.messages.into_iter().enumerate() {
        convert_message(message, index, tool_names, &mut input)?;
    }
    let tools: Vec<ResponsesTool<'a>> = request
        .tools
        .into_iter()
        .flatten()
        .filter_map(|tool| function_tool(tool, tool_names))
        .collect();
    let (tool_choice, parallel_tool_calls) = match request.tool_choice {
        Some(choice) if !tools.is_empty() => {
            let parallel = choice
                .disable_parallel_tool_use
                .filter(|d| *d)
                .map(|_| false);
            (
                Some(tool_choice(choice.kind, choice.name, tool_names)?),
                parallel,
            )
        }
        _ => (None, None),
    };
    let (effort, config_format) = match request.output_config {
        Some(output_config) => (output_config.effort, output_config.format),
        None => (None, None),
    };
    let reasoning =
        reasoning_effort(request.thinking.as_ref(), effort.as_deref()).map(|effort| Reasoning {
            effort: Some(CowStr::borrowed(effort)),
            summary: Some(CowStr::borrowed("auto")),
            generate_summary: None,
        });
    let user_id = request.metadata.and_then(|m| m.user_id);
    Ok(ResponsesRequest {
        model: config.model_map.map_cow(request.model.0).into(),
        input: Some(TextOr::Items(input)),
        instructions: request.system.and_then(system_text),
        tools: (!tools.is_empty()).then_some(tools),
        tool_choice,
        parallel_tool_calls,
        max_output_tokens: request
            .max_tokens
            .map(|n| config.clamp_max_tokens(n).max(MIN_MAX_OUTPUT_TOKENS)),
        temperature: request.temperature,
        top_p: request.top_p,
        reasoning,
        text: request
            .output_format
            .or(config_format)
            .and_then(text_format)
            .map(|format| TextConfig {
                format: Some(format),
                verbosity: None,
            }),
        prompt_cache_key: user_id.as_deref().map(prompt_cache_key),
        safety_identifier: user_id.map(user_field),
        service_tier: request
            .service_tier
            .and_then(|tier| service_tier(&tier))
            .map(CowStr::borrowed),
        store: Some(false),
        include: Some(vec![CowStr::borrowed(INCLUDE_ENCRYPTED_REASONING)]),
        stream: (request.stream == Some(true)).then_some(true),
        ..Default::default()
    })
}

fn log_dropped_fields(request: &MessagesRequest<'_>) {
    let ignored = [
        ("stop_sequences", request.stop_sequences.is_some()),
        ("top_k", request.top_k.is_some()),
        ("container", request.container.is_some()),
        ("mcp_servers", request.mcp_servers.is_some()),
        ("context_management", request.context_management.is_some()),
    ];
    crate::convert::log_dropped_fields(&ignored, "OpenAI Responses");
    if let Some(tools) = &request.tools {
        for tool in tools.iter().filter(|t| !t.is_custom()) {
            log::debug!(
                "dropped server tool `{}` ({}): an OpenAI Responses upstream cannot run it",
                tool.name.as_str(),
                tool.kind.as_deref().unwrap_or_default()
            );
        }
    }
}

/// A stable `prompt_cache_key` for one `metadata.user_id` (Claude Code's
/// holds its session id): requests of one session share the upstream's
/// prompt cache, and the id itself is not repeated.
pub fn prompt_cache_key(user_id: &str) -> CowStr<'static> {
    format!("aob-{:016x}", fnv64(user_id.as_bytes())).into()
}

fn convert_message<'a>(
    message: InputMessage<'a>,
    index: usize,
    tool_names: &ToolNames,
    out: &mut Vec<Item<'a>>,
) -> Result<(), ClientError> {
    match message.role {
        Role::User => user_items(message.content, index, out),
        Role::Assistant => assistant_items(message.content, index, tool_names, out),
        Role::System => {
            out.extend(positioned_system_message(message.content));
            Ok(())
        }
    }
}

/// A system message inside `messages` stays where it is: a `system`
/// message item at the same position (its text blocks joined).
fn positioned_system_message<'a>(content: TextOr<'a, ContentBlock<'a>>) -> Option<Item<'a>> {
    let text = match content {
        TextOr::Text(text) => Some(text).filter(|t| !t.is_empty()),
        TextOr::Items(blocks) => join(
            blocks
                .into_iter()
                .filter(|b| b.is("text"))
                .filter_map(|b| b.text)
                .filter(|t| !t.is_empty())
                .collect(),
        ),
    }?;
    Some(Item::message("system", TextOr::Text(text)))
}

/// A user turn: one `function_call_output` per `tool_result`, in order,
/// first (each must follow its call); then a user message with the rest.
fn user_items<'a>(
    content: TextOr<'a, ContentBlock<'a>>,
    index: usize,
    out: &mut Vec<Item<'a>>,
) -> Result<(), ClientError> {
    let blocks = match content {
        TextOr::Text(text) => {
            out.push(Item::message("user", TextOr::Text(text)));
            return Ok(());
        }
        TextOr::Items(blocks) => blocks,
    };
    let mut parts = Vec::with_capacity(blocks.len());
    let mut tool_results = 0;
    for block in blocks {
        match block.kind.as_str() {
            "tool_result" => {
                tool_results += 1;
                out.push(function_call_output(block, index)?);
            }
            _ => input_parts(block, index, &mut parts)?,
        }
    }
    match parts_content(parts) {
        Some(content) => out.push(Item::message("user", content)),
        None if tool_results == 0 => {
            log::debug!("messages[{index}]: dropped a user message with nothing left to send")
        }
        None => {}
    }
    Ok(())
}

/// Text-only parts are sent as one string, which every server accepts.
fn parts_content(parts: Vec<ContentPart<'_>>) -> Option<TextOr<'_, ContentPart<'_>>> {
    if parts.is_empty() {
        return None;
    }
    if !parts.iter().all(|p| p.is("input_text")) {
        return Some(TextOr::Items(parts));
    }
    join(parts.into_iter().filter_map(|p| p.text).collect()).map(TextOr::Text)
}

/// Converts one user content block (not a tool result) into input parts.
fn input_parts<'a>(
    block: ContentBlock<'a>,
    index: usize,
    parts: &mut Vec<ContentPart<'a>>,
) -> Result<(), ClientError> {
    match block.kind.as_str() {
        "text" => {
            if let Some(text) = block.text.filter(|t| !t.is_empty()) {
                parts.push(ContentPart::text("input_text", text));
            }
        }
        "image" => parts.push(input_image(block.source, index)?),
        "document" => document_parts(block.source, block.title, index, parts)?,
        other => log::debug!(
            "messages[{index}]: skipped a `{other}` block an OpenAI Responses upstream has no form for"
        ),
    }
    Ok(())
}

/// `image` → `input_image` with a `data:` URL or the image's own URL.
fn input_image<'a>(
    source: Option<Source<'a>>,
    index: usize,
) -> Result<ContentPart<'a>, ClientError> {
    let source = source.ok_or_else(|| missing_source(index, "image"))?;
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
        other => return Err(unsupported_source(index, "image", other)),
    };
    Ok(ContentPart {
        kind: CowStr::borrowed("input_image"),
        image_url: Some(url),
        detail: Some(CowStr::borrowed("auto")),
        ..Default::default()
    })
}

/// `document`: a base64 PDF → `input_file` with a `data:` URL, a PDF by URL
/// → `input_file` with `file_url`; plain text or content blocks → text.
fn document_parts<'a>(
    source: Option<Source<'a>>,
    title: Option<CowStr<'a>>,
    index: usize,
    parts: &mut Vec<ContentPart<'a>>,
) -> Result<(), ClientError> {
    let source = source.ok_or_else(|| missing_source(index, "document"))?;
    match source.kind.as_str() {
        "base64" => parts.push(ContentPart {
            kind: CowStr::borrowed("input_file"),
            filename: Some(title.unwrap_or(CowStr::borrowed("document.pdf"))),
            file_data: Some(data_url(
                source.media_type.as_deref().unwrap_or("application/pdf"),
                source.data.as_deref().unwrap_or(""),
            )),
            ..Default::default()
        }),
        "url" => parts.push(ContentPart {
            kind: CowStr::borrowed("input_file"),
            file_url: Some(source.url.ok_or_else(|| {
                ClientError::invalid_request(format!(
                    "messages[{index}]: document url source without `url`"
                ))
            })?),
            ..Default::default()
        }),
        "text" => {
            if let Some(text) = source.data.filter(|t| !t.is_empty()) {
                parts.push(ContentPart::text("input_text", text));
            }
        }
        "content" => match source.content {
            Some(TextOr::Text(text)) => parts.push(ContentPart::text("input_text", text)),
            Some(TextOr::Items(blocks)) => {
                for block in blocks {
                    input_parts(block, index, parts)?;
                }
            }
            None => {}
        },
        other => return Err(unsupported_source(index, "document", other)),
    }
    Ok(())
}

/// `tool_result` → `function_call_output`: its text as a string, or, when
/// it holds images or documents, its parts in order; `Error: ` leads the
/// output when `is_error`.
fn function_call_output<'a>(
    block: ContentBlock<'a>,
    index: usize,
) -> Result<Item<'a>, ClientError> {
    let call_id = block.tool_use_id.ok_or_else(|| {
        ClientError::invalid_request(format!(
            "messages[{index}]: tool_result without `tool_use_id`"
        ))
    })?;
    let mut parts = Vec::new();
    match block.content {
        None => {}
        Some(TextOr::Text(text)) => parts.push(ContentPart::text("input_text", text)),
        Some(TextOr::Items(blocks)) => {
            for inner in blocks {
                input_parts(inner, index, &mut parts)?;
            }
        }
    }
    if block.is_error == Some(true) {
        mark_error(&mut parts);
    }
    let output = parts_content(parts).unwrap_or(TextOr::Text(CowStr::default()));
    Ok(Item {
        kind: Some(CowStr::borrowed("function_call_output")),
        call_id: Some(call_id),
        output: Some(output),
        ..Default::default()
    })
}

/// Prefixes the first text part with `Error: ` (or adds one saying `Error`).
fn mark_error(parts: &mut Vec<ContentPart<'_>>) {
    match parts.iter_mut().find(|p| p.is("input_text")) {
        Some(part) => {
            let text = part.text.as_deref().unwrap_or_default();
            part.text = Some(format!("Error: {text}").into());
        }
        None => parts.insert(0, ContentPart::text("input_text", "Error")),
    }
}

/// An assistant turn, block by block in order: consecutive text blocks →
/// one assistant message, `tool_use` → `function_call`, a thinking block
/// the bridge made from a `reasoning` item → that item again. Other
/// thinking (Anthropic's own signatures, or the Chat pair's `aob1.`, which
/// carries no encrypted reasoning) is dropped, and so is a reasoning item
/// that nothing follows in its turn: OpenAI rejects a reasoning item
/// without the output item that followed it.
fn assistant_items<'a>(
    content: TextOr<'a, ContentBlock<'a>>,
    index: usize,
    tool_names: &ToolNames,
    out: &mut Vec<Item<'a>>,
) -> Result<(), ClientError> {
    let start = out.len();
    turn_items(content, index, tool_names, out)?;
    let mut position = start;
    while position < out.len() {
        let followed = out
            .get(position + 1)
            .is_some_and(|next| next.is("message") || next.is("function_call"));
        if out.get(position).is_some_and(|item| item.is("reasoning")) && !followed {
            log::debug!(
                "messages[{index}]: dropped reasoning that no text or tool call follows in its turn"
            );
            out.remove(position);
        } else {
            position += 1;
        }
    }
    Ok(())
}

fn turn_items<'a>(
    content: TextOr<'a, ContentBlock<'a>>,
    index: usize,
    tool_names: &ToolNames,
    out: &mut Vec<Item<'a>>,
) -> Result<(), ClientError> {
    let blocks = match content {
        TextOr::Text(text) if text.is_empty() => return Ok(()),
        TextOr::Text(text) => {
            out.push(Item::message("assistant", TextOr::Text(text)));
            return Ok(());
        }
        TextOr::Items(blocks) => blocks,
    };
    let mut texts = Vec::new();
    for block in blocks {
        match block.kind.as_str() {
            "text" => {
                texts.extend(block.text.filter(|t| !t.is_empty()));
                continue;
            }
            "tool_use" => {
                flush_assistant_text(&mut texts, out);
                out.push(function_call(block, index, tool_names)?);
            }
            "thinking" => match reasoning_item(block) {
                Some(item) => {
                    flush_assistant_text(&mut texts, out);
                    out.push(item);
                }
                None => log::debug!(
                    "messages[{index}]: dropped a thinking block whose signature is not a bridge-made reasoning signature"
                ),
            },
            other => log::debug!("messages[{index}]: dropped an assistant `{other}` block"),
        }
    }
    flush_assistant_text(&mut texts, out);
    Ok(())
}

fn flush_assistant_text<'a>(texts: &mut Vec<CowStr<'a>>, out: &mut Vec<Item<'a>>) {
    if let Some(text) = join(std::mem::take(texts)) {
        out.push(Item::message("assistant", TextOr::Text(text)));
    }
}

/// A thinking block signed `aob2.` → `{type: reasoning, summary,
/// encrypted_content}`, without an id (nothing is stored upstream).
fn reasoning_item(block: ContentBlock<'_>) -> Option<Item<'_>> {
    let encrypted = match block.signature? {
        CowStr(std::borrow::Cow::Borrowed(signature)) => {
            CowStr::borrowed(reasoning_encrypted_content(signature)?)
        }
        CowStr(std::borrow::Cow::Owned(signature)) => {
            reasoning_encrypted_content(&signature)?.to_string().into()
        }
    };
    let summary = block
        .thinking
        .filter(|t| !t.is_empty())
        .map(|text| ContentPart::text("summary_text", text));
    Some(Item {
        kind: Some(CowStr::borrowed("reasoning")),
        summary: Some(summary.into_iter().collect()),
        encrypted_content: Some(encrypted),
        ..Default::default()
    })
}

/// `tool_use` → `{type: function_call, call_id, name, arguments}`; the
/// input's JSON text is passed through as the arguments string.
fn function_call<'a>(
    block: ContentBlock<'a>,
    index: usize,
    tool_names: &ToolNames,
) -> Result<Item<'a>, ClientError> {
    let id = block.id.ok_or_else(|| {
        ClientError::invalid_request(format!("messages[{index}]: tool_use without `id`"))
    })?;
    let name = block.name.ok_or_else(|| {
        ClientError::invalid_request(format!("messages[{index}]: tool_use without `name`"))
    })?;
    Ok(Item {
        kind: Some(CowStr::borrowed("function_call")),
        call_id: Some(id),
        name: Some(upstream_name(name, tool_names)),
        arguments: Some(
            block
                .input
                .map_or(CowStr::borrowed("{}"), RawJson::into_text),
        ),
        ..Default::default()
    })
}

/// Custom tools become flat, non-strict functions; server tools are dropped.
fn function_tool<'a>(tool: Tool<'a>, tool_names: &ToolNames) -> Option<ResponsesTool<'a>> {
    if !tool.is_custom() {
        return None;
    }
    Some(ResponsesTool {
        kind: CowStr::borrowed("function"),
        name: Some(upstream_name(tool.name, tool_names)),
        description: tool.description,
        parameters: tool.input_schema,
        strict: Some(false),
        ..Default::default()
    })
}

fn tool_choice<'a>(
    kind: CowStr<'a>,
    name: Option<CowStr<'a>>,
    tool_names: &ToolNames,
) -> Result<ToolChoice<'a>, ClientError> {
    Ok(match kind.as_str() {
        "any" => ToolChoice::Mode(CowStr::borrowed("required")),
        "none" => ToolChoice::Mode(CowStr::borrowed("none")),
        "tool" => ToolChoice::function(upstream_name(
            name.ok_or_else(|| {
                ClientError::invalid_request("tool_choice: type `tool` needs a `name`")
            })?,
            tool_names,
        )),
        _ => ToolChoice::Mode(CowStr::borrowed("auto")),
    })
}

/// Structured output → `text.format`: a strict JSON schema.
fn text_format(format: crate::anthropic::OutputFormat<'_>) -> Option<TextFormat<'_>> {
    if format.kind.as_str() != "json_schema" {
        return None;
    }
    Some(TextFormat {
        kind: CowStr::borrowed("json_schema"),
        name: Some(CowStr::borrowed("response")),
        description: None,
        schema: Some(format.schema?),
        strict: Some(true),
    })
}
