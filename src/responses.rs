//! OpenAI Responses API wire types (`POST /v1/responses`).
//!
//! Like `anthropic.rs` and `openai.rs`: flat borrowed structs with a `type`
//! string instead of tagged enums, parsed from a client or upstream and built
//! for one, every optional field skipped when absent. Fields the bridge never
//! reads but an OpenAI SDK expects in what it is sent (the request echo in a
//! `response` object) are `skip_deserializing`: parsing an upstream's answer
//! never pays for them, and a provider's own shape there cannot fail it.
//!
//! The same names mean different things in item and event types the bridge
//! does not convert (`arguments` is an object in `tool_search_call`, `delta`
//! an object in shell output events, `output` a screenshot in
//! `computer_call_output`), so those fields are read leniently: a value of
//! another shape is `None`, never an error for the whole body or event.

use crate::wire::{count, optional_count, CowStr, Described, TextOr};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::fmt;

/// `POST /v1/responses` body.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ResponsesRequest<'a> {
    #[serde(borrow, default)]
    pub model: CowStr<'a>,
    /// A string (one user message) or input items.
    #[serde(
        borrow,
        default,
        deserialize_with = "input_items",
        skip_serializing_if = "Option::is_none"
    )]
    pub input: Option<TextOr<'a, Item<'a>>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool<'a>>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Reasoning<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextConfig<'a>>,
    /// Up to 16 string pairs; passed through as sent.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<&'a RawValue>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub user: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub safety_identifier: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<CowStr<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<CowStr<'a>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Server-side state; read from clients only to refuse it.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<CowStr<'a>>,
    /// A conversation id string or `{id}`; read from clients only to refuse it.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<&'a RawValue>,
    /// Read only to say they were dropped.
    #[serde(default, skip_serializing)]
    pub background: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub truncation: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub top_logprobs: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub max_tool_calls: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub prompt: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub stream_options: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub context_management: Option<IgnoredAny>,
}

/// `input`: a string, or an array whose element errors name their index
/// (`input[3]: missing field ...`).
fn input_items<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<TextOr<'a, Item<'a>>>, D::Error> {
    struct InputVisitor;
    impl<'de> Visitor<'de> for InputVisitor {
        type Value = Option<TextOr<'de, Item<'de>>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or an array of input items")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(TextOr::Text(CowStr::borrowed(v))))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(TextOr::Text(v.to_string().into())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(TextOr::Text(v.into())))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            loop {
                let index = items.len();
                match seq.next_element::<Item<'de>>() {
                    Ok(Some(item)) => items.push(item),
                    Ok(None) => return Ok(Some(TextOr::Items(items))),
                    Err(e) => {
                        let message = e.to_string();
                        let message = match message.rfind(" at line ") {
                            Some(at) => message.get(..at).unwrap_or(&message),
                            None => &message,
                        };
                        return Err(de::Error::custom(format_args!("input[{index}]: {message}")));
                    }
                }
            }
        }
    }
    d.deserialize_any(InputVisitor)
}

/// One item of any type: an input item of a request, an output item of a
/// response or of `response.output_item.added/done`. `kind` says which
/// fields apply; an input message may omit `type` (`{role, content}`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Item<'a> {
    #[serde(
        rename = "type",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub id: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CowStr<'a>>,
    /// `message`: `user`, `assistant`, `system` or `developer`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub role: Option<CowStr<'a>>,
    /// `message`: a string or parts; `reasoning`: `reasoning_text` parts.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub content: Option<TextOr<'a, ContentPart<'a>>>,
    /// `message` (assistant): `commentary` or `final_answer`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<CowStr<'a>>,
    /// `function_call`, `custom_tool_call` and their outputs.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub name: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<CowStr<'a>>,
    /// `function_call`: the arguments as a JSON string.
    #[serde(
        borrow,
        default,
        deserialize_with = "lenient_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub arguments: Option<CowStr<'a>>,
    /// `custom_tool_call`: the freeform input.
    #[serde(
        borrow,
        default,
        deserialize_with = "lenient_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub input: Option<CowStr<'a>>,
    /// `function_call_output`, `custom_tool_call_output`: a string or
    /// `input_text`/`input_image`/`input_file` parts.
    #[serde(
        borrow,
        default,
        deserialize_with = "lenient_parts",
        skip_serializing_if = "Option::is_none"
    )]
    pub output: Option<TextOr<'a, ContentPart<'a>>>,
    /// `reasoning`: `summary_text` parts.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Vec<ContentPart<'a>>>,
    /// `reasoning`: the opaque carrier of the model's reasoning across
    /// turns (asked for with `include: ["reasoning.encrypted_content"]`).
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub encrypted_content: Option<CowStr<'a>>,
    /// `additional_tools`: tools declared in `input` (Codex sends its tools
    /// there, namespace-wrapped, in some modes).
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool<'a>>>,
}

