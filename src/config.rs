//! Plugin configuration (docs/configuration.md#configuration-reference): parsed and validated once in
//! `on_configure`. Every error names the field it is about, and unknown keys
//! are errors, so a typo can never fall back to a default silently.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// The protocol the upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Openai,
    Anthropic,
    /// The OpenAI Responses API (`/v1/responses`).
    #[serde(rename = "openai_responses")]
    OpenaiResponses,
}

/// Which field carries the output-token limit to an OpenAI upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensField {
    MaxCompletionTokens,
    MaxTokens,
}

/// How an Anthropic upstream is authenticated from the client's bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpstreamAuth {
    XApiKey,
    Bearer,
}

/// How an Anthropic client's `/v1/messages/count_tokens` is answered on an
/// OpenAI upstream, which has no such endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CountTokens {
    /// A local estimate; nothing is sent upstream.
    Estimate,
    /// A one-token completion upstream, whose `prompt_tokens` is exact.
    Upstream,
    /// Forwarded untouched.
    Passthrough,
}

pub const DEFAULT_MAX_TOKENS: u64 = 4096;
pub const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";
pub const DEFAULT_MAX_REQUEST_BYTES: u64 = 32 * 1024 * 1024;
/// 16 MiB: a stream converter normally holds a few KiB; this leaves room for
/// one very large event or tool call while keeping a worker's wasm memory
/// (which never shrinks) hundreds of MiB below what V8 allows.
pub const DEFAULT_MAX_HELD_BYTES: u64 = 16 * 1024 * 1024;
/// 16 MiB: a buffered answer is read into wasm memory and converted whole
/// (about three copies at once); real completions are far smaller.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// Every configuration key, with its meaning; the reference table in
/// docs/configuration.md#configuration-reference is checked against this
/// list by a test so the two cannot drift.
pub const KEYS: &[(&str, &str, &str)] = &[
    (
        "upstream_protocol",
        "required",
        "`\"openai\"` (Chat Completions), `\"openai_responses\"` (Responses API) or `\"anthropic\"`: what the upstream speaks",
    ),
    (
        "upstream_path",
        "incoming path with its suffix swapped",
        "path for converted requests",
    ),
    (
        "model_map",
        "none",
        "model renames: exact names, `prefix*` globs and `\"*\"`",
    ),
    (
        "default_max_tokens",
        "4096",
        "`max_tokens` for an Anthropic upstream when the OpenAI client sent none",
    ),
    (
        "anthropic_version",
        "`\"2023-06-01\"`",
        "`anthropic-version` sent to an Anthropic upstream unless the client sent one",
    ),
    (
        "max_tokens_field",
        "`\"max_completion_tokens\"`",
        "field an OpenAI upstream gets: `max_completion_tokens` or `max_tokens`",
    ),
    (
        "max_tokens_limit",
        "none",
        "outgoing max-tokens value clamped to this, both directions",
    ),
    (
        "upstream_auth",
        "`\"x-api-key\"`",
        "Anthropic upstream auth: `\"x-api-key\"` or `\"bearer\"`",
    ),
    (
        "max_request_bytes",
        "33554432",
        "larger request bodies get a 413 in the client's format",
    ),
    (
        "max_response_bytes",
        "16777216",
        "larger non-streamed upstream answers get a 502 in the client's format",
    ),
    (
        "max_held_bytes",
        "16777216",
        "bytes a stream conversion may hold across events; more ends the stream with an error",
    ),
    (
        "count_tokens",
        "`\"estimate\"`",
        "Anthropic clients' `/v1/messages/count_tokens` on an OpenAI upstream: `\"estimate\"` (local), `\"upstream\"` (a 1-token completion) or `\"passthrough\"`",
    ),
    (
        "prompt_caching",
        "`true`",
        "OpenAI clients on an Anthropic upstream get `cache_control` breakpoints (last tool, system, last two user turns); `false` sends none",
    ),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub upstream_protocol: Protocol,
    pub upstream_path: Option<String>,
    pub model_map: ModelMap,
    pub default_max_tokens: u64,
    pub anthropic_version: String,
    pub max_tokens_field: MaxTokensField,
    pub max_tokens_limit: Option<u64>,
    pub upstream_auth: UpstreamAuth,
    pub max_request_bytes: u64,
    pub max_response_bytes: u64,
    pub max_held_bytes: usize,
    pub count_tokens: CountTokens,
    pub prompt_caching: bool,
}

