//! No trap, whatever the input: malformed JSON, wrong types, deep nesting,
//! invalid UTF-8, huge strings, truncated and broken SSE — run through the
//! release module, which must answer every one sensibly and still serve a
//! normal request afterwards.

mod common;

use common::*;
use host_harness::{Chunking, Host};
use serde_json::{json, Value};

/// xorshift: deterministic mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn envelope(messages: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"model": "m", "max_tokens": 16, "messages": messages})).unwrap()
}

fn with_field(key: &str, value: Value) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&simple_request(false)).unwrap();
    v[key] = value;
    serde_json::to_vec(&v).unwrap()
}

fn request_corpus() -> Vec<(String, Vec<u8>)> {
    let mut c: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |name: &str, b: Vec<u8>| c.push((name.to_string(), b));
    for (i, s) in [
        "",
        " ",
        "{",
        "}",
        "[",
        "null",
        "true",
        "0",
        "-1",
        "\"s\"",
        "[]",
        "{}",
        "{\"a\"}",
        "{,}",
        "{\"messages\":}",
        "{}x",
        "{\"model\":\"m\"}{\"model\":\"n\"}",
        "\u{feff}{}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],}",
    ]
    .iter()
    .enumerate()
    {
        add(&format!("malformed-{i}"), s.as_bytes().to_vec());
    }
    // Wrong types for every top-level field.
    let wrong = [
        json!(null),
        json!(1),
        json!(-1.5e300),
        json!("s"),
        json!([]),
        json!({}),
        json!([null]),
        json!(true),
    ];
    for key in [
        "model",
        "max_tokens",
        "stream",
        "system",
        "messages",
        "tools",
        "tool_choice",
        "thinking",
        "stop_sequences",
        "temperature",
        "top_p",
        "top_k",
        "metadata",
        "service_tier",
        "output_format",
        "output_config",
        "mcp_servers",
    ] {
        for (i, w) in wrong.iter().enumerate() {
            add(&format!("type-{key}-{i}"), with_field(key, w.clone()));
        }
    }
    for (i, v) in [
        json!(123456789012345678901234567890u128 as f64),
        json!(u64::MAX),
        json!(0),
        json!(1.5),
    ]
    .into_iter()
    .enumerate()
    {
        add(&format!("max-tokens-{i}"), with_field("max_tokens", v));
    }
    add(
        "max-tokens-1e999",
        br#"{"model":"m","max_tokens":1e999,"messages":[{"role":"user","content":"x"}]}"#.to_vec(),
    );
    // Odd but well-formed content.
    let blocks = [
        json!({"type": "image", "source": {}}),
        json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": 5}}),
        json!({"type": "image", "source": {"type": "url"}}),
        json!({"type": "document", "source": {"type": "base64", "data": "%%%"}}),
        json!({"type": "document", "source": {"type": "text"}}),
        json!({"type": "tool_use"}),
        json!({"type": "tool_use", "id": 1, "name": [], "input": "not an object"}),
        json!({"type": "tool_result"}),
        json!({"type": "tool_result", "tool_use_id": "t", "content": [{"type": "image"}, null, 5]}),
        json!({"type": "thinking"}),
        json!({"type": "thinking", "thinking": "t", "signature": "aob1.!!!notbase64"}),
        json!({"type": "thinking", "thinking": "t", "signature": "aob1."}),
        json!({"type": "redacted_thinking", "data": 7}),
        json!({"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}}),
        json!({"type": "web_search_tool_result", "tool_use_id": "s", "content": []}),
        json!({"type": "something_new", "x": 1}),
        json!({"type": "text"}),
        json!({"type": "text", "text": ""}),
        json!({"type": 5}),
        json!({}),
        json!(null),
        json!("bare string"),
        json!([[]]),
    ];
    for role in ["user", "assistant"] {
        for (i, b) in blocks.iter().enumerate() {
            add(
                &format!("block-{role}-{i}"),
                envelope(json!([{"role": "user", "content": "q"}, {"role": role, "content": [b]}])),
            );
        }
    }
    add(
        "content-empty-array",
        envelope(json!([{"role": "user", "content": []}])),
    );
    add(
        "content-empty-string",
        envelope(json!([{"role": "user", "content": ""}])),
    );
    add(
        "roles-odd",
        envelope(
            json!([{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]),
        ),
    );
    add(
        "tools-odd",
        with_field(
            "tools",
            json!([
                {"name": ""}, {"name": "x".repeat(300)}, {"name": "a b/c.d:e", "input_schema": 5},
                {"type": "bash_20250124", "name": "bash"}, {"type": "custom", "name": "c", "input_schema": {"type": "object"}},
                {"name": "a_b"}, {"name": "a b"}, {"name": "a.b"}, null, 7,
            ]),
        ),
    );
    add(
        "tool-choice-missing-name",
        with_field("tool_choice", json!({"type": "tool"})),
    );
    add(
        "tool-choice-unknown",
        with_field("tool_choice", json!({"type": "sometimes"})),
    );
    add(
        "thinking-no-budget",
        with_field("thinking", json!({"type": "enabled"})),
    );
    add(
        "thinking-negative",
        with_field("thinking", json!({"type": "enabled", "budget_tokens": -5})),
    );
    add(
        "thinking-adaptive-max",
        with_field(
            "output_config",
            json!({"effort": "max", "format": {"type": "json_schema"}}),
        ),
    );
    // Deep nesting, at the top level and where the bridge passes JSON through.
    add("deep-array", "[".repeat(100_000).into_bytes());
    add("deep-object", "{\"a\":".repeat(50_000).into_bytes());
    let mut deep_schema = String::from("{\"type\":\"object\"}");
    for _ in 0..2_000 {
        deep_schema = format!("{{\"type\":\"object\",\"properties\":{{\"a\":{deep_schema}}}}}");
    }
    let tool = format!(r#"{{"name":"deep","input_schema":{deep_schema}}}"#);
    let req = String::from_utf8(simple_request(false)).unwrap();
    add(
        "deep-schema",
        format!("{},\"tools\":[{tool}]}}", &req[..req.len() - 1]).into_bytes(),
    );
    let mut deep_input = String::from("1");
    for _ in 0..5_000 {
        deep_input = format!("[{deep_input}]");
    }
    add(
        "deep-tool-input",
        format!(
            r#"{{"model":"m","max_tokens":1,"messages":[{{"role":"user","content":"q"}},{{"role":"assistant","content":[{{"type":"tool_use","id":"t","name":"n","input":{{"a":{deep_input}}}}}]}}]}}"#
        )
        .into_bytes(),
    );
    // Invalid UTF-8 and odd escapes.
    let mut bad =
        br#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"a"#.to_vec();
    bad.extend_from_slice(&[0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80]);
    bad.extend_from_slice(br#""}]}"#);
    add("invalid-utf8-in-string", bad);
    let mut bad = simple_request(false);
    bad.insert(1, 0x80);
    add("invalid-utf8-structural", bad);
    for (i, esc) in [
        r"\ud800",
        r"\udfff\ud800",
        r"\u0000",
        r"\uZZZZ",
        r"\",
        r"\x41",
    ]
    .iter()
    .enumerate()
    {
        add(
            &format!("escape-{i}"),
            format!(r#"{{"model":"m{esc}","max_tokens":1,"messages":[{{"role":"user","content":"a{esc}b"}}]}}"#).into_bytes(),
        );
    }
    // Huge values.
    add(
        "huge-text-8MB",
        envelope(json!([{"role": "user", "content": "z".repeat(8 << 20)}])),
    );
    add(
        "huge-model-1MB",
        with_field("model", json!("m".repeat(1 << 20))),
    );
    add(
        "many-messages",
        envelope(Value::Array(
            (0..20_000)
                .map(|i| json!({"role": if i % 2 == 0 { "user" } else { "assistant" }, "content": "x"}))
                .collect(),
        )),
    );
    add("many-tools", with_field("tools", Value::Array((0..5_000).map(|i| json!({"name": format!("t{}", i % 100), "input_schema": {"type": "object"}})).collect())));
    // Byte-level mutations and truncations of a realistic request.
    let base = serde_json::to_vec(&json!({
        "model": "claude-sonnet-4-5", "max_tokens": 100, "stream": true,
        "system": "s", "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}]},
        ],
    }))
    .unwrap();
    for cut in (0..base.len()).step_by(13) {
        add(&format!("truncated-{cut}"), base[..cut].to_vec());
    }
    let mut rng = Rng(0x5eed);
    for i in 0..300 {
        let mut m = base.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(m.len());
            match rng.below(3) {
                0 => m[at] = rng.next() as u8,
                1 => {
                    m.remove(at);
                }
                _ => m.insert(at, b"{}[]\",:\\0aZ\xff"[rng.below(12)]),
            }
        }
        add(&format!("mutated-{i}"), m);
    }
    c
}

/// A converted request forwards JSON; a rejected one is answered with a 4xx
/// in the Anthropic error shape. Nothing else is acceptable.
fn check_request(h: &mut Host, name: &str, body: &[u8], chunking: &Chunking) {
    let headers = anthropic_headers("/v1/messages", None);
    let mut s = h.http_stream();
    if let Err(e) = s.request(&pairs(&headers), body, chunking) {
        panic!("request input {name} ({} bytes): {e}", body.len());
    }
    match s.local_response() {
        Some(lr) => {
            assert!(
                (400..500).contains(&lr.status),
                "{name}: local reply status {}",
                lr.status
            );
            let (t, _) = anthropic_error(&lr.body);
            assert_eq!(t, anthropic_error_type(lr.status as u16), "{name}");
            assert!(
                s.request_body_out().is_empty(),
                "{name}: rejected but forwarded"
            );
        }
        None => {
            assert!(
                s.request_complete(),
                "{name}: neither converted nor rejected (hangs)"
            );
            let out = s.request_body_out();
            let valid = is_valid_json(out);
            assert!(
                valid.is_ok() && out.first() == Some(&b'{'),
                "{name}: forwarded body is not a JSON object ({valid:?}): {}",
                String::from_utf8_lossy(&out[..out.len().min(300)])
            );
        }
    }
    if let Err(e) = s.finish() {
        panic!("{name}: {e}");
    }
}

/// The VM still answers a normal exchange exactly as a fresh one does.
fn assert_still_serves(h: &mut Host) {
    let sse = recorded_stream("openai/stream-tool-call-single.sse");
    let req = simple_request(true);
    let got = exchange(h, &req, SSE_200, &sse, &Chunking::Bytes(3));
    let want = exchange(&mut openai_host(), &req, SSE_200, &sse, &Chunking::Bytes(3));
    assert_eq!(got.request_body, want.request_body);
    assert_eq!(got.response_body, want.response_body);
    assert_clean(h);
}

#[test]
fn malformed_requests_never_trap() {
    let mut h = openai_host();
    let corpus = request_corpus();
    assert!(corpus.len() > 500);
    for (i, (name, body)) in corpus.iter().enumerate() {
        let chunking = if i % 5 == 0 {
            Chunking::Bytes(7)
        } else {
            Chunking::Whole
        };
        check_request(&mut h, name, body, &chunking);
    }
    assert_still_serves(&mut h);
}

#[test]
fn a_request_over_the_size_limit_never_reaches_the_module_whole() {
    let mut h = openai_host();
    let body = envelope(json!([{"role": "user", "content": "y".repeat(33 << 20)}]));
    check_request(&mut h, "over-32MiB", &body, &Chunking::Bytes(1 << 20));
    assert_still_serves(&mut h);
}

fn stream_corpus() -> Vec<(String, Vec<u8>)> {
    let mut c: Vec<(String, Vec<u8>)> = Vec::new();
    let base = recorded_stream("openai/stream-tool-calls-parallel.sse");
    for cut in (0..base.len()).step_by(41) {
        c.push((format!("truncated-{cut}"), base[..cut].to_vec()));
    }
    let lines = [
        "data: {",
        "data: []",
        "data: null",
        "data: 5",
        "data: \"s\"",
        "data: {}",
        r#"data: {"choices":null}"#,
        r#"data: {"choices":[null]}"#,
        r#"data: {"choices":[5]}"#,
        r#"data: {"choices":[{"delta":null}]}"#,
        r#"data: {"choices":[{"delta":{"content":5}}]}"#,
        r#"data: {"choices":[{"delta":{"content":null,"role":7}}]}"#,
        r#"data: {"choices":[{"delta":{"tool_calls":[{"index":"x"}]}}]}"#,
        r#"data: {"choices":[{"delta":{"tool_calls":[{"index":4294967295,"id":"a","function":{"name":"f"}}]}}]}"#,
        r#"data: {"choices":[{"delta":{"tool_calls":[{"index":-1}]}}]}"#,
        r#"data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":123}}]}}]}"#,
        r#"data: {"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}"#,
        r#"data: {"choices":[{"delta":{"tool_calls":null}}]}"#,
        r#"data: {"choices":[{"delta":{"reasoning_content":{}}}]}"#,
        r#"data: {"choices":[{"delta":{},"finish_reason":5}]}"#,
        r#"data: {"choices":[{"delta":{},"finish_reason":"weird"}]}"#,
        r#"data: {"choices":[],"usage":{"prompt_tokens":"many"}}"#,
        r#"data: {"choices":[],"usage":{"prompt_tokens":-5,"prompt_tokens_details":{"cached_tokens":99}}}"#,
        r#"data: {"error":"just a string"}"#,
        r#"data: {"error":{"message":5}}"#,
        "data: [DONE]",
        "data:[DONE]",
        "data:",
        "event: message",
        "id: 5",
        "retry: 100",
        ": comment",
        "garbage line without a colon",
        "data: {\"choices\":[{\"delta\":{\"content\":\"\u{0}\"}}]}",
    ];
    let good = "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"}}]}\n\n";
    let finish = "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
    for (i, l) in lines.iter().enumerate() {
        c.push((format!("line-{i}-alone"), format!("{l}\n\n").into_bytes()));
        c.push((
            format!("line-{i}-mid"),
            format!("{good}{l}\n\n{good}{finish}data: [DONE]\n\n").into_bytes(),
        ));
        c.push((
            format!("line-{i}-after-finish"),
            format!("{good}{finish}{l}\n\n{good}").into_bytes(),
        ));
    }
    let mut bad = good.as_bytes().to_vec();
    let at = bad.len() - 10;
    bad.splice(at..at, [0xff, 0xc3, 0x28, 0xe2, 0x82]);
    bad.extend_from_slice(finish.as_bytes());
    c.push(("invalid-utf8".into(), bad));
    c.push((
        "cr-only".into(),
        format!("{good}{finish}").replace('\n', "\r").into_bytes(),
    ));
    c.push((
        "crlf".into(),
        format!("{good}{finish}data: [DONE]\n\n")
            .replace('\n', "\r\n")
            .into_bytes(),
    ));
    c.push((
        "huge-line-4MB".into(),
        format!(
            "data: {{\"choices\":[{{\"delta\":{{\"content\":\"{}\"}}}}]}}\n\n{finish}",
            "q".repeat(4 << 20)
        )
        .into_bytes(),
    ));
    c.push((
        "unterminated-huge".into(),
        format!("data: {}", "q".repeat(3 << 20)).into_bytes(),
    ));
    c.push((
        "deep".into(),
        format!("data: {}\n\n{finish}", "[".repeat(100_000)).into_bytes(),
    ));
    c.push((
        "many-empty-events".into(),
        format!("{}{good}{finish}", "\n".repeat(200_000)).into_bytes(),
    ));
    c.push((
        "comment-flood".into(),
        format!("{}{good}{finish}", ": keep-alive\n\n".repeat(20_000)).into_bytes(),
    ));
    c.push((
        "done-first".into(),
        format!("data: [DONE]\n\n{good}{finish}").into_bytes(),
    ));
    c.push(("many-tool-indexes".into(), (0..3000).map(|i| format!("data: {{\"choices\":[{{\"delta\":{{\"tool_calls\":[{{\"index\":{},\"id\":\"c{i}\",\"function\":{{\"name\":\"f\",\"arguments\":\"{{\"}}}}]}}}}]}}\n\n", (i * 7919) % 3001)).collect::<String>().into_bytes()));
    c.push(("binary".into(), (0..=255u8).cycle().take(100_000).collect()));
    c
}

