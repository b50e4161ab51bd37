//! What the host keeps: header maps, body buffers, local replies, logs,
//! metrics. Everything here is plain data; `abi.rs` exposes it to the guest
//! and `stream.rs` drives it the way Envoy's HTTP filter manager does.

use std::collections::HashMap;
use std::fmt;

/// proxy-wasm log levels (`proxy_log`'s first argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Critical = 5,
}

impl LogLevel {
    pub fn from_u32(v: u32) -> Option<LogLevel> {
        Some(match v {
            0 => LogLevel::Trace,
            1 => LogLevel::Debug,
            2 => LogLevel::Info,
            3 => LogLevel::Warn,
            4 => LogLevel::Error,
            5 => LogLevel::Critical,
            _ => return None,
        })
    }

    pub fn parse(s: &str) -> Option<LogLevel> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "trace" => LogLevel::Trace,
            "debug" => LogLevel::Debug,
            "info" => LogLevel::Info,
            "warn" | "warning" => LogLevel::Warn,
            "error" => LogLevel::Error,
            "critical" => LogLevel::Critical,
            _ => return None,
        })
    }
}

/// One `proxy_log` call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    pub level: LogLevel,
    /// The context the host was running when the module logged (root or stream).
    pub context_id: Option<u32>,
    pub message: String,
}

impl fmt::Display for LogEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:?}", self.level)?;
        if let Some(id) = self.context_id {
            write!(f, " ctx {id}")?;
        }
        write!(f, "] {}", self.message)
    }
}

/// An HTTP header map with Envoy's behaviour: keys are lower-cased on the
/// way in, several entries may share a key, pseudo-headers stay in front.
/// Values are bytes (Envoy passes obs-text through); the `&str` accessors
/// skip values that are not UTF-8, the `_bytes` ones do not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderMap {
    entries: Vec<(String, Vec<u8>)>,
}

impl HeaderMap {
    pub fn new() -> HeaderMap {
        HeaderMap::default()
    }

    pub fn from_pairs<K: AsRef<str>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.add_bytes(k.as_ref(), v.as_ref());
        }
        m
    }

    /// The first value for `key` (case-insensitive), as Envoy's
    /// `get_header_map_value` returns it; None also when it is not UTF-8.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.get_bytes(key)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    pub fn get_bytes(&self, key: &str) -> Option<&[u8]> {
        let key = key.to_ascii_lowercase();
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_slice())
    }

    /// Every UTF-8 value for `key`, in order.
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        let key = key.to_ascii_lowercase();
        self.entries
            .iter()
            .filter(|(k, _)| *k == key)
            .filter_map(|(_, v)| std::str::from_utf8(v).ok())
            .collect()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get_bytes(key).is_some()
    }

    /// `addCopy`: appends another entry (pseudo-headers go after the last
    /// pseudo-header, as Envoy keeps them first).
    pub fn add(&mut self, key: &str, value: &str) {
        self.add_bytes(key, value.as_bytes());
    }

    pub fn add_bytes(&mut self, key: &str, value: &[u8]) {
        let key = key.to_ascii_lowercase();
        if key.starts_with(':') {
            let pos = self
                .entries
                .iter()
                .position(|(k, _)| !k.starts_with(':'))
                .unwrap_or(self.entries.len());
            self.entries.insert(pos, (key, value.to_vec()));
        } else {
            self.entries.push((key, value.to_vec()));
        }
    }

    /// `setCopy`: removes every entry for `key`, then adds one.
    pub fn replace(&mut self, key: &str, value: &str) {
        self.replace_bytes(key, value.as_bytes());
    }

    pub fn replace_bytes(&mut self, key: &str, value: &[u8]) {
        self.remove(key);
        self.add_bytes(key, value);
    }

    pub fn remove(&mut self, key: &str) {
        let key = key.to_ascii_lowercase();
        self.entries.retain(|(k, _)| *k != key);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The entries, values converted lossily to text.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        self.entries
            .iter()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect()
    }

    pub fn to_byte_pairs(&self) -> Vec<(String, Vec<u8>)> {
        self.entries.clone()
    }

    /// Header names, in order, with repeats.
    pub fn keys(&self) -> Vec<&str> {
        self.entries.iter().map(|(k, _)| k.as_str()).collect()
    }
}

