//! An Anthropic client's request body (arbitrary bytes) → OpenAI request.
//! Invariants: no panic; a converted body is a JSON object with only
//! whitelisted OpenAI fields, its `stream` flag is the input's; a rejection
//! is a 400 or 413 with a message.
#![no_main]

use anthropic_openai_bridge::convert::anthropic_client::request::convert_request;
use anthropic_openai_bridge_fuzz::{
    asks_to_stream, check_request, openai_upstream_configs, OPENAI_REQUEST_FIELDS,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for config in openai_upstream_configs() {
        match convert_request(data, config) {
            Ok(converted) => {
                let value = check_request(&converted.body, OPENAI_REQUEST_FIELDS);
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
