//! Core throughput and memory inside wasm: the release bridge module run by
//! the harness's host (wasmtime/Cranelift), on the same fixtures/bench bodies
//! as the native benchmark, next to the floor measured inside wasm too (one
//! serde_json parse + serialize, benches/floor-wasm built like the module).
//!
//!     cargo run --profile bench-host -p host-harness --example inwasm_bench
//!
//! Prints markdown tables; asserts nothing (benchmarks are never timed tests).
//! Time is the module's own: its callbacks and the host calls they make (the
//! copies in and out of guest memory Envoy also makes), not the harness's.

use std::time::{Duration, Instant};

use host_harness::wasmtime::{Instance, Linker, Module, Store, TypedFunc};
use host_harness::{
    load_bridge_wasm, BenchReport, Chunking, Host, HostError, HostOptions, LogLevel,
};

const ANTHROPIC_HEADERS: &[(&str, &str)] = &[
    (":method", "POST"),
    (":path", "/v1/messages"),
    (":authority", "bridge.local"),
    ("content-type", "application/json"),
    ("x-api-key", "sk-bench"),
];
const OPENAI_HEADERS: &[(&str, &str)] = &[
    (":method", "POST"),
    (":path", "/v1/chat/completions"),
    (":authority", "bridge.local"),
    ("content-type", "application/json"),
    ("authorization", "Bearer sk-bench"),
];
const JSON_200: &[(&str, &str)] = &[(":status", "200"), ("content-type", "application/json")];
const SSE_200: &[(&str, &str)] = &[(":status", "200"), ("content-type", "text/event-stream")];

fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(workspace().join("fixtures/bench").join(name))
        .unwrap_or_else(|e| panic!("{name}: {e} (run scripts/bench_fixtures.py)"))
}

/// The floor module: parse + serialize inside wasm.
struct Floor {
    store: Store<()>,
    instance: Instance,
    run: TypedFunc<(i32, i32), i32>,
    stream: TypedFunc<(i32, i32), i32>,
}

impl Floor {
    fn load() -> Floor {
        let path =
            workspace().join("benches/floor-wasm/target/wasm32-wasip1/release/floor_wasm.wasm");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("{}: {e} (cargo build --release --target wasm32-wasip1 --manifest-path benches/floor-wasm/Cargo.toml)", path.display())
        });
        let engine = host_harness::engine().expect("engine");
        let module = Module::new(engine, &bytes).expect("floor module");
        let mut store = Store::new(engine, ());
        // The harness's engine interrupts guests by epoch; this store has no limit.
        store.set_epoch_deadline(u64::MAX / 2);
        let mut linker = Linker::new(engine);
        linker
            .define_unknown_imports_as_traps(&module)
            .expect("trap imports");
        let instance = linker
            .instantiate(&mut store, &module)
            .expect("instantiate floor");
        let run = instance
            .get_typed_func(&mut store, "floor_run")
            .expect("floor_run");
        let stream = instance
            .get_typed_func(&mut store, "floor_stream")
            .expect("floor_stream");
        Floor {
            store,
            instance,
            run,
            stream,
        }
    }

    /// Seconds per call of the floor on `body` (the body is copied in once).
    fn time(&mut self, body: &[u8], stream: bool, iterations: u32) -> f64 {
        let alloc: TypedFunc<i32, i32> = self
            .instance
            .get_typed_func(&mut self.store, "floor_alloc")
            .expect("alloc");
        let ptr = alloc
            .call(&mut self.store, body.len() as i32)
            .unwrap_or_else(|e| panic!("alloc call: {e:?}"));
        let memory = self
            .instance
            .get_memory(&mut self.store, "memory")
            .expect("memory");
        memory
            .write(&mut self.store, ptr as usize, body)
            .expect("write body");
        let func = if stream { &self.stream } else { &self.run };
        func.call(&mut self.store, (ptr, body.len() as i32))
            .expect("warm up");
        let start = Instant::now();
        for _ in 0..iterations {
            func.call(&mut self.store, (ptr, body.len() as i32))
                .expect("floor call");
        }
        let elapsed = start.elapsed().as_secs_f64() / f64::from(iterations);
        let free: TypedFunc<(i32, i32), ()> = self
            .instance
            .get_typed_func(&mut self.store, "floor_free")
            .expect("free");
        free.call(&mut self.store, (ptr, body.len() as i32))
            .expect("free call");
        elapsed
    }
}

