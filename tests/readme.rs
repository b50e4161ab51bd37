//! The README's configuration table is checked against the keys the filter
//! accepts, so the two cannot drift.

use anthropic_openai_bridge::config::{Config, KEYS};
use anthropic_openai_bridge::report::{METRICS, TAGS};

fn readme_table() -> Vec<(String, String, String)> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
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
