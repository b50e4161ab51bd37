//! An Anthropic client's request body (arbitrary bytes) → OpenAI Responses
//! request. Invariants: no panic; a converted body is a JSON object with
//! only whitelisted Responses fields, `store: false`, an `input` array of
//! items without ids, and `stream` and `model` as the input and the
//! conversion say; a rejection is a 400 or 413 with a message.
#![no_main]

use anthropic_openai_bridge::convert::anthropic_client_responses::request::convert_request;
use anthropic_openai_bridge_fuzz::{
    asks_to_stream, check_responses_request, openai_upstream_configs,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for config in openai_upstream_configs() {
        match convert_request(data, config) {
            Ok(converted) => {
                let value = check_responses_request(&converted.body);
                assert_eq!(converted.stream, asks_to_stream(data));
                assert_eq!(value["stream"] == true, converted.stream, "{value}");
                assert_eq!(value["model"], converted.model.as_str());
            }
            Err(error) => {
                assert!(matches!(error.status, 400 | 413), "{error:?}");
                assert!(!error.message.is_empty());
            }
        }
    }
});
