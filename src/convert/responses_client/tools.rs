//! The client's tools as an Anthropic upstream sees them, and back.
//!
//! Anthropic tools are flat and take a JSON object. A Responses client also
//! sends `namespace` tools (Codex groups MCP tools in them) and `custom`
//! tools whose input is one freeform string (Codex's `apply_patch`). A
//! namespaced tool is sent as `<namespace>__<name>` (no extra `__` when the
//! namespace already ends in one); a custom tool as a tool with one string
//! parameter, `input`. Names are then made valid and unique by
//! `tool_names::ToolNames`. The table restores the client's name, namespace
//! and kind for every call the upstream makes.

use crate::convert::tool_names::ToolNames;
use std::collections::HashMap;

/// The one parameter of a custom tool as the upstream sees it.
pub const CUSTOM_INPUT: &str = "input";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ToolKind {
    #[default]
    Function,
    /// Freeform input: the call comes back as a `custom_tool_call`.
    Custom,
}

/// A tool as the client named it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTool {
    pub name: String,
    pub namespace: Option<String>,
    pub kind: ToolKind,
}

#[derive(Debug, Clone, Default)]
pub struct ToolTable {
    names: ToolNames,
    /// Flat client name → the tool.
    tools: HashMap<String, ClientTool>,
}

/// The flat name of a tool inside a namespace.
pub fn flat_name(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if ns.ends_with("__") => [ns, name].concat(),
        Some(ns) => [ns, "__", name].concat(),
        None => name.to_string(),
    }
}

impl ToolTable {
    /// The table for the tools a request declares, in order.
    pub fn new(tools: impl IntoIterator<Item = ClientTool>) -> ToolTable {
        let mut flat: Vec<String> = Vec::new();
        let mut table = HashMap::new();
        for tool in tools {
            let name = flat_name(tool.namespace.as_deref(), &tool.name);
            if table.contains_key(&name) {
                log::debug!("a tool is declared twice; the first declaration is kept");
                continue;
            }
            flat.push(name.clone());
            table.insert(name, tool);
        }
        ToolTable {
            names: ToolNames::new(flat.iter().map(String::as_str)),
            tools: table,
        }
    }

    /// The upstream's name for a client tool (or a call in the history).
    pub fn upstream(&self, namespace: Option<&str>, name: &str) -> String {
        let flat = flat_name(namespace, name);
        self.names.upstream(&flat).to_string()
    }

    /// Whether the client declared a tool with this upstream name as custom.
    pub fn is_custom(&self, namespace: Option<&str>, name: &str) -> bool {
        self.tools
            .get(&flat_name(namespace, name))
            .is_some_and(|t| t.kind == ToolKind::Custom)
    }

    /// The client's tool behind a name the upstream called; an undeclared
    /// name is a function of that name.
    pub fn client(&self, upstream: &str) -> ClientTool {
        let flat = self.names.client(upstream);
        self.tools.get(flat).cloned().unwrap_or_else(|| ClientTool {
            name: flat.to_string(),
            ..ClientTool::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(namespace: Option<&str>, name: &str, kind: ToolKind) -> ClientTool {
        ClientTool {
            name: name.to_string(),
            namespace: namespace.map(str::to_string),
            kind,
        }
    }

    #[test]
    fn namespaces_are_flattened_and_restored() {
        let table = ToolTable::new([
            tool(None, "exec_command", ToolKind::Function),
            tool(Some("multi_agent_v1"), "spawn_agent", ToolKind::Function),
            tool(Some("mcp__docs__"), "search", ToolKind::Function),
        ]);
        assert_eq!(table.upstream(None, "exec_command"), "exec_command");
        let spawn = table.upstream(Some("multi_agent_v1"), "spawn_agent");
        assert_eq!(spawn, "multi_agent_v1__spawn_agent");
        assert_eq!(
            table.client(&spawn),
            tool(Some("multi_agent_v1"), "spawn_agent", ToolKind::Function)
        );
        let search = table.upstream(Some("mcp__docs__"), "search");
        assert_eq!(search, "mcp__docs__search");
        assert_eq!(
            table.client(&search).namespace.as_deref(),
            Some("mcp__docs__")
        );
    }

    #[test]
    fn custom_tools_are_known_by_kind() {
        let table = ToolTable::new([tool(None, "apply_patch", ToolKind::Custom)]);
        assert!(table.is_custom(None, "apply_patch"));
        assert_eq!(table.client("apply_patch").kind, ToolKind::Custom);
        assert!(!table.is_custom(None, "exec_command"));
    }

    #[test]
    fn invalid_and_long_names_are_sanitized_both_ways() {
        let long_ns = "n".repeat(70);
        let table = ToolTable::new([
            tool(Some("my.server"), "read file", ToolKind::Function),
            tool(Some(&long_ns), "x", ToolKind::Custom),
        ]);
        let read = table.upstream(Some("my.server"), "read file");
        assert_eq!(read, "my_server__read_file");
        assert_eq!(
            table.client(&read),
            tool(Some("my.server"), "read file", ToolKind::Function)
        );
        let long = table.upstream(Some(&long_ns), "x");
        assert!(long.len() <= 64 && crate::convert::tool_names::is_valid(&long));
        assert_eq!(table.client(&long).kind, ToolKind::Custom);
        assert_eq!(
            table.client(&long).namespace.as_deref(),
            Some(long_ns.as_str())
        );
    }

    #[test]
    fn undeclared_names_are_functions_of_that_name() {
        let table = ToolTable::new([]);
        assert_eq!(
            table.client("made_up"),
            tool(None, "made_up", ToolKind::Function)
        );
    }
}