impl Described for Item<'_> {
    const WHAT: &'static str = "input items";
}

impl<'a> Item<'a> {
    /// The item's type; a typeless input item is a message.
    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or("message")
    }

    pub fn is(&self, kind: &str) -> bool {
        self.kind() == kind
    }

    /// `{type: message, role, content}`.
    pub fn message(role: &'static str, content: TextOr<'a, ContentPart<'a>>) -> Self {
        Item {
            kind: Some(CowStr::borrowed("message")),
            role: Some(CowStr::borrowed(role)),
            content: Some(content),
            ..Default::default()
        }
    }
}

/// A content part of any type: `input_text`, `input_image`, `input_file`,
/// `output_text`, `refusal`, `summary_text`, `reasoning_text`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ContentPart<'a> {
    #[serde(rename = "type", borrow, default)]
    pub kind: CowStr<'a>,
    /// `input_text`, `output_text`, `summary_text`, `reasoning_text`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub text: Option<CowStr<'a>>,
    /// `refusal`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<CowStr<'a>>,
    /// `input_image`: a URL or `data:` URL (a plain string, unlike Chat).
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<CowStr<'a>>,
    /// `input_image`, `input_file`: `auto`, `low` or `high`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<CowStr<'a>>,
    /// `input_image`, `input_file`: an uploaded file.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<CowStr<'a>>,
    /// `input_file`: a `data:` URL.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub file_url: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<CowStr<'a>>,
    /// `output_text`: OpenAI's SDKs expect both lists, even empty.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Vec<&'a RawValue>>,
}

impl Described for ContentPart<'_> {
    const WHAT: &'static str = "content parts";
}

impl<'a> ContentPart<'a> {
    /// A part holding text: `input_text`, `summary_text`, `reasoning_text`.
    pub fn text(kind: &'static str, text: impl Into<CowStr<'a>>) -> Self {
        ContentPart {
            kind: CowStr::borrowed(kind),
            text: Some(text.into()),
            ..Default::default()
        }
    }

    /// `{type: output_text, text, annotations: [], logprobs: []}`.
    pub fn output_text(text: impl Into<CowStr<'a>>) -> Self {
        ContentPart {
            annotations: Some(Vec::new()),
            logprobs: Some(Vec::new()),
            ..ContentPart::text("output_text", text)
        }
    }

    pub fn is(&self, kind: &str) -> bool {
        self.kind.as_str() == kind
    }
}

/// A tool: `function` (flat: name, parameters at the top), `custom`
/// (freeform input, optionally grammar-constrained), `namespace` (nested
/// tools), or a built-in one (`web_search`, `file_search`, `local_shell`…)
/// named only by its type.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Tool<'a> {
    #[serde(rename = "type", borrow, default)]
    pub kind: CowStr<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub name: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub description: Option<CowStr<'a>>,
    /// `function`: JSON Schema, passed through as sent.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<&'a RawValue>,
    /// `function`: the Responses API defaults to strict schemas, which most
    /// client schemas do not satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// `custom`: `{type: text}` or `{type: grammar, syntax, definition}`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub format: Option<CustomToolFormat<'a>>,
    /// `namespace`: the function and custom tools it groups.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool<'a>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defer_loading: Option<bool>,
}

impl Tool<'_> {
    pub fn is(&self, kind: &str) -> bool {
        self.kind.as_str() == kind
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CustomToolFormat<'a> {
    #[serde(rename = "type", borrow, default)]
    pub kind: CowStr<'a>,
    /// `lark` or `regex`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub syntax: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<CowStr<'a>>,
}

