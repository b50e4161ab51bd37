//! Responses API request → Anthropic Messages request (issue 14,
//! "Request"). Built field by field: what is not converted here never
//! reaches the upstream.
//!
//! `instructions` and `system`/`developer` messages become `system`; the
//! other input items become alternating turns, same-role neighbours merged
//! (function call outputs and the user text after them form one user turn,
//! results first). Reasoning items the bridge made come back as the
//! thinking blocks they carry, first in their assistant turn.

use super::reasoning::{carried_block, CarriedBlock};
use super::tools::{ClientTool, ToolKind, ToolTable, CUSTOM_INPUT};
use crate::anthropic::{
    ContentBlock, InputMessage, MessagesRequest, Metadata, OutputConfig, OutputFormat, Role,
    Source, Thinking, Tool, ToolChoice,
};
use crate::config::Config;
use crate::convert::error::{truncate, ClientError};
use crate::convert::openai_client::request::{
    base64_source, clamp_temperature, data_url_source, empty_object_schema, fit_thinking,
    image_from_url, non_empty_text, push_turn, thinking_budget,
};
use crate::report::LogSafe;
use crate::responses::{
    ContentPart, CustomToolFormat, Item, ResponsesRequest, TextFormat, Tool as ClientToolDef,
    ToolChoice as ClientChoice, ToolChoiceObject,
};
use crate::wire::{CowStr, RawJson, TextOr};

/// The converted request and what the response conversion needs.
#[derive(Debug)]
pub struct ConvertedRequest {
    pub body: Vec<u8>,
    pub stream: bool,
    /// The model name sent upstream.
    pub model: String,
    /// The client's tools, to restore names, namespaces and custom calls.
    pub tools: ToolTable,
    /// Echoed in the response object.
    pub tool_choice: Option<ClientChoice<'static>>,
    pub parallel_tool_calls: bool,
}

/// The most of a client's own string quoted back in an error message.
const MAX_NAME_IN_ERROR: usize = 64;

const NO_STATE: &str = "the bridge keeps no conversation state: send the whole conversation in `input` (with `store: false`) instead of";

pub fn convert_request(body: &[u8], config: &Config) -> Result<ConvertedRequest, ClientError> {
    let mut request: ResponsesRequest<'_> = crate::convert::error::parse_body(body)?;
    hoist_additional_tools(&mut request);
    if request.previous_response_id.is_some() {
        return Err(ClientError::invalid_request(format!(
            "previous_response_id: {NO_STATE} `previous_response_id`"
        )));
    }
    if request.conversation.is_some() {
        return Err(ClientError::invalid_request(format!(
            "conversation: {NO_STATE} `conversation`"
        )));
    }
    let stream = request.stream == Some(true);
    let tool_choice = request.tool_choice.as_ref().map(owned_choice);
    let parallel_tool_calls = request.parallel_tool_calls != Some(false);
    let tools = ToolTable::new(client_tools(request.tools.as_deref().unwrap_or_default()));
    let mut messages_request = messages_request(request, &tools, config)?;
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
        model,
        tools,
        tool_choice,
        parallel_tool_calls,
    })
}

/// Tools declared in `additional_tools` input items (new and replayed)
/// join the top-level `tools`; a name declared twice keeps its first
/// declaration.
fn hoist_additional_tools(request: &mut ResponsesRequest<'_>) {
    let Some(TextOr::Items(items)) = request.input.as_mut() else {
        return;
    };
    let extra: Vec<ClientToolDef<'_>> = items
        .iter_mut()
        .filter(|item| item.is("additional_tools"))
        .filter_map(|item| item.tools.take())
        .flatten()
        .collect();
    if !extra.is_empty() {
        request.tools.get_or_insert_with(Vec::new).extend(extra);
    }
}