fn host(config: &str) -> Result<Host, HostError> {
    let wasm = load_bridge_wasm()
        .map_err(|e| panic!("{e}"))
        .unwrap_or_default();
    let opts = HostOptions {
        echo_logs: Some(LogLevel::Error),
        log_level: LogLevel::Info,
        ..HostOptions::default()
    };
    let mut host = Host::with_options(&wasm, opts)?;
    assert!(host.start(config)?, "configuration rejected");
    Ok(host)
}

/// Enough iterations for about `budget` of module time, measured once.
fn iterations_for(sample: &BenchReport, budget: Duration) -> u32 {
    let per = sample.per_iteration().max(Duration::from_micros(1));
    u32::try_from(budget.as_nanos() / per.as_nanos())
        .unwrap_or(u32::MAX)
        .clamp(3, 20_000)
}

fn row(name: &str, bytes: usize, events: Option<usize>, seconds: f64, floor: f64) {
    let mb = bytes as f64 / 1e6;
    let events = events.map_or(String::from("-"), |n| format!("{:.0}", n as f64 / seconds));
    println!(
        "| {name:<36} | {:>9.1} | {:>9} | {:>9.1} | {:>10.1} | {:>5.2} |",
        bytes as f64 / 1024.0,
        events,
        mb / seconds,
        mb / floor,
        seconds / floor
    );
}

/// What a request costs before any body is converted, per phase, so the
/// small-body rows can be read: a 275-byte body's floor is a few µs, the
/// same order as creating a context and editing headers through the host.
fn fixed_costs(host: &mut Host, small: &[u8]) -> Result<(), HostError> {
    let passthrough: &[(&str, &str)] = &[
        (":method", "GET"),
        (":path", "/v1/models"),
        (":authority", "b"),
    ];
    let n = 20_000u32;
    let (mut pass, mut headers, mut body) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for _ in 0..n {
        {
            let mut s = host.http_stream();
            let t0 = s.host().guest_time();
            s.request_headers(passthrough, true)?;
            pass += s.host().guest_time() - t0;
            s.finish()?;
        }
        let mut s = host.http_stream();
        let t0 = s.host().guest_time();
        s.request_headers(ANTHROPIC_HEADERS, false)?;
        let t1 = s.host().guest_time();
        s.request_body(small, true)?;
        headers += t1 - t0;
        body += s.host().guest_time() - t1;
        s.finish()?;
    }
    println!();
    println!("| fixed per-request cost in wasm (small request)          | µs/request |");
    println!("|---------------------------------------------------------|-----------:|");
    let us = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(n);
    println!(
        "| passthrough: new context, headers read, route decided   | {:>10.2} |",
        us(pass)
    );
    println!(
        "| converted request: headers phase (5 header host calls)  | {:>10.2} |",
        us(headers)
    );
    println!(
        "| converted request: 275-byte body read, converted, written | {:>8.2} |",
        us(body)
    );
    Ok(())
}

