//! Headers for an OpenAI client on an Anthropic upstream
//! (docs/openai_client.md#headers).

use crate::config::{Config, UpstreamAuth};
use crate::convert::headers::{
    header, rate_limits_to_openai, remove_matching, upstream_path, HeaderEdit,
};

pub const CLIENT_SUFFIX: &str = "/v1/chat/completions";
pub const UPSTREAM_SUFFIX: &str = "/v1/messages";

/// `authorization: Bearer K` → `x-api-key: K` (or kept, per
/// `upstream_auth`); `anthropic-version` set unless the client sent one;
/// every `openai-*` and `x-stainless-*` header, `accept-encoding` and
/// `content-length` removed.
pub fn request_edits(headers: &[(String, String)], path: &str, config: &Config) -> Vec<HeaderEdit> {
    request_edits_from(headers, path, CLIENT_SUFFIX, config)
}

/// `request_edits` for an OpenAI client whose path ends in `client_suffix`.
pub fn request_edits_from(
    headers: &[(String, String)],
    path: &str,
    client_suffix: &str,
    config: &Config,
) -> Vec<HeaderEdit> {
    let mut edits = vec![
        HeaderEdit::set(
            ":path",
            upstream_path(
                path,
                client_suffix,
                UPSTREAM_SUFFIX,
                config.upstream_path.as_deref(),
            ),
        ),
        HeaderEdit::set("content-type", "application/json"),
    ];
    let mut names = vec!["accept-encoding", "content-length"];
    if config.upstream_auth == UpstreamAuth::XApiKey {
        let bearer = header(headers, "authorization").and_then(bearer_token);
        if let (Some(key), None) = (bearer, header(headers, "x-api-key")) {
            edits.push(HeaderEdit::set("x-api-key", key));
        }
        names.push("authorization");
    }
    if header(headers, "anthropic-version").is_none() {
        edits.push(HeaderEdit::set(
            "anthropic-version",
            config.anthropic_version.as_str(),
        ));
    }
    remove_matching(headers, &["openai-", "x-stainless-"], &names, &mut edits);
    edits
}

fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Response headers of a converted response: the upstream's `request-id`
/// exposed as `x-request-id`, rate limits translated, `retry-after` kept.
pub fn response_edits(
    headers: &[(String, String)],
    content_type: &str,
    now_seconds: u64,
) -> Vec<HeaderEdit> {
    let mut edits = vec![
        HeaderEdit::remove("content-length"),
        HeaderEdit::set("content-type", content_type),
    ];
    if let Some(id) = header(headers, "request-id") {
        edits.push(HeaderEdit::set("x-request-id", id));
    }
    rate_limits_to_openai(headers, now_seconds, &mut edits);
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

    fn config(extra: &str) -> Config {
        Config::from_json(format!(r#"{{"upstream_protocol":"anthropic"{extra}}}"#).as_bytes())
            .unwrap()
    }

    #[test]
    fn bearer_becomes_x_api_key_and_openai_headers_go() {
        let h = headers(&[
            ("authorization", "Bearer sk-ant-1"),
            ("openai-organization", "org"),
            ("openai-project", "proj"),
            ("OpenAI-Beta", "assistants=v2"),
            ("x-stainless-os", "Linux"),
            ("accept-encoding", "gzip"),
            ("content-length", "10"),
        ]);
        let edits = request_edits(&h, "/v1/chat/completions", &config(""));
        assert_eq!(
            edits,
            vec![
                HeaderEdit::set(":path", "/v1/messages"),
                HeaderEdit::set("content-type", "application/json"),
                HeaderEdit::set("x-api-key", "sk-ant-1"),
                HeaderEdit::set("anthropic-version", "2023-06-01"),
                HeaderEdit::remove("authorization"),
                HeaderEdit::remove("openai-organization"),
                HeaderEdit::remove("openai-project"),
                HeaderEdit::remove("openai-beta"),
                HeaderEdit::remove("x-stainless-os"),
                HeaderEdit::remove("accept-encoding"),
                HeaderEdit::remove("content-length"),
            ]
        );
    }

    #[test]
    fn bearer_auth_is_kept_when_configured_and_client_version_wins() {
        let h = headers(&[
            ("authorization", "Bearer entra-token"),
            ("anthropic-version", "2024-10-22"),
        ]);
        let edits = request_edits(
            &h,
            "/azure/v1/chat/completions?x=1",
            &config(r#","upstream_auth":"bearer""#),
        );
        assert_eq!(edits[0], HeaderEdit::set(":path", "/azure/v1/messages"));
        assert!(!edits.iter().any(|e| matches!(e, HeaderEdit::Remove(n) | HeaderEdit::Set(n, _) if n == "authorization" || n == "x-api-key")));
        assert!(!edits
            .iter()
            .any(|e| matches!(e, HeaderEdit::Set(n, _) if n == "anthropic-version")));
    }

    #[test]
    fn configured_path_and_version() {
        let edits = request_edits(
            &[],
            "/v1/chat/completions",
            &config(
                r#","upstream_path":"/anthropic/v1/messages","anthropic_version":"2025-01-01""#,
            ),
        );
        assert_eq!(edits[0], HeaderEdit::set(":path", "/anthropic/v1/messages"));
        assert!(edits.contains(&HeaderEdit::set("anthropic-version", "2025-01-01")));
    }

    #[test]
    fn request_id_and_rate_limits_are_translated() {
        let h = headers(&[
            ("request-id", "req_011"),
            ("anthropic-ratelimit-requests-limit", "50"),
            ("anthropic-ratelimit-tokens-remaining", "39000"),
            ("anthropic-ratelimit-tokens-reset", "1970-01-01T00:01:00Z"),
            ("retry-after", "3"),
        ]);
        let edits = response_edits(&h, "application/json", 15);
        assert!(edits.contains(&HeaderEdit::set("x-request-id", "req_011")));
        assert!(edits.contains(&HeaderEdit::set("x-ratelimit-limit-requests", "50")));
        assert!(edits.contains(&HeaderEdit::set("x-ratelimit-remaining-tokens", "39000")));
        assert!(edits.contains(&HeaderEdit::set("x-ratelimit-reset-tokens", "45s")));
        assert!(!edits.iter().any(
            |e| matches!(e, HeaderEdit::Set(n, _) | HeaderEdit::Remove(n) if n == "retry-after")
        ));
    }
}
