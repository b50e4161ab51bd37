//! The specification in `docs/` is cited from code, tests and scripts as
//! `docs/<file>.md#<heading-anchor>`; these tests fail when a cited file or
//! heading does not exist, when a relative markdown link leads nowhere or out
//! of the repository, when a protocol pair has no document of the common
//! shape, or when a file points outside the repository (the specification's
//! old home, or one machine's absolute checkout path).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Directories never scanned: build output, dependencies, fuzzer state, and
/// recorded payloads (their provenance, fixtures/SOURCES.md, may name where
/// they came from).
const SKIPPED_DIRS: &[&str] = &[
    ".git",
    ".venv",
    "target",
    "node_modules",
    "corpus",
    "artifacts",
    "coverage",
    "fixtures",
    "build",
    "__pycache__",
];

const TEXT_EXTENSIONS: &[&str] = &["rs", "py", "md", "sh", "toml", "yaml", "yml", "txt", "cfg"];

/// The sections every protocol pair's document has, in this order.
const PAIR_SECTIONS: &[&str] = &[
    "Routing",
    "Request mapping",
    "Message rules",
    "Response mapping",
    "Stream event grammar",
    "Errors and status mapping",
    "Headers",
    "Reasoning round trip",
    "Limits",
];

fn root() -> PathBuf {
    PathBuf::from(ROOT)
}

/// Every text file of the repository worth checking, relative to the root.
fn repository_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![root()];
    while let Some(dir) = dirs.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !SKIPPED_DIRS.contains(&name.as_str()) {
                    dirs.push(path);
                }
                continue;
            }
            let ext = path.extension().map(|e| e.to_string_lossy().into_owned());
            let text = name == "Makefile"
                || name == "run"
                || ext.is_some_and(|e| TEXT_EXTENSIONS.contains(&e.as_str()));
            if text {
                files.push(path.strip_prefix(root()).unwrap().to_path_buf());
            }
        }
    }
    files.sort();
    files
}

fn read(relative: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(root().join(relative)).unwrap()).into_owned()
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces
/// to `-`; a repeated anchor gets `-1`, `-2`…
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The headings of a markdown text (outside code fences), with their level.
fn headings(markdown: &str) -> Vec<(usize, String)> {
    let mut in_fence = false;
    let mut out = Vec::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let level = line.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&level) && line[level..].starts_with(' ') {
            out.push((level, line[level..].trim().to_string()));
        }
    }
    out
}

/// Every anchor a markdown text defines.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for (_, heading) in headings(markdown) {
        let base = anchor(&heading);
        let count = seen.entry(base.clone()).or_insert(0);
        out.insert(match *count {
            0 => base.clone(),
            n => format!("{base}-{n}"),
        });
        *count += 1;
    }
    out
}

fn is_citation_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/')
}

/// Every `docs/<file>.md` or `docs/<file>.md#<anchor>` in a text.
fn citations(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("docs/") {
        let preceded_by_path = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
        let tail = &rest[at..];
        let path_len = tail.find(|c| !is_citation_char(c)).unwrap_or(tail.len());
        let path = tail[..path_len].trim_end_matches('.');
        rest = &tail[path.len().max(5)..];
        if preceded_by_path || !path.ends_with(".md") {
            continue;
        }
        let fragment = tail[path.len()..].strip_prefix('#').map(|f| {
            let len = f
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .unwrap_or(f.len());
            f[..len].to_string()
        });
        out.push((path.to_string(), fragment));
    }
    out
}

/// Relative link targets of a markdown text: `[text](target)`.
fn markdown_links(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_fence = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let tail = &rest[at + 2..];
            let Some(end) = tail.find(')') else { break };
            out.push(tail[..end].to_string());
            rest = &tail[end..];
        }
    }
    out
}

#[test]
fn anchors_follow_github() {
    assert_eq!(anchor("Request mapping"), "request-mapping");
    assert_eq!(
        anchor("Classifying the upstream's answer"),
        "classifying-the-upstreams-answer"
    );
    assert_eq!(
        anchor("A JSON answer to a `stream: true` request"),
        "a-json-answer-to-a-stream-true-request"
    );
    let doc = "# A\n## Usage\n```\n# not a heading\n```\n### Usage\n";
    assert_eq!(
        anchors(doc),
        BTreeSet::from(["a".to_string(), "usage".to_string(), "usage-1".to_string()])
    );
}

