//! Hostile or broken upstream values (issue 12, point 5): usage that would
//! overflow, rate-limit resets out of range, tool arguments that cannot be
//! an Anthropic `tool_use.input`, and upstream bodies the bridge must not
//! echo. Each attack as the issue states it, in every converter it reaches.

mod common;

use anthropic_openai_bridge::config::Config;
use anthropic_openai_bridge::convert::anthropic_client::{
    headers as a_headers, response as a_response, stream as a_stream,
};
use anthropic_openai_bridge::convert::headers::{parse_rfc3339, HeaderEdit, MAX_RESET_SECONDS};
use anthropic_openai_bridge::convert::openai_client::{
    headers as o_headers, response as o_response, stream as o_stream,
};
use anthropic_openai_bridge::convert::tool_arguments::check_object;
use anthropic_openai_bridge::convert::tool_names::ToolNames;
use anthropic_openai_bridge::exchange::{Exchange, Verdict};
use anthropic_openai_bridge::report::{StreamFailure, StreamOutcome, Tokens};
use common::*;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::rc::Rc;

const MAX: u64 = u64::MAX;

fn a_ctx() -> a_response::ResponseContext {
    a_response::ResponseContext {
        tool_names: ToolNames::default(),
        model: "gpt-test".to_string(),
        fallback_id: "msg_fallback".to_string(),
    }
}

fn o_ctx() -> o_response::ResponseContext {
    o_response::ResponseContext {
        model: "claude-test".to_string(),
        created: 1_700_000_000,
        fallback_id: "msg_fallback".to_string(),
        include_usage: true,
    }
}

fn anthropic_stream(input: &str) -> (Vec<u8>, Option<Tokens>, Option<StreamFailure>) {
    let mut converter = a_stream::StreamConverter::new(a_ctx());
    let mut out = Vec::new();
    converter.push(input.as_bytes(), &mut out);
    converter.finish(&mut out);
    let handler = converter.handler();
    (out, handler.tokens(), handler.failure())
}

fn openai_stream(input: &str) -> (Vec<u8>, Option<Tokens>, Option<StreamFailure>) {
    let mut converter = o_stream::StreamConverter::new(o_ctx());
    let mut out = Vec::new();
    converter.push(input.as_bytes(), &mut out);
    converter.finish(&mut out);
    let handler = converter.handler();
    (out, handler.tokens(), handler.failure())
}

fn data(chunks: &[Value]) -> String {
    chunks.iter().map(|c| format!("data: {c}\n\n")).collect()
}

fn anthropic_events(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
        .collect()
}

// ------------------------------------------------------------------ usage

fn openai_completion(usage: Value) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
           "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
           "usage": usage})
}

fn anthropic_message(usage: Value) -> Value {
    json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
           "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
           "stop_sequence": null, "usage": usage})
}

fn openai_client_usage(message: &Value) -> (Value, Option<Tokens>) {
    let (body, tokens) = o_response::convert_response(message.to_string().as_bytes(), &o_ctx());
    let body: Value = serde_json::from_slice(&body).unwrap();
    (body["usage"].clone(), tokens)
}

#[test]
fn huge_anthropic_usage_saturates_in_the_openai_response() {
    let (usage, tokens) = openai_client_usage(&anthropic_message(
        json!({"input_tokens": MAX, "output_tokens": MAX, "cache_read_input_tokens": 3, "cache_creation_input_tokens": MAX}),
    ));
    assert_eq!(usage["prompt_tokens"], MAX);
    assert_eq!(usage["completion_tokens"], MAX);
    assert_eq!(usage["total_tokens"], MAX);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 3);
    let tokens = tokens.unwrap();
    assert_eq!(
        (tokens.input, tokens.output, tokens.cache_read),
        (MAX, MAX, 3)
    );

    // The issue's case: 2^64 − 1 input plus 1 cached wrapped to 2^64 − 2 + …
    let (usage, _) = openai_client_usage(&anthropic_message(
        json!({"input_tokens": MAX, "output_tokens": 2, "cache_read_input_tokens": 1}),
    ));
    assert_eq!(usage["prompt_tokens"], MAX);
    assert_eq!(usage["total_tokens"], MAX);
}

