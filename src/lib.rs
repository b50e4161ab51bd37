//! anthropic-openai-bridge: a proxy-wasm filter translating between the
//! Anthropic Messages API and the OpenAI Chat Completions API.
