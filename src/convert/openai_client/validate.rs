//! What an OpenAI Chat Completions request must satisfy before it is
//! converted, beyond its JSON shape: the checks OpenAI's own API makes that
//! an Anthropic upstream would answer differently, or not at all (an unknown
//! `reasoning_effort` would otherwise be dropped). Each error names the field.

use crate::convert::error::ClientError;
use crate::convert::tool_calls::Asked;
use crate::openai::{role, ChatMessage, ChatRequest, ChatTool, ChatToolChoice};
use crate::report::LogSafe;

/// Runs every check; the first failure is the client's 400.
pub fn validate(request: &ChatRequest<'_>) -> Result<(), ClientError> {
    for (name, value) in [
        ("max_completion_tokens", request.max_completion_tokens),
        ("max_tokens", request.max_tokens),
    ] {
        if value == Some(0) {
            return Err(ClientError::invalid_request(format!(
                "{name}: must be at least 1, got 0"
            )));
        }
    }
    if let Some(effort) = request.reasoning_effort.as_deref() {
        reasoning_effort(effort)?;
    }
    if let Some(ChatToolChoice::Mode(mode)) = &request.tool_choice {
        tool_choice_mode(mode)?;
    }
    for (index, tool) in request.tools.iter().flatten().enumerate() {
        tool_parameters(tool, index)?;
    }
    tool_pairs(&request.messages)
}

fn reasoning_effort(effort: &str) -> Result<(), ClientError> {
    match effort {
        "none" | "minimal" | "low" | "medium" | "high" | "xhigh" => Ok(()),
        other => Err(ClientError::invalid_request(format!(
            "reasoning_effort: unknown value `{}` (expected none, minimal, low, medium, high or xhigh)",
            LogSafe(other)
        ))),
    }
}

fn tool_choice_mode(mode: &str) -> Result<(), ClientError> {
    match mode {
        "none" | "auto" | "required" => Ok(()),
        other => Err(ClientError::invalid_request(format!(
            "tool_choice: unknown value `{}` (expected none, auto, required or a function)",
            LogSafe(other)
        ))),
    }
}

/// A function's `parameters` is a JSON Schema object.
fn tool_parameters(tool: &ChatTool<'_>, index: usize) -> Result<(), ClientError> {
    let parameters = tool.function.as_ref().and_then(|f| f.parameters);
    match parameters {
        Some(schema) if !schema.get().trim_start().starts_with('{') => {
            Err(ClientError::invalid_request(format!(
                "tools[{index}].function.parameters: must be a JSON object"
            )))
        }
        _ => Ok(()),
    }
}

/// OpenAI's rule (which also gives Anthropic its tool_use → tool_result
/// pairs): an assistant message with `tool_calls` is followed by `tool`
/// messages answering each call, and a `tool` message answers a call of the
/// assistant message before it. System and developer messages in between
/// are skipped (they become Anthropic's top-level `system`). Linear: each
/// id goes in and out of a map once.
fn tool_pairs(messages: &[ChatMessage<'_>]) -> Result<(), ClientError> {
    let mut asked = Asked::default();
    for (index, message) in messages.iter().enumerate() {
        match message.role.as_deref().unwrap_or("") {
            role::SYSTEM | role::DEVELOPER => {}
            role::TOOL => {
                let Some(id) = message.tool_call_id.as_deref() else {
                    continue;
                };
                if !asked.answer(id) {
                    return Err(ClientError::invalid_request(format!(
                        "messages[{index}].tool_call_id: `{}` answers no tool call; messages with role `tool` must be a response to a preceding message with `tool_calls`",
                        LogSafe(id)
                    )));
                }
            }
            other => {
                all_answered(&asked)?;
                asked = Asked::at(index);
                if other == role::ASSISTANT {
                    for call in message.tool_calls.iter().flatten() {
                        asked.ask(call.id.as_deref());
                    }
                }
            }
        }
    }
    all_answered(&asked)
}

/// A 400 naming the first call of the last assistant turn left unanswered.
fn all_answered(asked: &Asked<'_>) -> Result<(), ClientError> {
    match asked.unanswered() {
        Some((at, id)) => Err(ClientError::invalid_request(format!(
            "messages[{at}].tool_calls: an assistant message with `tool_calls` must be followed by tool messages responding to each `tool_call_id`; no response to `{}`",
            LogSafe(id)
        ))),
        None => Ok(()),
    }
}
