//! # host-harness: a small proxy-wasm host on wasmtime (test tier 2)
//!
//! Loads a proxy-wasm module (ABI 0.2.1, as the Rust SDK 0.2.5 builds it) and
//! drives it the way Envoy does, so tests can force the corners real traffic
//! rarely hits: a body delivered one byte per callback, end_of_stream on an
//! empty final chunk, a configuration that must be rejected, a local reply.
//!
//! What it models (each from Envoy's `source/extensions/common/wasm/context.cc`
//! and the HTTP filter manager):
//! - VM start: `_initialize`, root context, `proxy_on_vm_start` with the VM
//!   configuration, `proxy_on_configure` with the plugin configuration (only
//!   readable during that call). `false` from either = rejected.
//! - HTTP contexts created on the first callback; `proxy_on_log`,
//!   `proxy_on_done`, `proxy_on_delete` at the end; one VM serves any number.
//! - Header maps readable and writable only during their own callback (Envoy
//!   drops its pointer once the headers callback returns Continue; the Rust SDK
//!   panics on the BadArgument that follows). Keys lower-cased, replace =
//!   remove all + add, Envoy's pairs serialization.
//! - `Pause` from a headers callback is StopAllIterationAndWatermark: the body
//!   callbacks never run (the harness holds the data and reports the stall).
//! - Body buffers: while the filter returns Pause (StopIterationAndBuffer) the
//!   host accumulates the body and shows the whole buffer on the next call;
//!   `set_buffer_bytes` with start 0 drains `size` bytes and prepends, with
//!   start >= length appends, else BadArgument. An empty buffer reads as
//!   "no bytes" (the SDK's `None`). Continue forwards the buffer.
//! - `send_local_response` takes effect after the callback returns; with no
//!   response started it runs through the encoder chain, i.e. through this
//!   module's own response callbacks, as in Envoy.
//! - Logs, stdout/stderr, a fixed clock, deterministic randomness, metrics,
//!   properties, the effective context, tick period, `proxy_done`.
//! - Any other import is linked to a stub that traps naming the call; a trap
//!   fails the VM for good, as a crashed Wasm VM does in Envoy.
//!
//! ```no_run
//! use host_harness::{Host, Action};
//! let wasm = host_harness::load_bridge_wasm().unwrap();
//! let mut host = Host::new(&wasm).unwrap();
//! assert!(host.start(r#"{"upstream_protocol":"openai"}"#).unwrap());
//! let mut s = host.http_stream();
//! s.request_headers(&[(":method", "POST"), (":path", "/v1/messages")], false).unwrap();
//! assert_eq!(s.request_body(br#"{"model":"m"}"#, true).unwrap(), Action::Continue);
//! ```

mod abi;
mod bench;
mod engine;
mod state;
mod stream;
mod wasi;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use wasmtime::{
    Caller, ExternType, Linker, Module, Store, TypedFunc, Val, WasmParams, WasmResults,
};

pub use abi::TRAP_PREFIX;
pub use bench::BenchReport;
pub use engine::{compile, engine};
pub use state::{
    deserialize_pairs, serialize_pairs, Direction, HeaderMap, LocalReplyPath, LocalResponse,
    LogEntry, LogLevel, Metric, MetricKind, Metrics,
};
pub use stream::{Chunking, HttpStream};
pub use wasmtime;

use state::HostState;

/// What a filter callback returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// 0: Continue.
    Continue,
    /// 1: StopIteration (headers; Envoy makes it StopAllIterationAndWatermark)
    /// or StopIterationAndBuffer (body).
    Pause,
    /// Any other raw value the module returned.
    Other(u32),
    /// Envoy would not have called the module for this (the stream is stalled
    /// at its headers, or a local reply already ended it).
    NotDelivered,
}

impl Action {
    fn from_raw(v: i32) -> Action {
        match v {
            0 => Action::Continue,
            1 => Action::Pause,
            v => Action::Other(v as u32),
        }
    }
}

/// Why a harness call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostError {
    /// The module could not be compiled, linked or instantiated.
    Load(String),
    /// The guest trapped: a panic, an unimplemented host call, a bad pointer,
    /// the time limit. `call` is the guest export that was running.
    Trap { call: String, message: String },
    /// An earlier trap failed the VM; Envoy would not run it again.
    VmFailed(String),
    /// The test used the harness in a way Envoy never would.
    Usage(String),
}

