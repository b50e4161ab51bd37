//! One request/response exchange through the bridge, as a pure state
//! machine: `filter.rs` hands it headers and bodies from the host and applies
//! what it returns. Everything that decides *what* happens lives here (and
//! in `convert/`), so it is tested natively; the glue only moves bytes.
//!
//! The host's rules (docs/README.md#what-the-proxy-wasm-host-allows) shape the API: header decisions are
//! made from headers alone, request bodies are converted once whole,
//! buffered responses once whole, streams chunk by chunk.
//!
//! Nothing here knows a protocol: `pairs.rs` picks the pair for a request
//! (or none: passthrough), and [`Converting<P>`] drives that pair through
//! its contract (`convert/pair.rs`). What to do with the upstream's answer
//! is decided by [`classify`], a pure function of its headers.

use crate::config::Config;
use crate::convert::error::{excerpt, read_upstream_error, ClientError, MAX_EXCERPT_BYTES};
use crate::convert::headers::{header, repeated_credential, HeaderEdit};
use crate::convert::pair::Pair;
use crate::pairs::{each_pair, Conversion};
use crate::report::{safe_value, Direction, Report, StreamFailure, StreamOutcome, Tokens};
use crate::sse::SseConverter;
use std::rc::Rc;

pub use crate::pairs::{route_for, Route};

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

/// What the response headers of a converted request say about its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer<'a> {
    pub status: u16,
    /// The status a client of this pair gets for `status` as an error.
    pub client_status: u16,
    /// `content-type`, lower-case (empty when absent).
    pub content_type: &'a str,
    /// A `content-encoding` other than `identity`.
    pub encoding: Option<&'a str>,
    /// The headers ended the response: no body follows.
    pub empty: bool,
    pub stream_requested: bool,
    /// The request body was converted (false when the upstream answered early).
    pub request_converted: bool,
}

/// What to do with an upstream's answer, decided from its headers alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// No body will come: reply now with an error of this status.
    Reply { status: u16, message: String },
    /// A 2xx completion for a non-streaming request: buffered, converted whole.
    Completion,
    /// A 2xx JSON completion for a streaming request: sent as a stream.
    CompletionAsStream,
    /// A 2xx event stream for a streaming request: converted chunk by chunk.
    Stream,
    /// An error in the client's shape with this status, the upstream's
    /// message prefixed by `reason` when there is one.
    Error {
        status: u16,
        reason: Option<String>,
        /// The body cannot be read (compressed): the reason is the message.
        unreadable: bool,
    },
}

/// What both real APIs send with JSON bodies (answers and errors alike).
pub const JSON: &str = "application/json";
/// What both real APIs send with streams: without the charset, clients that
/// honour HTTP charsets decode the UTF-8 events as ISO-8859-1.
pub const EVENT_STREAM: &str = "text/event-stream; charset=utf-8";
/// The media type an upstream stream is recognised by.
const EVENT_STREAM_TYPE: &str = "text/event-stream";

/// Classifies an upstream's answer. The rows, in order: no body; a body
/// the bridge cannot decode (it removes `accept-encoding` and has no
/// decompressor); an error status; a success before the request was
/// converted (it cannot be converted without knowing the request); then
/// by what was requested and what came: a stream, JSON, or anything else.
pub fn classify(answer: &Answer<'_>) -> Plan {
    let status = answer.status;
    let success = (200..300).contains(&status);
    if answer.empty {
        return match success {
            true => Plan::Reply {
                status: 502,
                message: "upstream returned an empty response".to_string(),
            },
            false => Plan::Reply {
                status: answer.client_status,
                message: format!("upstream returned HTTP {status} with an empty body"),
            },
        };
    }
    if let Some(encoding) = answer.encoding {
        return Plan::Error {
            status: if success { 502 } else { answer.client_status },
            reason: Some(format!(
                "upstream returned HTTP {status} with a `{}`-encoded body, which the bridge cannot decode",
                excerpt(encoding, MAX_EXCERPT_BYTES / 2)
            )),
            unreadable: true,
        };
    }
    if !success {
        return Plan::Error {
            status: answer.client_status,
            reason: None,
            unreadable: false,
        };
    }
    if !answer.request_converted {
        return Plan::Error {
            status: 502,
            reason: Some("upstream answered before the request was sent".to_string()),
            unreadable: false,
        };
    }
    let is_sse = answer.content_type.starts_with(EVENT_STREAM_TYPE);
    let is_json = answer.content_type.is_empty() || answer.content_type.contains("json");
    match (answer.stream_requested, is_sse, is_json) {
        (true, true, _) => Plan::Stream,
        (true, false, true) => Plan::CompletionAsStream,
        (false, false, true) => Plan::Completion,
        _ => Plan::Error {
            status: 502,
            reason: Some(format!(
                "upstream answered with unexpected content-type `{}`",
                excerpt(answer.content_type, MAX_EXCERPT_BYTES / 2)
            )),
            unreadable: false,
        },
    }
}

