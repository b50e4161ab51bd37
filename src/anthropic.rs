//! Anthropic Messages API wire types.
//!
//! The same structs are parsed from an Anthropic client (or upstream) and built
//! for one, so every optional field is skipped when absent: what is serialized
//! is exactly what a conversion put there. Fields the bridge does not read are
//! not declared, which drops them.

use crate::wire::{
    indexed_seq, object_field, optional_count, positive_count, CowStr, Described, RawJson, TextOr,
};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

/// `POST /v1/messages` body.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct MessagesRequest<'a> {
    #[serde(borrow)]
    pub model: CowStr<'a>,
    #[serde(borrow, deserialize_with = "messages_seq")]
    pub messages: Vec<InputMessage<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub system: Option<TextOr<'a, ContentBlock<'a>>>,
    #[serde(
        default,
        deserialize_with = "max_tokens_field",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<CowStr<'a>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(
        borrow,
        default,
        deserialize_with = "metadata_field",
        skip_serializing_if = "Option::is_none"
    )]
    pub metadata: Option<Metadata<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Thinking<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub output_config: Option<OutputConfig<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub output_format: Option<OutputFormat<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool<'a>>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "tool_choice_field",
        skip_serializing_if = "Option::is_none"
    )]
    pub tool_choice: Option<ToolChoice<'a>>,
    /// Read only to say they were dropped (no OpenAI form).
    #[serde(default, skip_serializing)]
    pub top_k: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub container: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub mcp_servers: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub context_management: Option<IgnoredAny>,
}

fn max_tokens_field<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    positive_count(d, "max_tokens")
}

fn metadata_field<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Metadata<'a>>, D::Error> {
    object_field(d, "metadata")
}

fn tool_choice_field<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<ToolChoice<'a>>, D::Error> {
    object_field(d, "tool_choice")
}

fn messages_seq<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<InputMessage<'a>>, D::Error> {
    indexed_seq(d, "messages")
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    #[default]
    Assistant,
    /// A system message at its own position in `messages`, applying from
    /// there on (beta `mid-conversation-system-2026-04-07`; Claude Code 2.1
    /// sends one after the first user turn).
    System,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(expecting = "a message object with `role` and `content`")]
pub struct InputMessage<'a> {
    pub role: Role,
    #[serde(borrow)]
    pub content: TextOr<'a, ContentBlock<'a>>,
}

/// The content block `type`s the bridge reads or writes. Code matching on a
/// block's type names these; any other type takes the match's fallback arm.
pub mod block {
    pub const TEXT: &str = "text";
    pub const IMAGE: &str = "image";
    pub const DOCUMENT: &str = "document";
    pub const TOOL_USE: &str = "tool_use";
    pub const TOOL_RESULT: &str = "tool_result";
    pub const THINKING: &str = "thinking";
    pub const REDACTED_THINKING: &str = "redacted_thinking";
}

/// One content block of any type; `kind` says which fields apply.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ContentBlock<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: CowStr<'a>,
    /// `text`
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub text: Option<CowStr<'a>>,
    /// `image`, `document`
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source<'a>>,
    /// `document`
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub title: Option<CowStr<'a>>,
    /// `tool_use`
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub id: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub name: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub input: Option<RawJson<'a>>,
    /// `tool_result`
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub tool_use_id: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub content: Option<TextOr<'a, ContentBlock<'a>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    /// `thinking`
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<CowStr<'a>>,
    /// `redacted_thinking`
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub data: Option<CowStr<'a>>,
    /// A prompt-cache breakpoint: the prompt up to here is cached.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<CacheControl<'a>>,
}

/// `{"type":"ephemeral"}`: a prompt-cache breakpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct CacheControl<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: CowStr<'a>,
}

impl CacheControl<'_> {
    pub fn ephemeral() -> CacheControl<'static> {
        CacheControl {
            kind: CowStr::borrowed("ephemeral"),
        }
    }
}

impl Described for ContentBlock<'_> {
    const WHAT: &'static str = "content blocks";
}

