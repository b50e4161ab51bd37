//! An Anthropic Messages client on an OpenAI Chat Completions upstream
//! (docs/anthropic_client.md), one module per phase; [`AnthropicOnOpenAi`] is the
//! pair's contract (`convert/pair.rs`), and [`CountTokensOnOpenAi`] that of
//! its `/v1/messages/count_tokens` endpoint, which OpenAI does not have.

pub mod count_tokens;
pub mod headers;
pub mod request;
pub mod response;
pub mod stream;
pub mod validate;

use crate::config::{Config, CountTokens};
use crate::convert::error::{anthropic_error_body, anthropic_error_type, ClientError};
use crate::convert::headers::path_only;
use crate::convert::headers::HeaderEdit;
use crate::convert::pair::{ConvertedRequest, Pair};
use crate::report::{Direction, Tokens};
use crate::sse::SseConverter;
use response::ResponseContext;

/// An Anthropic Messages client on an OpenAI Chat Completions upstream.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnthropicOnOpenAi;

impl Pair for AnthropicOnOpenAi {
    const DIRECTION: Direction = Direction::AnthropicClient;
    const CLIENT_SUFFIX: &'static str = headers::CLIENT_SUFFIX;
    type Context = ResponseContext;
    type Stream = stream::ChunksToEvents;

    fn request_edits(headers: &[(String, String)], path: &str, config: &Config) -> Vec<HeaderEdit> {
        headers::request_edits(headers, path, config)
    }

    fn convert_request(
        body: &[u8],
        config: &Config,
        fallback_id: &str,
    ) -> Result<ConvertedRequest<ResponseContext>, ClientError> {
        request::convert_request(body, config).map(|c| ConvertedRequest {
            body: c.body,
            stream: c.stream,
            context: ResponseContext {
                tool_names: c.tool_names,
                model: c.model.clone(),
                fallback_id: fallback_id.to_string(),
            },
            model: c.model,
        })
    }

    fn response_edits(
        headers: &[(String, String)],
        content_type: &str,
        now_seconds: u64,
    ) -> Vec<HeaderEdit> {
        headers::response_edits(headers, content_type, now_seconds)
    }

    fn convert_response(body: &[u8], context: &ResponseContext) -> (Vec<u8>, Option<Tokens>) {
        response::convert_response(body, context)
    }

    fn response_as_stream(
        body: &[u8],
        context: &ResponseContext,
    ) -> Result<(Vec<u8>, Tokens), String> {
        stream::completion_as_stream(body, context)
    }

    fn stream_converter(
        context: &ResponseContext,
        max_held_bytes: usize,
    ) -> SseConverter<stream::ChunksToEvents> {
        stream::StreamConverter::with_cap(context.clone(), max_held_bytes)
    }

    fn error_body(status: u16, message: &str, _code: Option<&str>) -> Vec<u8> {
        anthropic_error_body(anthropic_error_type(status), message)
    }

    fn error_stream(message: &str) -> Vec<u8> {
        stream::error_stream("api_error", message)
    }
}

/// An Anthropic client's `/v1/messages/count_tokens` on an OpenAI upstream:
/// answered by a local estimate, or (`count_tokens: "upstream"`) as a
/// one-token completion whose `prompt_tokens` is the count; switched off by
/// `count_tokens: "passthrough"`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountTokensOnOpenAi;

/// The path suffix of a count_tokens request.
pub const COUNT_TOKENS_SUFFIX: &str = "/v1/messages/count_tokens";

impl Pair for CountTokensOnOpenAi {
    const DIRECTION: Direction = Direction::AnthropicClient;
    const CLIENT_SUFFIX: &'static str = COUNT_TOKENS_SUFFIX;
    /// The answer is a count: nothing of the request is needed.
    type Context = ();
    /// Never used: the request is never streamed.
    type Stream = stream::ChunksToEvents;

    fn enabled(config: &Config) -> bool {
        config.count_tokens != CountTokens::Passthrough
    }

    /// As a messages request would go upstream; one answered by the
    /// estimate has its body answered here, and Envoy may already have sent
    /// the headers on, so they go without credentials.
    fn request_edits(headers: &[(String, String)], path: &str, config: &Config) -> Vec<HeaderEdit> {
        let messages_path = path_only(path)
            .strip_suffix("/count_tokens")
            .unwrap_or(path);
        let mut edits = headers::request_edits(headers, messages_path, config);
        if config.count_tokens == CountTokens::Estimate {
            edits.retain(|e| !matches!(e, HeaderEdit::Set(name, _) if name == "authorization"));
            edits.push(HeaderEdit::remove("authorization"));
        }
        edits
    }

    fn local_answer(body: &[u8], config: &Config) -> Option<Result<Vec<u8>, ClientError>> {
        (config.count_tokens == CountTokens::Estimate).then(|| {
            request::convert_count_tokens(body, config)
                .map(|(_, estimate)| count_tokens::input_tokens_body(estimate))
        })
    }

    fn convert_request(
        body: &[u8],
        config: &Config,
        _fallback_id: &str,
    ) -> Result<ConvertedRequest<()>, ClientError> {
        request::convert_count_tokens(body, config).map(|(c, _)| ConvertedRequest {
            body: c.body,
            stream: false,
            model: c.model,
            context: (),
        })
    }

    fn response_edits(
        headers: &[(String, String)],
        content_type: &str,
        now_seconds: u64,
    ) -> Vec<HeaderEdit> {
        headers::response_edits(headers, content_type, now_seconds)
    }

    /// The completion's `usage.prompt_tokens` as `{"input_tokens": N}`.
    fn convert_response(body: &[u8], _context: &()) -> (Vec<u8>, Option<Tokens>) {
        let answer = match count_tokens::prompt_tokens(body) {
            Some(n) => count_tokens::input_tokens_body(n),
            None => Self::error_body(502, "upstream completion has no usage.prompt_tokens", None),
        };
        (answer, None)
    }

    fn response_as_stream(_body: &[u8], _context: &()) -> Result<(Vec<u8>, Tokens), String> {
        Err("count_tokens is not streamed".to_string())
    }

    fn stream_converter(
        _context: &(),
        max_held_bytes: usize,
    ) -> SseConverter<stream::ChunksToEvents> {
        stream::StreamConverter::with_cap(ResponseContext::default(), max_held_bytes)
    }

    fn error_body(status: u16, message: &str, code: Option<&str>) -> Vec<u8> {
        AnthropicOnOpenAi::error_body(status, message, code)
    }

    fn error_stream(message: &str) -> Vec<u8> {
        AnthropicOnOpenAi::error_stream(message)
    }
}
