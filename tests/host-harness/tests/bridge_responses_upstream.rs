//! The release bridge module in the harness, Anthropic client → OpenAI
//! Responses upstream (`upstream_protocol: "openai_responses"`): converted
//! requests, recorded Responses streams and bodies in every chunking, equal
//! to the native goldens, upstream errors, and the reasoning round trip.

mod common;

use common::*;
use host_harness::{Chunking, Host, MetricKind};
use serde_json::{json, Value};

const RESPONSES_UPSTREAM: &str = r#"{"upstream_protocol":"openai_responses"}"#;

fn responses_host() -> Host {
    host(RESPONSES_UPSTREAM)
}

/// `simple_request` asking for `gpt-test`, the model the native goldens
/// name (the answer names the client's model, not the upstream's).
fn golden_request(stream: bool) -> Vec<u8> {
    let mut request: Value = serde_json::from_slice(&simple_request(stream)).unwrap();
    request["model"] = json!("gpt-test");
    serde_json::to_vec(&request).unwrap()
}

/// Message ids the bridge invents contain the context id; make them equal.
fn normalize(out: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(out);
    let mut r = String::with_capacity(s.len());
    let mut rest: &str = &s;
    while let Some(i) = rest.find("msg_bridge_") {
        r.push_str(&rest[..i + "msg_bridge_".len()]);
        rest = &rest[i + "msg_bridge_".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_hexdigit() || c == '_'))
            .unwrap_or(rest.len());
        r.push('N');
        rest = &rest[end..];
    }
    r.push_str(rest);
    r.into_bytes()
}

fn get<'a>(h: &'a [(String, String)], k: &str) -> Option<&'a str> {
    h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

/// Sends `body` to `path`; returns the forwarded headers and JSON body.
fn converted_request(
    h: &mut Host,
    path: &str,
    body: &[u8],
    chunking: &Chunking,
) -> (Vec<(String, String)>, Value) {
    let headers = anthropic_headers(path, Some(body.len()));
    let mut s = h.http_stream();
    s.request(&pairs(&headers), body, chunking)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        s.local_response().is_none(),
        "answered locally: {:?}",
        s.local_response()
    );
    assert!(
        s.request_complete(),
        "the request never ended ({chunking:?})"
    );
    let out_headers = s.request_headers_out().expect("headers").to_pairs();
    let out: Value = serde_json::from_slice(s.request_body_out()).unwrap_or_else(|e| {
        panic!(
            "forwarded body is not JSON ({e}): {}",
            String::from_utf8_lossy(s.request_body_out())
        )
    });
    (out_headers, out)
}

/// A Claude-Code-shaped second turn: tools, thinking, a tool round trip
/// whose thinking block carries a bridge-made signature.
fn agent_request(signature: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "stream": true,
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197; cch=abcde;"},
            {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}
        ],
        "metadata": {"user_id": "user_0123456789abcdef_account__session_1"},
        "thinking": {"type": "enabled", "budget_tokens": 8000},
        "tools": [{"name": "Bash", "description": "Run a command",
            "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "list the files"}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Run ls.", "signature": signature},
                {"type": "tool_use", "id": "call_abc", "name": "Bash", "input": {"command": "ls"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_abc", "content": "a.txt\nb.txt"}
            ]}
        ]
    }))
    .unwrap()
}

#[test]
fn request_headers_go_to_v1_responses() {
    let mut h = responses_host();
    let body = simple_request(true);
    let (out, _) = converted_request(&mut h, "/v1/messages?beta=true", &body, &Chunking::Whole);
    assert_eq!(get(&out, ":path"), Some("/v1/responses"));
    assert_eq!(get(&out, "authorization"), Some("Bearer sk-test-key"));
    for gone in [
        "x-api-key",
        "anthropic-version",
        "anthropic-beta",
        "accept-encoding",
        "content-length",
    ] {
        assert_eq!(get(&out, gone), None, "{gone} must be removed: {out:?}");
    }
    let mut h = host(
        r#"{"upstream_protocol":"openai_responses","upstream_path":"/openai/v1/responses?api-version=preview"}"#,
    );
    let (out, _) = converted_request(&mut h, "/v1/messages", &body, &Chunking::Whole);
    assert_eq!(
        get(&out, ":path"),
        Some("/openai/v1/responses?api-version=preview")
    );
    assert_clean(&h);
}

