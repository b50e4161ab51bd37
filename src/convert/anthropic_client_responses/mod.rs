//! An Anthropic Messages client on an OpenAI Responses API upstream
//! (docs/anthropic_client_responses.md), one module per phase;
//! [`AnthropicOnResponses`] is the pair's contract (`convert/pair.rs`). The
//! response side takes the Chat pair's `ResponseContext`, and a JSON answer
//! to a streaming request and the error body and stream are that pair's: the
//! Anthropic side is the same. Unlike the Chat pair, the context's `model` is
//! the one the client asked for and the answer always names it (see
//! `request::convert_request_naming_client_model`).

pub mod headers;
pub mod request;
pub mod response;
pub mod stream;

use crate::config::Config;
use crate::convert::anthropic_client::response::ResponseContext;
use crate::convert::anthropic_client::AnthropicOnOpenAi;
use crate::convert::error::ClientError;
use crate::convert::headers::HeaderEdit;
use crate::convert::pair::{ConvertedRequest, Pair};
use crate::report::{Direction, Tokens};
use crate::sse::SseConverter;

/// An Anthropic Messages client on an OpenAI Responses API upstream.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnthropicOnResponses;

impl Pair for AnthropicOnResponses {
    const DIRECTION: Direction = Direction::AnthropicClientResponses;
    const CLIENT_SUFFIX: &'static str = headers::CLIENT_SUFFIX;
    type Context = ResponseContext;
    type Stream = stream::ResponsesToEvents;

    fn request_edits(headers: &[(String, String)], path: &str, config: &Config) -> Vec<HeaderEdit> {
        headers::request_edits(headers, path, config)
    }

    fn convert_request(
        body: &[u8],
        config: &Config,
        fallback_id: &str,
    ) -> Result<ConvertedRequest<ResponseContext>, ClientError> {
        request::convert_request_naming_client_model(body, config).map(|(c, client_model)| {
            ConvertedRequest {
                body: c.body,
                stream: c.stream,
                context: ResponseContext {
                    tool_names: c.tool_names,
                    model: client_model,
                    fallback_id: fallback_id.to_string(),
                },
                model: c.model,
            }
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
        stream::response_as_stream(body, context)
    }

    fn stream_converter(
        context: &ResponseContext,
        max_held_bytes: usize,
    ) -> SseConverter<stream::ResponsesToEvents> {
        stream::StreamConverter::with_cap(context.clone(), max_held_bytes)
    }

    fn error_body(status: u16, message: &str, code: Option<&str>) -> Vec<u8> {
        AnthropicOnOpenAi::error_body(status, message, code)
    }

    fn error_stream(message: &str) -> Vec<u8> {
        AnthropicOnOpenAi::error_stream(message)
    }
}
