//! One request/response exchange through the bridge, as a pure state
//! machine: `filter.rs` hands it headers and bodies from the host and applies
//! what it returns. Everything that decides *what* happens lives here (and
//! in `convert/`), so it is tested natively; the glue only moves bytes.
//!
//! The host's rules (docs/README.md#what-the-proxy-wasm-host-allows) shape the API: header decisions are
//! made from headers alone, request bodies are converted once whole,
//! buffered responses once whole, streams chunk by chunk.

use crate::config::{Config, CountTokens, Protocol};
use crate::convert::anthropic_client::{
    count_tokens, headers as a_headers, request as a_request, response as a_response,
    stream as a_stream,
};
use crate::convert::error::{
    anthropic_error_body, anthropic_error_type, excerpt, openai_error_body, openai_error_type,
    read_upstream_error, ClientError, MAX_EXCERPT_BYTES,
};
use crate::convert::headers::{header, path_only, repeated_credential, HeaderEdit};
use crate::convert::openai_client::{
    headers as o_headers, request as o_request, response as o_response, stream as o_stream,
};
use crate::report::{safe_value, Direction, Report, StreamFailure, StreamOutcome, Tokens};
use crate::sse::{SseConverter, SseHandler};
use std::rc::Rc;

/// Which conversion, if any, an exchange gets; decided from the request line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Anything that is not a client request in the other protocol.
    Passthrough,
    /// An Anthropic Messages client on an OpenAI upstream.
    AnthropicClient,
    /// An OpenAI Chat Completions client on an Anthropic upstream.
    OpenAiClient,
    /// An Anthropic client's `/v1/messages/count_tokens` on an OpenAI
    /// upstream (which has no such endpoint).
    CountTokens,
}

const COUNT_TOKENS_SUFFIX: &str = "/count_tokens";

/// The route for a request: a POST whose path ends in the client protocol's
/// suffix, when the upstream speaks the other one.
pub fn route_for(upstream: Protocol, method: &str, path: &str) -> Route {
    let path = path_only(path);
    if !method.eq_ignore_ascii_case("POST") {
        return Route::Passthrough;
    }
    let count_tokens = path.strip_suffix(COUNT_TOKENS_SUFFIX);
    match upstream {
        Protocol::Openai if count_tokens.is_some_and(|p| p.ends_with(a_headers::CLIENT_SUFFIX)) => {
            Route::CountTokens
        }
        Protocol::Openai if path.ends_with(a_headers::CLIENT_SUFFIX) => Route::AnthropicClient,
        Protocol::Anthropic if path.ends_with(o_headers::CLIENT_SUFFIX) => Route::OpenAiClient,
        _ => Route::Passthrough,
    }
}

/// `msg_` + the request id's letters, digits, `-` and `_` (at most 64).
fn message_id_from(request_id: &str) -> Option<String> {
    let id: String = request_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect();
    (!id.is_empty()).then(|| format!("msg_{id}"))
}

/// A response the filter sends itself instead of forwarding the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalReply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// What to do after a headers callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Apply these edits and let the headers through.
    Continue(Vec<HeaderEdit>),
    /// Answer with this local reply; nothing goes upstream.
    Reply(LocalReply),
}

/// How a response body is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyMode {
    /// Forwarded untouched.
    Passthrough,
    /// Held until the end, then replaced whole.
    Buffer,
    /// Converted chunk by chunk.
    Stream,
    /// The converted stream has ended (its last event is written): what
    /// the upstream still sends is dropped unread.
    Drop,
}

#[derive(Debug)]
enum Response {
    Passthrough,
    /// A 2xx completion for a non-streaming request.
    Completion,
    /// A 2xx JSON completion for a streaming request: sent as a stream.
    CompletionAsStream,
    /// An error status (possibly one the bridge chose) and why.
    Error {
        status: u16,
        reason: Option<String>,
        /// The body cannot be read (compressed): the reason is the message.
        unreadable: bool,
    },
    AnthropicStream(Box<a_stream::StreamConverter>),
    OpenAiStream(Box<o_stream::StreamConverter>),
    /// A buffered answer grew past `max_response_bytes` after its headers
    /// went out: its bytes are dropped and the body becomes an error.
    Oversized {
        status: u16,
        stream: bool,
    },
}

/// What the response conversion needs to know about the converted request.
#[derive(Debug)]
enum Context {
    Anthropic(a_response::ResponseContext),
    OpenAi(o_response::ResponseContext),
}

