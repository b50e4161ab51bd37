//! Tool names an OpenAI upstream accepts: `^[a-zA-Z0-9_-]{1,64}$`.
//!
//! Anthropic allows names OpenAI rejects (dots, long MCP names). Invalid names
//! are sanitized (invalid characters to `_`, cut to 64, collisions suffixed
//! `_2`, `_3`…). The same mapping is applied to the tools, to `tool_choice`
//! and to `tool_use` history, and reversed in every response, so the client
//! only ever sees its own names. Valid names keep themselves, and are reserved
//! first so a sanitized name can never take one.

use std::collections::{HashMap, HashSet};

const MAX_LEN: usize = 64;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ToolNames {
    /// Only names that changed: client name → upstream name.
    to_upstream: HashMap<String, String>,
    /// Upstream name → client name.
    to_client: HashMap<String, String>,
}

pub fn is_valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(MAX_LEN)
        .collect();
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// Room kept for `_<n>`: a request cannot hold 10^9 names.
const SUFFIX_ROOM: usize = 10;

/// The first free `<stem>_<n>` for `base`, `n` from 2 upwards per stem.
fn numbered(base: &str, taken: &HashSet<String>, next_suffix: &mut HashMap<String, u64>) -> String {
    let stem = base.get(..MAX_LEN - SUFFIX_ROOM).unwrap_or(base);
    let n = next_suffix.entry(stem.to_string()).or_insert(2);
    loop {
        let candidate = format!("{stem}_{n}");
        *n += 1;
        if !taken.contains(&candidate) {
            return candidate;
        }
    }
}

impl ToolNames {
    /// Builds the mapping for every name a request mentions, in order.
    ///
    /// Linear in the number of names: each collision stem (the sanitized
    /// name, cut so any suffix fits) keeps its next free number, and a
    /// numbered candidate `<stem>_<n>` can only clash with a name already
    /// taken, since the digits after the last `_` give back `(stem, n)`.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> ToolNames {
        let names: Vec<&str> = names.into_iter().collect();
        let mut map = ToolNames::default();
        if names.iter().all(|n| is_valid(n)) {
            return map;
        }
        let mut taken: HashSet<String> = names
            .iter()
            .filter(|n| is_valid(n))
            .map(|n| n.to_string())
            .collect();
        let mut next_suffix: HashMap<String, u64> = HashMap::new();
        for name in names {
            if is_valid(name) || map.to_upstream.contains_key(name) {
                continue;
            }
            let base = sanitize(name);
            let candidate = if taken.contains(&base) {
                numbered(&base, &taken, &mut next_suffix)
            } else {
                base
            };
            log::debug!(
                "tool name `{}` is invalid for an OpenAI upstream; sent as `{candidate}`",
                crate::report::LogSafe(name)
            );
            taken.insert(candidate.clone());
            map.to_client.insert(candidate.clone(), name.to_string());
            map.to_upstream.insert(name.to_string(), candidate);
        }
        map
    }

    pub fn is_identity(&self) -> bool {
        self.to_upstream.is_empty()
    }

    /// The name the upstream sees for a client's tool name.
    pub fn upstream<'a>(&'a self, name: &'a str) -> &'a str {
        self.to_upstream.get(name).map_or(name, String::as_str)
    }

    /// The client's own name for a name the upstream used.
    pub fn client<'a>(&'a self, name: &'a str) -> &'a str {
        self.to_client.get(name).map_or(name, String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_untouched() {
        let names = ToolNames::new(["Bash", "mcp__github__create_issue", "a-b"]);
        assert!(names.is_identity());
        assert_eq!(names.upstream("Bash"), "Bash");
    }

    #[test]
    fn invalid_names_are_sanitized_and_reversed() {
        let names = ToolNames::new(["files.read", "ok"]);
        assert_eq!(names.upstream("files.read"), "files_read");
        assert_eq!(names.client("files_read"), "files.read");
        assert_eq!(names.client("ok"), "ok");
    }

    #[test]
    fn collisions_get_numbered_suffixes_and_valid_names_keep_theirs() {
        let names = ToolNames::new(["a.b", "a_b", "a b", "a/b"]);
        assert_eq!(names.upstream("a_b"), "a_b");
        assert_eq!(names.upstream("a.b"), "a_b_2");
        assert_eq!(names.upstream("a b"), "a_b_3");
        assert_eq!(names.upstream("a/b"), "a_b_4");
        for original in ["a.b", "a b", "a/b"] {
            assert_eq!(names.client(names.upstream(original)), original);
        }
    }

    #[test]
    fn long_names_are_cut_to_64_even_with_a_suffix() {
        let long_a = format!("{}.a", "x".repeat(70));
        let long_b = format!("{}.b", "x".repeat(70));
        let names = ToolNames::new([long_a.as_str(), long_b.as_str()]);
        let a = names.upstream(&long_a);
        let b = names.upstream(&long_b);
        assert_eq!(a.len(), 64);
        assert!(b.len() <= 64 && b.ends_with("_2"), "{b}");
        assert!(is_valid(a) && is_valid(b));
        assert_eq!(names.client(b), long_b);
    }

    #[test]
    fn the_same_name_twice_maps_once() {
        let names = ToolNames::new(["x.y", "x.y"]);
        assert_eq!(names.upstream("x.y"), "x_y");
    }

    #[test]
    fn empty_and_non_ascii_names_become_valid() {
        let names = ToolNames::new(["", "météo"]);
        assert_eq!(names.upstream(""), "_");
        assert_eq!(names.upstream("météo"), "m_t_o");
    }
}
