//! Core throughput, natively: each conversion on the bodies in fixtures/bench,
//! next to one serde_json parse + serialize of the same bytes (the floor a
//! converter cannot beat). Run with `cargo bench --bench convert`; prints a
//! table, asserts nothing (benchmarks are never timed tests).

use anthropic_openai_bridge::config::Config;
use anthropic_openai_bridge::convert::{anthropic_client, openai_client};
use anthropic_openai_bridge::sse::{SseConverter, SseHandler};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/fixtures/bench/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_else(|e| panic!("{name}: {e} (run scripts/bench_fixtures.py)"))
}

/// Seconds per run of `f`, the median of batches adding up to ~`budget`.
/// With `BENCH_ITERS=n` (for callgrind, which counts instructions), runs `f`
/// exactly n times instead and reports nothing meaningful.
fn time(budget: Duration, mut f: impl FnMut()) -> f64 {
    if let Some(n) = std::env::var("BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    {
        for _ in 0..n {
            f();
        }
        return 1.0;
    }
    f();
    let start = Instant::now();
    let mut runs = 0u32;
    while start.elapsed() < budget / 5 {
        f();
        runs += 1;
    }
    let per_batch = runs.max(1);
    let mut samples: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_batch {
                f();
            }
            t.elapsed().as_secs_f64() / f64::from(per_batch)
        })
        .collect();
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[2]
}

/// Seconds per floor run; skipped when counting a conversion's instructions.
fn time_floor(budget: Duration, f: impl FnMut()) -> f64 {
    if std::env::var_os("BENCH_ITERS").is_some() {
        return 1.0;
    }
    time(budget, f)
}

/// One serde_json parse into a Value and serialization back: the floor.
fn floor(body: &[u8]) {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap();
    black_box(serde_json::to_vec(&value).unwrap());
}

/// The floor for a stream: every data line parsed and written back.
fn stream_floor(body: &[u8]) {
    for line in body.split(|b| *b == b'\n') {
        if let Some(data) = line.strip_prefix(b"data: ") {
            if data.first() == Some(&b'{') {
                floor(data);
            }
        }
    }
}

/// Issue 12's attack: `count` tools whose names all sanitise alike (`t` plus
/// two, then three, ASCII punctuation characters), about 1.3 MB for 24,000.
fn colliding_tool_names_request(count: usize) -> Vec<u8> {
    let punct: Vec<char> = (b'!'..=b'~')
        .map(char::from)
        .filter(|c| c.is_ascii_punctuation() && *c != '-' && *c != '_')
        .collect();
    let pairs = punct
        .iter()
        .flat_map(|a| punct.iter().map(move |b| format!("t{a}{b}")));
    let triples = punct.iter().flat_map(|a| {
        let punct = &punct;
        punct
            .iter()
            .flat_map(move |b| punct.iter().map(move |c| format!("t{a}{b}{c}")))
    });
    let tools: Vec<serde_json::Value> = pairs
        .chain(triples)
        .take(count)
        .map(|name| {
            serde_json::json!({"name": name, "description": "d", "input_schema": {"type": "object"}})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hello"}],
        "tools": tools,
    }))
    .unwrap()
}

/// `BENCH_ONLY=<text>` runs only the rows whose name contains it (for a profiler).
fn selected(name: &str) -> bool {
    std::env::var("BENCH_ONLY").map_or(true, |only| name.contains(&only))
}

fn row(name: &str, bytes: usize, events: Option<usize>, convert: f64, floor: f64) {
    let mb = bytes as f64 / 1e6;
    let events = events.map_or(String::from("-"), |n| format!("{:.0}", n as f64 / convert));
    println!(
        "| {name:<32} | {:>9.1} | {:>9} | {:>9.1} | {:>9.1} | {:>5.2} |",
        bytes as f64 / 1024.0,
        events,
        mb / convert,
        mb / floor,
        convert / floor
    );
}

/// A recorded stream fed in 1,400-byte pieces, as Envoy hands them over.
fn stream_row<H: SseHandler>(
    name: &str,
    file: &str,
    budget: Duration,
    new: impl Fn() -> SseConverter<H>,
) {
    if !selected(name) {
        return;
    }
    let stream = fixture(file);
    let events = stream.windows(2).filter(|w| w == b"\n\n").count();
    let t = time(budget, || {
        let mut converter = new();
        let mut out = Vec::with_capacity(stream.len() * 2);
        for chunk in stream.chunks(1400) {
            converter.push(chunk, &mut out);
        }
        converter.finish(&mut out);
        black_box(out);
    });
    row(
        name,
        stream.len(),
        Some(events),
        t,
        time_floor(budget, || stream_floor(&stream)),
    );
}

fn main() {
    let budget = Duration::from_millis(
        std::env::var("BENCH_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000),
    );
    let to_openai = Config::from_json(br#"{"upstream_protocol":"openai"}"#).unwrap();
    let to_anthropic = Config::from_json(br#"{"upstream_protocol":"anthropic"}"#).unwrap();
    println!("| conversion (native)              | input KiB |  events/s |  MB/s     | floor MB/s | ratio |");
    println!("|----------------------------------|----------:|----------:|----------:|----------:|------:|");
    for size in ["small", "claude-code", "large"] {
        let name = format!("request anthropic→openai {size}");
        if selected(&name) {
            let body = fixture(&format!("anthropic-{size}.json"));
            let t = time(budget, || {
                black_box(anthropic_client::request::convert_request(&body, &to_openai).unwrap());
            });
            row(
                &name,
                body.len(),
                None,
                t,
                time_floor(budget, || floor(&body)),
            );
        }
        let name = format!("request openai→anthropic {size}");
        if selected(&name) {
            let body = fixture(&format!("openai-{size}.json"));
            let t = time(budget, || {
                black_box(openai_client::request::convert_request(&body, &to_anthropic).unwrap());
            });
            row(
                &name,
                body.len(),
                None,
                t,
                time_floor(budget, || floor(&body)),
            );
        }
    }
    let name = "request anthropic→openai 24k colliding tool names";
    if selected(name) {
        let body = colliding_tool_names_request(24_000);
        let t = time(budget, || {
            black_box(anthropic_client::request::convert_request(&body, &to_openai).unwrap());
        });
        row(
            name,
            body.len(),
            None,
            t,
            time_floor(budget, || floor(&body)),
        );
    }
    let ctx = anthropic_client::response::ResponseContext::default();
    if selected("response openai→anthropic") {
        let body = fixture("openai-completion.json");
        let t = time(budget, || {
            black_box(anthropic_client::response::convert_response(&body, &ctx));
        });
        row(
            "response openai→anthropic",
            body.len(),
            None,
            t,
            time_floor(budget, || floor(&body)),
        );
    }
    let octx = openai_client::response::ResponseContext::default();
    if selected("response anthropic→openai") {
        let body = fixture("anthropic-message.json");
        let t = time(budget, || {
            black_box(openai_client::response::convert_response(&body, &octx));
        });
        row(
            "response anthropic→openai",
            body.len(),
            None,
            t,
            time_floor(budget, || floor(&body)),
        );
    }

    stream_row(
        "stream openai→anthropic",
        "openai-stream.sse",
        budget,
        || anthropic_client::stream::StreamConverter::new(ctx.clone()),
    );
    stream_row(
        "stream anthropic→openai",
        "anthropic-stream.sse",
        budget,
        || openai_client::stream::StreamConverter::new(octx.clone()),
    );
}
