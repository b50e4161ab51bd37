//! Pure conversions between the two APIs: no host calls, no I/O.
//!
//! `anthropic_client` holds DESIGN.md section 4 (an Anthropic client on an
//! OpenAI upstream), one module per phase. `error`, `tool_names` and
//! `signature` are shared by both directions.

pub mod anthropic_client;
pub mod error;
pub mod headers;
pub mod openai_client;
pub mod signature;
pub mod tool_names;