/// The client's `tool_choice`, kept for the response's echo of it.
fn owned_choice(choice: &ClientChoice<'_>) -> ClientChoice<'static> {
    let own = |s: &CowStr<'_>| CowStr::from(s.to_string());
    match choice {
        ClientChoice::Mode(mode) => ClientChoice::Mode(own(mode)),
        ClientChoice::Object(object) => ClientChoice::Object(ToolChoiceObject {
            kind: own(&object.kind),
            name: object.name.as_ref().map(own),
            mode: object.mode.as_ref().map(own),
            tools: object.tools.as_ref().map(|t| t.iter().map(own).collect()),
        }),
    }
}

fn log_dropped_fields(request: &ResponsesRequest<'_>) {
    let ignored = [
        ("background", request.background.is_some()),
        ("truncation", request.truncation.is_some()),
        ("top_logprobs", request.top_logprobs.is_some()),
        ("max_tool_calls", request.max_tool_calls.is_some()),
        ("prompt", request.prompt.is_some()),
        ("prompt_cache_key", request.prompt_cache_key.is_some()),
        ("service_tier", request.service_tier.is_some()),
        ("include", request.include.is_some()),
        ("context_management", request.context_management.is_some()),
    ];
    crate::convert::log_dropped_fields(&ignored, "Anthropic");
}

fn messages_request<'a>(
    request: ResponsesRequest<'a>,
    tools: &ToolTable,
    config: &Config,
) -> Result<MessagesRequest<'a>, ClientError> {
    log_dropped_fields(&request);
    let (system, messages) = split_input(request.instructions, request.input, tools)?;
    if messages.is_empty() {
        return Err(ClientError::invalid_request(
            "input: at least one user, assistant or tool item is required",
        ));
    }
    let max_tokens = config.clamp_max_tokens(
        request
            .max_output_tokens
            .unwrap_or(config.default_max_tokens),
    );
    let effort = request.reasoning.as_ref().and_then(|r| r.effort.as_deref());
    let thinking = thinking_budget(effort)
        .filter(|_| history_allows_thinking(&messages))
        .and_then(|budget| fit_thinking(budget, max_tokens, config));
    let max_tokens = thinking.map_or(max_tokens, |(_, max_tokens)| max_tokens);
    let anthropic_tools = anthropic_tools(request.tools.unwrap_or_default(), tools);
    let mut tool_choice = match request.tool_choice {
        Some(choice) if !anthropic_tools.is_empty() => {
            tool_choice(choice, tools, thinking.is_some())
        }
        _ => None,
    };
    if request.parallel_tool_calls == Some(false) && !anthropic_tools.is_empty() {
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
    let user = request.safety_identifier.or(request.user);
    Ok(MessagesRequest {
        model: config.model_map.map_cow(request.model.0).into(),
        messages,
        system,
        max_tokens: Some(max_tokens),
        temperature,
        top_p,
        stream: (request.stream == Some(true)).then_some(true),
        metadata: user.map(|user| Metadata {
            user_id: Some(user),
        }),
        thinking: thinking.map(|(budget, _)| Thinking {
            kind: CowStr::borrowed("enabled"),
            budget_tokens: Some(budget),
        }),
        output_config: request
            .text
            .and_then(|t| t.format)
            .and_then(output_format)
            .map(|format| OutputConfig {
                effort: None,
                format: Some(format),
            }),
        tools: (!anthropic_tools.is_empty()).then_some(anthropic_tools),
        tool_choice,
        ..Default::default()
    })
}

/// With thinking on, Anthropic rejects a last assistant turn that calls a
/// tool without starting with its thinking block; a history that lost it
/// (the client dropped the reasoning item, or the model answered without
/// thinking) is sent with thinking off instead.
fn history_allows_thinking(messages: &[InputMessage<'_>]) -> bool {
    let Some(last) = messages.iter().rev().find(|m| m.role == Role::Assistant) else {
        return true;
    };
    let TextOr::Items(blocks) = &last.content else {
        return true;
    };
    let calls_a_tool = blocks.iter().any(|b| b.is("tool_use"));
    let starts_thinking = blocks
        .first()
        .is_some_and(|b| b.is("thinking") || b.is("redacted_thinking"));
    if calls_a_tool && !starts_thinking {
        log::debug!("reasoning effort dropped: the last tool call has no thinking block to replay");
        return false;
    }
    true
}

/// The function and custom tools a request declares, namespaces opened.
fn client_tools(tools: &[ClientToolDef<'_>]) -> Vec<ClientTool> {
    let mut out = Vec::new();
    for tool in tools {
        if tool.is("namespace") {
            let namespace = tool.name.as_deref().map(str::to_string);
            for inner in tool.tools.as_deref().unwrap_or_default() {
                out.extend(client_tool(inner, namespace.clone()));
            }
        } else {
            out.extend(client_tool(tool, None));
        }
    }
    out
}

fn client_tool(tool: &ClientToolDef<'_>, namespace: Option<String>) -> Option<ClientTool> {
    let kind = match tool.kind.as_str() {
        "function" => ToolKind::Function,
        "custom" => ToolKind::Custom,
        _ => return None,
    };
    Some(ClientTool {
        name: tool.name.as_deref()?.to_string(),
        namespace,
        kind,
    })
}

/// Function and custom tools (namespaces flattened) → Anthropic tools;
/// built-in tools are dropped, and a name declared again is sent once
/// (Anthropic rejects duplicate tool names).
fn anthropic_tools<'a>(tools: Vec<ClientToolDef<'a>>, table: &ToolTable) -> Vec<Tool<'a>> {
    let mut out: Vec<Tool<'a>> = Vec::new();
    let mut push = |tool: Option<Tool<'a>>| {
        if let Some(tool) = tool {
            if !out.iter().any(|t| t.name == tool.name) {
                out.push(tool);
            }
        }
    };
    for tool in tools {
        if tool.is("namespace") {
            let namespace = tool.name.clone();
            for inner in tool.tools.unwrap_or_default() {
                push(anthropic_tool(inner, namespace.as_deref(), table));
            }
        } else {
            push(anthropic_tool(tool, None, table));
        }
    }
    out
}