fn main() -> Result<(), HostError> {
    let budget = Duration::from_millis(
        std::env::var("BENCH_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1500),
    );
    let mut floor = Floor::load();
    let mut to_openai = host(r#"{"upstream_protocol":"openai"}"#)?;
    let mut to_anthropic = host(r#"{"upstream_protocol":"anthropic"}"#)?;
    println!("| conversion (in wasm)                 | input KiB |  events/s |  MB/s     | floor MB/s | ratio |");
    println!("|--------------------------------------|----------:|----------:|----------:|-----------:|------:|");
    for size in ["small", "claude-code", "large"] {
        for (host, file, headers, name) in [
            (
                &mut to_openai,
                format!("anthropic-{size}.json"),
                ANTHROPIC_HEADERS,
                format!("request anthropic→openai {size}"),
            ),
            (
                &mut to_anthropic,
                format!("openai-{size}.json"),
                OPENAI_HEADERS,
                format!("request openai→anthropic {size}"),
            ),
        ] {
            let body = fixture(&file);
            let sample = host.bench_request(&name, headers, &body, 3)?;
            let n = iterations_for(&sample, budget);
            let report = host.bench_request(&name, headers, &body, n)?;
            let seconds = report.per_iteration().as_secs_f64();
            row(
                &name,
                body.len(),
                None,
                seconds,
                floor.time(&body, false, n),
            );
        }
    }
    let small_anthropic = fixture("anthropic-small.json");
    let small_openai = fixture("openai-small.json");
    let streaming = |body: &[u8]| -> Vec<u8> {
        let mut v: serde_json::Value = serde_json::from_slice(body).expect("json");
        v["stream"] = serde_json::Value::Bool(true);
        serde_json::to_vec(&v).expect("json")
    };
    // (to an OpenAI upstream?, request, response headers, response fixture, row name, streaming)
    let cases = [
        (
            true,
            small_anthropic.clone(),
            JSON_200,
            "openai-completion.json",
            "response openai→anthropic",
            false,
        ),
        (
            false,
            small_openai.clone(),
            JSON_200,
            "anthropic-message.json",
            "response anthropic→openai",
            false,
        ),
        (
            true,
            streaming(&small_anthropic),
            SSE_200,
            "openai-stream.sse",
            "stream openai→anthropic",
            true,
        ),
        (
            false,
            streaming(&small_openai),
            SSE_200,
            "anthropic-stream.sse",
            "stream anthropic→openai",
            true,
        ),
    ];
    for (openai_upstream, request, response_headers, file, name, stream) in cases {
        let (host, request_headers) = match openai_upstream {
            true => (&mut to_openai, ANTHROPIC_HEADERS),
            false => (&mut to_anthropic, OPENAI_HEADERS),
        };
        let body = fixture(file);
        let chunking = if stream {
            Chunking::Bytes(1400)
        } else {
            Chunking::Whole
        };
        let sample = host.bench_response(
            name,
            request_headers,
            &request,
            response_headers,
            &body,
            &chunking,
            2,
        )?;
        let n = iterations_for(&sample, budget);
        let report = host.bench_response(
            name,
            request_headers,
            &request,
            response_headers,
            &body,
            &chunking,
            n,
        )?;
        let events = stream.then(|| body.windows(2).filter(|w| w == b"\n\n").count());
        row(
            name,
            body.len(),
            events,
            report.per_iteration().as_secs_f64(),
            floor.time(&body, stream, n),
        );
    }

    fixed_costs(&mut to_openai, &small_anthropic)?;

    println!();
    println!("| memory (guest linear memory)                         | bytes |");
    println!("|------------------------------------------------------|------:|");
    let mut fresh = host(r#"{"upstream_protocol":"openai"}"#)?;
    let request = fixture("anthropic-claude-code.json");
    let completion = fixture("openai-completion.json");
    let exchange = |host: &mut Host| -> Result<(), HostError> {
        let mut s = host.http_stream();
        s.request(ANTHROPIC_HEADERS, &request, &Chunking::Whole)?;
        s.response(JSON_200, &completion, &Chunking::Whole)?;
        s.finish()
    };
    exchange(&mut fresh)?;
    let after_one = fresh.memory_size();
    for _ in 0..10_000 {
        exchange(&mut fresh)?;
    }
    println!("| after 1 request (Claude Code-sized, non-streaming)   | {after_one} |");
    println!(
        "| after 10,000 more requests                           | {} |",
        fresh.memory_size()
    );

    let mut streaming_host = host(r#"{"upstream_protocol":"openai"}"#)?;
    let chunk = b"data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a streamed token \"},\"finish_reason\":null}]}\n\n";
    let callback: Vec<u8> = chunk.iter().copied().cycle().take(16 * 1024).collect();
    let mut s = streaming_host.http_stream();
    s.request(
        ANTHROPIC_HEADERS,
        &streaming(&small_anthropic),
        &Chunking::Whole,
    )?;
    s.response_headers(SSE_200, false)?;
    let start_memory = s.host().memory_size();
    let (mut fed, mut peak, mut at_1mb) = (0usize, 0usize, 0usize);
    while fed < 50 << 20 {
        s.response_body(&callback, false)?;
        fed += callback.len();
        peak = peak.max(s.host().memory_size());
        if at_1mb == 0 && fed >= 1 << 20 {
            at_1mb = s.host().memory_size();
        }
    }
    s.response_body(b"data: [DONE]\n\n", true)?;
    s.finish()?;
    println!("| streaming 50 MB: before the body                     | {start_memory} |");
    println!("| streaming 50 MB: after the first 1 MB                 | {at_1mb} |");
    println!("| streaming 50 MB: peak                                 | {peak} |");
    let wasm_size = load_bridge_wasm().map(|w| w.len()).unwrap_or(0);
    println!("| module size (.wasm)                                   | {wasm_size} |");
    Ok(())
}
