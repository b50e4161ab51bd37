//! An OpenAI Responses API client (Codex CLI, the openai SDK's
//! `client.responses`) on an Anthropic Messages upstream (issue 14), one
//! module per phase. `tools` is the table of the client's tools as the
//! upstream sees them (namespaces flattened, custom tools given one string
//! parameter) that every phase shares; `reasoning` the `encrypted_content`
//! the bridge makes from a thinking block.

pub mod reasoning;
pub mod request;
pub mod response;
pub mod stream;
pub mod tools;
