//! `/v1/messages/count_tokens` for an Anthropic client on an OpenAI upstream,
//! which has no such endpoint. The count is taken over the Chat Completions
//! request the bridge would send, counted the way OpenAI documents it for its
//! o200k models (the "How to count tokens with tiktoken" cookbook): 3 tokens
//! per message plus its role and content, 3 to prime the reply, tools in the
//! cookbook's function format, images by OpenAI's tile formula. Text is
//! estimated from its characters (no tokenizer tables in the module); the
//! README gives the estimate's measured error against the real tokenizer.

use crate::openai::{ChatMessage, ChatRequest, ChatTool, ContentPart, FunctionDef};
use crate::wire::TextOr;
use serde::Deserialize;
use serde_json::{Map, Value};

const PER_MESSAGE: u64 = 3;
const PER_NAME: u64 = 1;
const REPLY_PRIMING: u64 = 3;
/// Not in the cookbook: the wrapper of one assistant tool call.
const PER_TOOL_CALL: u64 = 3;
const FUNC_INIT: u64 = 7;
const PROP_INIT: u64 = 3;
const PROP_KEY: u64 = 3;
const ENUM_ITEM: u64 = 3;
const FUNC_END: u64 = 12;
/// OpenAI's image formula: 85 base tokens, 170 per 512-pixel tile.
const IMAGE_BASE: u64 = 85;
const IMAGE_TILE: u64 = 170;
/// An image whose size cannot be read (a URL) counts as 1024×1024.
const UNKNOWN_IMAGE_SIDE: u64 = 1024;
/// OpenAI sends a PDF page's text and an image of it: the text at
/// Anthropic's documented lower bound of 1,500 tokens a page, the image as a
/// letter page in high detail (768×994: 4 tiles).
const PDF_PAGE: u64 = 1500 + IMAGE_BASE + 4 * IMAGE_TILE;
/// Most of an image file read to find its size.
const IMAGE_HEADER_BYTES: usize = 256 * 1024;

/// The estimated `input_tokens` of a converted request.
pub fn estimate(chat: &ChatRequest<'_>) -> u64 {
    count_request(chat, &estimate_text)
}

/// Counts a converted request, with `text` counting the tokens of a string
/// (the estimate here; the real tokenizer in the tests).
pub fn count_request(chat: &ChatRequest<'_>, text: &dyn Fn(&str) -> u64) -> u64 {
    let messages: u64 = chat.messages.iter().map(|m| count_message(m, text)).sum();
    let tools = chat
        .tools
        .as_deref()
        .filter(|tools| !tools.is_empty())
        .map_or(0, |tools| count_tools(tools, text));
    messages + REPLY_PRIMING + tools
}

fn count_message(message: &ChatMessage<'_>, text: &dyn Fn(&str) -> u64) -> u64 {
    let mut n = PER_MESSAGE;
    n += message.role.as_deref().map_or(0, text);
    n += match &message.content {
        Some(TextOr::Text(s)) => text(s),
        Some(TextOr::Items(parts)) => parts.iter().map(|p| count_part(p, text)).sum(),
        None => 0,
    };
    if let Some(name) = &message.name {
        n += PER_NAME + text(name);
    }
    n += message.reasoning_content.as_deref().map_or(0, text);
    for call in message.tool_calls.iter().flatten() {
        let function = call.function.as_ref();
        n += PER_TOOL_CALL
            + function.and_then(|f| f.name.as_deref()).map_or(0, text)
            + function
                .and_then(|f| f.arguments.as_deref())
                .map_or(0, text);
    }
    n
}

fn count_part(part: &ContentPart<'_>, text: &dyn Fn(&str) -> u64) -> u64 {
    match part.kind.as_str() {
        "image_url" => part.image_url.as_ref().map_or(0, |image| {
            image_tokens(&image.url, image.detail.as_deref() == Some("low"))
        }),
        "file" => part
            .file
            .as_ref()
            .and_then(|f| f.file_data.as_deref())
            .map_or(0, |data| pdf_pages(data) * PDF_PAGE),
        _ => part.text.as_deref().map_or(0, text),
    }
}

/// OpenAI's formula: low detail is 85 tokens; otherwise the image is fit in
/// 2048×2048, then its shortest side scaled down to 768, and each 512-pixel
/// tile costs 170 on top of 85.
pub fn image_tokens(url: &str, low_detail: bool) -> u64 {
    if low_detail {
        return IMAGE_BASE;
    }
    let (w, h) = data_url_bytes(url, IMAGE_HEADER_BYTES)
        .and_then(|bytes| image_size(&bytes))
        .unwrap_or((UNKNOWN_IMAGE_SIDE, UNKNOWN_IMAGE_SIDE));
    let (w, h) = (w.max(1) as f64, h.max(1) as f64);
    let fit = (2048.0 / w.max(h)).min(1.0);
    let (w, h) = (w * fit, h * fit);
    let short = (768.0 / w.min(h)).min(1.0);
    let tiles = ((w * short) / 512.0).ceil() * ((h * short) / 512.0).ceil();
    IMAGE_BASE + IMAGE_TILE * tiles as u64
}