/// A configuration error, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid configuration: `{}`: {}",
            self.field, self.message
        )
    }
}

impl std::error::Error for ConfigError {}

fn error(field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.to_string(),
        message: message.into(),
    }
}

impl Config {
    /// Parses and validates the plugin configuration JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Config, ConfigError> {
        let mut object: Map<String, Value> = serde_json::from_slice(bytes)
            .map_err(|e| error("(configuration)", format!("expected a JSON object: {e}")))?;
        if let Some(unknown) = object
            .keys()
            .find(|key| !KEYS.iter().any(|(known, _, _)| known == key))
        {
            return Err(error(unknown, "unknown key"));
        }
        let upstream_protocol =
            take::<Protocol>(&mut object, "upstream_protocol")?.ok_or_else(|| {
                error(
                    "upstream_protocol",
                    "is required (\"openai\", \"openai_responses\" or \"anthropic\")",
                )
            })?;
        let upstream_path = take::<String>(&mut object, "upstream_path")?;
        if let Some(path) = &upstream_path {
            if !path.starts_with('/') || path.bytes().any(|b| b.is_ascii_whitespace() || b < 0x20) {
                return Err(error(
                    "upstream_path",
                    "must start with `/` and contain no whitespace",
                ));
            }
        }
        let model_map = match take::<HashMap<String, String>>(&mut object, "model_map")? {
            Some(entries) => ModelMap::new(entries)?,
            None => ModelMap::default(),
        };
        let default_max_tokens =
            positive(&mut object, "default_max_tokens")?.unwrap_or(DEFAULT_MAX_TOKENS);
        let anthropic_version = take::<String>(&mut object, "anthropic_version")?
            .unwrap_or_else(|| DEFAULT_ANTHROPIC_VERSION.to_string());
        if anthropic_version.is_empty() || anthropic_version.bytes().any(|b| b < 0x21 || b == 0x7f)
        {
            return Err(error(
                "anthropic_version",
                "must be a non-empty header value without spaces",
            ));
        }
        let max_tokens_field = take::<MaxTokensField>(&mut object, "max_tokens_field")?
            .unwrap_or(MaxTokensField::MaxCompletionTokens);
        let max_tokens_limit = positive(&mut object, "max_tokens_limit")?;
        let upstream_auth =
            take::<UpstreamAuth>(&mut object, "upstream_auth")?.unwrap_or(UpstreamAuth::XApiKey);
        let max_request_bytes =
            positive(&mut object, "max_request_bytes")?.unwrap_or(DEFAULT_MAX_REQUEST_BYTES);
        let max_response_bytes =
            positive(&mut object, "max_response_bytes")?.unwrap_or(DEFAULT_MAX_RESPONSE_BYTES);
        let max_held_bytes = positive(&mut object, "max_held_bytes")?
            .unwrap_or(DEFAULT_MAX_HELD_BYTES)
            .try_into()
            .unwrap_or(usize::MAX);
        let count_tokens =
            take::<CountTokens>(&mut object, "count_tokens")?.unwrap_or(CountTokens::Estimate);
        let prompt_caching = take::<bool>(&mut object, "prompt_caching")?.unwrap_or(true);
        Ok(Config {
            upstream_protocol,
            upstream_path,
            model_map,
            default_max_tokens,
            anthropic_version,
            max_tokens_field,
            max_tokens_limit,
            upstream_auth,
            max_request_bytes,
            max_response_bytes,
            max_held_bytes,
            count_tokens,
            prompt_caching,
        })
    }

    /// Applies `max_tokens_limit` to an outgoing max-tokens value.
    pub fn clamp_max_tokens(&self, value: u64) -> u64 {
        match self.max_tokens_limit {
            Some(limit) if value > limit => {
                log::debug!("max tokens {value} clamped to max_tokens_limit {limit}");
                limit
            }
            _ => value,
        }
    }
}

/// Removes `key` and deserializes it; `null` counts as absent.
fn take<T: DeserializeOwned>(
    object: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<T>, ConfigError> {
    match object.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value)
            .map(Some)
            .map_err(|e| error(key, e.to_string())),
    }
}

fn positive(object: &mut Map<String, Value>, key: &str) -> Result<Option<u64>, ConfigError> {
    match take::<u64>(object, key)? {
        Some(0) => Err(error(key, "must be at least 1")),
        other => Ok(other),
    }
}