impl HostError {
    pub fn is_trap(&self) -> bool {
        matches!(self, HostError::Trap { .. })
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Load(m) => write!(f, "host-harness: cannot load the module: {m}"),
            HostError::Trap { call, message } => {
                write!(f, "host-harness: the module trapped in {call}: {message}")
            }
            HostError::VmFailed(m) => write!(
                f,
                "host-harness: the VM failed earlier and cannot run again: {m}"
            ),
            HostError::Usage(m) => write!(f, "host-harness: misuse: {m}"),
        }
    }
}

impl std::error::Error for HostError {}

pub(crate) fn usage(msg: impl Into<String>) -> HostError {
    HostError::Usage(msg.into())
}

/// Host settings.
#[derive(Clone, Debug)]
pub struct HostOptions {
    /// A single call into the guest that runs longer traps (default 30 s).
    pub call_timeout: Duration,
    /// Envoy's per-stream buffer limit for a filter that buffers a body
    /// (default: none). Exceeding it sends 413 (request) or 500 (response).
    pub buffer_limit: Option<usize>,
    /// Echo module logs at or above this level to the test's stderr (shown by
    /// `cargo test` for failing tests). Default: `HOST_HARNESS_LOG` if set
    /// (`trace`…`critical`, `off`), else `warn`.
    pub echo_logs: Option<LogLevel>,
    /// What `proxy_get_log_level` answers (default trace).
    pub log_level: LogLevel,
    /// The wall clock the module sees, in ns since the epoch
    /// (default 2025-01-01T00:00:00Z).
    pub time_ns: u64,
}

impl Default for HostOptions {
    fn default() -> HostOptions {
        let echo = match std::env::var("HOST_HARNESS_LOG") {
            Ok(v) if v.eq_ignore_ascii_case("off") => None,
            Ok(v) => LogLevel::parse(&v).or(Some(LogLevel::Warn)),
            Err(_) => Some(LogLevel::Warn),
        };
        HostOptions {
            call_timeout: Duration::from_secs(30),
            buffer_limit: None,
            echo_logs: echo,
            log_level: LogLevel::Trace,
            time_ns: 1_735_689_600_000_000_000,
        }
    }
}

type F0 = TypedFunc<(), ()>;
type F1 = TypedFunc<i32, ()>;
type F1r = TypedFunc<i32, i32>;
type F2 = TypedFunc<(i32, i32), ()>;
type F2r = TypedFunc<(i32, i32), i32>;
type F3r = TypedFunc<(i32, i32, i32), i32>;

#[derive(Clone)]
pub(crate) struct Exports {
    pub initialize: Option<F0>,
    pub start: Option<F0>,
    pub on_context_create: Option<F2>,
    pub on_vm_start: Option<F2r>,
    pub on_configure: Option<F2r>,
    pub on_tick: Option<F1>,
    pub on_request_headers: Option<F3r>,
    pub on_request_body: Option<F3r>,
    pub on_request_trailers: Option<F2r>,
    pub on_response_headers: Option<F3r>,
    pub on_response_body: Option<F3r>,
    pub on_response_trailers: Option<F2r>,
    pub on_log: Option<F1>,
    pub on_done: Option<F1r>,
    pub on_delete: Option<F1>,
}

/// The exports an HTTP filter built with the Rust SDK has.
const EXPECTED_EXPORTS: &[&str] = &[
    "memory",
    "_initialize",
    "proxy_on_memory_allocate",
    "proxy_on_context_create",
    "proxy_on_vm_start",
    "proxy_on_configure",
    "proxy_on_request_headers",
    "proxy_on_request_body",
    "proxy_on_request_trailers",
    "proxy_on_response_headers",
    "proxy_on_response_body",
    "proxy_on_response_trailers",
    "proxy_on_log",
    "proxy_on_done",
    "proxy_on_delete",
];

const ABI_VERSIONS: &[&str] = &[
    "proxy_abi_version_0_2_1",
    "proxy_abi_version_0_2_0",
    "proxy_abi_version_0_1_0",
];

/// One loaded VM: a wasm instance plus its root context. Reusable across any
/// number of HTTP streams, like an Envoy worker's VM.
pub struct Host {
    pub(crate) store: Store<HostState>,
    pub(crate) ex: Exports,
    pub(crate) next_id: u32,
    pub(crate) failed: Option<String>,
    pub(crate) timeout_ticks: u64,
    /// Wall time spent inside guest callbacks (host calls they make included).
    pub(crate) guest_time: std::time::Duration,
    abi: &'static str,
    imports: Vec<String>,
    missing_exports: Vec<&'static str>,
    started: bool,
    memory: Option<wasmtime::Memory>,
}