/// `"auto" | "required" | "none"`, or an object: `{type: function, name}`,
/// `{type: custom, name}`, `{type: allowed_tools, mode, tools}`, or a
/// built-in tool's `{type}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice<'a> {
    Mode(CowStr<'a>),
    Object(ToolChoiceObject<'a>),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct ToolChoiceObject<'a> {
    #[serde(rename = "type", borrow, default)]
    pub kind: CowStr<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub name: Option<CowStr<'a>>,
    /// `allowed_tools`: `auto` or `required`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<CowStr<'a>>,
    /// `allowed_tools`: the tools allowed, passed through.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<CowStr<'a>>>,
}

impl<'a> ToolChoice<'a> {
    /// `{type: function, name}`.
    pub fn function(name: CowStr<'a>) -> Self {
        ToolChoice::Object(ToolChoiceObject {
            kind: CowStr::borrowed("function"),
            name: Some(name),
            ..Default::default()
        })
    }
}

impl Serialize for ToolChoice<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ToolChoice::Mode(mode) => serializer.serialize_str(mode),
            ToolChoice::Object(object) => object.serialize(serializer),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for ToolChoice<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ChoiceVisitor;
        impl<'de> Visitor<'de> for ChoiceVisitor {
            type Value = ToolChoice<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"auto\", \"required\", \"none\" or a tool choice object")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(ToolChoice::Mode(v.into()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ToolChoice::Mode(v.to_string().into()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                ToolChoiceObject::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(ToolChoice::Object)
            }
        }
        deserializer.deserialize_any(ChoiceVisitor)
    }
}

/// `reasoning`: `effort` (`minimal`…`xhigh`) and `summary` (`auto`,
/// `concise`, `detailed`; without it no summary text is streamed).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Reasoning<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<CowStr<'a>>,
    /// The early-2025 name of `summary`.
    #[serde(borrow, default, skip_serializing)]
    pub generate_summary: Option<CowStr<'a>>,
}

/// `text`: the output format and verbosity.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct TextConfig<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TextFormat<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub verbosity: Option<CowStr<'a>>,
}

/// `{type: text}`, `{type: json_object}` or `{type: json_schema, name,
/// schema, strict}` (flat, unlike Chat's `json_schema` wrapper).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct TextFormat<'a> {
    #[serde(rename = "type", borrow, default)]
    pub kind: CowStr<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub name: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub description: Option<CowStr<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<&'a RawValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// The `response` object: a whole non-streaming answer, and the payload of
/// `response.created/in_progress/completed/incomplete/failed`.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Response<'a> {
    #[serde(borrow, default)]
    pub id: CowStr<'a>,
    #[serde(borrow, default)]
    pub object: CowStr<'a>,
    /// Seconds; a number OpenAI documents as a float.
    #[serde(default, deserialize_with = "count")]
    pub created_at: u64,
    /// `completed`, `incomplete`, `failed`, `in_progress`, `queued`, `cancelled`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CowStr<'a>>,
    #[serde(borrow, default)]
    pub model: CowStr<'a>,
    #[serde(borrow, default)]
    pub output: Vec<Item<'a>>,
    /// Written as `null` when absent, as OpenAI does.
    #[serde(borrow, default)]
    pub incomplete_details: Option<IncompleteDetails<'a>>,
    #[serde(borrow, default)]
    pub error: Option<ResponseError<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<ResponseUsage>,
    /// The request echoed back; built for clients, never read.
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<CowStr<'a>>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<CowStr<'a>>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Reasoning<'a>>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextConfig<'a>>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice<'a>>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool<'a>>>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub truncation: Option<CowStr<'a>>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<&'a RawValue>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub user: Option<CowStr<'a>>,
}

/// `incomplete_details`: `reason` is `max_output_tokens` or `content_filter`.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct IncompleteDetails<'a> {
    #[serde(borrow, default)]
    pub reason: Option<CowStr<'a>>,
}

/// A response's `error`: `{code, message}`.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ResponseError<'a> {
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub code: Option<CowStr<'a>>,
    #[serde(borrow, default)]
    pub message: CowStr<'a>,
}

/// `usage`: `input_tokens` includes the cached ones. Counts are read as
/// `wire::count` reads them: junk never fails a response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct ResponseUsage {
    #[serde(default, deserialize_with = "count")]
    pub input_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens_details: Option<InputTokensDetails>,
    #[serde(default, deserialize_with = "count")]
    pub output_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens_details: Option<OutputTokensDetails>,
    #[serde(default, deserialize_with = "count")]
    pub total_tokens: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct InputTokensDetails {
    #[serde(default, deserialize_with = "count")]
    pub cached_tokens: u64,
    /// Tokens written to the prompt cache (explicit caching).
    #[serde(
        default,
        deserialize_with = "optional_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_write_tokens: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct OutputTokensDetails {
    #[serde(default, deserialize_with = "count")]
    pub reasoning_tokens: u64,
}