#[test]
fn request_body_is_a_stateless_responses_request_in_every_chunking() {
    let mut h =
        host(r#"{"upstream_protocol":"openai_responses","model_map":{"claude-*":"gpt-5-codex"}}"#);
    let body = agent_request("aob2.ENCRYPTED-TURN-1");
    let (_, whole) = converted_request(&mut h, "/v1/messages", &body, &Chunking::Whole);
    assert_eq!(whole["model"], "gpt-5-codex");
    assert_eq!(whole["store"], false);
    assert_eq!(whole["stream"], true);
    assert_eq!(whole["include"], json!(["reasoning.encrypted_content"]));
    assert_eq!(
        whole["instructions"],
        "x-anthropic-billing-header: cc_version=2.1.197;\n\nYou are Claude Code.",
        "the per-request billing nonce is stripped so the prompt cache hits"
    );
    assert_eq!(whole["max_output_tokens"], 32000);
    assert_eq!(whole["reasoning"]["summary"], "auto");
    assert!(whole["prompt_cache_key"]
        .as_str()
        .is_some_and(|k| k.starts_with("aob-")));
    assert!(whole.get("previous_response_id").is_none());
    let input = whole["input"].as_array().unwrap();
    let kinds: Vec<&str> = input.iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "message",
            "reasoning",
            "function_call",
            "function_call_output"
        ]
    );
    assert!(input.iter().all(|i| i.get("id").is_none()), "{whole}");
    assert_eq!(input[1]["encrypted_content"], "ENCRYPTED-TURN-1");
    assert_eq!(input[2]["call_id"], "call_abc");
    assert_eq!(input[3]["call_id"], "call_abc");
    assert_eq!(input[3]["output"], "a.txt\nb.txt");
    for c in [
        Chunking::Bytes(1),
        Chunking::Bytes(97),
        Chunking::Count(7).then_empty_eos(),
    ] {
        let (_, out) = converted_request(&mut h, "/v1/messages", &body, &c);
        assert_eq!(out, whole, "{c:?}");
    }
    assert_clean(&h);
}

fn stream_matches_golden(name: &str) {
    let mut h = responses_host();
    let sse = fixture(&format!("responses/{name}.sse"));
    let golden = fixture(&format!("responses/{name}.to-anthropic.sse"));
    let req = golden_request(true);
    let whole = exchange(&mut h, &req, SSE_200, &sse, &Chunking::Whole);
    assert_eq!(whole.status, Some(200));
    assert!(whole.response_complete);
    assert_eq!(
        whole.response_header("content-type"),
        Some("text/event-stream; charset=utf-8")
    );
    assert_eq!(whole.response_header("request-id"), Some("req_upstream_1"));
    let events = parse_anthropic_sse(&whole.response_body)
        .unwrap_or_else(|e| panic!("{name}: {e}\n{}", whole.body_text()));
    check_anthropic_stream(&events).unwrap_or_else(|e| panic!("{name}: {e}"));
    let want = normalize(&whole.response_body);
    assert!(
        want == golden,
        "{name} differs from the native golden: {}",
        first_difference(&want, &golden)
    );
    for c in chunkings(sse.len()) {
        let o = exchange(&mut h, &req, SSE_200, &sse, &c);
        let got = normalize(&o.response_body);
        assert!(
            got == want,
            "{name} with {c:?}: {}",
            first_difference(&got, &want)
        );
        assert!(o.response_complete, "{name} {c:?}");
    }
    assert_clean(&h);
}

macro_rules! stream_tests {
    ($($test:ident => $file:literal,)*) => {$(
        #[test]
        fn $test() {
            stream_matches_golden($file);
        }
    )*};
}

stream_tests! {
    responses_stream_text_every_chunking => "stream-text",
    responses_stream_function_call_every_chunking => "stream-function-call",
    responses_stream_reasoning_encrypted_every_chunking => "stream-reasoning-summary-encrypted",
    responses_stream_custom_tool_every_chunking => "stream-custom-tool-call-reasoning",
    responses_stream_deepseek_every_chunking => "deepseek-stream-reasoning-text-function-call",
}

