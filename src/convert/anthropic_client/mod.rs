//! An Anthropic Messages client on an OpenAI Chat Completions upstream
//! (docs/anthropic_client.md), one module per phase.

pub mod count_tokens;
pub mod headers;
pub mod request;
pub mod response;
pub mod stream;
pub mod validate;