#[derive(Debug)]
pub struct Exchange {
    config: Rc<Config>,
    route: Route,
    fallback_id: String,
    stream_requested: bool,
    ctx: Option<Context>,
    replied_locally: bool,
    response: Response,
    report: Report,
}

/// What both real APIs send with JSON bodies (answers and errors alike).
pub const JSON: &str = "application/json";
/// What both real APIs send with streams: without the charset, clients that
/// honour HTTP charsets decode the UTF-8 events as ISO-8859-1.
pub const EVENT_STREAM: &str = "text/event-stream; charset=utf-8";
/// The media type an upstream stream is recognised by.
const EVENT_STREAM_TYPE: &str = "text/event-stream";

impl Exchange {
    /// `fallback_id` names the message when the upstream gives no id and the
    /// request has no `x-request-id` (Envoy adds one to every request).
    pub fn new(config: Rc<Config>, fallback_id: String) -> Exchange {
        Exchange {
            config,
            route: Route::Passthrough,
            fallback_id,
            stream_requested: false,
            ctx: None,
            replied_locally: false,
            response: Response::Passthrough,
            report: Report::default(),
        }
    }

    pub fn route(&self) -> Route {
        self.route
    }

    /// What this exchange did so far, for metrics and access logs.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Request headers: choose the route, reject what cannot be converted,
    /// and edit the headers of what can.
    pub fn on_request_headers(
        &mut self,
        headers: &[(String, String)],
        end_of_stream: bool,
    ) -> Verdict {
        let method = header(headers, ":method").unwrap_or("");
        let path = header(headers, ":path").unwrap_or("");
        self.route = match route_for(self.config.upstream_protocol, method, path) {
            Route::CountTokens if self.config.count_tokens == CountTokens::Passthrough => {
                Route::Passthrough
            }
            route => route,
        };
        self.report.direction = match self.route {
            Route::Passthrough => return Verdict::Continue(Vec::new()),
            Route::AnthropicClient | Route::CountTokens => Some(Direction::AnthropicClient),
            Route::OpenAiClient => Some(Direction::OpenAiClient),
        };
        if let Some(id) = header(headers, "x-request-id").and_then(message_id_from) {
            self.fallback_id = id;
        }
        let length = header(headers, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
        if length.is_some_and(|n| n > self.config.max_request_bytes) {
            return Verdict::Reply(
                self.reply(ClientError::too_large(self.config.max_request_bytes)),
            );
        }
        if let Some(name) = repeated_credential(headers) {
            return Verdict::Reply(self.reply(ClientError::invalid_request(format!(
                "{name}: sent more than once; send exactly one credential"
            ))));
        }
        if end_of_stream || length == Some(0) {
            return Verdict::Reply(self.reply(ClientError::missing_body()));
        }
        Verdict::Continue(match self.route {
            Route::OpenAiClient => o_headers::request_edits(headers, path, &self.config),
            Route::CountTokens => self.count_tokens_edits(headers, path),
            _ => a_headers::request_edits(headers, path, &self.config),
        })
    }

    /// A count_tokens request goes upstream as a messages request would; one
    /// answered by the estimate has its body answered here, and Envoy may
    /// already have sent the headers on, so they go without credentials.
    fn count_tokens_edits(&self, headers: &[(String, String)], path: &str) -> Vec<HeaderEdit> {
        let messages_path = path_only(path)
            .strip_suffix(COUNT_TOKENS_SUFFIX)
            .unwrap_or(path);
        let mut edits = a_headers::request_edits(headers, messages_path, &self.config);
        if self.config.count_tokens == CountTokens::Estimate {
            edits.retain(|e| !matches!(e, HeaderEdit::Set(name, _) if name == "authorization"));
            edits.push(HeaderEdit::remove("authorization"));
        }
        edits
    }

    /// True when the request body must be buffered and converted.
    /// True while the request body must still be buffered and converted.
    pub fn converts_request(&self) -> bool {
        self.route != Route::Passthrough && !self.replied_locally && self.ctx.is_none()
    }

    /// A 413 once more than `max_request_bytes` have been buffered.
    pub fn check_request_size(&mut self, buffered: usize) -> Option<LocalReply> {
        let too_large = u64::try_from(buffered).map_or(true, |n| n > self.config.max_request_bytes);
        too_large.then(|| self.reply(ClientError::too_large(self.config.max_request_bytes)))
    }

    /// The whole request body: its converted form, or a local reply.
    pub fn on_request_body(&mut self, body: &[u8]) -> Result<Vec<u8>, LocalReply> {
        if let Some(reply) = self.check_request_size(body.len()) {
            return Err(reply);
        }
        if body.is_empty() {
            return Err(self.reply(ClientError::missing_body()));
        }
        let converted = match self.route {
            Route::CountTokens => match a_request::convert_count_tokens(body, &self.config) {
                Ok((_, estimate)) if self.config.count_tokens == CountTokens::Estimate => {
                    self.replied_locally = true;
                    return Err(LocalReply {
                        status: 200,
                        content_type: JSON,
                        body: count_tokens::input_tokens_body(estimate),
                    });
                }
                other => other.map(|(c, _)| {
                    let ctx = a_response::ResponseContext {
                        tool_names: c.tool_names,
                        model: c.model,
                        fallback_id: self.fallback_id.clone(),
                    };
                    (c.body, false, Context::Anthropic(ctx))
                }),
            },
            Route::OpenAiClient => o_request::convert_request(body, &self.config).map(|c| {
                let ctx = o_response::ResponseContext {
                    model: c.model,
                    created: 0,
                    fallback_id: self.fallback_id.clone(),
                    include_usage: c.include_usage,
                };
                (c.body, c.stream, Context::OpenAi(ctx))
            }),
            _ => a_request::convert_request(body, &self.config).map(|c| {
                let ctx = a_response::ResponseContext {
                    tool_names: c.tool_names,
                    model: c.model,
                    fallback_id: self.fallback_id.clone(),
                };
                (c.body, c.stream, Context::Anthropic(ctx))
            }),
        };
        match converted {
            Ok((body, stream, ctx)) => {
                self.stream_requested = stream;
                self.report.model = Some(safe_value(match &ctx {
                    Context::Anthropic(ctx) => &ctx.model,
                    Context::OpenAi(ctx) => &ctx.model,
                }));
                self.ctx = Some(ctx);
                Ok(body)
            }
            Err(error) => Err(self.reply(error)),
        }
    }

    /// Renders a client error in the client's protocol; the exchange then
    /// lets its own reply pass through the response callbacks untouched.
    fn reply(&mut self, error: ClientError) -> LocalReply {
        self.report.client_error = Some(error.kind);
        self.local_reply(error.status, &error.message)
    }

    fn local_reply(&mut self, status: u16, message: &str) -> LocalReply {
        self.replied_locally = true;
        LocalReply {
            status,
            content_type: JSON,
            body: self.error_body(status, message, None),
        }
    }

    /// An error body in the client's protocol.
    fn error_body(&self, status: u16, message: &str, code: Option<&str>) -> Vec<u8> {
        match self.route {
            Route::OpenAiClient => openai_error_body(openai_error_type(status), message, code),
            _ => anthropic_error_body(anthropic_error_type(status), message),
        }
    }

    /// Response headers: choose how the body is converted and edit headers.
    pub fn on_response_headers(
        &mut self,
        headers: &[(String, String)],
        end_of_stream: bool,
        now_seconds: u64,
    ) -> Verdict {
        if self.replied_locally || self.route == Route::Passthrough {
            return Verdict::Continue(Vec::new());
        }
        if let Some(Context::OpenAi(ctx)) = self.ctx.as_mut() {
            ctx.created = now_seconds;
        }
        let status = header(headers, ":status")
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(502);
        let content_type = header(headers, "content-type")
            .unwrap_or("")
            .to_ascii_lowercase();
        let is_sse = content_type.starts_with(EVENT_STREAM_TYPE);
        let is_json = content_type.is_empty() || content_type.contains("json");
        let success = (200..300).contains(&status);
        self.report.upstream_accepted = success;
        if end_of_stream {
            // No body callback will come: answer with the error now.
            let (status, message) = match success {
                true => (502, "upstream returned an empty response".to_string()),
                false => (
                    self.client_status(status),
                    format!("upstream returned HTTP {status} with an empty body"),
                ),
            };
            self.report.upstream_error_status = Some(status);
            return Verdict::Reply(self.local_reply(status, &message));
        }
        // The bridge removes accept-encoding and has no decompressor; an
        // upstream that compresses anyway cannot be converted.
        let encoding = header(headers, "content-encoding")
            .map(str::trim)
            .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("identity"));
        self.response = match (success, self.stream_requested, is_sse, is_json) {
            _ if encoding.is_some() => Response::Error {
                status: if success { 502 } else { self.client_status(status) },
                reason: Some(format!(
                    "upstream returned HTTP {status} with a `{}`-encoded body, which the bridge cannot decode",
                    excerpt(encoding.unwrap_or_default(), MAX_EXCERPT_BYTES / 2)
                )),
                unreadable: true,
            },
            (false, ..) => Response::Error {
                status: self.client_status(status),
                reason: None,
                unreadable: false,
            },
            // An answer before the request body was converted (an upstream
            // that rejects early) can only be an error; a success cannot be
            // converted without knowing the request.
            _ if self.ctx.is_none() => Response::Error {
                status: 502,
                reason: Some("upstream answered before the request was sent".to_string()),
                unreadable: false,
            },
            (true, true, true, _) => match &self.ctx {
                Some(Context::Anthropic(ctx)) => Response::AnthropicStream(Box::new(
                    a_stream::StreamConverter::with_cap(ctx.clone(), self.config.max_held_bytes),
                )),
                Some(Context::OpenAi(ctx)) => Response::OpenAiStream(Box::new(
                    o_stream::StreamConverter::with_cap(ctx.clone(), self.config.max_held_bytes),
                )),
                None => Response::Passthrough,
            },
            (true, true, false, true) => Response::CompletionAsStream,
            (true, false, false, true) => Response::Completion,
            (true, ..) => Response::Error {
                status: 502,
                reason: Some(format!(
                    "upstream answered with unexpected content-type `{}`",
                    excerpt(&content_type, MAX_EXCERPT_BYTES / 2)
                )),
                unreadable: false,
            },
        };
        let (content_type, new_status) = match &self.response {
            Response::AnthropicStream(_)
            | Response::OpenAiStream(_)
            | Response::CompletionAsStream => (EVENT_STREAM, None),
            Response::Error {
                status: bridge_status,
                ..
            } => (JSON, (*bridge_status != status).then_some(*bridge_status)),
            Response::Completion | Response::Passthrough | Response::Oversized { .. } => {
                (JSON, None)
            }
        };
        let length = header(headers, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(length) = length.filter(|n| *n > self.config.max_response_bytes) {
            if let Some(status) = self.buffered_error_status() {
                let message = self.oversized_message(Some(length));
                self.report.upstream_error_status = Some(status);
                return Verdict::Reply(self.local_reply(status, &message));
            }
        }
        if let Response::Error { status, .. } = &self.response {
            self.report.upstream_error_status = Some(*status);
        }
        let mut edits = match self.route {
            Route::OpenAiClient => o_headers::response_edits(headers, content_type, now_seconds),
            _ => a_headers::response_edits(headers, content_type, now_seconds),
        };
        if encoding.is_some() {
            edits.push(HeaderEdit::remove("content-encoding"));
        }
        if let Some(new_status) = new_status {
            edits.push(HeaderEdit::set(":status", new_status.to_string()));
        }
        Verdict::Continue(edits)
    }

    /// The status the client sees for an upstream error status: OpenAI
    /// clients know no 529, Anthropic's "overloaded", so they get 503.
    fn client_status(&self, status: u16) -> u16 {
        match (self.route, status) {
            (Route::OpenAiClient, 529) => 503,
            _ => status,
        }
    }

    /// The status a buffered answer over `max_response_bytes` gets: an
    /// error keeps its own, a success becomes 502. `None` when the body is
    /// not buffered.
    fn buffered_error_status(&self) -> Option<u16> {
        match &self.response {
            Response::Error { status, .. } | Response::Oversized { status, .. } => Some(*status),
            Response::Completion | Response::CompletionAsStream => Some(502),
            _ => None,
        }
    }

    fn oversized_message(&self, length: Option<u64>) -> String {
        let limit = self.config.max_response_bytes;
        match length {
            Some(n) => format!(
                "upstream answer of {n} bytes is larger than the bridge converts (max_response_bytes: {limit})"
            ),
            None => format!(
                "upstream answer is larger than the bridge converts (max_response_bytes: {limit})"
            ),
        }
    }

    /// True once a buffered answer passed `max_response_bytes` (`buffered`
    /// bytes held by the host so far): the host should drop them; the end
    /// of the body becomes the error.
    pub fn response_over_limit(&mut self, buffered: usize) -> bool {
        if matches!(self.response, Response::Oversized { .. }) {
            return true;
        }
        let over = u64::try_from(buffered).map_or(true, |n| n > self.config.max_response_bytes);
        let Some(status) = self.buffered_error_status().filter(|_| over) else {
            return false;
        };
        let stream = matches!(self.response, Response::CompletionAsStream);
        self.response = Response::Oversized { status, stream };
        self.report.upstream_error_status = Some(status);
        true
    }

    pub fn response_body_mode(&self) -> BodyMode {
        match self.response {
            Response::Passthrough => BodyMode::Passthrough,
            Response::AnthropicStream(ref c) if c.is_done() => BodyMode::Drop,
            Response::OpenAiStream(ref c) if c.is_done() => BodyMode::Drop,
            Response::AnthropicStream(_) | Response::OpenAiStream(_) => BodyMode::Stream,
            _ => BodyMode::Buffer,
        }
    }

    /// A buffered response, whole: its converted body.
    pub fn on_buffered_response(&mut self, body: &[u8]) -> Vec<u8> {
        let (converted, tokens) = match (&self.response, self.ctx.as_ref()) {
            (Response::Completion, _) if self.route == Route::CountTokens => {
                match count_tokens::prompt_tokens(body) {
                    Some(n) => (count_tokens::input_tokens_body(n), None),
                    None => (
                        self.error_body(
                            502,
                            "upstream completion has no usage.prompt_tokens",
                            None,
                        ),
                        None,
                    ),
                }
            }
            (Response::Completion, Some(Context::Anthropic(ctx))) => {
                a_response::convert_response(body, ctx)
            }
            (Response::Completion, Some(Context::OpenAi(ctx))) => {
                o_response::convert_response(body, ctx)
            }
            (Response::CompletionAsStream, Some(Context::Anthropic(ctx))) => {
                match a_response::message_from_body(body, ctx) {
                    Ok(message) => (
                        a_stream::message_as_stream(&message),
                        Some(Tokens::from(&message.usage)),
                    ),
                    Err(message) => (a_stream::error_stream("api_error", &message), None),
                }
            }
            (Response::CompletionAsStream, Some(Context::OpenAi(ctx))) => {
                match o_response::message_from_body(body) {
                    Ok(message) => {
                        let tokens = Tokens::from(&message.usage);
                        (o_stream::message_as_stream(message, ctx), Some(tokens))
                    }
                    Err(message) => (o_stream::error_stream("api_error", &message), None),
                }
            }
            (
                Response::Error {
                    reason: Some(reason),
                    unreadable: true,
                    status,
                },
                _,
            ) => (self.error_body(*status, reason, None), None),
            (Response::Oversized { status, stream }, _) => {
                let message = self.oversized_message(None);
                let body = match (stream, self.route) {
                    (true, Route::OpenAiClient) => o_stream::error_stream("api_error", &message),
                    (true, _) => a_stream::error_stream("api_error", &message),
                    (false, _) => self.error_body(*status, &message, None),
                };
                (body, None)
            }
            (Response::Error { status, reason, .. }, _) => {
                let upstream = read_upstream_error(*status, body);
                let message = match reason {
                    Some(reason) => format!("{reason}: {}", upstream.message),
                    None => upstream.message,
                };
                (
                    self.error_body(*status, &message, upstream.kind.as_deref()),
                    None,
                )
            }
            _ => (body.to_vec(), None),
        };
        self.report.tokens = tokens;
        converted
    }

    /// The next piece of a streamed response: its converted bytes.
    pub fn on_stream_chunk(&mut self, chunk: &[u8], end_of_stream: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(chunk.len() * 2 + 64);
        let (tokens, failure) = match &mut self.response {
            Response::AnthropicStream(converter) => {
                convert_chunk(converter, chunk, end_of_stream, &mut out)
            }
            Response::OpenAiStream(converter) => {
                convert_chunk(converter, chunk, end_of_stream, &mut out)
            }
            _ => {
                out.extend_from_slice(chunk);
                (None, None)
            }
        };
        self.report.tokens = tokens;
        self.report.stream_failure = failure;
        out
    }
}

/// Feeds a stream converter the next chunk (and the end, if it came) and
/// returns what it has to report so far.
fn convert_chunk<H: SseHandler + StreamOutcome>(
    converter: &mut SseConverter<H>,
    chunk: &[u8],
    end_of_stream: bool,
    out: &mut Vec<u8>,
) -> (Option<Tokens>, Option<StreamFailure>) {
    converter.push(chunk, out);
    if end_of_stream {
        converter.finish(out);
    }
    (converter.handler().tokens(), converter.handler().failure())
}
