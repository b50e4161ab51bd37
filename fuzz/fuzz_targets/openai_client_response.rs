//! An Anthropic upstream's 2xx body (arbitrary bytes) → what an OpenAI
//! client gets: the chat completion, and the same body sent as chunks.
//! Invariants: no panic; the completion is a well-formed chat completion or
//! OpenAI error body; the chunk form passes the OpenAI grammar checker.
#![no_main]

use anthropic_openai_bridge::anthropic::Message;
use anthropic_openai_bridge::convert::openai_client::response::convert_response;
use anthropic_openai_bridge::convert::openai_client::stream::{error_stream, message_as_stream};
use anthropic_openai_bridge_fuzz::{check_openai_error, grammar, json, openai_ctx};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for include_usage in [false, true] {
        let ctx = openai_ctx(include_usage);
        let (body, _) = convert_response(data, &ctx);
        let value = json(&body);
        if value["object"] == "chat.completion" {
            let choices = value["choices"].as_array().expect("choices array");
            assert_eq!(choices.len(), 1, "{value}");
            assert!(choices[0]["finish_reason"].is_string(), "{value}");
            for call in choices[0]["message"]["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let arguments = call["function"]["arguments"]
                    .as_str()
                    .expect("arguments string");
                assert!(
                    serde_json::from_str::<serde_json::Value>(arguments).is_ok(),
                    "arguments not JSON: {value}"
                );
            }
        } else {
            check_openai_error(&value);
        }
        let stream = match serde_json::from_slice::<Message<'_>>(data) {
            Ok(message) if message.kind.as_str() == "message" => message_as_stream(message, &ctx),
            _ => error_stream("api_error", "not a message"),
        };
        let chunks = grammar::check_openai_stream(&stream);
        assert!(chunks.done || chunks.error.is_some());
    }
});
