//! Headers for an Anthropic client on an OpenAI upstream
//! (docs/anthropic_client.md#headers).

use crate::config::Config;
use crate::convert::headers::{
    header, rate_limits_to_anthropic, remove_matching, upstream_path, HeaderEdit,
};

pub const CLIENT_SUFFIX: &str = "/v1/messages";
pub const UPSTREAM_SUFFIX: &str = "/v1/chat/completions";

/// `x-api-key` → `authorization: Bearer` (unless one is present); the body
/// declared JSON; every
/// `anthropic-*` and `x-stainless-*` header, `accept-encoding` (the bridge
/// cannot decompress) and `content-length` (the body changes) removed;
/// `:path` rewritten.
pub fn request_edits(headers: &[(String, String)], path: &str, config: &Config) -> Vec<HeaderEdit> {
    let mut edits = vec![HeaderEdit::set(
        ":path",
        upstream_path(
            path,
            CLIENT_SUFFIX,
            UPSTREAM_SUFFIX,
            config.upstream_path.as_deref(),
        ),
    )];
    edits.push(HeaderEdit::set("content-type", "application/json"));
    if let Some(key) = header(headers, "x-api-key") {
        if header(headers, "authorization").is_none() {
            edits.push(HeaderEdit::set("authorization", format!("Bearer {key}")));
        }
    }
    remove_matching(
        headers,
        &["anthropic-", "x-stainless-"],
        &["x-api-key", "accept-encoding", "content-length"],
        &mut edits,
    );
    edits
}

/// Response headers of a converted response: `content-length` removed (the
/// body changes), the content type set, the upstream request id exposed as
/// `request-id`, rate limits translated; `retry-after` is left as it is.
pub fn response_edits(
    headers: &[(String, String)],
    content_type: &str,
    now_seconds: u64,
) -> Vec<HeaderEdit> {
    let mut edits = vec![
        HeaderEdit::remove("content-length"),
        HeaderEdit::set("content-type", content_type),
    ];
    if header(headers, "request-id").is_none() {
        if let Some(id) = header(headers, "x-request-id") {
            edits.push(HeaderEdit::set("request-id", id));
        }
    }
    rate_limits_to_anthropic(headers, now_seconds, &mut edits);
    edits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn config() -> Config {
        Config::from_json(br#"{"upstream_protocol":"openai"}"#).unwrap()
    }

    #[test]
    fn api_key_becomes_bearer_and_anthropic_headers_go() {
        let h = headers(&[
            (":path", "/v1/messages?beta=true"),
            ("x-api-key", "sk-ant"),
            ("anthropic-version", "2023-06-01"),
            ("anthropic-beta", "fine-grained-tool-streaming-2025-05-14"),
            ("x-stainless-lang", "python"),
            ("accept-encoding", "gzip"),
            ("content-length", "42"),
            ("user-agent", "claude-cli/2.0"),
        ]);
        let edits = request_edits(&h, "/v1/messages?beta=true", &config());
        assert_eq!(
            edits,
            vec![
                HeaderEdit::set(":path", "/v1/chat/completions"),
                HeaderEdit::set("content-type", "application/json"),
                HeaderEdit::set("authorization", "Bearer sk-ant"),
                HeaderEdit::remove("x-api-key"),
                HeaderEdit::remove("anthropic-version"),
                HeaderEdit::remove("anthropic-beta"),
                HeaderEdit::remove("x-stainless-lang"),
                HeaderEdit::remove("accept-encoding"),
                HeaderEdit::remove("content-length"),
            ]
        );
    }

    #[test]
    fn an_existing_authorization_is_kept() {
        let h = headers(&[("authorization", "Bearer mine"), ("x-api-key", "other")]);
        let edits = request_edits(&h, "/v1/messages", &config());
        assert!(!edits
            .iter()
            .any(|e| matches!(e, HeaderEdit::Set(n, _) if n == "authorization")));
        assert!(edits.contains(&HeaderEdit::remove("x-api-key")));
    }

    #[test]
    fn rate_limits_and_request_id_are_translated() {
        let h = headers(&[
            ("x-request-id", "req_123"),
            ("x-ratelimit-limit-requests", "500"),
            ("x-ratelimit-remaining-tokens", "149984"),
            ("x-ratelimit-reset-requests", "6m0s"),
            ("x-ratelimit-reset-tokens", "bogus"),
            ("retry-after", "7"),
        ]);
        let edits = response_edits(&h, "application/json", 0);
        assert!(edits.contains(&HeaderEdit::set("request-id", "req_123")));
        assert!(edits.contains(&HeaderEdit::set(
            "anthropic-ratelimit-requests-limit",
            "500"
        )));
        assert!(edits.contains(&HeaderEdit::set(
            "anthropic-ratelimit-tokens-remaining",
            "149984"
        )));
        assert!(edits.contains(&HeaderEdit::set(
            "anthropic-ratelimit-requests-reset",
            "1970-01-01T00:06:00Z"
        )));
        assert!(!edits.iter().any(
            |e| matches!(e, HeaderEdit::Set(n, _) if n == "anthropic-ratelimit-tokens-reset")
        ));
        assert!(!edits.iter().any(
            |e| matches!(e, HeaderEdit::Remove(n) | HeaderEdit::Set(n, _) if n == "retry-after")
        ));
    }
}
