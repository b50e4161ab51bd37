//! An Anthropic upstream's 2xx body (arbitrary bytes) → what a Responses
//! client gets: the `response` object, and the same body as an event stream.
//! Invariants: no panic; the body is a response object (items with OpenAI's
//! id prefixes, function arguments and custom input as strings) or an
//! OpenAI error body; the stream form passes the strict Responses grammar
//! checker and says the same as the whole response.
#![no_main]

use anthropic_openai_bridge::anthropic::Message;
use anthropic_openai_bridge::convert::responses_client::response::convert_response;
use anthropic_openai_bridge::convert::responses_client::stream::{error_stream, message_as_stream};
use anthropic_openai_bridge_fuzz::{check_openai_error, grammar, json, responses_client_ctx};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for tools in [false, true] {
        let ctx = responses_client_ctx(tools);
        let (body, _) = convert_response(data, &ctx);
        let value = json(&body);
        let stream = if value["object"] == "response" {
            let output = value["output"].as_array().expect("output array");
            for item in output {
                let kind = item["type"].as_str().expect("typed item");
                let prefix = grammar::responses::item_id_prefix(kind).expect("a bridge item type");
                assert!(item["id"].as_str().expect("item id").starts_with(prefix), "{value}");
                match kind {
                    "function_call" => assert!(item["arguments"].is_string(), "{value}"),
                    "custom_tool_call" => assert!(item["input"].is_string(), "{value}"),
                    _ => {}
                }
            }
            let Ok(message) = serde_json::from_slice::<Message<'_>>(data) else {
                panic!("converted a body that is not a message: {value}");
            };
            message_as_stream(message, &ctx)
        } else {
            check_openai_error(&value);
            error_stream(&ctx, "server_error", "not a message")
        };
        let streamed = grammar::responses::check_responses_stream(&stream);
        if value["object"] == "response" {
            assert_eq!(streamed.response["status"], value["status"], "{value}");
            assert_eq!(streamed.items.len(), value["output"].as_array().map_or(0, Vec::len));
        } else {
            assert_eq!(streamed.terminal, "response.failed");
        }
    }
});
