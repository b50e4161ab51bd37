//! What an Anthropic Messages request must satisfy before it is converted,
//! beyond its JSON shape: the checks Anthropic's own API makes and an OpenAI
//! upstream would otherwise make with a message the client cannot map back
//! (or not make at all). Each error names the field, like the API does.

use crate::anthropic::{
    block, ContentBlock, InputMessage, MessagesRequest, Role, Tool, ToolChoice,
};
use crate::convert::error::ClientError;
use crate::convert::tool_calls::Asked;
use crate::report::LogSafe;
use crate::wire::TextOr;
use std::collections::HashSet;

/// Runs every check; the first failure is the client's 400.
pub fn validate(request: &MessagesRequest<'_>) -> Result<(), ClientError> {
    let mut names = HashSet::new();
    for (index, tool) in request.tools.iter().flatten().enumerate() {
        tool_schema(tool, index)?;
        if !names.insert(tool.name.as_str()) {
            return Err(ClientError::invalid_request(format!(
                "tools[{index}].name: `{}` is used by another tool; tool names must be unique",
                LogSafe(tool.name.as_str())
            )));
        }
    }
    if let Some(choice) = &request.tool_choice {
        tool_choice(choice)?;
    }
    tool_pairs(&request.messages)
}

/// A custom tool's `input_schema` is a JSON Schema object.
fn tool_schema(tool: &Tool<'_>, index: usize) -> Result<(), ClientError> {
    match tool.input_schema {
        Some(schema) if tool.is_custom() && !schema.get().trim_start().starts_with('{') => {
            Err(ClientError::invalid_request(format!(
                "tools[{index}].input_schema: must be a JSON object"
            )))
        }
        _ => Ok(()),
    }
}

fn tool_choice(choice: &ToolChoice<'_>) -> Result<(), ClientError> {
    match choice.kind.as_str() {
        "auto" | "any" | "tool" | "none" => Ok(()),
        other => Err(ClientError::invalid_request(format!(
            "tool_choice.type: unknown value `{}` (expected auto, any, tool or none)",
            LogSafe(other)
        ))),
    }
}

fn blocks<'m>(message: &'m InputMessage<'_>) -> &'m [ContentBlock<'m>] {
    match &message.content {
        TextOr::Items(blocks) => blocks,
        TextOr::Text(_) => &[],
    }
}

/// Anthropic's rule (which also makes a valid OpenAI tool sequence): every
/// `tool_use` is answered by a `tool_result` in the user turn right after
/// it, and every `tool_result` answers a `tool_use` of the assistant turn
/// right before. Consecutive user messages count as one turn (Anthropic
/// merges them); system messages inside `messages` are skipped. Linear: each
/// id goes in and out of a set once.
fn tool_pairs(messages: &[InputMessage<'_>]) -> Result<(), ClientError> {
    let mut asked = Asked::default();
    for (index, message) in messages.iter().enumerate() {
        match message.role {
            Role::System => {}
            Role::Assistant => {
                all_answered(&asked)?;
                asked = Asked::at(index);
                for block in blocks(message).iter().filter(|b| b.is(block::TOOL_USE)) {
                    asked.ask(block.id.as_deref());
                }
            }
            Role::User => {
                for block in blocks(message).iter().filter(|b| b.is("tool_result")) {
                    if let Some(id) = block.tool_use_id.as_deref() {
                        if !asked.answer(id) {
                            return Err(ClientError::invalid_request(format!(
                                "messages[{index}].content: unexpected `tool_use_id` found in `tool_result` blocks: {}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.",
                                LogSafe(id)
                            )));
                        }
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
            "messages[{at}]: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
            LogSafe(id)
        ))),
        None => Ok(()),
    }
}