impl fmt::Display for HeaderMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.entries {
            writeln!(f, "{k}: {}", String::from_utf8_lossy(v))?;
        }
        Ok(())
    }
}

/// Serializes pairs the way Envoy hands them to the guest
/// (`proxy_get_header_map_pairs`): u32 count, then (u32 key len, u32 value
/// len) per pair, then each key and value followed by a NUL.
pub fn serialize_pairs<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> Vec<u8> {
    let mut size = 4;
    for (k, v) in pairs {
        size += 8 + k.as_ref().len() + 1 + v.as_ref().len() + 1;
    }
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&(k.as_ref().len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.as_ref().len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_ref());
        out.push(0);
        out.extend_from_slice(v.as_ref());
        out.push(0);
    }
    out
}

/// A header pair as raw bytes.
pub type RawPair = (Vec<u8>, Vec<u8>);

/// Parses the serialized pairs format (what the SDK sends in
/// `proxy_set_header_map_pairs` and `proxy_send_local_response`), checking
/// every length against the buffer.
pub fn deserialize_pairs(bytes: &[u8]) -> Result<Vec<RawPair>, String> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let word = |at: usize| -> Result<usize, String> {
        bytes
            .get(at..at + 4)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
            .map(|w| u32::from_le_bytes(w) as usize)
            .ok_or_else(|| format!("serialized map truncated at byte {at}"))
    };
    let n = word(0)?;
    let sizes_end = n
        .checked_mul(8)
        .and_then(|x| x.checked_add(4))
        .filter(|e| *e <= bytes.len())
        .ok_or_else(|| format!("serialized map claims {n} pairs in {} bytes", bytes.len()))?;
    let mut p = sizes_end;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let ks = word(4 + i * 8)?;
        let vs = word(8 + i * 8)?;
        let mut take = |len: usize| -> Result<Vec<u8>, String> {
            let end = p
                .checked_add(len)
                .filter(|e| *e < bytes.len())
                .ok_or_else(|| format!("serialized map entry {i} runs past the buffer"))?;
            let s = bytes.get(p..end).unwrap_or_default().to_vec();
            if bytes.get(end) != Some(&0) {
                return Err(format!("serialized map entry {i} is not NUL-terminated"));
            }
            p = end + 1;
            Ok(s)
        };
        let k = take(ks)?;
        let v = take(vs)?;
        out.push((k, v));
    }
    Ok(out)
}

/// A `proxy_send_local_response` call, as the module made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalResponse {
    pub status: u32,
    pub details: String,
    pub body: Vec<u8>,
    /// The headers the module passed (keys lower-cased, as Envoy adds them).
    pub headers: Vec<(String, String)>,
    pub grpc_status: i32,
    /// Which callback sent it (e.g. `proxy_on_request_body`).
    pub sent_from: String,
}

impl LocalResponse {
    pub fn header(&self, key: &str) -> Option<&str> {
        let key = key.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How Envoy delivered a local reply (see `FilterManager::sendLocalReply`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalReplyPath {
    /// No response had started: the reply went through the encoder filter
    /// chain, this module's `on_http_response_*` callbacks included.
    ViaFilterChain,
    /// Response headers had reached the filter chain but not the client:
    /// the reply went straight to the client, bypassing the filters.
    Direct,
    /// Response headers had already gone to the client: the stream was reset.
    StreamReset,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Request,
    Response,
}

impl Direction {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Direction::Request => "request",
            Direction::Response => "response",
        }
    }
}

/// Envoy's view of one body direction for this filter.
#[derive(Debug, Default)]
pub(crate) struct BodyState {
    /// The chunk of the current callback (Envoy's `data`).
    pub current: Vec<u8>,
    /// The filter's buffered body (Envoy's decoding/encoding buffer).
    pub buffered: Vec<u8>,
    /// The last callback returned StopIterationAndBuffer.
    pub buffering: bool,
    /// Bytes passed on to the next hop.
    pub forwarded: Vec<u8>,
    /// Number of body callbacks the module received.
    pub callbacks: usize,
}

impl BodyState {
    pub fn visible(&self) -> &[u8] {
        if self.buffering {
            &self.buffered
        } else {
            &self.current
        }
    }

