//! An OpenAI Chat Completions client on an Anthropic Messages upstream
//! (docs/openai_client.md), one module per phase.

pub mod headers;
pub mod request;
pub mod response;
pub mod stream;
pub mod validate;