fn typed<P: WasmParams, R: WasmResults>(
    store: &mut Store<HostState>,
    instance: &wasmtime::Instance,
    name: &str,
) -> Result<Option<TypedFunc<P, R>>, HostError> {
    match instance.get_func(&mut *store, name) {
        None => Ok(None),
        Some(f) => f.typed::<P, R>(&*store).map(Some).map_err(|e| {
            HostError::Load(format!("export {name} has an unexpected signature: {e:#}"))
        }),
    }
}

impl Host {
    /// Compiles (cached) and instantiates `wasm` (binary or text), runs
    /// `_initialize` and creates the root context.
    pub fn new(wasm: &[u8]) -> Result<Host, HostError> {
        Host::with_options(wasm, HostOptions::default())
    }

    pub fn with_options(wasm: &[u8], opts: HostOptions) -> Result<Host, HostError> {
        let module = engine::compile(wasm)?;
        Host::from_module(&module, opts)
    }

    /// Instantiates an already compiled module.
    pub fn from_module(module: &Module, opts: HostOptions) -> Result<Host, HostError> {
        let engine = engine::engine()?;
        let mut linker: Linker<HostState> = Linker::new(engine);
        let link_err = |e: wasmtime::Error| HostError::Load(format!("linking: {e:#}"));
        let mut defined: HashSet<(&str, &str)> = HashSet::new();
        for n in abi::link(&mut linker).map_err(link_err)? {
            defined.insert(("env", n));
        }
        for n in wasi::link(&mut linker).map_err(link_err)? {
            defined.insert(("wasi_snapshot_preview1", n));
        }
        let mut imports = Vec::new();
        for imp in module.imports() {
            let (m, n) = (imp.module().to_string(), imp.name().to_string());
            imports.push(format!("{m}.{n}"));
            match imp.ty() {
                ExternType::Func(ft) => {
                    if defined.contains(&(m.as_str(), n.as_str())) {
                        continue;
                    }
                    let (m2, n2) = (m.clone(), n.clone());
                    linker
                        .func_new(
                            &m,
                            &n,
                            ft,
                            move |mut c: Caller<'_, HostState>,
                                  _p: &[Val],
                                  _r: &mut [Val]|
                                  -> wasmtime::Result<()> {
                                c.data_mut()
                                    .violations
                                    .push(format!("unimplemented host call {m2}.{n2}"));
                                Err(abi::unimplemented_trap(&m2, &n2))
                            },
                        )
                        .map_err(link_err)?;
                }
                other => {
                    return Err(HostError::Load(format!(
                    "the module imports {m}.{n} ({other:?}); the harness provides functions only"
                )))
                }
            }
        }

        let mut st = HostState::new();
        st.echo_level = opts.echo_logs;
        st.log_level = opts.log_level;
        st.time_ns = opts.time_ns;
        st.buffer_limit = opts.buffer_limit;
        let mut store = Store::new(engine, st);
        let ticks = (opts.call_timeout.as_millis() / engine::EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        let instance = linker
            .instantiate(&mut store, module)
            .map_err(|e| HostError::Load(format!("instantiation failed: {e:#}")))?;

        let exported: HashSet<String> = module.exports().map(|e| e.name().to_string()).collect();
        let Some(abi) = ABI_VERSIONS.iter().copied().find(|a| exported.contains(*a)) else {
            return Err(HostError::Load(
                "the module exports no proxy_abi_version_* function (Envoy would reject it)".into(),
            ));
        };
        let missing_exports = EXPECTED_EXPORTS
            .iter()
            .copied()
            .filter(|e| {
                !(exported.contains(*e)
                    || (*e == "proxy_on_memory_allocate" && exported.contains("malloc")))
            })
            .collect();

        let memory = instance.get_memory(&mut store, "memory");
        let s = &mut store;
        let ex = Exports {
            initialize: typed(s, &instance, "_initialize")?,
            start: typed(s, &instance, "_start")?,
            on_context_create: typed(s, &instance, "proxy_on_context_create")?,
            on_vm_start: typed(s, &instance, "proxy_on_vm_start")?,
            on_configure: typed(s, &instance, "proxy_on_configure")?,
            on_tick: typed(s, &instance, "proxy_on_tick")?,
            on_request_headers: typed(s, &instance, "proxy_on_request_headers")?,
            on_request_body: typed(s, &instance, "proxy_on_request_body")?,
            on_request_trailers: typed(s, &instance, "proxy_on_request_trailers")?,
            on_response_headers: typed(s, &instance, "proxy_on_response_headers")?,
            on_response_body: typed(s, &instance, "proxy_on_response_body")?,
            on_response_trailers: typed(s, &instance, "proxy_on_response_trailers")?,
            on_log: typed(s, &instance, "proxy_on_log")?,
            on_done: typed(s, &instance, "proxy_on_done")?,
            on_delete: typed(s, &instance, "proxy_on_delete")?,
        };
        let mut host = Host {
            store,
            ex,
            next_id: 2,
            failed: None,
            timeout_ticks: ticks,
            guest_time: Duration::ZERO,
            abi,
            imports,
            missing_exports,
            started: false,
            memory,
        };
        if let Some(f) = host.ex.initialize.clone() {
            host.call_guest("_initialize", None, f, ())?;
        } else if let Some(f) = host.ex.start.clone() {
            host.call_guest("_start", None, f, ())?;
        }
        let root = host.root_id();
        if let Some(f) = host.ex.on_context_create.clone() {
            host.call_guest("proxy_on_context_create", Some(root), f, (root as i32, 0))?;
        }
        Ok(host)
    }

    /// `proxy_on_vm_start` (empty VM configuration) then `proxy_on_configure`
    /// with `plugin_config`. `Ok(false)`: the module rejected it, as Envoy would
    /// report a failed filter configuration.
    pub fn start(&mut self, plugin_config: &str) -> Result<bool, HostError> {
        self.start_with(b"", plugin_config.as_bytes())
    }

    pub fn start_with(
        &mut self,
        vm_config: &[u8],
        plugin_config: &[u8],
    ) -> Result<bool, HostError> {
        if self.started {
            return Err(usage("start called twice; use configure() to reconfigure"));
        }
        self.started = true;
        self.store.data_mut().vm_config = vm_config.to_vec();
        let root = self.root_id();
        if let Some(f) = self.ex.on_vm_start.clone() {
            let ok = self.call_guest(
                "proxy_on_vm_start",
                Some(root),
                f,
                (root as i32, vm_config.len() as i32),
            )?;
            if ok == 0 {
                return Ok(false);
            }
        }
        self.configure(plugin_config)
    }

    /// `proxy_on_configure` alone (Envoy calls it again on a config update).
    pub fn configure(&mut self, plugin_config: &[u8]) -> Result<bool, HostError> {
        let root = self.root_id();
        let Some(f) = self.ex.on_configure.clone() else {
            return Ok(true);
        };
        {
            let st = self.store.data_mut();
            st.plugin_config = plugin_config.to_vec();
            st.in_configure = true;
        }
        let r = self.call_guest(
            "proxy_on_configure",
            Some(root),
            f,
            (root as i32, plugin_config.len() as i32),
        );
        self.store.data_mut().in_configure = false;
        Ok(r? != 0)
    }

    /// `proxy_on_tick` on the root context.
    pub fn tick(&mut self) -> Result<(), HostError> {
        let root = self.root_id();
        if let Some(f) = self.ex.on_tick.clone() {
            self.call_guest("proxy_on_tick", Some(root), f, root as i32)?;
        }
        Ok(())
    }

    /// A new HTTP stream (its context is created on the first callback).
    pub fn http_stream(&mut self) -> HttpStream<'_> {
        let id = self.new_stream_id();
        HttpStream::new(self, id)
    }

