//! A Responses client's request body (arbitrary bytes) → Anthropic request.
//! Invariants: no panic; a converted body is a JSON object with only
//! whitelisted Anthropic fields, at least one message and a positive
//! `max_tokens` within the configured limit (above any thinking budget); a
//! rejection is a 400 or 413 with a message.
#![no_main]

use anthropic_openai_bridge::convert::responses_client::request::convert_request;
use anthropic_openai_bridge_fuzz::{
    anthropic_upstream_configs, asks_to_stream, check_request, ANTHROPIC_REQUEST_FIELDS,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for config in anthropic_upstream_configs() {
        match convert_request(data, config) {
            Ok(converted) => {
                let value = check_request(&converted.body, ANTHROPIC_REQUEST_FIELDS);
                assert_eq!(converted.stream, asks_to_stream(data));
                assert!(
                    value["messages"].as_array().is_some_and(|m| !m.is_empty()),
                    "no messages: {value}"
                );
                let max_tokens = value["max_tokens"].as_u64().unwrap_or(0);
                assert!(max_tokens >= 1, "max_tokens missing or zero: {value}");
                if let Some(limit) = config.max_tokens_limit {
                    assert!(max_tokens <= limit, "max_tokens above the limit: {value}");
                }
                if let Some(budget) = value["thinking"]["budget_tokens"].as_u64() {
                    assert!(
                        budget < max_tokens,
                        "thinking budget not below max_tokens: {value}"
                    );
                }
            }
            Err(error) => {
                assert!(matches!(error.status, 400 | 413), "{error:?}");
                assert!(!error.message.is_empty());
            }
        }
    }
});