fn anthropic_tool<'a>(
    tool: ClientToolDef<'a>,
    namespace: Option<&str>,
    table: &ToolTable,
) -> Option<Tool<'a>> {
    let custom = match tool.kind.as_str() {
        "function" => false,
        "custom" => true,
        other => {
            log::debug!(
                "dropped a `{}` tool: an Anthropic upstream runs only function tools",
                LogSafe(other)
            );
            return None;
        }
    };
    let name = tool.name?;
    let upstream = table.upstream(namespace, &name);
    let (input_schema, description): (&'a serde_json::value::RawValue, _) = if custom {
        (
            custom_schema(),
            custom_description(tool.description, tool.format),
        )
    } else {
        (
            tool.parameters.unwrap_or_else(|| empty_object_schema()),
            tool.description,
        )
    };
    Some(Tool {
        kind: None,
        name: CowStr::from(upstream),
        description,
        input_schema: Some(input_schema),
        cache_control: None,
    })
}

/// A custom tool's one string parameter.
fn custom_schema() -> &'static serde_json::value::RawValue {
    const SCHEMA: &str =
        r#"{"type":"object","properties":{"input":{"type":"string"}},"required":["input"]}"#;
    serde_json::from_str(SCHEMA).unwrap_or_else(|_| empty_object_schema())
}

/// A custom tool's description; a grammar goes into it so the model knows
/// the form its string input must take.
fn custom_description<'a>(
    description: Option<CowStr<'a>>,
    format: Option<CustomToolFormat<'a>>,
) -> Option<CowStr<'a>> {
    let Some(grammar) = format.and_then(|f| f.definition) else {
        return description;
    };
    let lead = description.as_deref().unwrap_or("");
    let sep = if lead.is_empty() { "" } else { "\n\n" };
    Some(CowStr::from(format!(
        "{lead}{sep}The `{CUSTOM_INPUT}` parameter is freeform text in exactly this grammar:\n{}",
        grammar.as_str()
    )))
}

/// With thinking on, Anthropic accepts only `auto` and `none`.
fn tool_choice<'a>(
    choice: ClientChoice<'a>,
    tools: &ToolTable,
    thinking: bool,
) -> Option<ToolChoice<'a>> {
    let (kind, name) = match choice {
        ClientChoice::Mode(mode) => match mode.as_str() {
            "required" => ("any", None),
            "none" => ("none", None),
            _ => ("auto", None),
        },
        ClientChoice::Object(object) => match (object.kind.as_str(), object.name) {
            ("function" | "custom", Some(name)) => ("tool", Some(tools.upstream(None, &name))),
            ("allowed_tools", _) if object.mode.as_deref() == Some("required") => ("any", None),
            (other, _) => {
                log::debug!("tool_choice `{}` sent as auto", LogSafe(other));
                ("auto", None)
            }
        },
    };
    let (kind, name) = if thinking && matches!(kind, "any" | "tool") {
        log::debug!(
            "tool_choice `{kind}` downgraded to auto: Anthropic rejects it with thinking on"
        );
        ("auto", None)
    } else {
        (kind, name)
    };
    Some(ToolChoice {
        kind: CowStr::borrowed(kind),
        name: name.map(CowStr::from),
        disable_parallel_tool_use: None,
    })
}

