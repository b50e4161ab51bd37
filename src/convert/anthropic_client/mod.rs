//! An Anthropic Messages client on an OpenAI Chat Completions upstream
//! (DESIGN.md section 4), one module per phase; [`AnthropicOnOpenAi`] is the
//! pair's contract (`convert/pair.rs`).

pub mod headers;
pub mod request;
pub mod response;
pub mod stream;
pub mod validate;

use crate::config::Config;
use crate::convert::error::{anthropic_error_body, anthropic_error_type, ClientError};
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

    fn stream_converter(context: &ResponseContext) -> SseConverter<stream::ChunksToEvents> {
        stream::StreamConverter::new(context.clone())
    }

    fn error_body(status: u16, message: &str, _code: Option<&str>) -> Vec<u8> {
        anthropic_error_body(anthropic_error_type(status), message)
    }

    fn error_stream(message: &str) -> Vec<u8> {
        stream::error_stream("api_error", message)
    }
}
