//! The client sees the content-type its protocol's real API sends, on every
//! path out of the release module: `text/event-stream; charset=utf-8` for
//! streams, `application/json` for answers, local replies and errors.

mod common;

use common::*;
use host_harness::Chunking;

const SSE: &str = "text/event-stream; charset=utf-8";
const JSON: &str = "application/json";

/// One upstream answer and the content-type the client must get for it.
struct Case {
    name: &'static str,
    stream: bool,
    upstream: &'static [(&'static str, &'static str)],
    body: Vec<u8>,
    want: &'static str,
}

fn cases(stream_body: Vec<u8>, completion: Vec<u8>, error: Vec<u8>) -> Vec<Case> {
    vec![
        Case {
            name: "stream",
            stream: true,
            upstream: &[(":status", "200"), ("content-type", "text/event-stream")],
            body: stream_body,
            want: SSE,
        },
        Case {
            name: "completion as stream",
            stream: true,
            upstream: &[(":status", "200"), ("content-type", "application/json")],
            body: completion.clone(),
            want: SSE,
        },
        Case {
            name: "completion",
            stream: false,
            upstream: &[(":status", "200"), ("content-type", "application/json")],
            body: completion,
            want: JSON,
        },
        Case {
            name: "upstream error",
            stream: true,
            upstream: &[(":status", "400"), ("content-type", "application/json")],
            body: error,
            want: JSON,
        },
        Case {
            name: "html error page",
            stream: true,
            upstream: &[(":status", "502"), ("content-type", "text/html")],
            body: b"<html>bad gateway</html>".to_vec(),
            want: JSON,
        },
    ]
}

#[test]
fn anthropic_clients_get_anthropics_content_types() {
    let mut h = openai_host();
    for case in cases(
        recorded_stream("openai/stream-text.sse"),
        fixture("openai/chat-text.json"),
        fixture("openai/error-400-unsupported-value.json"),
    ) {
        let req = simple_request(case.stream);
        let o = exchange(&mut h, &req, case.upstream, &case.body, &Chunking::Whole);
        assert!(o.response_complete, "{}", case.name);
        assert_eq!(
            o.response_header("content-type"),
            Some(case.want),
            "{}",
            case.name
        );
    }
    assert_clean(&h);
}

#[test]
fn openai_clients_get_openais_content_types() {
    let mut h = host(ANTHROPIC_UPSTREAM);
    for case in cases(
        recorded_stream("anthropic/stream-text-minimal.sse"),
        fixture("anthropic/msg-text.json"),
        fixture("anthropic/error-400-invalid-request.json"),
    ) {
        let req = openai_request(case.stream, false);
        let o = openai_exchange(&mut h, &req, case.upstream, &case.body, &Chunking::Whole);
        assert!(o.response_complete, "{}", case.name);
        assert_eq!(
            o.response_header("content-type"),
            Some(case.want),
            "{}",
            case.name
        );
    }
    assert_clean(&h);
}

#[test]
fn local_replies_are_json_in_both_directions() {
    for (config, headers) in [
        (
            r#"{"upstream_protocol":"openai","max_request_bytes":100}"#,
            anthropic_headers("/v1/messages", None),
        ),
        (
            r#"{"upstream_protocol":"anthropic","max_request_bytes":100}"#,
            openai_headers("/v1/chat/completions", None),
        ),
    ] {
        let mut h = host(config);
        for (body, status) in [(b"{".to_vec(), 400), (vec![b' '; 200], 413)] {
            let mut s = h.http_stream();
            s.request(&pairs(&headers), &body, &Chunking::Whole)
                .unwrap_or_else(|e| panic!("{e}"));
            let reply = s.local_response().expect("a local reply").clone();
            assert_eq!(reply.status, status, "{config}");
            assert_eq!(reply.header("content-type"), Some(JSON), "{config}");
            assert_eq!(
                s.response_headers_out().and_then(|m| m.get("content-type")),
                Some(JSON)
            );
        }
        assert_clean(&h);
    }
}

/// A stream's UTF-8 text reaches the client byte for byte under the charset
/// that says it is UTF-8.
#[test]
fn a_non_ascii_stream_is_utf8_under_a_utf8_charset() {
    let text = "héllo 世界 🎉";
    let chunk = serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": null}],
    });
    let end = serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    });
    let sse = format!("data: {chunk}\n\ndata: {end}\n\ndata: [DONE]\n\n");
    let mut h = openai_host();
    let o = exchange(
        &mut h,
        &simple_request(true),
        &[(":status", "200"), ("content-type", "text/event-stream")],
        sse.as_bytes(),
        &Chunking::Bytes(3),
    );
    assert_eq!(o.response_header("content-type"), Some(SSE));
    let events = parse_anthropic_sse(&o.response_body).unwrap_or_else(|e| panic!("{e}"));
    let streamed: String = events
        .iter()
        .filter_map(|(_, data)| data["delta"]["text"].as_str())
        .collect();
    assert_eq!(streamed, text);
    assert_clean(&h);
}
