//! Whole exchanges (`exchange::Exchange`): a valid request in either
//! direction, then an upstream response whose status, content-type,
//! encoding and body (in chunks) the fuzzer chooses.
//!
//! Input: byte 0 = flags (low 4 bits: how many chunk sizes follow; bit 4:
//! OpenAI client; bit 5: streaming request; bit 6: include_usage; bit 7:
//! the response headers end the stream), byte 1 = response (bits 0-2:
//! status; bits 3-5: content-type; bits 6-7: content-encoding), the chunk
//! sizes, the body.
//!
//! Invariants: no panic; a local reply is an error in the client's own
//! protocol; whatever the client receives is well-formed for the
//! content-type the bridge gave it (a stream passing the grammar checker,
//! or JSON: a message/completion or an error in the client's shape).
#![no_main]

use anthropic_openai_bridge::config::Config;
use anthropic_openai_bridge::convert::headers::HeaderEdit;
use anthropic_openai_bridge::exchange::{BodyMode, Exchange, Verdict};
use anthropic_openai_bridge_fuzz::{
    check_anthropic_error, check_openai_error, chunks, grammar, json,
};
use libfuzzer_sys::fuzz_target;
use std::rc::Rc;

const STATUSES: [&str; 8] = ["200", "200", "201", "400", "429", "500", "529", "204"];
const CONTENT_TYPES: [&str; 8] = [
    "text/event-stream",
    "application/json",
    "text/event-stream; charset=utf-8",
    "application/json; charset=utf-8",
    "text/html",
    "",
    "text/plain",
    "application/problem+json",
];
const ENCODINGS: [Option<&str>; 4] = [None, None, Some("identity"), Some("gzip")];

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn content_type(edits: &[HeaderEdit]) -> Option<&str> {
    edits.iter().rev().find_map(|e| match e {
        HeaderEdit::Set(name, value) if name == "content-type" => Some(value.as_str()),
        _ => None,
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Some((&response_flags, rest)) = rest.split_first() else {
        return;
    };
    let n = usize::from(flags & 0x0f).min(rest.len());
    let (sizes, body) = rest.split_at(n);
    let openai_client = flags & 0x10 != 0;
    let stream = flags & 0x20 != 0;
    let include_usage = flags & 0x40 != 0;
    let headers_end = flags & 0x80 != 0;
    let status = STATUSES[usize::from(response_flags & 0x07)];
    let content_type_in = CONTENT_TYPES[usize::from((response_flags >> 3) & 0x07)];
    let encoding = ENCODINGS[usize::from(response_flags >> 6)];

    let (config, path, request) = if openai_client {
        (
            r#"{"upstream_protocol":"anthropic"}"#,
            "/v1/chat/completions",
            format!(
                r#"{{"model":"gpt-4o","stream":{stream},"stream_options":{{"include_usage":{include_usage}}},
                    "tools":[{{"type":"function","function":{{"name":"f","parameters":{{"type":"object"}}}}}}],
                    "messages":[{{"role":"user","content":"hi"}}]}}"#
            ),
        )
    } else {
        (
            r#"{"upstream_protocol":"openai"}"#,
            "/v1/messages",
            format!(
                r#"{{"model":"claude","max_tokens":10,"stream":{stream},
                    "tools":[{{"name":"get weather","input_schema":{{"type":"object"}}}}],
                    "messages":[{{"role":"user","content":"hi"}}]}}"#
            ),
        )
    };
    let config = Rc::new(Config::from_json(config.as_bytes()).expect("config"));
    let mut exchange = Exchange::new(config, "fuzz_fallback".to_string());
    let request_headers = pairs(&[
        (":method", "POST"),
        (":path", path),
        ("content-type", "application/json"),
        ("authorization", "Bearer sk-fuzz"),
    ]);
    assert!(matches!(
        exchange.on_request_headers(&request_headers, false),
        Verdict::Continue(_)
    ));
    assert!(exchange.converts_request());
    exchange
        .on_request_body(request.as_bytes())
        .expect("the request converts");

    let mut response_headers = vec![(":status", status)];
    if !content_type_in.is_empty() {
        response_headers.push(("content-type", content_type_in));
    }
    if let Some(encoding) = encoding {
        response_headers.push(("content-encoding", encoding));
    }
    let check_error = |value: &serde_json::Value| {
        if openai_client {
            check_openai_error(value)
        } else {
            check_anthropic_error(value)
        }
    };
    let edits =
        match exchange.on_response_headers(&pairs(&response_headers), headers_end, 1_700_000_000) {
            Verdict::Reply(reply) => {
                assert!(reply.status >= 400, "{reply:?}");
                check_error(&json(&reply.body));
                return;
            }
            Verdict::Continue(edits) => edits,
        };
    let client_type = content_type(&edits).unwrap_or(content_type_in).to_string();
    let output = match exchange.response_body_mode() {
        BodyMode::Passthrough => panic!("a converted exchange's response passed through untouched"),
        BodyMode::Drop => panic!("a stream ended before its first byte"),
        BodyMode::Buffer => exchange.on_buffered_response(body),
        BodyMode::Stream => {
            let pieces = chunks(body, sizes);
            let last = pieces.len() - 1;
            let mut out = Vec::new();
            for (i, piece) in pieces.into_iter().enumerate() {
                out.extend(exchange.on_stream_chunk(piece, i == last));
            }
            out
        }
    };
    if client_type.starts_with("text/event-stream") {
        if openai_client {
            grammar::check_openai_stream(&output);
        } else {
            // Tool inputs are checked as raw JSON, which `Value` can refuse
            // (fuzz/README.md).
            grammar::check_anthropic_stream_with(&output, false);
        }
        return;
    }
    assert!(
        client_type.starts_with("application/json"),
        "content-type {client_type:?}"
    );
    let value = json(&output);
    let is_error = !status.starts_with('2') || edits.contains(&HeaderEdit::set(":status", "502"));
    if is_error || value.get("error").is_some() {
        check_error(&value);
    } else if openai_client {
        assert_eq!(value["object"], "chat.completion", "{value}");
    } else {
        assert_eq!(value["type"], "message", "{value}");
    }
});