    pub fn visible_mut(&mut self) -> &mut Vec<u8> {
        if self.buffering {
            &mut self.buffered
        } else {
            &mut self.current
        }
    }
}

/// One direction (request or response) of an HTTP stream.
#[derive(Debug, Default)]
pub(crate) struct Side {
    pub headers: HeaderMap,
    pub headers_received: bool,
    /// The module may read and change the header map now (Envoy clears its
    /// pointer once the headers callback returns Continue).
    pub headers_accessible: bool,
    pub headers_forwarded: Option<HeaderMap>,
    pub trailers: Option<HeaderMap>,
    pub trailers_accessible: bool,
    pub trailers_forwarded: Option<HeaderMap>,
    pub body: BodyState,
    pub in_body_callback: bool,
    pub body_callback_eos: bool,
    /// The headers callback returned Pause: Envoy turned it into
    /// StopAllIterationAndWatermark; the body callbacks do not run.
    pub stalled_at_headers: bool,
    /// The headers carried end_of_stream.
    pub headers_eos: bool,
    /// Data that arrived while stalled at the headers.
    pub held: Vec<u8>,
    pub held_eos: bool,
    /// The test has delivered end_of_stream on this side.
    pub eos_received: bool,
    /// end_of_stream has been passed on to the next hop.
    pub complete: bool,
    pub reset: bool,
    /// The module called proxy_continue_stream for this side.
    pub continue_requested: bool,
    /// The forwarded content-length has been checked against the body.
    pub length_checked: bool,
}

impl Side {
    /// Envoy's `getBuffer`: the current chunk during a body callback, and the
    /// filter's buffered body whenever it is buffering (in the trailers
    /// callback, say); nothing otherwise.
    pub fn body_accessible(&self) -> bool {
        self.in_body_callback || self.body.buffering
    }
}

/// One HTTP context.
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    /// proxy_on_context_create has run for this stream.
    pub guest_created: bool,
    /// on_log / on_done / on_delete have run.
    pub finished: bool,
    pub request: Side,
    pub response: Side,
    pub pending_local: Option<LocalResponse>,
    pub local_reply: Option<LocalResponse>,
    pub local_reply_path: Option<LocalReplyPath>,
    /// Calls the test made that Envoy would not deliver (after a local reply).
    pub ignored_calls: Vec<String>,
    pub close_requested: Vec<u32>,
    /// Envoy's buffer limit was exceeded on this side (413 or 500 sent).
    pub buffer_limit_hit: Option<Direction>,
}

impl StreamState {
    pub fn side(&self, d: Direction) -> &Side {
        match d {
            Direction::Request => &self.request,
            Direction::Response => &self.response,
        }
    }

    pub fn side_mut(&mut self, d: Direction) -> &mut Side {
        match d {
            Direction::Request => &mut self.request,
            Direction::Response => &mut self.response,
        }
    }
}

/// proxy-wasm metric types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metric {
    pub kind: MetricKind,
    pub name: String,
    /// Counter or gauge value (a counter's is Envoy's u64, as these bits).
    pub value: i64,
    /// Histogram samples.
    pub samples: Vec<u64>,
}

/// In-memory metrics with Envoy's id scheme: the low two bits of an id are the
/// type (0 counter, 1 gauge, 2 histogram), ids step by 4; defining a name
/// twice gives a new id for the same metric.
#[derive(Debug, Default)]
pub struct Metrics {
    pub(crate) by_name: HashMap<(MetricKind, String), usize>,
    pub(crate) metrics: Vec<Metric>,
    pub(crate) ids: HashMap<u32, usize>,
    pub(crate) next: [u32; 3],
}

