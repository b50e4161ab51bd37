//! An OpenAI Responses upstream's 2xx body (arbitrary bytes) → what an
//! Anthropic client gets: the non-streaming message, and the same body sent
//! as a stream (for servers that ignore `stream: true`).
//! Invariants: no panic; the message is a well-formed Anthropic message or
//! error body; the stream form passes the Anthropic grammar checker.
#![no_main]

use anthropic_openai_bridge::convert::anthropic_client::stream::{error_stream, message_as_stream};
use anthropic_openai_bridge::convert::anthropic_client_responses::response::{
    convert_response, message_from_body,
};
use anthropic_openai_bridge_fuzz::{anthropic_ctx, check_anthropic_error, grammar, json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ctx = anthropic_ctx();
    let (body, tokens) = convert_response(data, &ctx);
    let value = json(&body);
    if value["type"] == "message" {
        assert!(tokens.is_some());
        assert_eq!(value["role"], "assistant", "{value}");
        assert!(
            value["id"].as_str().is_some_and(|id| !id.is_empty()),
            "{value}"
        );
        assert!(value["stop_reason"].is_string(), "{value}");
        for block in value["content"].as_array().expect("content array") {
            match block["type"].as_str() {
                Some("tool_use") => assert!(block["input"].is_object(), "{value}"),
                Some("thinking") => assert!(
                    block["signature"]
                        .as_str()
                        .is_some_and(|s| s.starts_with("aob")),
                    "{value}"
                ),
                _ => {}
            }
        }
    } else {
        check_anthropic_error(&value);
    }
    let stream = match message_from_body(data, &ctx) {
        Ok(message) => message_as_stream(&message),
        Err(message) => error_stream("api_error", &message),
    };
    grammar::check_anthropic_stream(&stream);
});