/// How the response body of a converted request is handled.
#[derive(Debug)]
enum Response<H> {
    /// Not decided yet, or the bridge replied itself.
    Passthrough,
    Completion,
    CompletionAsStream,
    Error {
        status: u16,
        reason: Option<String>,
        unreadable: bool,
    },
    Stream(Box<SseConverter<H>>),
    /// A buffered answer grew past `max_response_bytes` after its headers
    /// went out: its bytes are dropped and the body becomes an error.
    Oversized {
        status: u16,
        stream: bool,
    },
}

/// The error message for an answer over `max_response_bytes`.
fn oversized_message(limit: u64, length: Option<u64>) -> String {
    match length {
        Some(n) => format!(
            "upstream answer of {n} bytes is larger than the bridge converts (max_response_bytes: {limit})"
        ),
        None => format!(
            "upstream answer is larger than the bridge converts (max_response_bytes: {limit})"
        ),
    }
}

/// What becomes of a request body.
enum RequestBody {
    /// The converted body goes upstream; it asks for this model.
    Upstream { body: Vec<u8>, model: String },
    /// The pair answers the client with this 200 JSON body itself.
    Answer(Vec<u8>),
}

/// One exchange converted by the pair `P`: everything that depends on the
/// pair, driven through its contract only.
#[derive(Debug)]
pub struct Converting<P: Pair> {
    /// Set once the request body is converted.
    context: Option<P::Context>,
    stream_requested: bool,
    response: Response<P::Stream>,
}

impl<P: Pair> Default for Converting<P> {
    fn default() -> Self {
        Converting {
            context: None,
            stream_requested: false,
            response: Response::Passthrough,
        }
    }
}

impl<P: Pair> Converting<P> {
    fn direction(&self) -> Direction {
        P::DIRECTION
    }

    fn converted(&self) -> bool {
        self.context.is_some()
    }

    fn request_edits(
        &self,
        headers: &[(String, String)],
        path: &str,
        config: &Config,
    ) -> Vec<HeaderEdit> {
        P::request_edits(headers, path, config)
    }

    fn error_body(&self, status: u16, message: &str) -> Vec<u8> {
        P::error_body(status, message, None)
    }

    /// The converted body and the model sent upstream, or the pair's own
    /// answer.
    fn on_request_body(
        &mut self,
        body: &[u8],
        config: &Config,
        fallback_id: &str,
    ) -> Result<RequestBody, ClientError> {
        if let Some(answer) = P::local_answer(body, config) {
            return answer.map(RequestBody::Answer);
        }
        let converted = P::convert_request(body, config, fallback_id)?;
        self.stream_requested = converted.stream;
        self.context = Some(converted.context);
        Ok(RequestBody::Upstream {
            body: converted.body,
            model: converted.model,
        })
    }