    pub fn root_id(&self) -> u32 {
        self.store.data().root_id
    }

    /// Runs one guest export with the call deadline, the active context set and
    /// traps turned into [`HostError::Trap`] (which also fails the VM).
    pub(crate) fn call_guest<P: WasmParams, R: WasmResults>(
        &mut self,
        name: &'static str,
        ctx: Option<u32>,
        f: TypedFunc<P, R>,
        params: P,
    ) -> Result<R, HostError> {
        if let Some(m) = &self.failed {
            return Err(HostError::VmFailed(m.clone()));
        }
        self.store.set_epoch_deadline(self.timeout_ticks);
        {
            let st = self.store.data_mut();
            st.active = ctx;
            st.effective = None;
            st.current_call = name;
            st.critical_in_call.clear();
        }
        let t = std::time::Instant::now();
        let r = f.call(&mut self.store, params);
        self.guest_time += t.elapsed();
        let critical = {
            let st = self.store.data_mut();
            st.active = None;
            st.effective = None;
            st.current_call = "";
            std::mem::take(&mut st.critical_in_call)
        };
        r.map_err(|e| {
            let mut msg = if e
                .downcast_ref::<wasmtime::Trap>()
                .is_some_and(|t| *t == wasmtime::Trap::Interrupt)
            {
                format!(
                    "exceeded the per-call time limit ({} ms): an endless loop?",
                    self.timeout_ticks as u128 * engine::EPOCH_TICK.as_millis()
                )
            } else {
                let mut m = e.root_cause().to_string();
                if let Some(bt) = e.downcast_ref::<wasmtime::WasmBacktrace>() {
                    m.push_str(&format!("\n{bt}"));
                }
                m
            };
            for c in critical {
                msg.push_str(&format!("\nmodule logged (critical): {c}"));
            }
            self.failed = Some(format!("{name}: {msg}"));
            HostError::Trap {
                call: name.to_string(),
                message: msg,
            }
        })
    }

