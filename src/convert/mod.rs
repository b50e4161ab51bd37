//! Pure conversions between the APIs: no host calls, no I/O.
//!
//! One module per protocol pair (docs/README.md#protocol-pairs), each
//! implementing the contract in `pair`, with one module per phase:
//! `anthropic_client` (docs/anthropic_client.md, an Anthropic client on an
//! OpenAI upstream), `openai_client` (docs/openai_client.md, an OpenAI
//! client on an Anthropic upstream), `anthropic_client_responses`
//! (docs/anthropic_client_responses.md, an Anthropic client on an OpenAI
//! Responses API upstream) and
//! `responses_client` (docs/responses_client.md, a Responses API client on
//! an Anthropic upstream). Shared by every pair, each table defined once:
//! `error` (status ↔ error type per protocol, error bodies), `headers`
//! (header edits, rate-limit names and reset formats), `reasons` (stop ↔
//! finish reasons), `tool_names`, `signature`; `prompt_cache` places the
//! Anthropic cache breakpoints for OpenAI clients.

/// One debug line for each request field that was present and has no form
/// in the upstream's protocol (`upstream` names it in the line).
pub fn log_dropped_fields(fields: &[(&str, bool)], upstream: &str) {
    for (field, _) in fields.iter().filter(|(_, present)| *present) {
        log::debug!("dropped `{field}`: an {upstream} upstream has no form for it");
    }
}

/// The error text for a stream that stopped before its final event.
pub const STREAM_INCOMPLETE: &str = "upstream stream ended before completion";

/// How to report an event whose JSON did not parse. An event the body ended
/// in (no blank line after it) was cut, not malformed by the upstream: that
/// is an incomplete stream.
pub fn unparsable_event(
    terminated: bool,
    what: &str,
    error: &serde_json::Error,
) -> (crate::report::StreamFailure, String) {
    use crate::report::StreamFailure;
    if !terminated {
        (StreamFailure::Incomplete, STREAM_INCOMPLETE.to_string())
    } else {
        // serde's message can quote the upstream's bytes: an excerpt only.
        let error = error::excerpt(&error.to_string(), error::MAX_EXCERPT_BYTES);
        (
            StreamFailure::Invalid,
            format!("upstream sent an invalid stream {what}: {error}"),
        )
    }
}

pub mod anthropic_client;
pub mod anthropic_client_responses;
pub mod error;
pub mod headers;
pub mod openai_client;
pub mod pair;
pub mod prompt_cache;
pub mod reasons;
pub mod responses_client;
pub mod signature;
pub mod tool_arguments;
pub mod tool_calls;
pub mod tool_names;