fn check_stream(h: &mut Host, name: &str, body: &[u8], chunking: &Chunking) {
    let req = simple_request(true);
    let headers = anthropic_headers("/v1/messages", None);
    let mut s = h.http_stream();
    s.request(&pairs(&headers), &req, &Chunking::Whole).unwrap();
    if let Err(e) = s.response(SSE_200, body, chunking) {
        panic!(
            "stream input {name} ({} bytes, {chunking:?}): {e}",
            body.len()
        );
    }
    assert!(
        s.response_complete(),
        "{name}: the client's stream never ended"
    );
    let out = s.response_body_out().to_vec();
    if body.is_empty() {
        // Headers with end_of_stream: no stream to convert; the bridge
        // answers with an error in the client's shape.
        assert_eq!(s.response_status(), Some(502), "{name}");
        anthropic_error(&out);
        s.finish().unwrap();
        return;
    }
    let events = parse_anthropic_sse(&out).unwrap_or_else(|e| panic!("{name} {chunking:?}: {e}"));
    check_anthropic_stream(&events).unwrap_or_else(|e| {
        panic!(
            "{name} {chunking:?}: {e}\n{}",
            String::from_utf8_lossy(&out[..out.len().min(2000)])
        )
    });
    s.finish().unwrap_or_else(|e| panic!("{name}: {e}"));
}

