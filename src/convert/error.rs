//! Error shapes of both APIs (docs/protocols.md#reading-an-upstream-error-body): the type a status maps
//! to, the client-facing error bodies, and reading whatever an upstream sent
//! as an error body (JSON of either API, other JSON, HTML, plain text).

use crate::report::ClientErrorKind;
use crate::wire::CowStr;
use crate::{anthropic, openai};
use serde::de::IgnoredAny;
use serde_json::error::Category;
use serde_json::Value;

/// Longest message taken from an upstream's well-formed error object.
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// Longest excerpt of an upstream body that is not an error object (HTML,
/// other JSON, plain text), and of anything else upstream-made a bridge
/// message quotes.
pub const MAX_EXCERPT_BYTES: usize = 200;

/// Longest upstream error `type` or `code` passed on.
const MAX_CODE_BYTES: usize = 64;

/// An error the bridge answers itself, before anything goes upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    pub status: u16,
    pub kind: ClientErrorKind,
    pub message: String,
}

impl ClientError {
    pub fn invalid_request(message: impl Into<String>) -> Self {
        ClientError {
            status: 400,
            kind: ClientErrorKind::InvalidRequest,
            message: message.into(),
        }
    }

    pub fn malformed_json(message: impl Into<String>) -> Self {
        ClientError {
            kind: ClientErrorKind::MalformedJson,
            ..ClientError::invalid_request(message)
        }
    }

    pub fn missing_body() -> Self {
        ClientError {
            kind: ClientErrorKind::MissingBody,
            ..ClientError::invalid_request("request body is required")
        }
    }

    pub fn too_large(limit: u64) -> Self {
        ClientError {
            status: 413,
            kind: ClientErrorKind::TooLarge,
            message: format!("request body is larger than the bridge's limit of {limit} bytes"),
        }
    }
}

/// Parses a client's request body into `T`; a 400 otherwise that says
/// whether the JSON itself is malformed or its shape is wrong. Errors inside
/// an array element are reported with its index, which hides their category,
/// so only on that error path is the body checked for well-formedness again.
pub fn parse_body<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, ClientError> {
    serde_json::from_slice(body).map_err(|e| {
        let syntax = match e.classify() {
            Category::Data => serde_json::from_slice::<IgnoredAny>(body).err(),
            _ => None,
        };
        match (e.classify(), syntax) {
            (_, Some(syntax)) => {
                ClientError::malformed_json(format!("malformed JSON in request body: {syntax}"))
            }
            (Category::Data, None) => ClientError::invalid_request(format!("invalid request: {e}")),
            _ => ClientError::malformed_json(format!("malformed JSON in request body: {e}")),
        }
    })
}

/// Anthropic's error types and the HTTP status each stands for. A status
/// takes the type of its first row; a type, the status of its first row.
pub const ANTHROPIC_ERRORS: &[(u16, &str)] = &[
    (400, "invalid_request_error"),
    (401, "authentication_error"),
    (402, "billing_error"),
    (403, "permission_error"),
    (404, "not_found_error"),
    (413, "request_too_large"),
    (429, "rate_limit_error"),
    (500, "api_error"),
    (503, "overloaded_error"),
    (529, "overloaded_error"),
    (504, "timeout_error"),
];

/// OpenAI's error types and the HTTP status each stands for, then the other
/// names OpenAI-compatible servers give the same errors (as `type` or
/// `code`), which only map to a status.
pub const OPENAI_ERRORS: &[(u16, &str)] = &[
    (400, "invalid_request_error"),
    (401, "authentication_error"),
    (403, "permission_error"),
    (404, "not_found_error"),
    (429, "rate_limit_error"),
    (500, "server_error"),
    (429, "rate_limit_exceeded"),
    (429, "requests"),
    (429, "tokens"),
];

/// The type of `status` in `table`: its row, else the server or client
/// error type of its class.
fn error_type_in(table: &[(u16, &'static str)], status: u16, server: &'static str) -> &'static str {
    match table.iter().find(|(s, _)| *s == status) {
        Some((_, kind)) => kind,
        None if status >= 500 => server,
        None => "invalid_request_error",
    }
}

fn status_in(table: &[(u16, &str)], kind: &str) -> Option<u16> {
    table.iter().find(|(_, k)| *k == kind).map(|(s, _)| *s)
}

/// Anthropic's error `type` for an HTTP status.
pub fn anthropic_error_type(status: u16) -> &'static str {
    error_type_in(ANTHROPIC_ERRORS, status, "api_error")
}

/// The HTTP status an Anthropic error `type` stands for.
pub fn anthropic_error_status(kind: &str) -> Option<u16> {
    status_in(ANTHROPIC_ERRORS, kind)
}

/// OpenAI's error `type` for an HTTP status.
pub fn openai_error_type(status: u16) -> &'static str {
    error_type_in(OPENAI_ERRORS, status, "server_error")
}

/// The HTTP status an OpenAI error `type` or `code` stands for.
pub fn openai_error_status(kind: &str) -> Option<u16> {
    status_in(OPENAI_ERRORS, kind)
}

