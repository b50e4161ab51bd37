//! proxy-wasm glue: the only module that talks to the host.
//!
//! It reads headers and bodies from the host, hands them to an `Exchange`
//! (which decides everything), and applies the result. Host calls go through
//! `proxy_wasm::hostcalls` with their errors handled: the SDK's trait helpers
//! unwrap, and a panic would trap the VM for every later request on this
//! worker. Header values are read as bytes because the SDK's string reader
//! unwraps UTF-8, and a client may send any byte in a header value.

use crate::config::Config;
use crate::convert::headers::HeaderEdit;
use crate::exchange::{BodyMode, Exchange, LocalReply, Verdict};
use crate::report::{counter_increments, ModelTags, Report};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType, MetricType};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Registers the root context; called from `proxy_wasm::main!`.
pub fn start() {
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(BridgeRoot::default()) });
}

#[derive(Default)]
struct BridgeRoot {
    config: Option<Rc<Config>>,
    metrics: Rc<RefCell<Metrics>>,
}

/// The module's metrics: ids by name, defined on first use (a tag value
/// makes a new metric), and the bounded set of model tags.
#[derive(Default)]
struct Metrics {
    ids: HashMap<String, u32>,
    models: ModelTags,
}

impl Metrics {
    fn id(&mut self, kind: MetricType, name: &str) -> Option<u32> {
        if let Some(id) = self.ids.get(name) {
            return Some(*id);
        }
        match hostcalls::define_metric(kind, name) {
            Ok(id) => {
                self.ids.insert(name.to_string(), id);
                Some(id)
            }
            Err(status) => {
                log::warn!("cannot define metric {name}: {status:?}");
                None
            }
        }
    }

    /// Counts one finished exchange.
    fn record(&mut self, report: &Report, conversion_time: Duration) {
        let model = self
            .models
            .tag(report.model.as_deref(), report.upstream_accepted);
        // Envoy rejects an increment of zero; a metric appears on its first count.
        for (name, count) in report
            .counters(&model)
            .into_iter()
            .filter(|(_, count)| *count > 0)
        {
            if let Some(id) = self.id(MetricType::Counter, &name) {
                // Read first so that an upstream's absurd usage saturates
                // the counter instead of wrapping it.
                let current = hostcalls::get_metric(id).unwrap_or(0);
                for delta in counter_increments(current, count) {
                    if let Err(status) = hostcalls::increment_metric(id, delta) {
                        log::warn!("cannot increment metric {name}: {status:?}");
                    }
                }
            }
        }
        if let Some(name) = report.conversion_time_metric() {
            let micros = u64::try_from(conversion_time.as_micros()).unwrap_or(u64::MAX);
            if let Some(id) = self.id(MetricType::Histogram, &name) {
                if let Err(status) = hostcalls::record_metric(id, micros) {
                    log::warn!("cannot record metric {name}: {status:?}");
                }
            }
        }
    }
}

impl Context for BridgeRoot {}