#[test]
fn broken_streams_never_trap() {
    let mut h = openai_host();
    for (name, body) in stream_corpus() {
        check_stream(&mut h, &name, &body, &Chunking::Whole);
        if body.len() < 200_000 {
            check_stream(&mut h, &name, &body, &Chunking::Bytes(3).then_empty_eos());
        }
    }
    assert_still_serves(&mut h);
}

#[test]
fn broken_completions_never_trap() {
    let mut h = openai_host();
    let mut corpus: Vec<(String, Vec<u8>)> = request_corpus()
        .into_iter()
        .filter(|(n, _)| !n.starts_with("huge") && !n.starts_with("many"))
        .collect();
    let base = fixture("openai/chat-tool-calls-parallel.json");
    for cut in (0..base.len()).step_by(17) {
        corpus.push((format!("completion-truncated-{cut}"), base[..cut].to_vec()));
    }
    for (i, v) in [
        json!({"choices": null}),
        json!({"choices": [{"message": null}]}),
        json!({"choices": [{"message": {"content": 5, "tool_calls": [{"function": {"name": 5, "arguments": "{"}}]}}]}),
        json!({"choices": [{"message": {"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "not json"}}]}, "finish_reason": "tool_calls"}]}),
        json!({"choices": [{"message": {"refusal": "no"}, "finish_reason": "stop"}]}),
        json!({"choices": [{"message": {"content": "x"}, "finish_reason": null}], "usage": {"prompt_tokens": 1, "prompt_tokens_details": {"cached_tokens": 5}}}),
        json!({"choices": [], "usage": "none"}),
        json!({"id": 5, "model": [], "choices": [{}]}),
    ]
    .into_iter()
    .enumerate()
    {
        corpus.push((format!("completion-odd-{i}"), serde_json::to_vec(&v).unwrap()));
    }
    let statuses: &[(&str, &str)] = &[
        ("200", "application/json"),
        ("500", "application/json"),
        ("429", "text/html"),
    ];
    for (i, (name, body)) in corpus.iter().enumerate() {
        let (status, ct) = statuses[i % statuses.len()];
        let headers = [(":status", status), ("content-type", ct)];
        let chunking = if i % 4 == 0 {
            Chunking::Bytes(5)
        } else {
            Chunking::Whole
        };
        let h_out = {
            let req = simple_request(false);
            let rh = anthropic_headers("/v1/messages", None);
            let mut s = h.http_stream();
            s.request(&pairs(&rh), &req, &Chunking::Whole).unwrap();
            if let Err(e) = s.response(&headers, body, &chunking) {
                panic!("completion input {name} (status {status}): {e}");
            }
            assert!(s.response_complete(), "{name}: response never ended");
            assert_eq!(
                s.response_status().map(|c| c.to_string()).as_deref(),
                Some(if status == "200" && body.is_empty() {
                    "502"
                } else {
                    status
                }),
                "{name}: status"
            );
            let out = s.response_body_out().to_vec();
            s.finish().unwrap();
            out
        };
        if body.is_empty() && status != "200" {
            // Headers-only error response: see
            // `headers_only_error_response_gets_an_anthropic_error_body`.
            continue;
        }
        let v: Value = serde_json::from_slice(&h_out).unwrap_or_else(|e| {
            panic!(
                "{name} (status {status}): the client got non-JSON ({e}): {}",
                String::from_utf8_lossy(&h_out[..h_out.len().min(500)])
            )
        });
        match v["type"].as_str() {
            Some("message") => assert_eq!(status, "200", "{name}: a message for an error status"),
            Some("error") => {
                anthropic_error(&h_out);
            }
            _ => panic!("{name} (status {status}): neither a message nor an error: {v}"),
        }
    }
    // A huge non-JSON error page: the message is cut to about 1 KiB.
    let page = vec![b'<'; 5 << 20];
    let o = exchange(
        &mut h,
        &simple_request(false),
        &[(":status", "502"), ("content-type", "text/html")],
        &page,
        &Chunking::Bytes(1 << 16),
    );
    let (_, m) = anthropic_error(&o.response_body);
    assert!(m.len() <= 1024 + 64, "{}", m.len());
    assert_still_serves(&mut h);
}

/// docs/exchange.md#classifying-the-upstreams-answer: an upstream non-2xx response is converted to the
/// client's error shape. When the upstream sends the error status with no
/// body (headers with end_of_stream), the module currently forwards an empty
/// body labelled `application/json`; it could answer with a local reply
/// from the response headers, as it already does for an empty 2xx.
#[test]
fn headers_only_error_response_gets_an_anthropic_error_body() {
    let mut h = openai_host();
    for status in ["429", "500", "503"] {
        let o = exchange(
            &mut h,
            &simple_request(false),
            &[(":status", status), ("content-type", "application/json")],
            b"",
            &Chunking::Whole,
        );
        assert_eq!(o.status.map(|c| c.to_string()).as_deref(), Some(status));
        let (t, _) = anthropic_error(&o.response_body);
        assert_eq!(t, anthropic_error_type(status.parse().unwrap()));
    }
}

/// Header values are bytes (Envoy passes obs-text through) and can be odd in
/// every way; the module reads them itself, so none of it may trap.
#[test]
fn odd_headers_never_trap() {
    let mut h = openai_host();
    let long = vec![b'v'; 64 * 1024];
    let many: Vec<(String, Vec<u8>)> = (0..500)
        .map(|i| (format!("x-extra-{i}"), format!("{i}").into_bytes()))
        .collect();
    let odd_values: Vec<&[u8]> = vec![
        b"\xff\xfe\x80",
        b"caf\xe9",
        b"",
        b" ",
        b"Bearer",
        b"Bearer ",
        b"bearer   spaced  ",
        &long,
    ];
    let req = simple_request(true);
    let sse = recorded_stream("openai/stream-tool-call-single.sse");
    for (i, v) in odd_values.iter().enumerate() {
        for name in [
            "x-api-key",
            "authorization",
            "anthropic-version",
            "anthropic-beta",
            "content-length",
            "content-type",
            "user-agent",
        ] {
            let mut headers: Vec<(String, Vec<u8>)> = anthropic_headers("/v1/messages", None)
                .into_iter()
                .filter(|(k, _)| k != name)
                .map(|(k, v)| (k, v.into_bytes()))
                .collect();
            headers.push((name.to_string(), v.to_vec()));
            headers.push((name.to_string(), b"second".to_vec()));
            if i == 0 {
                headers.extend(many.iter().cloned());
            }
            let hp: Vec<(&str, &[u8])> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_slice()))
                .collect();
            let mut s = h.http_stream();
            if let Err(e) = s.request(&hp, &req, &Chunking::Whole) {
                panic!(
                    "request header {name}={:?}: {e}",
                    String::from_utf8_lossy(&v[..v.len().min(40)])
                );
            }
            if s.local_response().is_none() {
                let resp: Vec<(&str, &[u8])> = vec![
                    (":status", b"200"),
                    ("content-type", b"text/event-stream"),
                    ("x-request-id", v),
                    ("retry-after", v),
                    ("x-ratelimit-reset-requests", v),
                    ("x-ratelimit-remaining-tokens", v),
                    ("content-length", v),
                ];
                if let Err(e) = s.response(&resp, &sse, &Chunking::Bytes(64)) {
                    panic!(
                        "response headers with {:?}: {e}",
                        String::from_utf8_lossy(&v[..v.len().min(40)])
                    );
                }
                let events = parse_anthropic_sse(s.response_body_out()).unwrap();
                check_anthropic_stream(&events).unwrap();
            }
        }
    }
    for path in [
        "/v1/messages?",
        "/v1/messages?a=%ff&b=\u{e9}",
        "/v1/messages#frag",
        "/v1//messages",
        "/V1/MESSAGES",
        "//v1/messages",
        "/v1/messages/",
        "/x/../v1/messages",
    ] {
        let headers = anthropic_headers(path, None);
        let mut s = h.http_stream();
        if let Err(e) = s.request(&pairs(&headers), &req, &Chunking::Whole) {
            panic!("path {path}: {e}");
        }
    }
    let status_values: [&[u8]; 6] = [b"999", b"abc", b"", b"20", b"2000000000000", b"\xff"];
    for status in status_values {
        let headers = anthropic_headers("/v1/messages", None);
        let mut s = h.http_stream();
        s.request(&pairs(&headers), &req, &Chunking::Whole).unwrap();
        let resp: Vec<(&str, &[u8])> =
            vec![(":status", status), ("content-type", b"application/json")];
        if let Err(e) = s.response(&resp, b"{\"error\":{\"message\":\"x\"}}", &Chunking::Whole) {
            panic!("status {:?}: {e}", String::from_utf8_lossy(status));
        }
    }
    assert_still_serves(&mut h);
}
