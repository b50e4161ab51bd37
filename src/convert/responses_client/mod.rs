//! An OpenAI Responses API client (Codex CLI, the openai SDK's
//! `client.responses`) on an Anthropic Messages upstream (issue 14), one
//! module per phase; [`ResponsesOnAnthropic`] is the pair's contract
//! (`convert/pair.rs`). `tools` is the table of the client's tools as the
//! upstream sees them (namespaces flattened, custom tools given one string
//! parameter) that every phase shares; `reasoning` the `encrypted_content`
//! the bridge makes from a thinking block.

pub mod headers;
pub mod reasoning;
pub mod request;
pub mod response;
pub mod stream;
pub mod tools;

use crate::config::Config;
use crate::convert::error::{
    openai_client_status, openai_error_body, openai_error_type, ClientError,
};
use crate::convert::headers::HeaderEdit;
use crate::convert::openai_client::response::message_from_body;
use crate::convert::pair::{ConvertedRequest, Pair};
use crate::report::{Direction, Tokens};
use crate::sse::SseConverter;
use response::ResponseContext;

/// An OpenAI Responses API client on an Anthropic Messages upstream.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResponsesOnAnthropic;

impl Pair for ResponsesOnAnthropic {
    const DIRECTION: Direction = Direction::ResponsesClient;
    const CLIENT_SUFFIX: &'static str = headers::CLIENT_SUFFIX;
    type Context = ResponseContext;
    type Stream = stream::EventsToResponses;

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
                created_at: 0,
                fallback_id: fallback_id.to_string(),
                tools: c.tools,
                tool_choice: c.tool_choice,
                parallel_tool_calls: c.parallel_tool_calls,
                retry_after: None,
            },
            model: c.model,
        })
    }

    /// `created_at` of the response: when it began; and the upstream's
    /// `retry-after`, for a rate limit's message.
    fn response_started(
        context: &mut ResponseContext,
        headers: &[(String, String)],
        now_seconds: u64,
    ) {
        context.created_at = now_seconds;
        context.retry_after = headers::retry_after_seconds(headers);
    }

    /// As for a Chat Completions client: `request-id` → `x-request-id`,
    /// rate limits translated, `retry-after` kept.
    fn response_edits(
        headers: &[(String, String)],
        content_type: &str,
        now_seconds: u64,
    ) -> Vec<HeaderEdit> {
        crate::convert::openai_client::headers::response_edits(headers, content_type, now_seconds)
    }

    fn convert_response(body: &[u8], context: &ResponseContext) -> (Vec<u8>, Option<Tokens>) {
        response::convert_response(body, context)
    }

    fn response_as_stream(
        body: &[u8],
        context: &ResponseContext,
    ) -> Result<(Vec<u8>, Tokens), String> {
        let message = message_from_body(body)?;
        let tokens = Tokens::from(&message.usage);
        Ok((stream::message_as_stream(message, context), tokens))
    }

    fn stream_converter(
        context: &ResponseContext,
        max_held_bytes: usize,
    ) -> SseConverter<stream::EventsToResponses> {
        stream::StreamConverter::with_cap(context.clone(), max_held_bytes)
    }

    /// OpenAI clients know no 529 (Anthropic's "overloaded").
    fn client_status(upstream_status: u16) -> u16 {
        openai_client_status(upstream_status)
    }

    /// `code` is the one Codex acts on (`rate_limit_exceeded`,
    /// `context_length_exceeded`, `insufficient_quota`, …) for the
    /// upstream's Anthropic error type.
    fn error_body(status: u16, message: &str, code: Option<&str>) -> Vec<u8> {
        let code = code.map(|kind| response::error_code(kind, message));
        openai_error_body(openai_error_type(status), message, code)
    }

    /// A rate limit whose message does not say when gets "Please try again
    /// in Ns." from the upstream's `retry-after`, as in a `response.failed`.
    fn upstream_error_body(
        context: Option<&ResponseContext>,
        status: u16,
        message: &str,
        code: Option<&str>,
    ) -> Vec<u8> {
        let Some(kind) = code else {
            return Self::error_body(status, message, None);
        };
        let retry_after = context.and_then(|c| c.retry_after);
        let (code, message) = response::failure(kind, message, retry_after);
        openai_error_body(openai_error_type(status), &message, Some(code))
    }

    fn error_stream(message: &str) -> Vec<u8> {
        let context = ResponseContext {
            fallback_id: "bridge_error".to_string(),
            ..ResponseContext::default()
        };
        stream::error_stream(&context, "server_error", message)
    }
}
