//! In-wasm conversion throughput of the release bridge module:
//!
//!     cargo run -p host-harness --example inwasm_bench [-- ITERATIONS]
//!
//! The guest code is compiled by Cranelift with full optimization whatever
//! the cargo profile, so a dev build measures the module's speed; the host
//! side (copies in and out of guest memory, as Envoy also makes) runs in the
//! profile's build. The first run compiles the module (cached afterwards).

use std::time::Instant;

use host_harness::{load_bridge_wasm, Chunking, Host, HostOptions, LogLevel};
use serde_json::{json, Value};

const HEADERS: &[(&str, &str)] = &[
    (":method", "POST"),
    (":path", "/v1/messages"),
    (":authority", "bridge.local"),
    ("content-type", "application/json"),
    ("x-api-key", "sk-bench"),
    ("anthropic-version", "2023-06-01"),
];

const SSE_200: &[(&str, &str)] = &[(":status", "200"), ("content-type", "text/event-stream")];

/// A request of roughly `target` bytes: tools and a history like Claude Code's.
fn request(target: usize, stream: bool) -> Vec<u8> {
    let n_tools = if target == 0 { 0 } else { 20 };
    let tools: Vec<Value> = (0..n_tools)
        .map(|i| {
            json!({
                "name": format!("tool_{i}"),
                "description": "Runs a tool. ".repeat(20),
                "input_schema": {"type": "object", "properties": {"path": {"type": "string"}, "n": {"type": "integer"}}},
            })
        })
        .collect();
    let mut messages = vec![json!({"role": "user", "content": "Start."})];
    let mut body = Vec::new();
    loop {
        let v = json!({
            "model": "claude-sonnet-4-5", "max_tokens": 32000, "stream": stream,
            "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
            "tools": tools, "messages": messages,
        });
        body = serde_json::to_vec(&v).unwrap_or(body);
        if body.len() >= target {
            return body;
        }
        let n = messages.len();
        messages.push(json!({"role": "assistant", "content": [
            {"type": "text", "text": "Reading the file."},
            {"type": "tool_use", "id": format!("toolu_{n}"), "name": "tool_1", "input": {"path": "src/lib.rs", "n": n}},
        ]}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": format!("toolu_{n}"), "content": "fn main() { println!(\"hello\"); }\n".repeat(60)},
        ]}));
    }
}

/// An OpenAI stream of `events` content deltas, then finish and usage.
fn openai_stream(events: usize) -> Vec<u8> {
    let mut s = String::new();
    for i in 0..events {
        s.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"token {i} \"}},\"finish_reason\":null}}]}}\n\n"
        ));
    }
    s.push_str("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
    s.push_str("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"total_tokens\":15}}\n\n");
    s.push_str("data: [DONE]\n\n");
    s.into_bytes()
}

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let wasm = match load_bridge_wasm() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let t = Instant::now();
    let opts = HostOptions {
        echo_logs: Some(LogLevel::Error),
        log_level: LogLevel::Info,
        ..HostOptions::default()
    };
    let mut host = match Host::with_options(&wasm, opts) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    println!("module loaded in {:?} ({} bytes)", t.elapsed(), wasm.len());
    match host.start(r#"{"upstream_protocol":"openai"}"#) {
        Ok(true) => {}
        other => {
            eprintln!("configuration rejected: {other:?}");
            std::process::exit(1);
        }
    }
    let run = |host: &mut Host| -> Result<(), host_harness::HostError> {
        for (name, size, n) in [
            ("request small", 0, iterations * 10),
            ("request claude-code 100KB", 100 << 10, iterations),
            ("request 4MB", 4 << 20, (iterations / 20).max(3)),
        ] {
            let body = request(size, false);
            println!("{}", host.bench_request(name, HEADERS, &body, n)?);
        }
        let req = request(0, true);
        for (name, events, chunking) in [
            ("stream 1k events, one event per callback", 1000, None),
            (
                "stream 1k events, 4KB callbacks",
                1000,
                Some(Chunking::Bytes(4096)),
            ),
            (
                "stream 1k events, 1 byte per callback",
                1000,
                Some(Chunking::Bytes(1)),
            ),
        ] {
            let sse = openai_stream(events);
            let chunking = chunking.unwrap_or_else(|| {
                let sizes = String::from_utf8_lossy(&sse)
                    .split_inclusive("\n\n")
                    .map(str::len)
                    .collect();
                Chunking::Sizes(sizes)
            });
            let n = if matches!(chunking, Chunking::Bytes(1)) {
                (iterations / 20).max(2)
            } else {
                iterations
            };
            let r = host.bench_response(name, HEADERS, &req, SSE_200, &sse, &chunking, n)?;
            let events_per_s = r.per_second() * (events + 4) as f64;
            println!("{r}, {events_per_s:.0} upstream events/s");
        }
        Ok(())
    };
    if let Err(e) = run(&mut host) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    println!("guest memory at the end: {} bytes", host.memory_size());
}
