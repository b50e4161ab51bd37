//! An Anthropic Messages client on an OpenAI Chat Completions upstream
//! (DESIGN.md section 4), one module per phase.

pub mod count_tokens;
pub mod headers;
pub mod request;
pub mod response;
pub mod stream;
pub mod validate;