#[test]
fn huge_openai_usage_saturates_in_the_anthropic_response() {
    for (usage, input, output) in [
        (
            json!({"prompt_tokens": MAX, "completion_tokens": MAX, "total_tokens": MAX}),
            MAX,
            MAX,
        ),
        // A number beyond u64 (read as a float) is u64::MAX.
        (
            json!({"prompt_tokens": 1e30, "completion_tokens": 5}),
            MAX,
            5,
        ),
        (
            json!({"prompt_tokens": MAX, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": MAX}}),
            0,
            1,
        ),
    ] {
        let (body, tokens) = a_response::convert_response(
            openai_completion(usage.clone()).to_string().as_bytes(),
            &a_ctx(),
        );
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["usage"]["input_tokens"], input, "{usage}");
        assert_eq!(body["usage"]["output_tokens"], output, "{usage}");
        assert_eq!(tokens.unwrap().input, input);
    }
}

/// Usage that is not a count (negative, a string, an object, `true`) is
/// ignored as if absent: the answer still arrives, with 0 for that count.
/// A fraction is dropped (some servers send `12.0`).
#[test]
fn junk_usage_values_count_as_absent_and_the_answer_still_arrives() {
    let junk = [
        json!(-5),
        json!("12"),
        json!({"n": 1}),
        json!([1]),
        json!(true),
        json!(null),
    ];
    for value in &junk {
        let (usage, tokens) = openai_client_usage(&anthropic_message(
            json!({"input_tokens": value, "output_tokens": 7}),
        ));
        assert_eq!(usage["prompt_tokens"], 0, "{value}");
        assert_eq!(usage["completion_tokens"], 7, "{value}");
        assert_eq!(tokens.unwrap().input, 0);

        let (body, _) = a_response::convert_response(
            openai_completion(json!({"prompt_tokens": value, "completion_tokens": 7}))
                .to_string()
                .as_bytes(),
            &a_ctx(),
        );
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["type"], "message", "{value}: {body}");
        assert_eq!(body["usage"]["input_tokens"], 0, "{value}");
        assert_eq!(body["usage"]["output_tokens"], 7, "{value}");
    }
    let (usage, _) = openai_client_usage(&anthropic_message(
        json!({"input_tokens": 12.9, "output_tokens": 7.0}),
    ));
    assert_eq!(
        (
            usage["prompt_tokens"].clone(),
            usage["completion_tokens"].clone()
        ),
        (json!(12), json!(7))
    );
}

#[test]
fn a_float_or_negative_created_does_not_fail_the_completion() {
    let mut completion = openai_completion(json!({"prompt_tokens": 1, "completion_tokens": 1}));
    for created in [json!(1.7e9), json!(-1), json!("now")] {
        completion["created"] = created.clone();
        let (body, _) = a_response::convert_response(completion.to_string().as_bytes(), &a_ctx());
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["type"], "message", "{created}");
    }
}

#[test]
fn huge_usage_saturates_in_both_streams() {
    let chunks = data(&[
        json!({"id": "c1", "model": "gpt-4o", "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]}),
        json!({"id": "c1", "model": "gpt-4o", "choices": [], "usage": {"prompt_tokens": MAX, "completion_tokens": MAX, "total_tokens": MAX}}),
    ]) + "data: [DONE]\n\n";
    let (out, tokens, failure) = anthropic_stream(&chunks);
    let message = check_anthropic_stream(&out);
    assert_eq!(failure, None);
    assert_eq!(message.usage["input_tokens"], MAX);
    assert_eq!(message.usage["output_tokens"], MAX);
    assert_eq!(tokens.unwrap().output, MAX);

    let events = anthropic_events(&[
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude", "content": [], "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": MAX, "cache_read_input_tokens": 1, "cache_creation_input_tokens": -3, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": MAX}}),
        json!({"type": "message_stop"}),
    ]);
    let (out, tokens, failure) = openai_stream(&events);
    let chunks = check_openai_stream(&out);
    assert_eq!(failure, None);
    let usage = chunks.usage.unwrap();
    assert_eq!(usage["prompt_tokens"], MAX);
    assert_eq!(usage["completion_tokens"], MAX);
    assert_eq!(usage["total_tokens"], MAX);
    let tokens = tokens.unwrap();
    assert_eq!(
        (tokens.input, tokens.output, tokens.cache_creation),
        (MAX, MAX, 0)
    );
}

