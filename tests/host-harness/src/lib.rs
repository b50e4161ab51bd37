//! proxy-wasm host harness (tier 2).
