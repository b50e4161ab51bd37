//! OpenAI Chat Completions wire types.
//!
//! Like `anthropic.rs`, one set of structs is parsed from an OpenAI client (or
//! upstream) and built for one. Optional fields are skipped when absent except
//! where OpenAI itself always sends `null` (`content`, `finish_reason`).

use crate::anthropic::ContentBlock;
use crate::wire::{count, optional_count, CowStr, Described, TextOr};
use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::fmt;

/// `POST /v1/chat/completions` body.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ChatRequest<'a> {
    #[serde(borrow)]
    pub model: CowStr<'a>,
    #[serde(borrow, deserialize_with = "chat_messages_seq")]
    pub messages: Vec<ChatMessage<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<TextOr<'a, CowStr<'a>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub user: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ChatTool<'a>>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ChatToolChoice<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Read from OpenAI clients only (a request for several choices is rejected).
    #[serde(default, skip_serializing)]
    pub n: Option<u64>,
    /// Read only to say they were dropped (no Anthropic form).
    #[serde(default, skip_serializing)]
    pub frequency_penalty: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub presence_penalty: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub seed: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub logit_bias: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub logprobs: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub top_logprobs: Option<IgnoredAny>,
}

fn chat_messages_seq<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<ChatMessage<'a>>, D::Error> {
    crate::wire::indexed_seq(d, "messages")
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct StreamOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
}

/// A message of any role; also a response's `message` and a stream's `delta`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(expecting = "a message object with a `role`")]
pub struct ChatMessage<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub role: Option<CowStr<'a>>,
    /// Always serialized: `null` is how an assistant turn says "tool calls only".
    #[serde(borrow, default)]
    pub content: Option<TextOr<'a, ContentPart<'a>>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub name: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall<'a>>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<CowStr<'a>>,
    /// DeepSeek, vLLM, Qwen.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<CowStr<'a>>,
    /// Ollama, Groq, OpenRouter.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<CowStr<'a>>,
    /// Signed Anthropic thinking, carried for replay (docs/openai_client.md#reasoning-round-trip).
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub thinking_blocks: Option<Vec<ContentBlock<'a>>>,
}

/// The content part `type`s the bridge reads or writes; any other type
/// takes the fallback arm of the match that reads it.
pub mod part {
    pub const TEXT: &str = "text";
    pub const IMAGE_URL: &str = "image_url";
    pub const FILE: &str = "file";
    pub const INPUT_AUDIO: &str = "input_audio";
}

/// Chat message roles; any other role takes the fallback arm.
pub mod role {
    pub const SYSTEM: &str = "system";
    pub const DEVELOPER: &str = "developer";
    pub const USER: &str = "user";
    pub const ASSISTANT: &str = "assistant";
    pub const TOOL: &str = "tool";
}

/// The `type` of a tool and of a tool call.
pub const FUNCTION: &str = "function";

/// A content part of any type; `kind` says which fields apply.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ContentPart<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: CowStr<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub text: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<ImageUrl<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FilePart<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<CowStr<'a>>,
}

impl Described for ContentPart<'_> {
    const WHAT: &'static str = "content parts";
}

