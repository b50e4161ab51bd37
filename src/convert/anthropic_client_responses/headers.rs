//! Headers for an Anthropic client on an OpenAI Responses upstream: the
//! Chat Completions pair's edits (key → bearer, Anthropic and SDK headers,
//! `accept-encoding` and `content-length` removed; rate limits and request
//! id translated back), with the request sent to `/v1/responses`.

use crate::config::Config;
use crate::convert::anthropic_client::headers as chat;
use crate::convert::headers::{upstream_path, HeaderEdit};

pub use crate::convert::anthropic_client::headers::{response_edits, CLIENT_SUFFIX};

pub const UPSTREAM_SUFFIX: &str = "/v1/responses";

/// The Chat pair's request edits, with `:path` → `…/v1/responses` (or the
/// configured `upstream_path`).
pub fn request_edits(headers: &[(String, String)], path: &str, config: &Config) -> Vec<HeaderEdit> {
    let upstream = upstream_path(
        path,
        CLIENT_SUFFIX,
        UPSTREAM_SUFFIX,
        config.upstream_path.as_deref(),
    );
    chat::request_edits(headers, path, config)
        .into_iter()
        .map(|edit| match edit {
            HeaderEdit::Set(name, _) if name == ":path" => HeaderEdit::set(":path", &*upstream),
            edit => edit,
        })
        .collect()
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

    #[test]
    fn the_path_is_the_responses_one_and_the_rest_as_the_chat_pair() {
        let config = Config::from_json(br#"{"upstream_protocol":"openai"}"#).unwrap();
        let incoming = headers(&[
            ("x-api-key", "sk-1"),
            ("anthropic-version", "2023-06-01"),
            ("accept-encoding", "gzip"),
        ]);
        let edits = request_edits(&incoming, "/proxy/v1/messages?beta=true", &config);
        assert_eq!(edits[0], HeaderEdit::set(":path", "/proxy/v1/responses"));
        let chat = chat::request_edits(&incoming, "/proxy/v1/messages?beta=true", &config);
        assert_eq!(edits[1..], chat[1..]);
        assert!(edits.contains(&HeaderEdit::set("authorization", "Bearer sk-1")));
        assert!(edits.contains(&HeaderEdit::remove("accept-encoding")));
        let configured = Config::from_json(
            br#"{"upstream_protocol":"openai","upstream_path":"/openai/v1/responses"}"#,
        )
        .unwrap();
        let edits = request_edits(&incoming, "/v1/messages", &configured);
        assert_eq!(edits[0], HeaderEdit::set(":path", "/openai/v1/responses"));
    }
}