/// `model_map`: first an exact match, then the longest `prefix*`, then `"*"`;
/// unmapped names pass through unchanged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelMap {
    exact: HashMap<String, String>,
    /// Sorted longest prefix first.
    prefixes: Vec<(String, String)>,
    fallback: Option<String>,
}

impl ModelMap {
    fn new(entries: HashMap<String, String>) -> Result<ModelMap, ConfigError> {
        let mut map = ModelMap::default();
        for (pattern, target) in entries {
            if target.is_empty() {
                return Err(error(
                    "model_map",
                    format!("`{pattern}` maps to an empty model name"),
                ));
            }
            match pattern.find('*') {
                None if pattern.is_empty() => {
                    return Err(error("model_map", "an empty model name cannot be mapped"));
                }
                None => {
                    map.exact.insert(pattern, target);
                }
                Some(star) if star + 1 == pattern.len() => {
                    if star == 0 {
                        map.fallback = Some(target);
                    } else {
                        let prefix = pattern.get(..star).unwrap_or_default().to_string();
                        map.prefixes.push((prefix, target));
                    }
                }
                Some(_) => {
                    return Err(error(
                        "model_map",
                        format!("`{pattern}`: `*` is only allowed at the end of a pattern"),
                    ));
                }
            }
        }
        map.prefixes
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Ok(map)
    }

    /// The upstream model name for a client's model name.
    pub fn map<'a>(&'a self, model: &'a str) -> &'a str {
        if let Some(target) = self.exact.get(model) {
            return target;
        }
        if let Some((_, target)) = self
            .prefixes
            .iter()
            .find(|(prefix, _)| model.starts_with(prefix.as_str()))
        {
            return target;
        }
        self.fallback.as_deref().unwrap_or(model)
    }