impl<'a> ContentBlock<'a> {
    pub fn text(text: impl Into<CowStr<'a>>) -> Self {
        ContentBlock {
            kind: CowStr::borrowed(block::TEXT),
            text: Some(text.into()),
            ..Default::default()
        }
    }

    pub fn thinking(thinking: impl Into<CowStr<'a>>, signature: impl Into<CowStr<'a>>) -> Self {
        ContentBlock {
            kind: CowStr::borrowed(block::THINKING),
            thinking: Some(thinking.into()),
            signature: Some(signature.into()),
            ..Default::default()
        }
    }

    pub fn tool_use(
        id: impl Into<CowStr<'a>>,
        name: impl Into<CowStr<'a>>,
        input: RawJson<'a>,
    ) -> Self {
        ContentBlock {
            kind: CowStr::borrowed(block::TOOL_USE),
            id: Some(id.into()),
            name: Some(name.into()),
            input: Some(input),
            ..Default::default()
        }
    }

    pub fn is(&self, kind: &str) -> bool {
        self.kind.as_str() == kind
    }
}

/// `source` of an image or document block.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Source<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: CowStr<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub data: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub url: Option<CowStr<'a>>,
    /// `source.type: content` documents carry blocks.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub content: Option<TextOr<'a, ContentBlock<'a>>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Metadata<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<CowStr<'a>>,
}

/// `thinking`: `enabled` (with a budget), `adaptive` or `disabled`.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Thinking<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: CowStr<'a>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct OutputConfig<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub format: Option<OutputFormat<'a>>,
}

/// Structured output: `{type: json_schema, schema}`.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct OutputFormat<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: CowStr<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<&'a RawValue>,
}

/// A tool: custom tools have no `type` (or `custom`); server tools have one.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Tool<'a> {
    #[serde(
        rename = "type",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<CowStr<'a>>,
    #[serde(borrow, default)]
    pub name: CowStr<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub description: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<&'a RawValue>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<CacheControl<'a>>,
}

impl Tool<'_> {
    /// Custom (client-run) tools are the only ones another API can run.
    pub fn is_custom(&self) -> bool {
        matches!(self.kind.as_deref(), None | Some("custom"))
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ToolChoice<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: CowStr<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub name: Option<CowStr<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_parallel_tool_use: Option<bool>,
}

/// A complete (non-streaming) response, also the `message` of `message_start`.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Message<'a> {
    #[serde(borrow, default)]
    pub id: CowStr<'a>,
    #[serde(rename = "type", borrow, default)]
    pub kind: CowStr<'a>,
    #[serde(default)]
    pub role: Role,
    #[serde(borrow, default)]
    pub model: CowStr<'a>,
    #[serde(borrow, default)]
    pub content: Vec<ContentBlock<'a>>,
    #[serde(borrow, default)]
    pub stop_reason: Option<CowStr<'a>>,
    #[serde(borrow, default)]
    pub stop_sequence: Option<CowStr<'a>>,
    #[serde(default)]
    pub usage: Usage,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Usage {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_count"
    )]
    pub input_tokens: Option<u64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_count"
    )]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_count"
    )]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_count"
    )]
    pub output_tokens: Option<u64>,
}

/// One streaming event; `kind` says which fields apply.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct StreamEvent<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: CowStr<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub content_block: Option<ContentBlock<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<Delta<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail<'a>>,
}

/// `delta` of `content_block_delta` (typed) and of `message_delta` (untyped).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Delta<'a> {
    #[serde(
        rename = "type",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub text: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub partial_json: Option<CowStr<'a>>,
    /// `message_delta` only; serialized as `null` there.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<Option<CowStr<'a>>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub stop_sequence: Option<Option<CowStr<'a>>>,
}

/// `{"type":"error","error":{"type":T,"message":M}}`
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ErrorResponse<'a> {
    #[serde(rename = "type", borrow, default)]
    pub kind: CowStr<'a>,
    #[serde(borrow)]
    pub error: ErrorDetail<'a>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ErrorDetail<'a> {
    #[serde(rename = "type", borrow, default)]
    pub kind: CowStr<'a>,
    #[serde(borrow, default)]
    pub message: CowStr<'a>,
}