    /// Classifies the answer, remembers how its body is handled, and
    /// returns the plan with the header edits.
    fn on_response_headers(
        &mut self,
        headers: &[(String, String)],
        status: u16,
        end_of_stream: bool,
        now_seconds: u64,
        config: &Config,
    ) -> (Plan, Vec<HeaderEdit>) {
        if let Some(context) = self.context.as_mut() {
            P::response_started(context, headers, now_seconds);
        }
        let content_type = header(headers, "content-type")
            .unwrap_or("")
            .to_ascii_lowercase();
        let encoding = header(headers, "content-encoding")
            .map(str::trim)
            .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("identity"));
        let plan = classify(&Answer {
            status,
            client_status: P::client_status(status),
            content_type: &content_type,
            encoding,
            empty: end_of_stream,
            stream_requested: self.stream_requested,
            request_converted: self.context.is_some(),
        });
        self.response = match (&plan, self.context.as_ref()) {
            (Plan::Reply { .. }, _) => return (plan, Vec::new()),
            (Plan::Stream, Some(context)) => Response::Stream(Box::new(P::stream_converter(
                context,
                config.max_held_bytes,
            ))),
            (Plan::Stream, None) => Response::Passthrough,
            (Plan::CompletionAsStream, _) => Response::CompletionAsStream,
            (Plan::Completion, _) => Response::Completion,
            (
                Plan::Error {
                    status,
                    reason,
                    unreadable,
                },
                _,
            ) => Response::Error {
                status: *status,
                reason: reason.clone(),
                unreadable: *unreadable,
            },
        };
        let (content_type, new_status) = match &plan {
            Plan::Stream | Plan::CompletionAsStream => (EVENT_STREAM, None),
            Plan::Error { status: ours, .. } => (JSON, (*ours != status).then_some(*ours)),
            Plan::Completion | Plan::Reply { .. } => (JSON, None),
        };
        let mut edits = P::response_edits(headers, content_type, now_seconds);
        if encoding.is_some() {
            edits.push(HeaderEdit::remove("content-encoding"));
        }
        if let Some(new_status) = new_status {
            edits.push(HeaderEdit::set(":status", new_status.to_string()));
        }
        (plan, edits)
    }

    fn body_mode(&self) -> BodyMode {
        match &self.response {
            Response::Passthrough => BodyMode::Passthrough,
            Response::Stream(converter) if converter.is_done() => BodyMode::Drop,
            Response::Stream(_) => BodyMode::Stream,
            _ => BodyMode::Buffer,
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

    fn is_oversized(&self) -> bool {
        matches!(self.response, Response::Oversized { .. })
    }

    /// Marks a buffered answer as over the limit; its error status, or
    /// `None` when the body is not buffered.
    fn make_oversized(&mut self) -> Option<u16> {
        let status = self.buffered_error_status()?;
        let stream = matches!(self.response, Response::CompletionAsStream);
        self.response = Response::Oversized { status, stream };
        Some(status)
    }

    /// A buffered response, whole: its converted body and usage.
    fn on_buffered_response(&self, body: &[u8], config: &Config) -> (Vec<u8>, Option<Tokens>) {
        match (&self.response, self.context.as_ref()) {
            (Response::Completion, Some(context)) => P::convert_response(body, context),
            (Response::CompletionAsStream, Some(context)) => {
                match P::response_as_stream(body, context) {
                    Ok((stream, tokens)) => (stream, Some(tokens)),
                    Err(message) => (P::error_stream(&message), None),
                }
            }
            (
                Response::Error {
                    reason: Some(reason),
                    unreadable: true,
                    status,
                },
                _,
            ) => (P::error_body(*status, reason, None), None),
            (Response::Oversized { status, stream }, _) => {
                let message = oversized_message(config.max_response_bytes, None);
                let body = match stream {
                    true => P::error_stream(&message),
                    false => P::error_body(*status, &message, None),
                };
                (body, None)
            }
            (Response::Error { status, reason, .. }, context) => {
                let upstream = read_upstream_error(*status, body);
                let message = match reason {
                    Some(reason) => format!("{reason}: {}", upstream.message),
                    None => upstream.message,
                };
                (
                    P::upstream_error_body(context, *status, &message, upstream.kind.as_deref()),
                    None,
                )
            }
            _ => (body.to_vec(), None),
        }
    }

    /// The next piece of a streamed response: appends its converted bytes
    /// and returns what the converter has to report so far.
    fn on_stream_chunk(
        &mut self,
        chunk: &[u8],
        end_of_stream: bool,
        out: &mut Vec<u8>,
    ) -> (Option<Tokens>, Option<StreamFailure>) {
        let Response::Stream(converter) = &mut self.response else {
            out.extend_from_slice(chunk);
            return (None, None);
        };
        converter.push(chunk, out);
        if end_of_stream {
            converter.finish(out);
        }
        (converter.handler().tokens(), converter.handler().failure())
    }
}

#[derive(Debug)]
pub struct Exchange {
    config: Rc<Config>,
    route: Route,
    fallback_id: String,
    /// `None` for a passthrough.
    conversion: Option<Conversion>,
    replied_locally: bool,
    report: Report,
}

impl Exchange {
    /// `fallback_id` names the message when the upstream gives no id and the
    /// request has no `x-request-id` (Envoy adds one to every request).
    pub fn new(config: Rc<Config>, fallback_id: String) -> Exchange {
        Exchange {
            config,
            route: Route::Passthrough,
            fallback_id,
            conversion: None,
            replied_locally: false,
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
            route if route.enabled(&self.config) => route,
            _ => Route::Passthrough,
        };
        self.conversion = self.route.start();
        let Some(conversion) = self.conversion.as_ref() else {
            return Verdict::Continue(Vec::new());
        };
        self.report.direction = Some(each_pair!(conversion, c => c.direction()));
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
        let config = &self.config;
        Verdict::Continue(match self.conversion.as_ref() {
            Some(conversion) => each_pair!(conversion, c => c.request_edits(headers, path, config)),
            None => Vec::new(),
        })
    }

    /// True while the request body must still be buffered and converted.
    pub fn converts_request(&self) -> bool {
        !self.replied_locally
            && self
                .conversion
                .as_ref()
                .is_some_and(|conversion| !each_pair!(conversion, c => c.converted()))
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
        if body.is_empty() && self.conversion.is_some() {
            return Err(self.reply(ClientError::missing_body()));
        }
        let (config, fallback_id) = (&self.config, self.fallback_id.as_str());
        let converted = match self.conversion.as_mut() {
            Some(conversion) => {
                each_pair!(conversion, c => c.on_request_body(body, config, fallback_id))
            }
            None => return Ok(body.to_vec()),
        };
        match converted {
            Ok(RequestBody::Upstream { body, model }) => {
                self.report.model = Some(safe_value(&model));
                Ok(body)
            }
            Ok(RequestBody::Answer(body)) => {
                self.replied_locally = true;
                Err(LocalReply {
                    status: 200,
                    content_type: JSON,
                    body,
                })
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
        let body = match self.conversion.as_ref() {
            Some(conversion) => each_pair!(conversion, c => c.error_body(status, message)),
            None => message.as_bytes().to_vec(),
        };
        LocalReply {
            status,
            content_type: JSON,
            body,
        }
    }

    /// Response headers: choose how the body is converted and edit headers.
    pub fn on_response_headers(
        &mut self,
        headers: &[(String, String)],
        end_of_stream: bool,
        now_seconds: u64,
    ) -> Verdict {
        if self.replied_locally {
            return Verdict::Continue(Vec::new());
        }
        let Some(conversion) = self.conversion.as_mut() else {
            return Verdict::Continue(Vec::new());
        };
        let status = header(headers, ":status")
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(502);
        self.report.upstream_accepted = (200..300).contains(&status);
        let config = &self.config;
        let (plan, edits) = each_pair!(conversion, c => c.on_response_headers(headers, status, end_of_stream, now_seconds, config));
        if !matches!(plan, Plan::Reply { .. }) {
            if let Some(reply) = self.oversized_reply(headers) {
                return Verdict::Reply(reply);
            }
        }
        match plan {
            Plan::Reply { status, message } => {
                self.report.upstream_error_status = Some(status);
                Verdict::Reply(self.local_reply(status, &message))
            }
            Plan::Error { status, .. } => {
                self.report.upstream_error_status = Some(status);
                Verdict::Continue(edits)
            }
            Plan::Completion | Plan::CompletionAsStream | Plan::Stream => Verdict::Continue(edits),
        }
    }

    /// An answer whose `content-length` is over `max_response_bytes` and
    /// would be buffered is answered with an error at once.
    fn oversized_reply(&mut self, headers: &[(String, String)]) -> Option<LocalReply> {
        let limit = self.config.max_response_bytes;
        let length = header(headers, "content-length")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|n| *n > limit)?;
        let conversion = self.conversion.as_ref()?;
        let status = each_pair!(conversion, c => c.buffered_error_status())?;
        self.report.upstream_error_status = Some(status);
        Some(self.local_reply(status, &oversized_message(limit, Some(length))))
    }

    /// True once a buffered answer passed `max_response_bytes` (`buffered`
    /// bytes held by the host so far): the host should drop them; the end
    /// of the body becomes the error.
    pub fn response_over_limit(&mut self, buffered: usize) -> bool {
        let over = u64::try_from(buffered).map_or(true, |n| n > self.config.max_response_bytes);
        let Some(conversion) = self.conversion.as_mut() else {
            return false;
        };
        let oversized = each_pair!(conversion, c => c.is_oversized());
        if oversized || !over {
            return oversized;
        }
        let Some(status) = each_pair!(conversion, c => c.make_oversized()) else {
            return false;
        };
        self.report.upstream_error_status = Some(status);
        true
    }

    pub fn response_body_mode(&self) -> BodyMode {
        match self.conversion.as_ref() {
            Some(conversion) => each_pair!(conversion, c => c.body_mode()),
            None => BodyMode::Passthrough,
        }
    }

    /// A buffered response, whole: its converted body.
    pub fn on_buffered_response(&mut self, body: &[u8]) -> Vec<u8> {
        let config = &self.config;
        let (converted, tokens) = match self.conversion.as_ref() {
            Some(conversion) => each_pair!(conversion, c => c.on_buffered_response(body, config)),
            None => (body.to_vec(), None),
        };
        self.report.tokens = tokens;
        converted
    }

    /// The next piece of a streamed response: its converted bytes.
    pub fn on_stream_chunk(&mut self, chunk: &[u8], end_of_stream: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(chunk.len() * 2 + 64);
        let (tokens, failure) = match self.conversion.as_mut() {
            Some(conversion) => {
                each_pair!(conversion, c => c.on_stream_chunk(chunk, end_of_stream, &mut out))
            }
            None => {
                out.extend_from_slice(chunk);
                (None, None)
            }
        };
        self.report.tokens = tokens;
        self.report.stream_failure = failure;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2xx JSON answer to a converted, non-streaming request; each row
    /// changes what it needs.
    const OK: Answer<'static> = Answer {
        status: 200,
        client_status: 200,
        content_type: "application/json",
        encoding: None,
        empty: false,
        stream_requested: false,
        request_converted: true,
    };

    fn error(status: u16, reason: Option<&str>, unreadable: bool) -> Plan {
        Plan::Error {
            status,
            reason: reason.map(str::to_string),
            unreadable,
        }
    }

    fn reply(status: u16, message: &str) -> Plan {
        Plan::Reply {
            status,
            message: message.to_string(),
        }
    }

    #[test]
    fn every_kind_of_answer_has_its_plan() {
        let gzip =
            "upstream returned HTTP 200 with a `gzip`-encoded body, which the bridge cannot decode";
        let rows: Vec<(&str, Answer<'static>, Plan)> = vec![
            ("2xx JSON, non-streaming", OK, Plan::Completion),
            (
                "2xx without a content-type",
                Answer { content_type: "", ..OK },
                Plan::Completion,
            ),
            (
                "2xx +json media type",
                Answer { content_type: "application/vnd.x+json; charset=utf-8", ..OK },
                Plan::Completion,
            ),
            (
                "2xx stream, streaming",
                Answer { content_type: "text/event-stream; charset=utf-8", stream_requested: true, ..OK },
                Plan::Stream,
            ),
            (
                "2xx JSON, streaming",
                Answer { stream_requested: true, ..OK },
                Plan::CompletionAsStream,
            ),
            (
                "2xx stream, non-streaming",
                Answer { content_type: "text/event-stream", ..OK },
                error(502, Some("upstream answered with unexpected content-type `text/event-stream`"), false),
            ),
            (
                "2xx HTML, streaming",
                Answer { content_type: "text/html", stream_requested: true, ..OK },
                error(502, Some("upstream answered with unexpected content-type `text/html`"), false),
            ),
            (
                "2xx before the request was converted",
                Answer { request_converted: false, ..OK },
                error(502, Some("upstream answered before the request was sent"), false),
            ),
            (
                "error status",
                Answer { status: 429, client_status: 429, ..OK },
                error(429, None, false),
            ),
            (
                "error status the client knows under another",
                Answer { status: 529, client_status: 503, ..OK },
                error(503, None, false),
            ),
            (
                "error status before the request was converted",
                Answer { status: 401, client_status: 401, request_converted: false, ..OK },
                error(401, None, false),
            ),
            (
                "2xx compressed",
                Answer { encoding: Some("gzip"), ..OK },
                error(502, Some(gzip), true),
            ),
            (
                "error compressed",
                Answer { status: 529, client_status: 503, encoding: Some("br"), ..OK },
                error(503, Some("upstream returned HTTP 529 with a `br`-encoded body, which the bridge cannot decode"), true),
            ),
            (
                "2xx compressed before the request was converted",
                Answer { encoding: Some("gzip"), request_converted: false, ..OK },
                error(502, Some(gzip), true),
            ),
            (
                "2xx without a body",
                Answer { empty: true, ..OK },
                reply(502, "upstream returned an empty response"),
            ),
            (
                "2xx without a body, compressed, streaming",
                Answer { empty: true, encoding: Some("gzip"), stream_requested: true, ..OK },
                reply(502, "upstream returned an empty response"),
            ),
            (
                "error without a body",
                Answer { status: 529, client_status: 503, empty: true, ..OK },
                reply(503, "upstream returned HTTP 529 with an empty body"),
            ),
        ];
        for (name, answer, plan) in rows {
            assert_eq!(classify(&answer), plan, "{name}");
        }
    }
}