    /// Total wall time spent inside the module's callbacks so far, the host
    /// functions they call included (what Envoy's worker would spend).
    pub fn guest_time(&self) -> Duration {
        self.guest_time
    }

    /// The proxy-wasm ABI version the module exports.
    pub fn abi_version(&self) -> &'static str {
        self.abi
    }

    /// Every import of the module, as `module.name`.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// Exports an SDK-built HTTP filter has that this module lacks.
    pub fn missing_exports(&self) -> &[&'static str] {
        &self.missing_exports
    }

    pub fn logs(&self) -> &[LogEntry] {
        &self.store.data().logs
    }

    pub fn take_logs(&mut self) -> Vec<LogEntry> {
        std::mem::take(&mut self.store.data_mut().logs)
    }

    pub fn logs_at_least(&self, level: LogLevel) -> Vec<&LogEntry> {
        self.logs().iter().filter(|l| l.level >= level).collect()
    }

    pub fn clear_logs(&mut self) {
        self.store.data_mut().logs.clear();
    }

    pub fn stdout(&self) -> &[u8] {
        &self.store.data().stdout
    }

    pub fn stderr(&self) -> &[u8] {
        &self.store.data().stderr
    }

    pub fn metrics(&self) -> &Metrics {
        &self.store.data().metrics
    }

    /// What the module did that Envoy refuses (a header map touched outside
    /// its callback, a body written at a middle offset, an invalid header, an
    /// unimplemented call, …). A correct module leaves this empty.
    pub fn violations(&self) -> &[String] {
        &self.store.data().violations
    }

    pub fn take_violations(&mut self) -> Vec<String> {
        std::mem::take(&mut self.store.data_mut().violations)
    }

    /// The first trap's description, once the VM has failed.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    pub fn call_counts(&self) -> &HashMap<&'static str, u64> {
        &self.store.data().call_counts
    }

    pub fn set_time_ns(&mut self, ns: u64) {
        self.store.data_mut().time_ns = ns;
    }

    pub fn set_property(&mut self, path: &[&str], value: &[u8]) {
        let p = path.iter().map(|s| s.to_string()).collect();
        self.store.data_mut().properties.insert(p, value.to_vec());
    }

    /// A property (filter state, in Envoy) as last set by the module or the
    /// test: what an access log could print.
    pub fn property(&self, path: &[&str]) -> Option<&[u8]> {
        let p: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        self.store.data().properties.get(&p).map(Vec::as_slice)
    }

    pub fn property_requests(&self) -> &[Vec<String>] {
        &self.store.data().property_requests
    }

    pub fn tick_period_ms(&self) -> Option<u32> {
        self.store.data().tick_period_ms
    }

    /// Times the module called `proxy_done`.
    pub fn done_calls(&self) -> u32 {
        self.store.data().done_calls
    }

    /// HTTP streams whose state the host still holds.
    pub fn live_streams(&self) -> usize {
        self.store.data().streams.len()
    }

    /// Size of the guest's linear memory in bytes (watch it for leaks).
    pub fn memory_size(&self) -> usize {
        self.memory.map(|m| m.data_size(&self.store)).unwrap_or(0)
    }
}

/// Where the release bridge module is: `BRIDGE_WASM` if set, else
/// `<workspace>/target/wasm32-wasip1/release/anthropic_openai_bridge.wasm`.
pub fn bridge_wasm_path() -> PathBuf {
    if let Some(p) = std::env::var_os("BRIDGE_WASM") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join("target/wasm32-wasip1/release/anthropic_openai_bridge.wasm")
}

/// Reads the bridge module, or explains how to build it.
pub fn load_bridge_wasm() -> Result<Vec<u8>, String> {
    let p = bridge_wasm_path();
    std::fs::read(&p).map_err(|e| {
        format!(
            "cannot read the bridge module at {} ({e}).\n\
             Build it first, from the workspace root:\n    \
             cargo build --release --target wasm32-wasip1\n\
             (or point BRIDGE_WASM at a built .wasm)",
            p.display()
        )
    })
}
