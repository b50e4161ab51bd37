//! The shipped Envoy configs turn every tag the module encodes in a metric
//! name into a real tag, and print the module's access-log fields.

use anthropic_openai_bridge::report::{Direction, Report, Tokens, TAGS};

const CONFIGS: &[&str] = &["envoy/envoy.yaml", "envoy/envoy-openai-clients.yaml"];

fn config(name: &str) -> String {
    std::fs::read_to_string(format!("{}/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn every_metric_tag_has_its_stats_tags_regex() {
    for name in CONFIGS {
        let text = config(name);
        let declared = text.matches("  - tag_name: ").count();
        assert_eq!(declared, TAGS.len(), "{name}: one stats_tags entry per tag");
        for tag in TAGS {
            let entry = format!("  - tag_name: {tag}\n    regex: \"({tag}=\\\\.=(.*?);\\\\.;)\"");
            assert!(text.contains(&entry), "{name} lacks {entry}");
        }
    }
}

#[test]
fn the_access_log_prints_the_bridge_fields() {
    let everything = Report {
        direction: Some(Direction::AnthropicClient),
        model: Some("m".into()),
        tokens: Some(Tokens::default()),
        ..Default::default()
    };
    let fields: Vec<&str> = everything
        .access_log_fields()
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    assert_eq!(fields.len(), 6);
    for name in CONFIGS {
        let text = config(name);
        for field in &fields {
            assert!(
                text.contains(&format!("%FILTER_STATE(wasm.{field}:PLAIN)%")),
                "{name} lacks {field}"
            );
        }
    }
}