/// The status an OpenAI client gets for an upstream error status: OpenAI
/// clients know no 529, Anthropic's "overloaded", so they get 503.
pub fn openai_client_status(status: u16) -> u16 {
    match status {
        529 => 503,
        _ => status,
    }
}

/// `{"type":"error","error":{"type":T,"message":M}}`
pub fn anthropic_error_body(kind: &str, message: &str) -> Vec<u8> {
    let body = anthropic::ErrorResponse {
        kind: CowStr::borrowed("error"),
        error: anthropic::ErrorDetail {
            kind: kind.into(),
            message: message.into(),
        },
    };
    crate::json::to_vec(&body).unwrap_or_default()
}

/// `{"error":{"message":M,"type":T,"param":null,"code":C}}`
pub fn openai_error_body(kind: &str, message: &str, code: Option<&str>) -> Vec<u8> {
    let body = openai::ErrorResponse {
        error: openai::ErrorBody {
            message: message.into(),
            kind: kind.into(),
            param: None,
            code: code.map(CowStr::from),
        },
    };
    crate::json::to_vec(&body).unwrap_or_default()
}

/// What an upstream said in an error body, in whatever shape it came.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpstreamError {
    pub message: String,
    /// The upstream's own error type, when it named one.
    pub kind: Option<String>,
    /// The upstream's error code (a string or number), when present.
    pub code: Option<String>,
}

/// Reads an upstream error body: OpenAI `{"error":{...}}`, Anthropic
/// `{"type":"error","error":{...}}`, `{"error":"..."}`, `{"message":...}`,
/// `{"detail":...}`; anything else (HTML, other JSON, text) becomes a short
/// excerpt: an upstream body is not the client's to read beyond that.
pub fn read_upstream_error(status: u16, body: &[u8]) -> UpstreamError {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        if let Some(error) = upstream_error_from_json(&value) {
            return error;
        }
    }
    let head = body.get(..MAX_EXCERPT_BYTES * 4).unwrap_or(body);
    let message = match excerpt(&String::from_utf8_lossy(head), MAX_EXCERPT_BYTES) {
        text if text.is_empty() => format!("upstream returned HTTP {status} with an empty body"),
        text => text,
    };
    UpstreamError {
        message,
        ..Default::default()
    }
}

/// The error carried by a JSON value, if it looks like one.
pub fn upstream_error_from_json(value: &Value) -> Option<UpstreamError> {
    let text = |v: Option<&Value>| -> Option<String> {
        match v? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let error = value.get("error").unwrap_or(value);
    if let Value::String(message) = error {
        return Some(UpstreamError {
            message: excerpt(message, MAX_MESSAGE_BYTES),
            ..Default::default()
        });
    }
    let mut message = text(error.get("message")).or_else(|| text(value.get("detail")))?;
    // OpenRouter puts the provider's own explanation in metadata.raw.
    if let Some(raw) = text(error.get("metadata").and_then(|m| m.get("raw"))) {
        message = format!("{message}: {raw}");
    }
    let short = |v: Option<&Value>| text(v).map(|t| excerpt(&t, MAX_CODE_BYTES));
    Some(UpstreamError {
        message: excerpt(&message, MAX_MESSAGE_BYTES),
        kind: short(error.get("type")),
        code: short(error.get("code")),
    })
}

/// Upstream text made safe to quote in a message or a log line: control
/// characters and runs of whitespace become one space, and the result is
/// cut to at most `max` bytes on a character boundary (`…` marks a cut).
pub fn excerpt(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    let mut space = false;
    let mut cut = false;
    for c in text.trim().chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && space {
            continue;
        }
        space = c == ' ';
        if out.len() + c.len_utf8() > max {
            cut = true;
            break;
        }
        out.push(c);
    }
    if cut {
        let ellipsis = '…';
        while out.len() + ellipsis.len_utf8() > max {
            if out.pop().is_none() {
                break;
            }
        }
        out.push(ellipsis);
    }
    out
}