#[test]
fn citations_are_found_in_any_syntax() {
    let text = "//! see docs/exchange.md#routing, and (docs/limits.md).\n# docs/README.md#adding-a-protocol-pair\nnot/docs/x.md";
    assert_eq!(
        citations(text),
        vec![
            ("docs/exchange.md".to_string(), Some("routing".to_string())),
            ("docs/limits.md".to_string(), None),
            (
                "docs/README.md".to_string(),
                Some("adding-a-protocol-pair".to_string())
            ),
        ]
    );
}

#[test]
fn every_cited_docs_section_exists() {
    let mut checked = 0;
    let mut missing = Vec::new();
    for file in repository_files() {
        let text = read(&file);
        for (path, fragment) in citations(&text) {
            let target = root().join(&path);
            if !target.is_file() {
                missing.push(format!("{}: {path} does not exist", file.display()));
                continue;
            }
            if let Some(fragment) = fragment {
                if !anchors(&read(Path::new(&path))).contains(&fragment) {
                    missing.push(format!(
                        "{}: {path} has no heading for #{fragment}",
                        file.display()
                    ));
                }
            }
            checked += 1;
        }
    }
    assert!(
        missing.is_empty(),
        "dangling citations:\n{}",
        missing.join("\n")
    );
    assert!(
        checked > 20,
        "only {checked} citations found: is the scan broken?"
    );
}

#[test]
fn relative_markdown_links_resolve_inside_the_repository() {
    let mut broken = Vec::new();
    for file in repository_files()
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "md"))
    {
        let text = read(&file);
        let dir = file.parent().unwrap_or(Path::new(""));
        for link in markdown_links(&text) {
            let link = link.split_whitespace().next().unwrap_or("");
            if link.is_empty() || link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (path, fragment) = match link.split_once('#') {
                Some((path, fragment)) => (path, Some(fragment)),
                None => (link, None),
            };
            let target = if path.is_empty() {
                file.clone()
            } else {
                normalize(&dir.join(path))
            };
            if target.starts_with("..") {
                broken.push(format!(
                    "{}: {link} leads out of the repository",
                    file.display()
                ));
                continue;
            }
            if !root().join(&target).exists() {
                broken.push(format!("{}: {link} does not exist", file.display()));
                continue;
            }
            let is_md = target.extension().is_some_and(|e| e == "md");
            if let (Some(fragment), true) = (fragment, is_md) {
                if !anchors(&read(&target)).contains(fragment) {
                    broken.push(format!("{}: {link} has no such heading", file.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// `a/b/../c` → `a/c`, keeping leading `..` that leave the root.
fn normalize(path: &Path) -> PathBuf {
    let mut out: Vec<String> = Vec::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if out.last().is_some_and(|p| p != "..") {
                    out.pop();
                } else {
                    out.push("..".to_string());
                }
            }
            other => out.push(other.as_os_str().to_string_lossy().into_owned()),
        }
    }
    out.iter().collect()
}

#[test]
fn nothing_points_outside_the_repository() {
    // The old specification, and absolute paths of a checkout on one machine
    // (spelled in pieces so that this file does not match itself).
    let forbidden = [
        concat!("../", "shared"),
        concat!(" /work", "/"),
        concat!("`/work", "/"),
        concat!("=/work", "/"),
        concat!("shared/", "DESIGN"),
        concat!("DESIGN", ".md"),
    ];
    let mut found = Vec::new();
    for file in repository_files() {
        let text = read(&file);
        for (number, line) in text.lines().enumerate() {
            for needle in forbidden {
                if line.contains(needle) {
                    found.push(format!("{}:{}: {needle}", file.display(), number + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "references outside the repository:\n{}",
        found.join("\n")
    );
}

/// A newcomer finds any rule by its module name: each protocol pair's module
/// under src/convert/ has `docs/<module>.md` with the common sections.
#[test]
fn every_protocol_pair_has_a_document_of_the_common_shape() {
    let convert = root().join("src/convert");
    let mut pairs: Vec<String> = std::fs::read_dir(&convert)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    pairs.sort();
    assert!(pairs.len() >= 2, "{pairs:?}");
    let index = read(Path::new("docs/README.md"));
    for pair in pairs {
        let doc = format!("docs/{pair}.md");
        assert!(root().join(&doc).is_file(), "{doc} is missing");
        let sections: Vec<String> = headings(&read(Path::new(&doc)))
            .into_iter()
            .filter(|(level, _)| *level == 2)
            .map(|(_, heading)| heading)
            .collect();
        assert_eq!(sections, PAIR_SECTIONS, "{doc}");
        assert!(
            index.contains(&format!("({pair}.md)")),
            "docs/README.md does not list {doc}"
        );
    }
}
