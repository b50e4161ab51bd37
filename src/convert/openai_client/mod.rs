//! An OpenAI Chat Completions client on an Anthropic Messages upstream
//! (docs/openai_client.md), one module per phase; [`OpenAiOnAnthropic`] is the
//! pair's contract (`convert/pair.rs`).

pub mod headers;
pub mod request;
pub mod response;
pub mod stream;
pub mod validate;

use crate::config::Config;
use crate::convert::error::{
    openai_client_status, openai_error_body, openai_error_type, ClientError,
};
use crate::convert::headers::HeaderEdit;
use crate::convert::pair::{ConvertedRequest, Pair};
use crate::report::{Direction, Tokens};
use crate::sse::SseConverter;
use response::ResponseContext;

/// An OpenAI Chat Completions client on an Anthropic Messages upstream.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenAiOnAnthropic;

impl Pair for OpenAiOnAnthropic {
    const DIRECTION: Direction = Direction::OpenAiClient;
    const CLIENT_SUFFIX: &'static str = headers::CLIENT_SUFFIX;
    type Context = ResponseContext;
    type Stream = stream::EventsToChunks;

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
                model: c.model.clone(),
                created: 0,
                fallback_id: fallback_id.to_string(),
                include_usage: c.include_usage,
            },
            model: c.model,
        })
    }

    /// `created` of every completion and chunk: when the response began.
    fn response_started(
        context: &mut ResponseContext,
        _headers: &[(String, String)],
        now_seconds: u64,
    ) {
        context.created = now_seconds;
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
        stream::message_body_as_stream(body, context)
    }

    fn stream_converter(
        context: &ResponseContext,
        max_held_bytes: usize,
    ) -> SseConverter<stream::EventsToChunks> {
        stream::StreamConverter::with_cap(context.clone(), max_held_bytes)
    }

    /// OpenAI clients know no 529 (Anthropic's "overloaded").
    fn client_status(upstream_status: u16) -> u16 {
        openai_client_status(upstream_status)
    }

    fn error_body(status: u16, message: &str, code: Option<&str>) -> Vec<u8> {
        openai_error_body(openai_error_type(status), message, code)
    }

    fn error_stream(message: &str) -> Vec<u8> {
        stream::error_stream("api_error", message)
    }
}
