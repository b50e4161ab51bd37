//! Pure conversions between the two APIs: no host calls, no I/O.
//!
//! `anthropic_client` holds DESIGN.md section 4 (an Anthropic client on an
//! OpenAI upstream), one module per phase; `anthropic_client_responses` the
//! same client on an OpenAI Responses API upstream; `responses_client` a
//! Responses API client on an Anthropic upstream. `error`, `tool_names` and
//! `signature` are shared by both directions.

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
pub mod responses_client;
pub mod signature;
pub mod tool_names;
