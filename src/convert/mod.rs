//! Pure conversions between the two APIs: no host calls, no I/O.
//!
//! `anthropic_client` holds DESIGN.md section 4 (an Anthropic client on an
//! OpenAI upstream), one module per phase. `error`, `tool_names` and
//! `signature` are shared by both directions.

/// One debug line for each request field that was present and has no form
/// in the upstream's protocol (`upstream` names it in the line).
pub fn log_dropped_fields(fields: &[(&str, bool)], upstream: &str) {
    for (field, _) in fields.iter().filter(|(_, present)| *present) {
        log::debug!("dropped `{field}`: an {upstream} upstream has no form for it");
    }
}

pub mod anthropic_client;
pub mod error;
pub mod headers;
pub mod openai_client;
pub mod signature;
pub mod tool_names;