/// One streaming event, `event: <type>\ndata: <json>`; `kind` says which
/// fields apply. Unknown event types parse (into `kind` and whatever
/// fields they share) so a converter can skip them.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct StreamEvent<'a> {
    #[serde(rename = "type", borrow, default)]
    pub kind: CowStr<'a>,
    /// Increasing from 0 within a stream; absent in early-2025 streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<u64>,
    /// `response.created`, `in_progress`, `queued`, `completed`,
    /// `incomplete`, `failed`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Response<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_index: Option<u32>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<CowStr<'a>>,
    /// `response.output_item.added/done`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub item: Option<Item<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_index: Option<u32>,
    /// `response.reasoning_summary_*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_index: Option<u32>,
    /// `response.content_part.added/done`, `reasoning_summary_part.added/done`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub part: Option<ContentPart<'a>>,
    /// Every `*.delta` event's text.
    #[serde(
        borrow,
        default,
        deserialize_with = "lenient_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub delta: Option<CowStr<'a>>,
    /// `output_text.done`, `reasoning_summary_text.done`, `reasoning_text.done`.
    #[serde(
        borrow,
        default,
        deserialize_with = "lenient_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub text: Option<CowStr<'a>>,
    /// `refusal.done`.
    #[serde(
        borrow,
        default,
        deserialize_with = "lenient_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub refusal: Option<CowStr<'a>>,
    /// `function_call_arguments.done`.
    #[serde(
        borrow,
        default,
        deserialize_with = "lenient_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub arguments: Option<CowStr<'a>>,
    /// `custom_tool_call_input.done`.
    #[serde(
        borrow,
        default,
        deserialize_with = "lenient_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub input: Option<CowStr<'a>>,
    /// `function_call_arguments.done` (recent streams).
    #[serde(
        borrow,
        default,
        deserialize_with = "lenient_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<CowStr<'a>>,
    /// `output_text.delta/done`: OpenAI's SDKs expect the list, even empty.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Vec<&'a RawValue>>,
    /// `error` as OpenAI documents it: `code`, `message`, `param` at the top.
    #[serde(
        borrow,
        default,
        deserialize_with = "lenient_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<CowStr<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "lenient_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub message: Option<CowStr<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "lenient_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub param: Option<CowStr<'a>>,
    /// `error` as api.openai.com also sends it: nested, with a `type`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub error: Option<EventError<'a>>,
}

impl<'a> StreamEvent<'a> {
    pub fn new(kind: &'static str) -> Self {
        StreamEvent {
            kind: CowStr::borrowed(kind),
            ..Default::default()
        }
    }
}

/// The nested `error` of an `error` event.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct EventError<'a> {
    #[serde(
        rename = "type",
        borrow,
        default,
        deserialize_with = "lenient_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<CowStr<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "lenient_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<CowStr<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "lenient_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub message: Option<CowStr<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "lenient_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub param: Option<CowStr<'a>>,
}

/// A string, borrowed when it can be; a number as its text; anything else
/// (`null`, an object, an array) is `None` and skipped without recursion
/// limits mattering more than for any ignored field.
fn lenient_str<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<CowStr<'a>>, D::Error> {
    struct LenientVisitor;
    impl<'de> Visitor<'de> for LenientVisitor {
        type Value = Option<CowStr<'de>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(CowStr::borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_string().into()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v.into()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string().into()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string().into()))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(LenientVisitor)
}

