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
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType};
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Registers the root context; called from `proxy_wasm::main!`.
pub fn start() {
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(BridgeRoot::default()) });
}

#[derive(Default)]
struct BridgeRoot {
    config: Option<Rc<Config>>,
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
        let exchange = self.config.clone().map(|config| {
            Exchange::new(config, format!("msg_bridge_{:x}_{context_id}", now_nanos()))
        });
        Some(Box::new(BridgeStream { exchange }))
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

fn now_nanos() -> u128 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
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
}

impl Context for BridgeStream {}

impl HttpContext for BridgeStream {
    /// Always `Continue`: Envoy turns a pause here into "stop all" and the
    /// body callbacks would never run (DESIGN.md section 2).
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let Some(exchange) = self.exchange.as_mut() else {
            return Action::Continue;
        };
        let headers = read_headers(MapType::HttpRequestHeaders);
        match exchange.on_request_headers(&headers, end_of_stream) {
            Verdict::Continue(edits) => {
                apply_edits(MapType::HttpRequestHeaders, &edits);
                Action::Continue
            }
            Verdict::Reply(reply) => send_local_reply(&reply),
        }
    }

    /// Buffers the body (`Pause`) until its end, then replaces it whole.
    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let Some(exchange) = self.exchange.as_mut().filter(|e| e.converts_request()) else {
            return Action::Continue;
        };
        if let Some(reply) = exchange.check_request_size(body_size) {
            return send_local_reply(&reply);
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let body = read_buffer(BufferType::HttpRequestBody, body_size);
        match exchange.on_request_body(&body) {
            Ok(converted) => {
                write_buffer(BufferType::HttpRequestBody, body_size, &converted);
                Action::Continue
            }
            Err(reply) => send_local_reply(&reply),
        }
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let Some(exchange) = self.exchange.as_mut() else {
            return Action::Continue;
        };
        let headers = read_headers(MapType::HttpResponseHeaders);
        match exchange.on_response_headers(&headers, end_of_stream, now_seconds()) {
            Verdict::Continue(edits) => {
                apply_edits(MapType::HttpResponseHeaders, &edits);
                Action::Continue
            }
            Verdict::Reply(reply) => send_local_reply(&reply),
        }
    }

    /// Streams are converted in the same call their bytes arrive in;
    /// buffered responses are held until the end and replaced whole.
    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let Some(exchange) = self.exchange.as_mut() else {
            return Action::Continue;
        };
        match exchange.response_body_mode() {
            BodyMode::Passthrough => Action::Continue,
            BodyMode::Buffer if !end_of_stream => Action::Pause,
            BodyMode::Buffer => {
                let body = read_buffer(BufferType::HttpResponseBody, body_size);
                let converted = exchange.on_buffered_response(&body);
                write_buffer(BufferType::HttpResponseBody, body_size, &converted);
                Action::Continue
            }
            BodyMode::Stream => {
                let chunk = read_buffer(BufferType::HttpResponseBody, body_size);
                let converted = exchange.on_stream_chunk(&chunk, end_of_stream);
                write_buffer(BufferType::HttpResponseBody, body_size, &converted);
                Action::Continue
            }
        }
    }
}

fn read_headers(map: MapType) -> Vec<(String, String)> {
    match hostcalls::get_map_bytes(map) {
        Ok(pairs) => pairs
            .into_iter()
            .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
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
            log::warn!("cannot edit header {edit:?}: {status:?}");
        }
    }
}

fn read_buffer(buffer: BufferType, size: usize) -> Vec<u8> {
    match hostcalls::get_buffer(buffer, 0, size) {
        Ok(bytes) => bytes.unwrap_or_default(),
        Err(status) => {
            log::warn!("cannot read body: {status:?}");
            Vec::new()
        }
    }
}

/// Replaces the first `size` bytes of the buffer (all of it) with `bytes`.
fn write_buffer(buffer: BufferType, size: usize, bytes: &[u8]) {
    if let Err(status) = hostcalls::set_buffer(buffer, 0, size, bytes) {
        log::warn!("cannot replace body: {status:?}");
    }
}

/// Sends the reply and stops the stream: nothing is forwarded.
fn send_local_reply(reply: &LocalReply) -> Action {
    let headers = vec![("content-type", reply.content_type)];
    if let Err(status) =
        hostcalls::send_http_response(u32::from(reply.status), headers, Some(&reply.body))
    {
        log::warn!("cannot send local reply: {status:?}");
    }
    Action::Pause
}