// ------------------------------------------------------------- rate limits

fn set_value(edits: &[HeaderEdit], name: &str) -> Option<String> {
    edits.iter().find_map(|e| match e {
        HeaderEdit::Set(n, v) if n == name => Some(v.clone()),
        _ => None,
    })
}

fn anthropic_client_reset(duration: &str, now: u64) -> Option<String> {
    let headers = vec![(
        "x-ratelimit-reset-requests".to_string(),
        duration.to_string(),
    )];
    set_value(
        &a_headers::response_edits(&headers, "application/json", now),
        "anthropic-ratelimit-requests-reset",
    )
}

fn openai_client_reset(timestamp: &str, now: u64) -> Option<String> {
    let headers = vec![(
        "anthropic-ratelimit-tokens-reset".to_string(),
        timestamp.to_string(),
    )];
    set_value(
        &o_headers::response_edits(&headers, "application/json", now),
        "x-ratelimit-reset-tokens",
    )
}

const NOW: u64 = 1_795_376_022; // 2026-11-22T19:33:42Z

#[test]
fn reset_durations_out_of_range_are_dropped_not_wrapped() {
    let nines = "9".repeat(400);
    for duration in [
        nines.as_str(),
        "18446744073709551615s",
        "2562047h",
        "745h",
        "99999999999999999999ms",
    ] {
        assert_eq!(anthropic_client_reset(duration, NOW), None, "{duration}");
    }
    assert_eq!(
        anthropic_client_reset("6m0s", NOW).as_deref(),
        Some("2026-11-22T19:39:42Z")
    );
    assert_eq!(
        anthropic_client_reset("744h", NOW).as_deref(),
        Some("2026-12-23T19:33:42Z")
    );
    assert_eq!(MAX_RESET_SECONDS, 744 * 3600);
}

#[test]
fn invalid_or_far_reset_dates_are_dropped_not_translated() {
    for timestamp in [
        "2030-02-30T99:99:99+99:99",
        "2030-02-30T00:00:00Z",
        "2027-02-29T00:00:00Z",
        "2026-11-22T24:00:00Z",
        "2026-11-22T19:60:00Z",
        "2026-11-22T19:33:61Z",
        "2026-11-22T19:33:42+24:00",
        "2026-11-22T19:33:42+02:60",
        "2026-11-22T19:33:42",
        "+2026-11-22T19:33:42Z",
        "2026-11-22T19:33:42.Z",
        "2026-11-22T19:33:42.5e3Z",
        "2026-1-22T19:33:42Z",
        "9999-12-31T23:59:59Z",
        "1970-01-01T00:00:00Z",
    ] {
        assert_eq!(openai_client_reset(timestamp, NOW), None, "{timestamp}");
    }
    assert_eq!(parse_rfc3339("2030-02-30T99:99:99+99:99"), None);
    assert_eq!(parse_rfc3339("2028-02-29T00:00:00Z"), Some(1_835_395_200));
    assert_eq!(
        openai_client_reset("2026-11-22T21:34:42+02:00", NOW).as_deref(),
        Some("60s")
    );
    // Just past (clock skew) is "now".
    assert_eq!(
        openai_client_reset("2026-11-22T19:33:40Z", NOW).as_deref(),
        Some("0s")
    );
    assert_eq!(
        openai_client_reset("2026-12-23T19:33:42.999Z", NOW).as_deref(),
        Some(format!("{MAX_RESET_SECONDS}s").as_str())
    );
}

// ----------------------------------------------------------- tool arguments