    pub fn map_cow<'a>(&self, model: Cow<'a, str>) -> Cow<'a, str> {
        match self.map(&model) {
            mapped if mapped == model => model,
            mapped => Cow::Owned(mapped.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Config, ConfigError> {
        Config::from_json(json.as_bytes())
    }

    #[test]
    fn minimal_config_gets_the_documented_defaults() {
        let config = parse(r#"{"upstream_protocol":"openai"}"#).unwrap();
        assert_eq!(config.upstream_protocol, Protocol::Openai);
        assert_eq!(config.default_max_tokens, 4096);
        assert!(config.prompt_caching);
        assert_eq!(config.anthropic_version, "2023-06-01");
        assert_eq!(config.max_tokens_field, MaxTokensField::MaxCompletionTokens);
        assert_eq!(config.upstream_auth, UpstreamAuth::XApiKey);
        assert_eq!(config.max_request_bytes, 33_554_432);
        assert_eq!(config.max_response_bytes, 16_777_216);
        assert_eq!(config.max_held_bytes, 16_777_216);
        assert_eq!(config.max_tokens_limit, None);
        assert_eq!(config.upstream_path, None);
        assert_eq!(config.count_tokens, CountTokens::Estimate);
    }

    #[test]
    fn openai_responses_is_an_upstream_protocol() {
        let config = parse(r#"{"upstream_protocol":"openai_responses"}"#).unwrap();
        assert_eq!(config.upstream_protocol, Protocol::OpenaiResponses);
        let error = parse(r#"{"upstream_protocol":"openairesponses"}"#).unwrap_err();
        assert_eq!(error.field, "upstream_protocol");
    }

    #[test]
    fn every_key_is_accepted() {
        let config = parse(
            r#"{"upstream_protocol":"anthropic","upstream_path":"/anthropic/v1/messages",
                "model_map":{"gpt-4o":"claude-sonnet-4-5"},"default_max_tokens":1000,
                "anthropic_version":"2024-01-01","max_tokens_field":"max_tokens",
                "max_tokens_limit":8192,"upstream_auth":"bearer","max_request_bytes":1024,
                "max_response_bytes":2048,"max_held_bytes":4096,
                "count_tokens":"upstream"}"#,
        )
        .unwrap();
        assert_eq!(config.upstream_protocol, Protocol::Anthropic);
        assert_eq!(
            config.upstream_path.as_deref(),
            Some("/anthropic/v1/messages")
        );
        assert_eq!(config.model_map.map("gpt-4o"), "claude-sonnet-4-5");
        assert_eq!(config.default_max_tokens, 1000);
        assert_eq!(config.anthropic_version, "2024-01-01");
        assert_eq!(config.max_tokens_field, MaxTokensField::MaxTokens);
        assert_eq!(config.max_tokens_limit, Some(8192));
        assert_eq!(config.upstream_auth, UpstreamAuth::Bearer);
        assert_eq!(config.max_request_bytes, 1024);
        assert_eq!(config.max_response_bytes, 2048);
        assert_eq!(config.max_held_bytes, 4096);
        assert_eq!(config.count_tokens, CountTokens::Upstream);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (r#"{}"#, "upstream_protocol"),
            (r#"{"upstream_protocol":"grpc"}"#, "upstream_protocol"),
            (
                r#"{"upstream_protocol":"openai","max_token_field":"max_tokens"}"#,
                "max_token_field",
            ),
            (
                r#"{"upstream_protocol":"openai","max_tokens_field":"tokens"}"#,
                "max_tokens_field",
            ),
            (
                r#"{"upstream_protocol":"openai","default_max_tokens":0}"#,
                "default_max_tokens",
            ),
            (
                r#"{"upstream_protocol":"openai","default_max_tokens":"4096"}"#,
                "default_max_tokens",
            ),
            (
                r#"{"upstream_protocol":"openai","max_tokens_limit":-1}"#,
                "max_tokens_limit",
            ),
            (
                r#"{"upstream_protocol":"openai","upstream_auth":"basic"}"#,
                "upstream_auth",
            ),
            (
                r#"{"upstream_protocol":"openai","upstream_path":"v1/chat"}"#,
                "upstream_path",
            ),
            (
                r#"{"upstream_protocol":"openai","model_map":{"a*b":"c"}}"#,
                "model_map",
            ),
            (
                r#"{"upstream_protocol":"openai","model_map":{"a":""}}"#,
                "model_map",
            ),
            (
                r#"{"upstream_protocol":"openai","model_map":["a"]}"#,
                "model_map",
            ),
            (
                r#"{"upstream_protocol":"openai","anthropic_version":""}"#,
                "anthropic_version",
            ),
            (
                r#"{"upstream_protocol":"openai","max_request_bytes":0}"#,
                "max_request_bytes",
            ),
            (
                r#"{"upstream_protocol":"openai","max_response_bytes":0}"#,
                "max_response_bytes",
            ),
            (
                r#"{"upstream_protocol":"openai","max_held_bytes":-5}"#,
                "max_held_bytes",
            ),
            (
                r#"{"upstream_protocol":"openai","count_tokens":"exact"}"#,
                "count_tokens",
            ),
            (
                r#"{"upstream_protocol":"anthropic","prompt_caching":"off"}"#,
                "prompt_caching",
            ),
        ];
        for (json, field) in cases {
            let err = parse(json).unwrap_err();
            assert_eq!(err.field, field, "{json}: {err}");
            assert!(err.to_string().contains(field), "{err}");
        }
    }

    #[test]
    fn non_object_configuration_is_rejected() {
        for json in ["", "[]", "\"openai\"", "{"] {
            assert!(parse(json).is_err(), "{json:?}");
        }
    }

    #[test]
    fn model_map_prefers_exact_then_longest_prefix_then_star() {
        let config = parse(
            r#"{"upstream_protocol":"openai","model_map":{
                "claude-sonnet-4-5":"exact","claude-*":"short","claude-sonnet-*":"long","*":"any"}}"#,
        )
        .unwrap();
        let map = &config.model_map;
        assert_eq!(map.map("claude-sonnet-4-5"), "exact");
        assert_eq!(map.map("claude-sonnet-4-6"), "long");
        assert_eq!(map.map("claude-haiku-4-5"), "short");
        assert_eq!(map.map("gpt-4o"), "any");
    }

    #[test]
    fn unmapped_models_pass_through() {
        let config = parse(r#"{"upstream_protocol":"openai","model_map":{"a":"b"}}"#).unwrap();
        assert_eq!(config.model_map.map("gpt-4o"), "gpt-4o");
        assert!(matches!(
            config.model_map.map_cow(Cow::Borrowed("gpt-4o")),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn max_tokens_limit_clamps() {
        let config = parse(r#"{"upstream_protocol":"openai","max_tokens_limit":16384}"#).unwrap();
        assert_eq!(config.clamp_max_tokens(64000), 16384);
        assert_eq!(config.clamp_max_tokens(100), 100);
    }
}