impl RootContext for BridgeRoot {
    /// Parses and validates the configuration; `false` makes Envoy reject
    /// the filter rather than run with a half-understood config.
    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool {
        follow_host_log_level();
        let bytes = match hostcalls::get_buffer(
            BufferType::PluginConfiguration,
            0,
            plugin_configuration_size,
        ) {
            Ok(bytes) => bytes.unwrap_or_default(),
            Err(status) => {
                log::error!(
                    "anthropic-openai-bridge: cannot read the plugin configuration: {status:?}"
                );
                return false;
            }
        };
        match Config::from_json(&bytes) {
            Ok(config) => {
                self.config = Some(Rc::new(config));
                true
            }
            Err(error) => {
                log::error!("anthropic-openai-bridge: {error}");
                false
            }
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        follow_host_log_level();
        let exchange = self
            .config
            .clone()
            .map(|config| Exchange::new(config, format!("msg_bridge_{context_id}")));
        Some(Box::new(BridgeStream {
            exchange,
            metrics: Rc::clone(&self.metrics),
            conversion_time: Duration::ZERO,
            fields_written: false,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// Formats debug lines only when the host would print them.
fn follow_host_log_level() {
    let filter = match hostcalls::get_log_level() {
        Ok(LogLevel::Trace) => log::LevelFilter::Trace,
        Ok(LogLevel::Debug) => log::LevelFilter::Debug,
        Ok(LogLevel::Info) => log::LevelFilter::Info,
        Ok(LogLevel::Warn) => log::LevelFilter::Warn,
        Ok(LogLevel::Error) => log::LevelFilter::Error,
        Ok(_) => log::LevelFilter::Off,
        Err(_) => log::LevelFilter::Info,
    };
    log::set_max_level(filter);
}

fn now_seconds() -> u64 {
    hostcalls::get_current_time()
        .unwrap_or(UNIX_EPOCH)
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

struct BridgeStream {
    /// `None` only if the root was never configured (Envoy then rejects the
    /// filter, so this is defensive): everything passes through.
    exchange: Option<Exchange>,
    metrics: Rc<RefCell<Metrics>>,
    /// Time spent inside the core's conversions for this exchange.
    conversion_time: Duration,
    fields_written: bool,
}

impl BridgeStream {
    /// Runs a body conversion, adding its duration to the exchange's total
    /// (header phases do no conversion work worth two clock calls).
    fn timed<T>(&mut self, step: impl FnOnce(&mut Exchange) -> T) -> Option<T> {
        let exchange = self.exchange.as_mut()?;
        let start = Instant::now();
        let result = step(exchange);
        self.conversion_time += start.elapsed();
        Some(result)
    }

    /// Writes the per-request access-log fields once, when the response is
    /// complete (or answered locally): `%FILTER_STATE(wasm.aob_model:PLAIN)%`.
    fn write_access_log_fields(&mut self) {
        if self.fields_written {
            return;
        }
        let Some(exchange) = self.exchange.as_ref() else {
            return;
        };
        self.fields_written = true;
        for (name, value) in exchange.report().access_log_fields() {
            if let Err(status) = hostcalls::set_property(vec![name], Some(value.as_bytes())) {
                log::warn!("cannot set {name}: {status:?}");
            }
        }
    }
}

impl Context for BridgeStream {}

impl HttpContext for BridgeStream {
    /// Always `Continue`: Envoy turns a pause here into "stop all" and the
    /// body callbacks would never run (docs/README.md#what-the-proxy-wasm-host-allows).
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if self.exchange.is_none() {
            return Action::Continue;
        }
        let headers = read_headers(MapType::HttpRequestHeaders);
        #[cfg(feature = "test-trap")]
        trap_if_asked(&headers);
        match self
            .exchange
            .as_mut()
            .map(|exchange| exchange.on_request_headers(&headers, end_of_stream))
        {
            Some(Verdict::Continue(edits)) => {
                apply_edits(MapType::HttpRequestHeaders, &edits);
                Action::Continue
            }
            Some(Verdict::Reply(reply)) => self.send_local_reply(&reply),
            None => Action::Continue,
        }
    }

    /// Buffers the body (`Pause`) until its end, then replaces it whole.
    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let Some(exchange) = self.exchange.as_mut().filter(|e| e.converts_request()) else {
            return Action::Continue;
        };
        if let Some(reply) = exchange.check_request_size(body_size) {
            return self.send_local_reply(&reply);
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let body = read_buffer(BufferType::HttpRequestBody, body_size);
        match self.timed(|exchange| exchange.on_request_body(&body)) {
            Some(Ok(converted)) => {
                write_buffer(BufferType::HttpRequestBody, body_size, &converted);
                Action::Continue
            }
            Some(Err(reply)) => self.send_local_reply(&reply),
            None => Action::Continue,
        }
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if self.exchange.is_none() {
            return Action::Continue;
        }
        let headers = read_headers(MapType::HttpResponseHeaders);
        let now = now_seconds();
        match self
            .exchange
            .as_mut()
            .map(|exchange| exchange.on_response_headers(&headers, end_of_stream, now))
        {
            Some(Verdict::Continue(edits)) => {
                apply_edits(MapType::HttpResponseHeaders, &edits);
                Action::Continue
            }
            Some(Verdict::Reply(reply)) => self.send_local_reply(&reply),
            None => Action::Continue,
        }
    }

    /// Streams are converted in the same call their bytes arrive in;
    /// buffered responses are held until the end and replaced whole.
    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let Some(exchange) = self.exchange.as_ref() else {
            return Action::Continue;
        };
        let mode = exchange.response_body_mode();
        if mode == BodyMode::Buffer && self.drop_oversized_response(body_size) && !end_of_stream {
            return Action::Pause;
        }
        match mode {
            BodyMode::Passthrough => return Action::Continue,
            BodyMode::Buffer if !end_of_stream => return Action::Pause,
            BodyMode::Buffer => {
                // Whatever is left: an oversized answer's bytes were dropped.
                let body = read_buffer(BufferType::HttpResponseBody, body_size);
                if let Some(converted) = self.timed(|exchange| exchange.on_buffered_response(&body))
                {
                    write_buffer(BufferType::HttpResponseBody, body.len(), &converted);
                }
            }
            BodyMode::Drop => write_buffer(BufferType::HttpResponseBody, body_size, &[]),
            BodyMode::Stream => self.convert_stream_chunk(body_size, end_of_stream),
        }
        if end_of_stream {
            self.write_access_log_fields();
        }
        Action::Continue
    }

    /// A request body that ends with trailers never sees `end_of_stream`:
    /// the buffered body is converted here instead.
    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        if !self
            .exchange
            .as_ref()
            .is_some_and(Exchange::converts_request)
        {
            return Action::Continue;
        }
        let body = read_buffer(BufferType::HttpRequestBody, WHOLE_BUFFER);
        match self.timed(|exchange| exchange.on_request_body(&body)) {
            Some(Ok(converted)) => {
                write_buffer(BufferType::HttpRequestBody, body.len(), &converted);
                Action::Continue
            }
            Some(Err(reply)) => self.send_local_reply(&reply),
            None => Action::Continue,
        }
    }

    /// A response that ends with trailers: a buffered body is converted
    /// here. A stream cannot get final events appended (proxy-wasm has no
    /// way to add body data from the trailers callback); a stream that was
    /// complete has already ended properly.
    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> Action {
        let Some(mode) = self.exchange.as_ref().map(Exchange::response_body_mode) else {
            return Action::Continue;
        };
        match mode {
            BodyMode::Passthrough | BodyMode::Drop => {}
            BodyMode::Buffer => {
                let body = read_buffer(BufferType::HttpResponseBody, WHOLE_BUFFER);
                if let Some(converted) = self.timed(|exchange| exchange.on_buffered_response(&body))
                {
                    write_buffer(BufferType::HttpResponseBody, body.len(), &converted);
                }
            }
            BodyMode::Stream => {
                let tail = self.timed(|exchange| exchange.on_stream_chunk(&[], true));
                if tail.is_some_and(|tail| !tail.is_empty()) {
                    log::debug!("response trailers arrived before the stream completed; its final events cannot be sent");
                }
            }
        }
        self.write_access_log_fields();
        Action::Continue
    }

    /// The exchange is over (completed, answered locally or reset):
    /// count it once.
    fn on_log(&mut self) {
        if let Some(exchange) = self.exchange.as_ref() {
            self.metrics
                .borrow_mut()
                .record(exchange.report(), self.conversion_time);
        }
    }
}

/// How much of a stream chunk is read into the module at once: Envoy may
/// hand over many MiB in one callback when the upstream is faster than the
/// client, and wasm memory, once grown, never shrinks.
const STREAM_SLICE: usize = 64 * 1024;

impl BridgeStream {
    /// Converts a stream chunk a slice at a time, appending each slice's
    /// output after the chunk, then drops the chunk: the module holds one
    /// slice and its output, never the whole chunk.
    fn convert_stream_chunk(&mut self, body_size: usize, end_of_stream: bool) {
        let mut offset = 0;
        let mut written = 0;
        while offset < body_size {
            let size = STREAM_SLICE.min(body_size - offset);
            let slice = match hostcalls::get_buffer(BufferType::HttpResponseBody, offset, size) {
                Ok(Some(bytes)) if !bytes.is_empty() => bytes,
                Ok(_) => break,
                Err(status) => {
                    log::warn!("cannot read body: {status:?}");
                    break;
                }
            };
            offset += slice.len();
            let converted = self
                .timed(|exchange| exchange.on_stream_chunk(&slice, false))
                .unwrap_or_default();
            written += append_buffer(
                BufferType::HttpResponseBody,
                body_size + written,
                &converted,
            );
        }
        if end_of_stream {
            let converted = self
                .timed(|exchange| exchange.on_stream_chunk(&[], true))
                .unwrap_or_default();
            append_buffer(
                BufferType::HttpResponseBody,
                body_size + written,
                &converted,
            );
        }
        if body_size > 0 {
            write_buffer(BufferType::HttpResponseBody, body_size, &[]);
        }
    }

    /// Past `max_response_bytes` the buffered answer is emptied, so the host
    /// never holds more (its own limit would reset the connection); the
    /// end of the body then becomes the error.
    fn drop_oversized_response(&mut self, body_size: usize) -> bool {
        let over = self
            .exchange
            .as_mut()
            .is_some_and(|exchange| exchange.response_over_limit(body_size));
        if over {
            write_buffer(BufferType::HttpResponseBody, body_size, &[]);
        }
        over
    }

    /// Sends the reply and stops the stream: nothing is forwarded.
    fn send_local_reply(&mut self, reply: &LocalReply) -> Action {
        self.write_access_log_fields();
        let headers = vec![("content-type", reply.content_type)];
        if let Err(status) =
            hostcalls::send_http_response(u32::from(reply.status), headers, Some(&reply.body))
        {
            log::warn!("cannot send local reply: {status:?}");
        }
        Action::Pause
    }
}

/// Test-only build (`--features test-trap`): a request with the header
/// `x-aob-test-trap` makes the module trap, as an allocation failure would,
/// so the real-Envoy tests can show `failure_policy: FAIL_RELOAD` recovering.
#[cfg(feature = "test-trap")]
fn trap_if_asked(headers: &[(String, String)]) {
    if headers.iter().any(|(name, _)| name == "x-aob-test-trap") {
        std::process::abort();
    }
}

fn read_headers(map: MapType) -> Vec<(String, String)> {
    match hostcalls::get_map_bytes(map) {
        Ok(pairs) => pairs
            .into_iter()
            .map(|(name, value)| {
                let value = String::from_utf8(value)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                (name, value)
            })
            .collect(),
        Err(status) => {
            log::warn!("cannot read headers: {status:?}");
            Vec::new()
        }
    }
}

fn apply_edits(map: MapType, edits: &[HeaderEdit]) {
    for edit in edits {
        let result = match edit {
            HeaderEdit::Set(name, value) => hostcalls::set_map_value(map, name, Some(value)),
            HeaderEdit::Remove(name) => hostcalls::remove_map_value(map, name),
        };
        if let Err(status) = result {
            let name = match edit {
                HeaderEdit::Set(name, _) | HeaderEdit::Remove(name) => name,
            };
            log::warn!("cannot edit header {name}: {status:?}");
        }
    }
}

/// A size that reads a whole buffer (the host clamps it to the buffer).
const WHOLE_BUFFER: usize = usize::MAX;

fn read_buffer(buffer: BufferType, size: usize) -> Vec<u8> {
    match hostcalls::get_buffer(buffer, 0, size) {
        Ok(bytes) => bytes.unwrap_or_default(),
        Err(status) => {
            log::warn!("cannot read body: {status:?}");
            Vec::new()
        }
    }
}

/// Appends `bytes` to a buffer `length` bytes long; returns how many.
fn append_buffer(buffer: BufferType, length: usize, bytes: &[u8]) -> usize {
    if bytes.is_empty() {
        return 0;
    }
    // At `start == 0` the host prepends (an empty buffer), past it appends.
    match hostcalls::set_buffer(buffer, length, 0, bytes) {
        Ok(()) => bytes.len(),
        Err(status) => {
            log::warn!("cannot write body: {status:?}");
            0
        }
    }
}

/// Replaces the first `size` bytes of the buffer (all of it) with `bytes`.
fn write_buffer(buffer: BufferType, size: usize, bytes: &[u8]) {
    if let Err(status) = hostcalls::set_buffer(buffer, 0, size, bytes) {
        log::warn!("cannot replace body: {status:?}");
    }
}
