//! An Anthropic Messages client on an OpenAI Responses API upstream
//! (issue 15), one module per phase. The response side takes the Chat
//! pair's `ResponseContext` and returns the same `ConvertedRequest`, and a
//! JSON answer to a streaming request or an error stream use that pair's
//! `message_as_stream` and `error_stream`: the Anthropic side is the same.

pub mod request;
pub mod response;
pub mod stream;