fn output_format(format: TextFormat<'_>) -> Option<OutputFormat<'_>> {
    match format.kind.as_str() {
        "json_schema" => Some(OutputFormat {
            kind: CowStr::borrowed("json_schema"),
            schema: format.schema,
        }),
        "text" => None,
        other => {
            log::debug!(
                "dropped text.format `{}`: only json_schema converts",
                LogSafe(other)
            );
            None
        }
    }
}

type System<'a> = Option<TextOr<'a, ContentBlock<'a>>>;

/// `instructions`, then `input`: system text and Anthropic turns.
fn split_input<'a>(
    instructions: Option<CowStr<'a>>,
    input: Option<TextOr<'a, Item<'a>>>,
    tools: &ToolTable,
) -> Result<(System<'a>, Vec<InputMessage<'a>>), ClientError> {
    let mut system: Vec<ContentBlock<'a>> =
        instructions.and_then(non_empty_text).into_iter().collect();
    let mut turns: Vec<InputMessage<'a>> = Vec::new();
    let items = match input {
        None => Vec::new(),
        Some(TextOr::Text(text)) => {
            push_turn(
                &mut turns,
                Role::User,
                non_empty_text(text).into_iter().collect(),
            );
            Vec::new()
        }
        Some(TextOr::Items(items)) => items,
    };
    for (index, item) in items.into_iter().enumerate() {
        match item.kind() {
            "message" => match item.role.as_deref().unwrap_or("user") {
                "system" | "developer" => system.extend(text_blocks(item.content, index)?),
                "user" => push_turn(&mut turns, Role::User, user_blocks(item.content, index)?),
                "assistant" => {
                    push_turn(&mut turns, Role::Assistant, text_blocks(item.content, index)?)
                }
                other => {
                    return Err(ClientError::invalid_request(format!(
                        "input[{index}]: unsupported role {:?} (expected user, assistant, system or developer)",
                        truncate(other, MAX_NAME_IN_ERROR)
                    )))
                }
            },
            "function_call" | "custom_tool_call" => {
                push_turn(&mut turns, Role::Assistant, vec![tool_use(item, tools, index)?])
            }
            "function_call_output" | "custom_tool_call_output" => {
                push_turn(&mut turns, Role::User, vec![tool_result(item, index)?])
            }
            "reasoning" => push_turn(&mut turns, Role::Assistant, thinking_block(item)),
            "additional_tools" => {}
            other => log::debug!(
                "input[{index}]: skipped a `{}` item an Anthropic upstream has no form for", LogSafe(other)),
        }
    }
    let system = match system.len() {
        0 => None,
        1 => system.pop().and_then(|b| b.text).map(TextOr::Text),
        _ => Some(TextOr::Items(system)),
    };
    Ok((system, turns))
}

/// Text of a system, developer or assistant message: a string or
/// `input_text`/`output_text`/`refusal` parts.
fn text_blocks<'a>(
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
        let text = match part.kind.as_str() {
            "input_text" | "output_text" | "text" => part.text,
            "refusal" => part.refusal,
            other => {
                return Err(ClientError::invalid_request(format!(
                    "input[{index}]: a {:?} part is not allowed here",
                    truncate(other, MAX_NAME_IN_ERROR)
                )))
            }
        };
        blocks.extend(text.and_then(non_empty_text));
    }
    Ok(blocks)
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
            "input_text" | "text" => blocks.extend(part.text.and_then(non_empty_text)),
            "input_image" => blocks.push(image_block(part, index)?),
            "input_file" => blocks.push(document_block(part, index)?),
            other => log::debug!(
                "input[{index}]: skipped a `{}` part an Anthropic upstream has no form for",
                LogSafe(other)
            ),
        }
    }
    Ok(blocks)
}

/// `input_image`: a base64 `data:` URL or an http(s) URL.
fn image_block<'a>(part: ContentPart<'a>, index: usize) -> Result<ContentBlock<'a>, ClientError> {
    let url = part.image_url.ok_or_else(|| {
        ClientError::invalid_request(format!(
            "input[{index}]: input_image needs `image_url`; uploaded file ids are not supported by an Anthropic upstream"
        ))
    })?;
    image_from_url(url, "input", index)
}