/// The first `limit` decoded bytes of a `data:…;base64,` URL.
fn data_url_bytes(url: &str, limit: usize) -> Option<Vec<u8>> {
    let (head, data) = url.strip_prefix("data:")?.split_once(',')?;
    head.ends_with(";base64")
        .then(|| base64_decode(data, limit))
}

/// Decodes standard base64 up to `limit` bytes, skipping what is not in its
/// alphabet.
fn base64_decode(text: &str, limit: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(limit.min(text.len() / 4 * 3 + 3));
    let mut acc: u32 = 0;
    let mut bits = 0;
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            if out.len() >= limit {
                break;
            }
        }
    }
    out
}

/// Width and height from a PNG, GIF or JPEG header.
fn image_size(bytes: &[u8]) -> Option<(u64, u64)> {
    let be16 = |at: usize| -> Option<u64> {
        Some(u64::from(u16::from_be_bytes([
            *bytes.get(at)?,
            *bytes.get(at + 1)?,
        ])))
    };
    let be32 = |at: usize| -> Option<u64> {
        let b = bytes.get(at..at + 4)?;
        Some(u64::from(u32::from_be_bytes([
            b.first().copied()?,
            *b.get(1)?,
            *b.get(2)?,
            *b.get(3)?,
        ])))
    };
    if bytes.starts_with(b"\x89PNG") {
        return Some((be32(16)?, be32(20)?));
    }
    if bytes.starts_with(b"GIF8") {
        let le16 = |at: usize| -> Option<u64> {
            Some(u64::from(u16::from_le_bytes([
                *bytes.get(at)?,
                *bytes.get(at + 1)?,
            ])))
        };
        return Some((le16(6)?, le16(8)?));
    }
    if !bytes.starts_with(b"\xff\xd8") {
        return None;
    }
    // JPEG: walk the segments to the first start-of-frame.
    let mut at = 2;
    while at + 9 < bytes.len() {
        if bytes.get(at) != Some(&0xff) {
            return None;
        }
        let marker = *bytes.get(at + 1)?;
        if matches!(marker, 0xc0..=0xcf) && !matches!(marker, 0xc4 | 0xc8 | 0xcc) {
            return Some((be16(at + 7)?, be16(at + 5)?));
        }
        at += 2 + usize::try_from(be16(at + 2)?).ok()?;
    }
    None
}

/// Pages of a base64 PDF (`/Type /Page` objects); at least one.
fn pdf_pages(data_url: &str) -> u64 {
    let bytes = data_url_bytes(data_url, usize::MAX).unwrap_or_default();
    let mut pages = 0;
    let mut rest = bytes.as_slice();
    while let Some(at) = find(rest, b"/Type") {
        rest = rest.get(at + 5..).unwrap_or_default();
        let value = rest
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(0);
        let value = rest.get(value..).unwrap_or_default();
        if value.starts_with(b"/Page") && !value.starts_with(b"/Pages") {
            pages += 1;
        }
    }
    pages.max(1)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn count_tools(tools: &[ChatTool<'_>], text: &dyn Fn(&str) -> u64) -> u64 {
    let functions: u64 = tools
        .iter()
        .filter_map(|tool| tool.function.as_ref())
        .map(|f| count_function(f, text))
        .sum();
    functions + FUNC_END
}

/// The cookbook's function format: `name:description`, then per property
/// `key:type:description` and its enum values. What the cookbook leaves out
/// (nested schemas: `items`, inner `properties`…) is counted too.
fn count_function(function: &FunctionDef<'_>, text: &dyn Fn(&str) -> u64) -> u64 {
    let description = function.description.as_deref().unwrap_or("");
    let mut n = FUNC_INIT
        + text(&format!(
            "{}:{}",
            function.name.as_str(),
            description.strip_suffix('.').unwrap_or(description)
        ));
    let Some(raw) = function.parameters else {
        return n;
    };
    #[derive(Deserialize)]
    struct Schema {
        #[serde(default)]
        properties: Map<String, Value>,
    }
    let properties = match serde_json::from_slice::<Schema>(raw.get().as_bytes()) {
        Ok(schema) => schema.properties,
        // Deeper than serde's recursion limit: counted as its text.
        Err(_) => return n + text(raw.get()),
    };
    if properties.is_empty() {
        return n;
    }
    n += PROP_INIT;
    for (key, property) in &properties {
        n += PROP_KEY;
        let field = |name: &str| property.get(name).and_then(Value::as_str).unwrap_or("");
        let description = field("description");
        n += text(&format!(
            "{key}:{}:{}",
            field("type"),
            description.strip_suffix('.').unwrap_or(description)
        ));
        if let Some(values) = property.get("enum").and_then(Value::as_array) {
            n = n.saturating_sub(3);
            for value in values {
                n += ENUM_ITEM + value_tokens(value, text);
            }
        }
        if let Value::Object(object) = property {
            n += object
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "type" | "description" | "enum"))
                .map(|(k, v)| 1 + text(k) + value_tokens(v, text))
                .sum::<u64>();
        }
    }
    n
}