#[test]
fn a_recorded_failure_event_becomes_an_error_event() {
    let mut h = responses_host();
    let lines = fixture("responses/stream-error-insufficient-quota-failed.chunks.jsonl");
    let mut sse = String::new();
    for line in String::from_utf8(lines)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let v: Value = serde_json::from_str(line).unwrap();
        sse.push_str(&format!(
            "event: {}\ndata: {line}\n\n",
            v["type"].as_str().unwrap()
        ));
    }
    let o = exchange(
        &mut h,
        &simple_request(true),
        SSE_200,
        sse.as_bytes(),
        &Chunking::Bytes(11),
    );
    let events = parse_anthropic_sse(&o.response_body).unwrap();
    check_anthropic_stream(&events).unwrap();
    let (last, data) = events.last().unwrap();
    assert_eq!(last, "error", "{}", o.body_text());
    assert!(data["error"]["message"].as_str().unwrap().contains("quota"));
    assert!(!events.iter().any(|(t, _)| t == "message_delta"));
    assert_clean(&h);
}

#[test]
fn a_stream_cut_short_ends_in_an_error_event() {
    let mut h = responses_host();
    let sse = fixture("responses/stream-text.sse");
    let text = String::from_utf8_lossy(&sse);
    let cut = &text[..text.find("event: response.completed").unwrap()];
    let o = exchange(
        &mut h,
        &simple_request(true),
        SSE_200,
        cut.as_bytes(),
        &Chunking::Bytes(64),
    );
    let events = parse_anthropic_sse(&o.response_body).unwrap();
    check_anthropic_stream(&events).unwrap();
    assert_eq!(events.last().unwrap().0, "error");
    assert!(!events.iter().any(|(t, _)| t == "message_stop"));
    assert_clean(&h);
}

fn body_matches_golden(name: &str) {
    let mut h = responses_host();
    let body = fixture(&format!("responses/{name}.json"));
    let golden: Value =
        serde_json::from_slice(&fixture(&format!("responses/{name}.to-anthropic.json"))).unwrap();
    for c in [
        Chunking::Whole,
        Chunking::Bytes(1),
        Chunking::Bytes(13),
        Chunking::Count(3).then_empty_eos(),
    ] {
        let o = exchange(&mut h, &golden_request(false), JSON_200, &body, &c);
        assert_eq!(o.status, Some(200));
        assert_eq!(o.response_header("content-length"), None, "{name} {c:?}");
        let got: Value = serde_json::from_slice(&normalize(&o.response_body)).unwrap();
        assert_eq!(got, golden, "{name} {c:?}");
    }
    assert_clean(&h);
}

#[test]
fn responses_bodies_match_their_goldens() {
    for name in [
        "text",
        "function-call",
        "function-calls-parallel",
        "reasoning-encrypted-summary",
        "azure-reasoning-encrypted",
        "incomplete-max-output-tokens",
    ] {
        body_matches_golden(name);
    }
}

