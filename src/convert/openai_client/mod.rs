//! An OpenAI Chat Completions client on an Anthropic Messages upstream
//! (DESIGN.md section 5), one module per phase.

pub mod headers;
pub mod request;
pub mod response;
pub mod stream;
pub mod validate;
