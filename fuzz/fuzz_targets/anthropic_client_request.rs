//! An Anthropic client's request body (arbitrary bytes) → OpenAI request.
//! Invariants: no panic; a converted body is a JSON object with only
//! whitelisted OpenAI fields, its `stream` flag is the input's; every tool
//! name sent is valid for OpenAI and unique;
//! the model's `safe_value` (metric tag, filter state) holds only the safe
//! set within 64 bytes; a rejection is a 400 or 413 with a message.
#![no_main]

use anthropic_openai_bridge::convert::anthropic_client::request::convert_request;
use anthropic_openai_bridge::convert::tool_names::is_valid;
use anthropic_openai_bridge::report::safe_value;
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
                let mut names = std::collections::HashSet::new();
                for tool in value["tools"].as_array().into_iter().flatten() {
                    let name = tool["function"]["name"].as_str().unwrap_or_default();
                    assert!(is_valid(name), "{name:?}");
                    assert!(names.insert(name), "{name:?} sent twice");
                }
                let safe = safe_value(&converted.model);
                assert!(safe.len() <= 64, "{safe:?}");
                assert!(
                    safe.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._:/@+".contains(&b)),
                    "{safe:?}"
                );
            }
            Err(error) => {
                assert!(matches!(error.status, 400 | 413), "{error:?}");
                assert!(!error.message.is_empty());
            }
        }
    }
});