/// `input_file` with inline `file_data` (a PDF) or an http(s) `file_url`.
fn document_block<'a>(
    part: ContentPart<'a>,
    index: usize,
) -> Result<ContentBlock<'a>, ClientError> {
    let source = match (part.file_data, part.file_url) {
        (Some(data), _) => match data_url_source(&data) {
            Some(source) => source,
            None => base64_source(CowStr::borrowed("application/pdf"), data),
        },
        (None, Some(url)) if url.starts_with("https://") || url.starts_with("http://") => Source {
            kind: CowStr::borrowed("url"),
            url: Some(url),
            ..Default::default()
        },
        _ => {
            return Err(ClientError::invalid_request(format!(
                "input[{index}]: input_file needs inline `file_data` or an http(s) `file_url`; uploaded file ids are not supported by an Anthropic upstream"
            )))
        }
    };
    Ok(ContentBlock {
        kind: CowStr::borrowed("document"),
        source: Some(source),
        title: part.filename,
        ..Default::default()
    })
}

/// A `function_call` (JSON arguments) or `custom_tool_call` (a string,
/// wrapped as the one parameter) → `tool_use`, with the call id kept so the
/// result pairs up.
fn tool_use<'a>(
    item: Item<'a>,
    tools: &ToolTable,
    index: usize,
) -> Result<ContentBlock<'a>, ClientError> {
    let call_id = item.call_id.filter(|id| !id.is_empty()).ok_or_else(|| {
        ClientError::invalid_request(format!(
            "input[{index}]: {} without `call_id`",
            item.kind.as_deref().unwrap_or("call")
        ))
    })?;
    let name = item.name.ok_or_else(|| {
        ClientError::invalid_request(format!("input[{index}]: tool call without `name`"))
    })?;
    let namespace = item.namespace.as_deref();
    let custom = item.kind.as_deref() == Some("custom_tool_call");
    let input = if custom {
        let text = item.input.as_deref().unwrap_or("");
        let object = serde_json::json!({ CUSTOM_INPUT: text }).to_string();
        RawJson::object_from_text(&object).unwrap_or_else(RawJson::empty_object)
    } else {
        let arguments = item.arguments.as_deref().unwrap_or("");
        if arguments.trim().is_empty() {
            RawJson::empty_object()
        } else {
            RawJson::object_from_text(arguments).ok_or_else(|| {
                ClientError::invalid_request(format!(
                    "input[{index}]: function_call arguments must be a JSON object"
                ))
            })?
        }
    };
    if custom != tools.is_custom(namespace, &name) {
        log::debug!("input[{index}]: a tool call whose kind differs from the declared tool");
    }
    Ok(ContentBlock::tool_use(
        call_id,
        CowStr::from(tools.upstream(namespace, &name)),
        input,
    ))
}

/// A call's output → `tool_result`: a string, or text and image parts.
fn tool_result<'a>(item: Item<'a>, index: usize) -> Result<ContentBlock<'a>, ClientError> {
    let call_id = item.call_id.filter(|id| !id.is_empty()).ok_or_else(|| {
        ClientError::invalid_request(format!("input[{index}]: tool output without `call_id`"))
    })?;
    let content = match item.output {
        Some(TextOr::Text(text)) if !text.is_empty() => Some(TextOr::Text(text)),
        Some(TextOr::Items(parts)) => {
            let blocks = user_blocks(Some(TextOr::Items(parts)), index)?;
            (!blocks.is_empty()).then_some(TextOr::Items(blocks))
        }
        _ => None,
    };
    Ok(ContentBlock {
        kind: CowStr::borrowed("tool_result"),
        tool_use_id: Some(call_id),
        content,
        ..Default::default()
    })
}

/// A reasoning item the bridge made → the thinking block it carries;
/// OpenAI's own encrypted reasoning cannot be replayed to Anthropic.
fn thinking_block<'a>(item: Item<'a>) -> Vec<ContentBlock<'a>> {
    let Some(content) = item.encrypted_content else {
        log::debug!("dropped a reasoning item without encrypted_content");
        return Vec::new();
    };
    let block = match carried_block(&content) {
        Some(CarriedBlock::Thinking {
            thinking,
            signature,
        }) => ContentBlock::thinking(thinking.to_string(), signature.to_string()),
        Some(CarriedBlock::Redacted { data }) => ContentBlock {
            kind: CowStr::borrowed("redacted_thinking"),
            data: Some(CowStr::from(data.to_string())),
            ..Default::default()
        },
        None => {
            log::debug!("dropped a reasoning item the bridge did not make");
            return Vec::new();
        }
    };
    vec![block]
}