fn tool_stream(fragments: &[&str]) -> String {
    let mut chunks = vec![
        json!({"id": "c1", "model": "gpt-4o", "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [
        {"index": 0, "id": "call_0", "type": "function", "function": {"name": "f", "arguments": ""}}]}}]}),
    ];
    for fragment in fragments {
        chunks.push(
            json!({"id": "c1", "model": "gpt-4o", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": fragment}}]}}]}),
        );
    }
    chunks.push(json!({"id": "c1", "model": "gpt-4o", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}));
    data(&chunks) + "data: [DONE]\n\n"
}

fn whole_response_error(arguments: &str) -> Option<String> {
    let completion = json!({"id": "chatcmpl-1", "model": "gpt-4o", "choices": [{"index": 0, "finish_reason": "tool_calls",
        "message": {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": "f", "arguments": arguments}}]}}]});
    let (body, _) = a_response::convert_response(completion.to_string().as_bytes(), &a_ctx());
    let body: Value = serde_json::from_slice(&body).unwrap();
    (body["type"] == "error").then(|| body["error"]["message"].as_str().unwrap().to_string())
}

/// The stream ends with the same error the whole response gets, written
/// before the offending fragment (which is never sent).
#[test]
fn streamed_tool_arguments_that_are_not_an_object_end_with_the_same_error() {
    for (fragments, sent) in [
        (&["{bad", " json"][..], ""),
        (&["[1,", "2]"][..], ""),
        (&["\"\""][..], ""),
        (&["{\"a\":", " 1"][..], "{\"a\": 1"),
        (&["{\"a\":1}", "{\"a\":1}"][..], "{\"a\":1}"),
    ] {
        let (out, _, failure) = anthropic_stream(&tool_stream(fragments));
        let message = check_anthropic_stream_with(&out, false);
        let (kind, error) = message.error.clone().expect("an error event");
        assert_eq!(kind, "api_error");
        assert_eq!(
            Some(error),
            whole_response_error(&fragments.concat()),
            "{fragments:?}"
        );
        assert_eq!(failure, Some(StreamFailure::Invalid));
        assert_eq!(message.blocks.len(), 1);
        assert_eq!(message.blocks[0].text, sent, "{fragments:?}");
        assert!(message.stop_reason.is_none());
    }
}

#[test]
fn streamed_tool_arguments_that_are_empty_or_an_object_are_input() {
    for (fragments, input) in [
        (&[][..], json!({})),
        (&[""][..], json!({})),
        (&["  "][..], json!({})),
        (&[" ", "\n", " {\"a\": 1", "}"][..], json!({"a": 1})),
        (
            &["{\"a\"", ": [1, {\"b\": null}]", "}  "][..],
            json!({"a": [1, {"b": null}]}),
        ),
    ] {
        let (out, _, failure) = anthropic_stream(&tool_stream(fragments));
        let message = check_anthropic_stream(&out);
        assert_eq!(failure, None);
        assert_eq!(message.stop_reason.as_deref(), Some("tool_use"));
        let text = &message.blocks[0].text;
        assert_eq!(
            serde_json::from_str::<Value>(text).unwrap(),
            input,
            "{fragments:?}"
        );
        assert_eq!(whole_response_error(&fragments.concat()), None);
        // No input_json_delta is whitespace alone (SDKs parse as they go).
        assert!(!events(&out).iter().any(|(_, e)| e["delta"]["partial_json"]
            .as_str()
            .is_some_and(|p| p.trim().is_empty())));
    }
}

/// Held fragments of a call that is not the open block are checked when
/// written: a bad call behind a good one ends the stream after the good one.
#[test]
fn an_interleaved_call_with_bad_arguments_ends_the_stream() {
    let call = |index: u32, id: Option<&str>, arguments: &str| {
        let mut call = json!({"index": index, "function": {"arguments": arguments}});
        if let Some(id) = id {
            call["id"] = json!(id);
            call["function"]["name"] = json!(format!("f{index}"));
        }
        json!({"id": "c1", "model": "gpt-4o", "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]})
    };
    let chunks = data(&[
        call(0, Some("call_0"), "{\"a\":"),
        call(1, Some("call_1"), "[1]"),
        call(0, None, "1}"),
        json!({"id": "c1", "model": "gpt-4o", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
    ]) + "data: [DONE]\n\n";
    let (out, _, failure) = anthropic_stream(&chunks);
    let message = check_anthropic_stream(&out);
    assert_eq!(failure, Some(StreamFailure::Invalid));
    assert_eq!(message.blocks.len(), 2);
    assert_eq!(message.blocks[0].text, "{\"a\":1}");
    assert_eq!(message.blocks[1].text, "");
    let (_, error) = message.error.unwrap();
    assert!(
        error.starts_with("upstream tool call 1 (`f1`): its arguments are JSON but not an object"),
        "{error}"
    );
}

/// A tool-call index of u32::MAX, then a call with neither index nor a
/// known id: the next key would overflow. It saturates instead, so the
/// second call's arguments join the first's, and `{}{}` is no object.
#[test]
fn a_maximal_tool_call_index_does_not_overflow() {
    let chunks = data(&[
        json!({"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": u32::MAX, "id": "call_a", "function": {"name": "a", "arguments": "{}"}}]}}]}),
        json!({"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"id": "call_b", "function": {"name": "b", "arguments": "{}"}}]}}]}),
        json!({"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
    ]) + "data: [DONE]\n\n";
    let (out, _, failure) = anthropic_stream(&chunks);
    let message = check_anthropic_stream(&out);
    assert_eq!(failure, Some(StreamFailure::Invalid));
    assert_eq!(message.blocks.len(), 1);
    assert_eq!(
        (
            message.blocks[0].name.as_str(),
            message.blocks[0].text.as_str()
        ),
        ("a", "{}")
    );
    let (_, error) = message.error.unwrap();
    assert!(
        error.contains("its arguments are not valid JSON"),
        "{error}"
    );
}

/// Text from JSON's alphabet; the scan must accept exactly what serde_json
/// accepts as a raw object (what the non-streaming path parses), or only
/// whitespace, and give the same verdict split anywhere.
fn json_like() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "{", "}", "[", "]", ":", ",", "\"", "\\", "a", "u", "0", "1", "-", ".", "e", "+", "true",
        "null", " ", "\n", "\"k\":", "\\u00e9", "é", "\t", "\\ud800", "9e999",
    ]);
    prop::collection::vec(pieces, 0..24).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]
    #[test]
    fn object_scan_agrees_with_serde_json(text in prop_oneof![
        json_like(),
        json_like().prop_map(|t| format!("{{\"k\":{t}}}")),
        json_like().prop_map(|t| format!("{{\"k\":[{t}]}}")),
    ], cut in any::<prop::sample::Index>()) {
        let serde_says = text.trim_matches([' ', '\n', '\t', '\r']).is_empty()
            || serde_json::from_str::<Box<serde_json::value::RawValue>>(&text)
                .is_ok_and(|raw| raw.get().starts_with('{'));
        prop_assert_eq!(check_object(&text).is_ok(), serde_says, "{:?}", text);
        let boundaries: Vec<usize> = (0..=text.len()).filter(|i| text.is_char_boundary(*i)).collect();
        let at = boundaries[cut.index(boundaries.len())];
        let mut scan = anthropic_openai_bridge::convert::tool_arguments::ObjectScan::default();
        let split = scan.feed(&text[..at]).and_then(|()| scan.feed(&text[at..])).and_then(|()| scan.finish());
        prop_assert_eq!(split.is_ok(), serde_says, "{:?} split at {}", text, at);
    }
}

// ------------------------------------------------- upstream bodies in errors

fn openai_upstream_exchange(stream: bool) -> Exchange {
    let config = Config::from_json(br#"{"upstream_protocol":"openai"}"#).unwrap();
    let mut ex = Exchange::new(Rc::new(config), "msg_fb".to_string());
    let headers = pairs(&[
        (":method", "POST"),
        (":path", "/v1/messages"),
        ("x-api-key", "k"),
    ]);
    assert!(matches!(
        ex.on_request_headers(&headers, false),
        Verdict::Continue(_)
    ));
    let body = json!({"model": "claude", "max_tokens": 10, "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
    ex.on_request_body(body.to_string().as_bytes()).unwrap();
    ex
}

fn anthropic_upstream_exchange(stream: bool) -> Exchange {
    let config = Config::from_json(br#"{"upstream_protocol":"anthropic"}"#).unwrap();
    let mut ex = Exchange::new(Rc::new(config), "msg_fb".to_string());
    let headers = pairs(&[
        (":method", "POST"),
        (":path", "/v1/chat/completions"),
        ("authorization", "Bearer k"),
    ]);
    assert!(matches!(
        ex.on_request_headers(&headers, false),
        Verdict::Continue(_)
    ));
    let body = json!({"model": "gpt-4o", "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
    ex.on_request_body(body.to_string().as_bytes()).unwrap();
    ex
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// The error message the client gets for an upstream answer, whole or as a
/// stream, in the client's own format.
fn client_error_message(
    mut ex: Exchange,
    openai_client: bool,
    stream: bool,
    status: &str,
    content_type: &str,
    body: &[u8],
) -> String {
    let headers = pairs(&[(":status", status), ("content-type", content_type)]);
    assert!(matches!(
        ex.on_response_headers(&headers, false, NOW),
        Verdict::Continue(_)
    ));
    let out = ex.on_buffered_response(body);
    let error = match (openai_client, stream && status == "200") {
        (false, true) => Value::String(check_anthropic_stream(&out).error.unwrap().1),
        (true, true) => check_openai_stream(&out).error.unwrap()["message"].clone(),
        (false, false) => {
            serde_json::from_slice::<Value>(&out).unwrap()["error"]["message"].clone()
        }
        (true, false) => serde_json::from_slice::<Value>(&out).unwrap()["error"]["message"].clone(),
    };
    error.as_str().unwrap().to_string()
}

fn every_path(status: &str, content_type: &str, body: &[u8]) -> Vec<String> {
    let mut messages = Vec::new();
    for stream in [false, true] {
        messages.push(client_error_message(
            openai_upstream_exchange(stream),
            false,
            stream,
            status,
            content_type,
            body,
        ));
        messages.push(client_error_message(
            anthropic_upstream_exchange(stream),
            true,
            stream,
            status,
            content_type,
            body,
        ));
    }
    messages
}

/// The issue's case: a 200 JSON body that is neither the answer nor an error
/// object is not echoed, streaming or not, in either direction.
#[test]
fn a_200_body_that_is_not_an_answer_is_not_echoed_anywhere() {
    let body = br#"{"hello":"world","secret":"x"}"#;
    let messages = every_path("200", "application/json", body);
    assert_eq!(
        messages,
        [
            "upstream returned a response that is not a chat completion",
            "upstream returned a response that is not a message",
            "upstream returned a response that is not a chat completion",
            "upstream returned a response that is not a message",
        ]
    );
}

/// An error status with a body that is not an error object: a short,
/// sanitised excerpt, the same whole and streamed.
#[test]
fn an_error_body_that_is_not_an_error_object_is_a_short_sanitised_excerpt() {
    let body = format!(
        "<html>\r\n<h1>500</h1>\u{1b}[0m{}SECRET-AT-THE-END</html>",
        "x".repeat(5000)
    );
    for status in ["500", "429"] {
        let messages = every_path(status, "text/html", body.as_bytes());
        for message in &messages {
            assert!(message.len() <= 200, "{} bytes", message.len());
            assert!(
                message.starts_with("<html> <h1>500</h1> [0mxxx"),
                "{message}"
            );
            assert!(!message.contains("SECRET"), "{message}");
            assert!(!message.chars().any(char::is_control), "{message:?}");
        }
        assert!(messages.windows(2).all(|w| w[0] == w[1]), "{messages:?}");
    }
}

/// The upstream's own message from a well-formed error object is passed
/// on, capped and without control characters; streamed error events too.
#[test]
fn an_upstream_error_message_is_passed_on_capped_and_sanitised() {
    let long = format!("quota\nexceeded {}", "y".repeat(3000));
    let body = json!({"error": {"message": long, "type": "rate_limit_error", "code": "rate_limit_exceeded"}});
    for message in every_path("429", "application/json", body.to_string().as_bytes()) {
        assert!(message.starts_with("quota exceeded yyy"), "{message}");
        assert!(
            message.len() <= 1024 && message.ends_with('…'),
            "{}",
            message.len()
        );
    }
    let chunks = data(&[
        json!({"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"content": "hi"}}]}),
        json!({"error": {"message": long, "type": "server_error"}}),
    ]);
    let (out, _, _) = anthropic_stream(&chunks);
    let (_, message) = check_anthropic_stream(&out).error.unwrap();
    assert!(
        message.starts_with("quota exceeded yyy") && message.len() <= 1024,
        "{message}"
    );

    let events = anthropic_events(&[
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude", "content": [], "usage": {"input_tokens": 1}}}),
        json!({"type": "error", "error": {"type": "overloaded_error\nx", "message": long}}),
    ]);
    let (out, _, _) = openai_stream(&events);
    let error = check_openai_stream(&out).error.unwrap();
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with("quota exceeded yyy") && message.len() <= 1024,
        "{message}"
    );
    assert_eq!(error["code"], "overloaded_error x");
}

/// An unparsable stream event's error quotes serde's message, which can
/// hold the upstream's bytes: an excerpt only, in both directions.
#[test]
fn an_invalid_stream_event_is_reported_with_an_excerpt_only() {
    let secret = format!("{}SECRET", "s".repeat(400));
    let chunk = format!("data: {{\"id\":\"c1\",\"choices\":[{{\"index\":\"{secret}\"}}]}}\n\n");
    let (out, _, failure) = anthropic_stream(&chunk);
    let (_, message) = check_anthropic_stream(&out).error.unwrap();
    assert_eq!(failure, Some(StreamFailure::Invalid));
    assert!(
        message.starts_with("upstream sent an invalid stream chunk: invalid type: string"),
        "{message}"
    );
    assert!(
        !message.contains("SECRET") && message.len() < 300,
        "{message}"
    );

    let event = format!(
        "event: message_start\ndata: {{\"type\":\"message_start\",\"index\":\"{secret}\"}}\n\n"
    );
    let (out, _, failure) = openai_stream(&event);
    let error = check_openai_stream(&out).error.unwrap();
    let message = error["message"].as_str().unwrap();
    assert_eq!(failure, Some(StreamFailure::Invalid));
    assert!(
        !message.contains("SECRET") && message.len() < 300,
        "{message}"
    );
}

/// Upstream header values quoted in a bridge error are excerpts too.
#[test]
fn an_unexpected_content_type_is_quoted_as_an_excerpt() {
    let content_type = format!("text/plain; {}SECRET", "p".repeat(500));
    let mut ex = openai_upstream_exchange(false);
    let headers = pairs(&[(":status", "200"), ("content-type", &content_type)]);
    assert!(matches!(
        ex.on_response_headers(&headers, false, NOW),
        Verdict::Continue(_)
    ));
    let out: Value = serde_json::from_slice(&ex.on_buffered_response(b"hello")).unwrap();
    let message = out["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("upstream answered with unexpected content-type `text/plain; ppp"),
        "{message}"
    );
    assert!(
        !message.contains("secret") && message.len() < 400,
        "{message}"
    );
}

/// A completion answering a streaming request (servers that ignore
/// `stream: true`) is sent as a stream: bad tool arguments end it with the
/// same error a whole response gets.
#[test]
fn a_completion_sent_as_a_stream_reports_bad_tool_arguments_alike() {
    let completion = json!({"id": "chatcmpl-1", "model": "gpt-4o", "choices": [{"index": 0, "finish_reason": "tool_calls",
        "message": {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": "f", "arguments": "[1,2]"}}]}}]});
    let message = client_error_message(
        openai_upstream_exchange(true),
        false,
        true,
        "200",
        "application/json",
        completion.to_string().as_bytes(),
    );
    assert_eq!(Some(message), whole_response_error("[1,2]"));
}