/// A schema the cookbook leaves out, as its keys and values with a token
/// for each separator (serde bounded its depth when it was parsed).
fn value_tokens(value: &Value, text: &dyn Fn(&str) -> u64) -> u64 {
    match value {
        Value::Object(object) => object
            .iter()
            .map(|(k, v)| 1 + text(k) + value_tokens(v, text))
            .sum(),
        Value::Array(items) => items.iter().map(|v| 1 + value_tokens(v, text)).sum(),
        Value::String(s) => text(s),
        Value::Number(n) => text(&n.to_string()),
        Value::Bool(b) => text(if *b { "true" } else { "false" }),
        Value::Null => text("null"),
    }
}

/// Estimated o200k tokens of a text, from its characters: o200k's
/// pre-tokenizer splits words (with their leading space), numbers in groups
/// of up to three digits, punctuation runs and whitespace; common words are
/// one token, longer ones a token per few letters, CJK about a token per
/// character.
pub fn estimate_text(text: &str) -> u64 {
    let mut tokens = 0.0f64;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if is_letter(c) {
            let mut len = 1u32;
            let mut previous = c;
            while let Some(&next) = chars.peek() {
                if !is_letter(next) || (previous.is_ascii_lowercase() && next.is_ascii_uppercase())
                {
                    break;
                }
                len += 1;
                previous = next;
                chars.next();
            }
            tokens += word_tokens(len);
        } else if c.is_ascii_digit() {
            let mut len = 1u32;
            while chars.peek().is_some_and(char::is_ascii_digit) {
                len += 1;
                chars.next();
            }
            tokens += f64::from(len.div_ceil(3));
        } else if c == ' ' {
            // A single space joins the next word; runs of spaces are a token.
            let mut len = 1u32;
            while chars.peek() == Some(&' ') {
                len += 1;
                chars.next();
            }
            if len > 1 {
                tokens += 1.0;
            }
        } else if c == '\n' || c == '\r' || c == '\t' {
            // A line break and the next line's indentation are one token.
            while chars
                .peek()
                .is_some_and(|n| matches!(n, '\n' | '\r' | '\t' | ' '))
            {
                chars.next();
            }
            tokens += 1.0;
        } else if c.is_ascii() {
            let mut len = 1u32;
            while chars.peek().is_some_and(|n| n.is_ascii_punctuation()) {
                len += 1;
                chars.next();
            }
            tokens += PUNCTUATION_RUN + PUNCTUATION_PER_CHAR * f64::from(len);
        } else if is_cjk(c) {
            tokens += CJK_PER_CHAR;
        } else {
            // Other scripts, emoji, symbols: about a token per two UTF-8 bytes.
            tokens += c.len_utf8() as f64 / OTHER_BYTES_PER_TOKEN;
        }
    }
    tokens.ceil() as u64
}

const PUNCTUATION_RUN: f64 = 0.6;
const PUNCTUATION_PER_CHAR: f64 = 0.25;
const CJK_PER_CHAR: f64 = 0.7;
const OTHER_BYTES_PER_TOKEN: f64 = 3.0;
const WORD_LETTERS: u32 = 8;
const LETTERS_PER_EXTRA_TOKEN: f64 = 4.0;

/// Tokens of a word of `len` letters: one for a common length, then one per
/// few letters more.
fn word_tokens(len: u32) -> f64 {
    1.0 + f64::from(len.saturating_sub(WORD_LETTERS)) / LETTERS_PER_EXTRA_TOKEN
}

/// A Latin letter, accented ones included (no Unicode tables in the module).
fn is_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || (matches!(c, '\u{00C0}'..='\u{024F}') && c != '×' && c != '÷')
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30FF}' | '\u{3400}'..='\u{9FFF}' | '\u{AC00}'..='\u{D7AF}')
}

/// `{"input_tokens":N}`, count_tokens' answer.
pub fn input_tokens_body(input_tokens: u64) -> Vec<u8> {
    format!("{{\"input_tokens\":{input_tokens}}}").into_bytes()
}

/// The `usage.prompt_tokens` of an upstream completion.
pub fn prompt_tokens(body: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct Completion {
        usage: Option<crate::openai::ChatUsage>,
    }
    serde_json::from_slice::<Completion>(body)
        .ok()?
        .usage
        .map(|u| u.prompt_tokens)
}
