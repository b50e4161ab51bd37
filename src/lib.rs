//! anthropic-openai-bridge: a proxy-wasm filter translating between the
//! Anthropic Messages API and the OpenAI Chat Completions API.
//!
//! The core (`config`, `sse`, the wire types and `convert`) is pure and tests
//! natively; `filter` is the only module that talks to the proxy-wasm host.
//!
//! A panic inside a wasm VM traps it and fails every later request on that
//! Envoy worker, so nothing here may unwrap, expect, panic or index.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod anthropic;
pub mod config;
pub mod convert;
pub mod digest;
pub mod exchange;
pub mod json;
pub mod openai;
pub mod pairs;
pub mod report;
pub mod responses;
pub mod sse;
pub mod wire;

#[cfg(target_arch = "wasm32")]
pub mod filter;

#[cfg(target_arch = "wasm32")]
proxy_wasm::main! {{
    filter::start();
}}