impl<'a> ContentPart<'a> {
    pub fn text(text: impl Into<CowStr<'a>>) -> Self {
        ContentPart {
            kind: CowStr::borrowed(part::TEXT),
            text: Some(text.into()),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ImageUrl<'a> {
    #[serde(borrow)]
    pub url: CowStr<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<CowStr<'a>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct FilePart<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<CowStr<'a>>,
}

/// `{id, type: function, function: {name, arguments}}`; in a stream delta
/// also `index`, and every field may be missing.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ToolCall<'a> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub id: Option<CowStr<'a>>,
    #[serde(
        rename = "type",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCall<'a>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct FunctionCall<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub name: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<CowStr<'a>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ChatTool<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: CowStr<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionDef<'a>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct FunctionDef<'a> {
    #[serde(borrow)]
    pub name: CowStr<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub description: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<&'a RawValue>,
}

/// `"auto" | "required" | "none"` or `{type: function, function: {name}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatToolChoice<'a> {
    Mode(CowStr<'a>),
    Function(CowStr<'a>),
}

impl Serialize for ChatToolChoice<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ChatToolChoice::Mode(mode) => serializer.serialize_str(mode),
            ChatToolChoice::Function(name) => {
                #[derive(Serialize)]
                struct Name<'b> {
                    name: &'b str,
                }
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("type", FUNCTION)?;
                map.serialize_entry("function", &Name { name })?;
                map.end()
            }
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for ChatToolChoice<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Named<'b> {
            #[serde(borrow)]
            function: NamedFunction<'b>,
        }
        #[derive(Deserialize)]
        struct NamedFunction<'b> {
            #[serde(borrow)]
            name: CowStr<'b>,
        }
        struct ChoiceVisitor;
        impl<'de> Visitor<'de> for ChoiceVisitor {
            type Value = ChatToolChoice<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"auto\", \"required\", \"none\" or {\"type\":\"function\",\"function\":{\"name\":...}}")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(ChatToolChoice::Mode(v.into()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ChatToolChoice::Mode(v.to_string().into()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let named = Named::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(ChatToolChoice::Function(named.function.name))
            }
        }
        deserializer.deserialize_any(ChoiceVisitor)
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ResponseFormat<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: CowStr<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<JsonSchemaFormat<'a>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct JsonSchemaFormat<'a> {
    #[serde(borrow, default)]
    pub name: CowStr<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<&'a RawValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// A complete (non-streaming) response.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ChatCompletion<'a> {
    #[serde(borrow, default)]
    pub id: CowStr<'a>,
    #[serde(borrow, default)]
    pub object: CowStr<'a>,
    #[serde(default, deserialize_with = "count")]
    pub created: u64,
    #[serde(borrow, default)]
    pub model: CowStr<'a>,
    #[serde(borrow, default)]
    pub choices: Vec<Choice<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<ChatUsage>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Choice<'a> {
    #[serde(default)]
    pub index: u32,
    #[serde(borrow, default)]
    pub message: ChatMessage<'a>,
    #[serde(borrow, default)]
    pub finish_reason: Option<CowStr<'a>>,
    /// vLLM names the stop string that ended generation (or a token id).
    #[serde(borrow, default, skip_serializing)]
    pub stop_reason: Option<&'a RawValue>,
}

/// One streaming chunk; an upstream may also send `{"error": ...}` instead.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ChatCompletionChunk<'a> {
    #[serde(borrow, default)]
    pub id: CowStr<'a>,
    #[serde(borrow, default)]
    pub object: CowStr<'a>,
    #[serde(default, deserialize_with = "count")]
    pub created: u64,
    #[serde(borrow, default)]
    pub model: CowStr<'a>,
    #[serde(borrow, default)]
    pub choices: Vec<ChunkChoice<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<ChatUsage>,
    #[serde(borrow, default, skip_serializing)]
    pub error: Option<&'a RawValue>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ChunkChoice<'a> {
    #[serde(default)]
    pub index: u32,
    #[serde(borrow, default)]
    pub delta: ChatMessage<'a>,
    #[serde(borrow, default)]
    pub finish_reason: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing)]
    pub stop_reason: Option<&'a RawValue>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct ChatUsage {
    #[serde(default, deserialize_with = "count")]
    pub prompt_tokens: u64,
    #[serde(default, deserialize_with = "count")]
    pub completion_tokens: u64,
    #[serde(default, deserialize_with = "count")]
    pub total_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    /// DeepSeek reports cache hits here.
    #[serde(default, skip_serializing, deserialize_with = "optional_count")]
    pub prompt_cache_hit_tokens: Option<u64>,
    /// Some gateways report Anthropic-style cache writes at the top level.
    #[serde(default, skip_serializing, deserialize_with = "optional_count")]
    pub cache_creation_input_tokens: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct PromptTokensDetails {
    #[serde(default, deserialize_with = "optional_count")]
    pub cached_tokens: Option<u64>,
    /// OpenRouter's cache writes.
    #[serde(default, skip_serializing, deserialize_with = "optional_count")]
    pub cache_write_tokens: Option<u64>,
    #[serde(default, skip_serializing, deserialize_with = "optional_count")]
    pub cache_creation_tokens: Option<u64>,
}

/// `{"error":{"message":M,"type":T,"param":P,"code":C}}`
#[derive(Debug, Default, Serialize)]
pub struct ErrorResponse<'a> {
    pub error: ErrorBody<'a>,
}

#[derive(Debug, Default, Serialize)]
pub struct ErrorBody<'a> {
    pub message: CowStr<'a>,
    #[serde(rename = "type")]
    pub kind: CowStr<'a>,
    pub param: Option<CowStr<'a>>,
    pub code: Option<CowStr<'a>>,
}