/// Cuts `text` to at most `max` bytes on a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_types_follow_the_status() {
        let cases = [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (429, "rate_limit_error"),
            (503, "overloaded_error"),
            (529, "overloaded_error"),
            (500, "api_error"),
            (502, "api_error"),
        ];
        for (status, kind) in cases {
            assert_eq!(anthropic_error_type(status), kind, "{status}");
        }
    }

    #[test]
    fn openai_types_follow_the_status() {
        let cases = [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (402, "invalid_request_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "invalid_request_error"),
            (429, "rate_limit_error"),
            (500, "server_error"),
            (503, "server_error"),
            (529, "server_error"),
        ];
        for (status, kind) in cases {
            assert_eq!(openai_error_type(status), kind, "{status}");
        }
    }

    #[test]
    fn types_map_back_to_their_status() {
        for (status, kind) in ANTHROPIC_ERRORS {
            assert_eq!(anthropic_error_type(*status), *kind, "{kind}");
            let back = anthropic_error_status(kind).unwrap();
            assert_eq!(anthropic_error_type(back), *kind, "{kind}");
        }
        assert_eq!(anthropic_error_status("overloaded_error"), Some(503));
        assert_eq!(anthropic_error_status("server_error"), None);
        assert_eq!(openai_error_status("server_error"), Some(500));
        assert_eq!(openai_error_status("rate_limit_exceeded"), Some(429));
        assert_eq!(openai_error_status("tokens"), Some(429));
        assert_eq!(openai_error_status("overloaded_error"), None);
    }

    #[test]
    fn reads_every_error_shape() {
        let openai = read_upstream_error(
            429,
            br#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
        );
        assert_eq!(openai.message, "Rate limit reached");
        assert_eq!(openai.kind.as_deref(), Some("requests"));
        assert_eq!(openai.code.as_deref(), Some("rate_limit_exceeded"));

        let azure = read_upstream_error(
            401,
            br#"{"error":{"code":"401","message":"Access denied"}}"#,
        );
        assert_eq!(
            (azure.message.as_str(), azure.code.as_deref()),
            ("Access denied", Some("401"))
        );

        let anthropic = read_upstream_error(
            404,
            br#"{"type":"error","error":{"type":"not_found_error","message":"model: x"}}"#,
        );
        assert_eq!(anthropic.kind.as_deref(), Some("not_found_error"));
        assert_eq!(anthropic.message, "model: x");

        let vllm = read_upstream_error(
            400,
            br#"{"object":"error","message":"bad","type":"BadRequestError","code":400}"#,
        );
        assert_eq!(
            (vllm.message.as_str(), vllm.code.as_deref()),
            ("bad", Some("400"))
        );

        assert_eq!(
            read_upstream_error(422, br#"{"detail":"Not allowed"}"#).message,
            "Not allowed"
        );
        assert_eq!(
            read_upstream_error(500, br#"{"error":"boom"}"#).message,
            "boom"
        );
        assert_eq!(
            read_upstream_error(502, b"<html>Bad gateway</html>\n").message,
            "<html>Bad gateway</html>"
        );
        assert_eq!(
            read_upstream_error(502, b"").message,
            "upstream returned HTTP 502 with an empty body"
        );
    }

    #[test]
    fn openrouter_raw_detail_is_kept() {
        let e = read_upstream_error(
            429,
            br#"{"error":{"code":429,"message":"Provider returned error","metadata":{"raw":"rate-limited upstream"}}}"#,
        );
        assert_eq!(e.message, "Provider returned error: rate-limited upstream");
        assert_eq!(e.code.as_deref(), Some("429"));
    }

    #[test]
    fn bodies_that_are_not_error_objects_give_a_short_sanitised_excerpt() {
        let body = "é".repeat(2000);
        let e = read_upstream_error(500, body.as_bytes());
        assert!(e.message.len() <= MAX_EXCERPT_BYTES, "{}", e.message.len());
        assert!(e.message.len() >= MAX_EXCERPT_BYTES - 4);
        assert!(e.message.ends_with('…'));
        assert!(e.message.trim_end_matches('…').chars().all(|c| c == 'é'));

        let nginx = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
        assert_eq!(
            read_upstream_error(502, nginx).message,
            "<html> <head><title>502 Bad Gateway</title></head> <body> <center><h1>502 Bad Gateway</h1></center> <hr><center>nginx</center> </body> </html>"
        );

        let secret = format!(
            r#"{{"hello":"world","x":"{}","secret":"s3cr3t"}}"#,
            "a".repeat(300)
        );
        let e = read_upstream_error(500, secret.as_bytes());
        assert!(
            e.message.starts_with(r#"{"hello":"world","x":"aaa"#),
            "{}",
            e.message
        );
        assert!(!e.message.contains("s3cr3t"), "{}", e.message);
        assert!(e.message.len() <= MAX_EXCERPT_BYTES);

        let e = read_upstream_error(500, b"line one\n\x1b[31mred\x07\tline\x00two");
        assert_eq!(e.message, "line one [31mred line two");
    }

    #[test]
    fn an_error_objects_message_is_capped_and_sanitised() {
        let long = format!(
            r#"{{"error":{{"message":"bad\nthing {}","type":"{}","code":"c\u0000d"}}}}"#,
            "x".repeat(5000),
            "t".repeat(500)
        );
        let e = read_upstream_error(400, long.as_bytes());
        assert!(e.message.starts_with("bad thing xxx"), "{}", e.message);
        assert!(e.message.len() <= MAX_MESSAGE_BYTES && e.message.ends_with('…'));
        assert!(e.kind.as_deref().is_some_and(|k| k.len() <= 64));
        assert_eq!(e.code.as_deref(), Some("c d"));
    }

    #[test]
    fn bodies_render_in_each_shape() {
        assert_eq!(
            String::from_utf8(anthropic_error_body("rate_limit_error", "slow \"down\"")).unwrap(),
            r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow \"down\""}}"#
        );
        assert_eq!(
            String::from_utf8(openai_error_body("invalid_request_error", "bad", Some("x")))
                .unwrap(),
            r#"{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":"x"}}"#
        );
    }
}