impl Metrics {
    pub(crate) fn define(&mut self, kind: MetricKind, name: &str) -> u32 {
        let idx = match self.by_name.get(&(kind, name.to_string())) {
            Some(i) => *i,
            None => {
                self.metrics.push(Metric {
                    kind,
                    name: name.to_string(),
                    value: 0,
                    samples: Vec::new(),
                });
                let i = self.metrics.len() - 1;
                self.by_name.insert((kind, name.to_string()), i);
                i
            }
        };
        let t = kind as usize;
        let n = self.next.get(t).copied().unwrap_or(0);
        if let Some(slot) = self.next.get_mut(t) {
            *slot = n + 1;
        }
        let id = (n << 2) | t as u32;
        self.ids.insert(id, idx);
        id
    }

    pub(crate) fn by_id(&mut self, id: u32) -> Option<&mut Metric> {
        let i = *self.ids.get(&id)?;
        self.metrics.get_mut(i)
    }

    pub fn get(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name == name)
    }

    pub fn all(&self) -> &[Metric] {
        &self.metrics
    }
}

/// The store data: everything host functions can see.
pub(crate) struct HostState {
    pub vm_config: Vec<u8>,
    pub plugin_config: Vec<u8>,
    pub in_configure: bool,
    pub root_id: u32,
    /// The context whose callback is running.
    pub active: Option<u32>,
    /// Set by proxy_set_effective_context for the rest of the callback.
    pub effective: Option<u32>,
    /// Name of the guest export being run, for messages.
    pub current_call: &'static str,
    pub streams: HashMap<u32, StreamState>,
    pub logs: Vec<LogEntry>,
    pub echo_level: Option<LogLevel>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub metrics: Metrics,
    pub properties: HashMap<Vec<String>, Vec<u8>>,
    pub property_requests: Vec<Vec<String>>,
    pub time_ns: u64,
    pub monotonic_ns: u64,
    pub log_level: LogLevel,
    pub tick_period_ms: Option<u32>,
    pub done_calls: u32,
    pub rng: u64,
    /// Things Envoy would refuse or that break a real deployment, which the
    /// harness allowed so the test can report them all.
    pub violations: Vec<String>,
    /// Critical log lines (the SDK's panic hook) seen during the current call.
    pub critical_in_call: Vec<String>,
    /// Count of each host call the module made.
    pub call_counts: HashMap<&'static str, u64>,
    pub buffer_limit: Option<usize>,
    /// The guest's memory and allocator, looked up once.
    pub memory: Option<wasmtime::Memory>,
    pub alloc: Option<wasmtime::TypedFunc<i32, i32>>,
}

impl HostState {
    pub fn new() -> HostState {
        HostState {
            vm_config: Vec::new(),
            plugin_config: Vec::new(),
            in_configure: false,
            root_id: 1,
            active: None,
            effective: None,
            current_call: "",
            streams: HashMap::new(),
            logs: Vec::new(),
            echo_level: None,
            stdout: Vec::new(),
            stderr: Vec::new(),
            metrics: Metrics::default(),
            properties: HashMap::new(),
            property_requests: Vec::new(),
            time_ns: 1_735_689_600_000_000_000,
            monotonic_ns: 1_000_000_000,
            log_level: LogLevel::Trace,
            tick_period_ms: None,
            done_calls: 0,
            rng: 0x9e37_79b9_7f4a_7c15,
            violations: Vec::new(),
            critical_in_call: Vec::new(),
            call_counts: HashMap::new(),
            buffer_limit: None,
            memory: None,
            alloc: None,
        }
    }

    /// The context host calls act on: the effective context if the module set
    /// one, else the one whose callback is running.
    pub fn ctx(&self) -> Option<u32> {
        self.effective.or(self.active)
    }

    pub fn stream(&self) -> Option<&StreamState> {
        self.ctx().and_then(|c| self.streams.get(&c))
    }

    pub fn stream_mut(&mut self) -> Option<&mut StreamState> {
        let c = self.ctx()?;
        self.streams.get_mut(&c)
    }

    pub fn violation(&mut self, msg: String) {
        let call = self.current_call;
        self.violations.push(if call.is_empty() {
            msg
        } else {
            format!("{msg} (during {call})")
        });
    }

    pub fn next_random(&mut self) -> u64 {
        // xorshift64*: deterministic, so runs are reproducible.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}
