//! Every plugin configuration in the Istio manifests (`istio/*.yaml`) is
//! accepted by the release module's `on_configure` and does what it says;
//! a broken copy of each is rejected, naming the field.
//!
//! - WasmPlugin `pluginConfig`: Istio hands the filter the protobuf Struct
//!   serialized to JSON, every number a double (integral values printed
//!   without a fraction); `istio_json` does the same.
//! - EnvoyFilter patches: the `configuration` string of each wasm filter.

mod common;

use common::*;
use host_harness::{Action, Chunking, Host, LogLevel};
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use yaml_rust2::{Yaml, YamlLoader};

fn istio_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../istio")
}

/// YAML as JSON; every number the way a protobuf Struct carries it.
fn istio_json(yaml: &Yaml) -> Value {
    let number = |f: f64| {
        if f.fract() == 0.0 && f.abs() < 1e21 {
            json!(f as i64)
        } else {
            json!(f)
        }
    };
    match yaml {
        Yaml::Hash(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = k.as_str().unwrap_or_else(|| panic!("non-string key {k:?}"));
                    (key.to_string(), istio_json(v))
                })
                .collect::<Map<String, Value>>(),
        ),
        Yaml::Array(items) => Value::Array(items.iter().map(istio_json).collect()),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Integer(i) => number(*i as f64),
        Yaml::Real(r) => number(r.parse().unwrap_or_else(|e| panic!("{r}: {e}"))),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Null => Value::Null,
        other => panic!("unexpected YAML node {other:?}"),
    }
}

/// (where it came from, the JSON text the module receives).
fn plugin_configurations() -> Vec<(String, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(istio_dir())
        .expect("istio/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let documents = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        for doc in documents {
            let doc = istio_json(&doc);
            let id = format!("{name}: {}", doc["metadata"]["name"].as_str().unwrap());
            match doc["kind"].as_str() {
                Some("WasmPlugin") => {
                    let config = &doc["spec"]["pluginConfig"];
                    assert!(config.is_object(), "{id}: pluginConfig is not a mapping");
                    out.push((id, config.to_string()));
                }
                Some("EnvoyFilter") => {
                    for (i, patch) in doc["spec"]["configPatches"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .enumerate()
                    {
                        let typed = &patch["patch"]["value"]["typed_config"];
                        if typed["@type"]
                            == "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
                        {
                            let value = typed["config"]["configuration"]["value"]
                                .as_str()
                                .unwrap_or_else(|| panic!("{id}: configuration is not a string"));
                            out.push((format!("{id} patch {i}"), value.to_string()));
                        }
                    }
                }
                other => panic!("{id}: unexpected kind {other:?}"),
            }
        }
    }
    out
}

fn started(config: &str) -> (Host, bool) {
    let mut h = Host::with_options(bridge_wasm(), options()).unwrap_or_else(|e| panic!("{e}"));
    let ok = h.start(config).unwrap_or_else(|e| panic!("{e}"));
    (h, ok)
}

/// One request in the direction the configuration is for: the converted
/// request's path and body as the upstream would get them.
fn convert_one(h: &mut Host, config: &Value) -> (String, Value) {
    let (headers, body) = match config["upstream_protocol"].as_str() {
        Some("openai") => (
            anthropic_headers("/v1/messages", None),
            json!({"model": "claude-sonnet-4-5", "max_tokens": 64000,
                   "messages": [{"role": "user", "content": "hi"}]}),
        ),
        Some("anthropic") => (
            vec![
                (":method".into(), "POST".into()),
                (":scheme".into(), "http".into()),
                (":authority".into(), "bridge.local".into()),
                (":path".into(), "/v1/chat/completions".into()),
                ("content-type".into(), "application/json".into()),
                ("authorization".into(), "Bearer sk-test-key".into()),
            ],
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
        ),
        other => panic!("upstream_protocol {other:?}"),
    };
    let body = serde_json::to_vec(&body).unwrap();
    let mut s = h.http_stream();
    let actions = s
        .request(&pairs(&headers), &body, &Chunking::Whole)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(s.local_response().is_none(), "{:?}", s.local_response());
    assert_eq!(actions.last(), Some(&Action::Continue));
    let path = s
        .request_headers_out()
        .unwrap()
        .get(":path")
        .unwrap()
        .to_string();
    let out = serde_json::from_slice(s.request_body_out()).unwrap();
    (path, out)
}

#[test]
fn every_istio_plugin_configuration_is_accepted_and_applied() {
    let configs = plugin_configurations();
    // 2 WasmPlugins, 2 patches in each EnvoyFilter variant.
    assert_eq!(configs.len(), 6, "{configs:#?}");
    for (id, text) in &configs {
        let (mut h, ok) = started(text);
        assert!(ok, "{id}: rejected {text}\n{}", logs(&h, LogLevel::Trace));
        assert!(
            h.logs_at_least(LogLevel::Warn).is_empty(),
            "{id}: {}",
            logs(&h, LogLevel::Warn)
        );
        let config: Value = serde_json::from_str(text).unwrap();
        let (path, out) = convert_one(&mut h, &config);
        let model = &config["model_map"];
        match config["upstream_protocol"].as_str().unwrap() {
            "openai" => {
                assert_eq!(path, "/v1/chat/completions", "{id}");
                assert_eq!(out["model"], model["claude-sonnet-*"], "{id}");
                let limit = config["max_tokens_limit"].as_u64().unwrap();
                assert_eq!(out["max_completion_tokens"], json!(limit), "{id}: clamped");
            }
            _ => {
                assert_eq!(path, "/v1/messages", "{id}");
                assert_eq!(out["model"], model["gpt-4o"], "{id}");
                assert_eq!(out["max_tokens"], config["default_max_tokens"], "{id}");
            }
        }
        assert_clean(&h);
    }
}

#[test]
fn a_broken_copy_of_each_is_rejected_naming_the_field() {
    for (id, text) in plugin_configurations() {
        let good: Map<String, Value> = serde_json::from_str(&text).unwrap();
        let mut typo = good.clone();
        let (key, value) = typo
            .iter()
            .next_back()
            .map(|(k, v)| (k.clone(), v.clone()))
            .unwrap();
        typo.remove(&key);
        let misspelt = format!("{key}s");
        typo.insert(misspelt.clone(), value);
        let mut wrong_protocol = good.clone();
        wrong_protocol.insert("upstream_protocol".into(), json!("OpenAI"));
        let mut fractional = good.clone();
        fractional.insert("default_max_tokens".into(), json!(4096.5));
        for (broken, field) in [
            (typo, misspelt.as_str()),
            (wrong_protocol, "upstream_protocol"),
            (fractional, "default_max_tokens"),
        ] {
            let broken = Value::Object(broken).to_string();
            let (h, ok) = started(&broken);
            assert!(!ok, "{id}: accepted {broken}");
            let log = logs(&h, LogLevel::Warn);
            assert!(log.contains(&format!("`{field}`")), "{id}: {broken}\n{log}");
        }
    }
}
