//! The contract every protocol pair fulfils.
//!
//! A *protocol pair* is a client protocol on an upstream protocol (an
//! Anthropic Messages client on an OpenAI Chat Completions upstream, …). Each
//! pair is one module under `convert/` with a zero-sized type implementing
//! [`Pair`]; `exchange.rs` drives any pair through this trait alone, and
//! `pairs.rs` is the routing table that picks the pair for a request.
//!
//! Adding a pair:
//! 1. a module `convert/<client>_on_<upstream>/` with its request,
//!    response, stream and header conversions, and its tests;
//! 2. a zero-sized type in it implementing [`Pair`] (its `Context` carries
//!    whatever the response side needs to know about the converted request,
//!    its `Stream` is the `SseHandler` of its stream converter);
//! 3. one line in the `protocol_pairs!` list in `pairs.rs` (route name,
//!    pair type, upstream protocol), and the pair's [`Direction`] (its
//!    metric and access-log name) in `report.rs`.
//!
//! Everything is static: `exchange.rs` is generic over the pair and the
//! routing enum is matched once per host callback, so no call goes through
//! a vtable and each pair's code is monomorphised.

use crate::config::Config;
use crate::convert::error::ClientError;
use crate::convert::headers::HeaderEdit;
use crate::report::{Direction, StreamOutcome, Tokens};
use crate::sse::{SseConverter, SseHandler};
use std::fmt::Debug;

/// A converted request body and what the response side needs.
#[derive(Debug)]
pub struct ConvertedRequest<C> {
    /// The body sent upstream.
    pub body: Vec<u8>,
    /// The client asked for a stream.
    pub stream: bool,
    /// The model sent upstream (for metrics and access logs).
    pub model: String,
    pub context: C,
}

/// The operations of one protocol pair. All are pure: no host calls.
pub trait Pair {
    /// Names the pair in metrics and access logs.
    const DIRECTION: Direction;
    /// The path suffix of the client's requests this pair converts.
    const CLIENT_SUFFIX: &'static str;
    /// What the response conversion needs to know about the request.
    type Context: Debug;
    /// The stream converter's event handler.
    type Stream: SseHandler + StreamOutcome + Debug;

    /// Whether the pair converts on this configuration (a pair switched off
    /// routes its requests through untouched).
    fn enabled(_config: &Config) -> bool {
        true
    }

    /// Edits to the client's request headers (path, auth, version, …).
    fn request_edits(headers: &[(String, String)], path: &str, config: &Config) -> Vec<HeaderEdit>;

    /// Converts the whole request body; an error is the client's 4xx.
    /// `fallback_id` names the response when the upstream gives no id.
    fn convert_request(
        body: &[u8],
        config: &Config,
        fallback_id: &str,
    ) -> Result<ConvertedRequest<Self::Context>, ClientError>;

    /// A request the bridge answers itself, on this configuration: the
    /// 200 JSON body (or the client's 4xx), and nothing goes upstream.
    /// Asked before `convert_request`; `None` sends the request on.
    fn local_answer(_body: &[u8], _config: &Config) -> Option<Result<Vec<u8>, ClientError>> {
        None
    }

    /// The upstream's response headers arrived at `now_seconds`.
    fn response_started(
        _context: &mut Self::Context,
        _headers: &[(String, String)],
        _now_seconds: u64,
    ) {
    }

    /// Edits to the upstream's response headers of a converted answer, whose
    /// body will have `content_type`.
    fn response_edits(
        headers: &[(String, String)],
        content_type: &str,
        now_seconds: u64,
    ) -> Vec<HeaderEdit>;

    /// A whole 2xx response body for a non-streaming request; a body that is
    /// not a response becomes an error body (the status is already sent).
    fn convert_response(body: &[u8], context: &Self::Context) -> (Vec<u8>, Option<Tokens>);

    /// A whole 2xx response body for a streaming request (the upstream
    /// answered with JSON), written as the client's stream, and its usage;
    /// for a body that is not a response, the message of the error stream
    /// the client gets instead.
    fn response_as_stream(
        body: &[u8],
        context: &Self::Context,
    ) -> Result<(Vec<u8>, Tokens), String>;

    /// The converter for a 2xx event stream; it holds at most
    /// `max_held_bytes` of the stream at a time (the configured cap).
    fn stream_converter(
        context: &Self::Context,
        max_held_bytes: usize,
    ) -> SseConverter<Self::Stream>;

    /// The status the client sees for an upstream error status.
    fn client_status(upstream_status: u16) -> u16 {
        upstream_status
    }

    /// An error body in the client's protocol. `code` is the upstream's own
    /// error type, when it named one.
    fn error_body(status: u16, message: &str, code: Option<&str>) -> Vec<u8>;

    /// The body of an upstream's error answer: `error_body`, unless the pair
    /// adds what its context learnt from the response headers.
    fn upstream_error_body(
        _context: Option<&Self::Context>,
        status: u16,
        message: &str,
        code: Option<&str>,
    ) -> Vec<u8> {
        Self::error_body(status, message, code)
    }

    /// A client stream that holds only an error ending (an upstream error,
    /// `api_error` where the protocol types it).
    fn error_stream(message: &str) -> Vec<u8>;
}