#[test]
fn a_json_answer_to_a_streaming_request_is_sent_as_a_stream() {
    let mut h = responses_host();
    let body = fixture("responses/function-call.json");
    let golden: Value =
        serde_json::from_slice(&fixture("responses/function-call.to-anthropic.json")).unwrap();
    let o = exchange(
        &mut h,
        &simple_request(true),
        JSON_200,
        &body,
        &Chunking::Bytes(29),
    );
    assert_eq!(
        o.response_header("content-type"),
        Some("text/event-stream; charset=utf-8")
    );
    let events = parse_anthropic_sse(&o.response_body).unwrap();
    check_anthropic_stream(&events).unwrap();
    let starts: Vec<&Value> = events
        .iter()
        .filter(|(t, _)| t == "content_block_start")
        .map(|(_, v)| &v["content_block"]["type"])
        .collect();
    let want: Vec<&Value> = golden["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| &b["type"])
        .collect();
    assert_eq!(starts, want);
    let stop = events
        .iter()
        .find(|(t, _)| t == "message_delta")
        .map(|(_, v)| v["delta"]["stop_reason"].clone());
    assert_eq!(stop, Some(golden["stop_reason"].clone()));
    assert_clean(&h);
}

#[test]
fn upstream_errors_become_anthropic_errors() {
    for (name, status) in [
        ("responses/error-429-insufficient-quota.json", 429),
        ("responses/error-400-invalid-temperature.json", 400),
        ("responses/error-404-response-not-found.json", 404),
    ] {
        for stream in [false, true] {
            let mut h = responses_host();
            let st = status.to_string();
            let headers = [
                (":status", st.as_str()),
                ("content-type", "application/json"),
                ("retry-after", "3"),
            ];
            let upstream: Value = serde_json::from_slice(&fixture(name)).unwrap();
            let o = exchange(
                &mut h,
                &simple_request(stream),
                &headers,
                &fixture(name),
                &Chunking::Bytes(5),
            );
            assert_eq!(o.status, Some(status), "{name}");
            assert_eq!(o.response_header("content-type"), Some("application/json"));
            assert_eq!(o.response_header("retry-after"), Some("3"));
            let (t, m) = anthropic_error(&o.response_body);
            assert_eq!(t, anthropic_error_type(status), "{name}");
            let upstream_message = upstream["error"]["message"].as_str().unwrap();
            assert!(
                upstream_message.starts_with(m.trim_end_matches('…')),
                "{name}: {m}"
            );
            assert_clean(&h);
        }
    }
}

/// The first turn's reasoning comes back to the client as a thinking block;
/// sent back in the next request, the upstream gets exactly its own
/// `encrypted_content` as a `reasoning` item.
#[test]
fn reasoning_survives_the_round_trip_through_the_module() {
    let mut h = responses_host();
    let body = fixture("responses/reasoning-encrypted-summary.json");
    let upstream: Value = serde_json::from_slice(&body).unwrap();
    let sent: Vec<&str> = upstream["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "reasoning")
        .filter_map(|i| i["encrypted_content"].as_str())
        .collect();
    assert!(!sent.is_empty());
    let o = exchange(
        &mut h,
        &simple_request(false),
        JSON_200,
        &body,
        &Chunking::Whole,
    );
    let message: Value = serde_json::from_slice(&o.response_body).unwrap();
    assert_ne!(upstream["model"], "claude-sonnet-4-5");
    assert_eq!(
        message["model"], "claude-sonnet-4-5",
        "the client's model: Claude Code drops thinking blocks of another model"
    );
    let thinking = message["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "thinking")
        .expect("a thinking block");
    let signature = thinking["signature"].as_str().unwrap();
    let (_, next) = converted_request(
        &mut h,
        "/v1/messages",
        &agent_request(signature),
        &Chunking::Bytes(64),
    );
    let reasoning: Vec<&Value> = next["input"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "reasoning")
        .collect();
    assert_eq!(reasoning.len(), 1);
    assert_eq!(reasoning[0]["encrypted_content"], sent[0]);
    assert!(reasoning[0].get("id").is_none());
    assert_clean(&h);
}

#[test]
fn metrics_and_access_log_name_the_pair() {
    let mut h = responses_host();
    let body = fixture("responses/text.json");
    exchange(
        &mut h,
        &simple_request(false),
        JSON_200,
        &body,
        &Chunking::Whole,
    );
    let converted = h
        .metrics()
        .get("aob.requests_converted.direction=.=anthropic_client_responses;.;model=.=claude-sonnet-4-5;.;")
        .filter(|m| m.kind == MetricKind::Counter)
        .map_or(0, |m| m.value);
    assert_eq!(converted, 1);
    assert_eq!(
        h.property(&["aob_direction"]),
        Some(b"anthropic_client_responses".as_slice())
    );
    assert_clean(&h);
}

/// `max_held_bytes` bounds this pair's stream in the module: a reasoning
/// item's encrypted content larger than the cap ends the stream with an
/// `error` event naming the key, after what was already written.
#[test]
fn max_held_bytes_bounds_the_stream() {
    let mut h = host(r#"{"upstream_protocol":"openai_responses","max_held_bytes":4096}"#);
    let big = "e".repeat(8192);
    let events = [
        json!({"type": "response.created", "response": {"id": "resp_1", "object": "response", "status": "in_progress", "model": "gpt-5", "output": []}}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []}}),
        json!({"type": "response.output_text.delta", "output_index": 0, "item_id": "msg_1", "content_index": 0, "delta": "Hi"}),
        json!({"type": "response.output_item.added", "output_index": 1, "item": {"type": "reasoning", "id": "rs_1", "summary": []}}),
        json!({"type": "response.output_item.done", "output_index": 1, "item": {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": big}}),
    ];
    let sse: String = events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
        .collect();
    let o = exchange(
        &mut h,
        &simple_request(true),
        SSE_200,
        sse.as_bytes(),
        &Chunking::Bytes(512),
    );
    let events = parse_anthropic_sse(&o.response_body).unwrap();
    check_anthropic_stream(&events).unwrap();
    let (last, data) = events.last().unwrap();
    assert_eq!(last, "error", "{}", o.body_text());
    assert!(data["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_held_bytes"));
    assert!(events
        .iter()
        .any(|(t, v)| t == "content_block_delta" && v["delta"]["text"] == "Hi"));
    assert_clean(&h);
}