/// A string or content parts; any other shape (a screenshot object, shell
/// output records) is `None`. Read once as raw JSON, then parsed from it,
/// so the parts still borrow from the body.
fn lenient_parts<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<TextOr<'a, ContentPart<'a>>>, D::Error> {
    let raw = <Option<&'de RawValue>>::deserialize(d)?;
    Ok(raw.and_then(|raw| serde_json::from_str(raw.get()).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn input_is_a_string_or_items_and_item_errors_name_their_index() {
        let r: ResponsesRequest<'_> =
            serde_json::from_str(r#"{"model":"m","input":"hi"}"#).unwrap();
        assert!(matches!(r.input, Some(TextOr::Text(ref t)) if t.as_str() == "hi"));
        let r: ResponsesRequest<'_> = serde_json::from_str(
            r#"{"model":"m","input":[{"role":"user","content":"a"},{"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":"x"}]}]}"#,
        )
        .unwrap();
        let Some(TextOr::Items(items)) = r.input else {
            panic!("items")
        };
        assert_eq!(items[0].kind(), "message");
        assert_eq!(items[1].kind(), "function_call_output");
        assert!(
            matches!(&items[1].output, Some(TextOr::Items(parts)) if parts[0].is("input_text"))
        );
        let err = serde_json::from_str::<ResponsesRequest<'_>>(
            r#"{"model":"m","input":[{"role":"user","content":"a"},{"role":5}]}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("input[1]: invalid type"),
            "{err}"
        );
    }

    #[test]
    fn fields_of_other_shapes_in_foreign_items_and_events_are_none() {
        let item: Item<'_> = serde_json::from_str(
            r#"{"type":"computer_call_output","call_id":"c","output":{"type":"computer_screenshot","image_url":"u"}}"#,
        )
        .unwrap();
        assert!(item.output.is_none());
        let item: Item<'_> =
            serde_json::from_str(r#"{"type":"tool_search_call","arguments":{"q":1}}"#).unwrap();
        assert!(item.arguments.is_none());
        let event: StreamEvent<'_> = serde_json::from_str(
            r#"{"type":"response.shell_call_output_content.delta","delta":{"stdout":"x"},"output_index":0}"#,
        )
        .unwrap();
        assert!(event.delta.is_none());
        assert_eq!(event.output_index, Some(0));
    }

    #[test]
    fn deltas_borrow_from_the_event() {
        let event: StreamEvent<'_> = serde_json::from_str(
            r#"{"type":"response.output_text.delta","sequence_number":4,"delta":"Hi","obfuscation":"x"}"#,
        )
        .unwrap();
        assert!(matches!(event.delta, Some(CowStr(Cow::Borrowed("Hi")))));
    }

    #[test]
    fn the_request_echo_is_written_but_never_read_and_counts_are_lenient() {
        let response: Response<'_> = serde_json::from_str(
            r#"{"id":"resp_1","created_at":1.7e9,"model":"m","output":[],"tools":[{"type":"weird","name":5}],"instructions":[{"role":"user"}],
                "usage":{"input_tokens":-5,"output_tokens":"7","total_tokens":1e40,"input_tokens_details":{"cached_tokens":null}}}"#,
        )
        .unwrap();
        assert_eq!(response.created_at, 1_700_000_000);
        assert!(response.tools.is_none());
        let usage = response.usage.unwrap();
        assert_eq!(
            (usage.input_tokens, usage.output_tokens, usage.total_tokens),
            (0, 0, u64::MAX),
            "junk counts are ignored, huge ones saturate"
        );
        let built = Response {
            id: "resp_1".into(),
            object: "response".into(),
            tools: Some(Vec::new()),
            parallel_tool_calls: Some(true),
            ..Default::default()
        };
        assert_eq!(
            String::from_utf8(crate::json::to_vec(&built).unwrap()).unwrap(),
            r#"{"id":"resp_1","object":"response","created_at":0,"model":"","output":[],"incomplete_details":null,"error":null,"parallel_tool_calls":true,"tools":[]}"#
        );
    }

    #[test]
    fn tool_choice_is_a_mode_or_an_object() {
        let mode: ToolChoice<'_> = serde_json::from_str(r#""required""#).unwrap();
        assert_eq!(mode, ToolChoice::Mode("required".into()));
        let named: ToolChoice<'_> =
            serde_json::from_str(r#"{"type":"function","name":"f"}"#).unwrap();
        assert_eq!(named, ToolChoice::function("f".into()));
        assert_eq!(
            String::from_utf8(crate::json::to_vec(&named).unwrap()).unwrap(),
            r#"{"type":"function","name":"f"}"#
        );
    }

    #[test]
    fn output_text_parts_carry_empty_lists() {
        assert_eq!(
            String::from_utf8(crate::json::to_vec(&ContentPart::output_text("a")).unwrap())
                .unwrap(),
            r#"{"type":"output_text","text":"a","annotations":[],"logprobs":[]}"#
        );
    }
}
