//! Prompt-cache breakpoints for OpenAI clients on an Anthropic upstream
//! (issue 14, "Prompt caching"). OpenAI caches every prompt's prefix by
//! itself, so its clients send nothing to ask for it; Anthropic caches only
//! up to blocks marked with `cache_control`. The bridge marks, in this order
//! and at most [`MAX_BREAKPOINTS`] in all: the last tool, the last system
//! block, and the last block of each of the last two user turns (the newest
//! turn writes the cache the next request reads from the turn before it).
//! Thinking blocks and empty text cannot carry a breakpoint and are skipped.

use crate::anthropic::{block, CacheControl, ContentBlock, MessagesRequest, Role};
use crate::wire::TextOr;

/// Anthropic rejects a request with more breakpoints than this.
pub const MAX_BREAKPOINTS: usize = 4;

/// User turns whose last block gets a breakpoint.
const USER_TURNS: usize = 2;

/// Marks the request's breakpoints (see the module documentation).
pub fn place_breakpoints(request: &mut MessagesRequest<'_>) {
    let mut left = MAX_BREAKPOINTS;
    if let Some(tool) = request.tools.as_mut().and_then(|tools| tools.last_mut()) {
        tool.cache_control = Some(CacheControl::ephemeral());
        left -= 1;
    }
    if request.system.as_mut().is_some_and(mark_last_block) {
        left -= 1;
    }
    let user_turns = request
        .messages
        .iter_mut()
        .rev()
        .filter(|message| message.role == Role::User);
    let mut marked = 0;
    for message in user_turns {
        if marked == USER_TURNS.min(left) {
            break;
        }
        if mark_last_block(&mut message.content) {
            marked += 1;
        }
    }
}

/// Marks the last block of `content` that can carry a breakpoint (a string
/// becomes one text block); false when none can.
fn mark_last_block<'a>(content: &mut TextOr<'a, ContentBlock<'a>>) -> bool {
    if let TextOr::Text(text) = content {
        if text.is_empty() {
            return false;
        }
        let text = std::mem::take(text);
        *content = TextOr::Items(vec![ContentBlock::text(text)]);
    }
    let TextOr::Items(blocks) = content else {
        return false;
    };
    match blocks.iter_mut().rev().find(|b| can_carry_breakpoint(b)) {
        Some(last) => {
            last.cache_control = Some(CacheControl::ephemeral());
            true
        }
        None => false,
    }
}

fn can_carry_breakpoint(b: &ContentBlock<'_>) -> bool {
    match b.kind.as_str() {
        block::THINKING | block::REDACTED_THINKING => false,
        block::TEXT => b.text.as_deref().is_some_and(|t| !t.is_empty()),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn placed(request: Value) -> Value {
        let text = request.to_string();
        let mut request: MessagesRequest<'_> = serde_json::from_str(&text).unwrap();
        place_breakpoints(&mut request);
        serde_json::to_value(&request).unwrap()
    }

    const MARK: fn() -> Value = || json!({"type": "ephemeral"});

    #[test]
    fn last_tool_system_and_last_two_user_turns() {
        let out = placed(json!({
            "model": "m",
            "system": "Be brief.",
            "tools": [{"name": "a", "input_schema": {}}, {"name": "b", "input_schema": {}}],
            "messages": [
                {"role": "user", "content": "one"},
                {"role": "assistant", "content": "two"},
                {"role": "user", "content": [{"type": "text", "text": "three"}, {"type": "image", "source": {"type": "url", "url": "u"}}]},
                {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"}, {"type": "tool_use", "id": "t1", "name": "a", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}, {"type": "text", "text": ""}]}
            ]
        }));
        assert!(out["tools"][0].get("cache_control").is_none());
        assert_eq!(out["tools"][1]["cache_control"], MARK());
        assert_eq!(
            out["system"],
            json!([{"type": "text", "text": "Be brief.", "cache_control": MARK()}])
        );
        let m = &out["messages"];
        assert_eq!(m[0]["content"], "one", "only the last two user turns");
        assert_eq!(m[1]["content"], "two", "assistant turns are not marked");
        assert!(m[2]["content"][0].get("cache_control").is_none());
        assert_eq!(m[2]["content"][1]["cache_control"], MARK());
        assert!(m[3]["content"][1].get("cache_control").is_none());
        assert_eq!(
            m[4]["content"][0]["cache_control"],
            MARK(),
            "the empty text after it cannot carry one"
        );
        assert!(m[4]["content"][1].get("cache_control").is_none());
        let count = out.to_string().matches("ephemeral").count();
        assert_eq!(count, MAX_BREAKPOINTS);
    }

    #[test]
    fn without_tools_or_system_only_user_turns_are_marked() {
        let out = placed(json!({
            "model": "m",
            "messages": [
                {"role": "user", "content": "one"},
                {"role": "assistant", "content": "two"},
                {"role": "user", "content": "three"},
                {"role": "assistant", "content": "four"},
                {"role": "user", "content": "five"}
            ]
        }));
        assert!(out.get("system").is_none() && out.get("tools").is_none());
        let m = &out["messages"];
        assert_eq!(m[0]["content"], "one");
        for turn in [2, 4] {
            assert_eq!(m[turn]["content"][0]["cache_control"], MARK(), "{turn}");
        }
        assert_eq!(out.to_string().matches("ephemeral").count(), 2);
    }

    #[test]
    fn a_turn_with_nothing_markable_passes_to_the_one_before() {
        let out = placed(json!({
            "model": "m",
            "system": "",
            "messages": [
                {"role": "user", "content": "one"},
                {"role": "assistant", "content": "two"},
                {"role": "user", "content": "three"},
                {"role": "assistant", "content": "four"},
                {"role": "user", "content": [{"type": "text", "text": ""}]}
            ]
        }));
        assert_eq!(out["system"], "");
        let m = &out["messages"];
        assert_eq!(m[0]["content"][0]["cache_control"], MARK());
        assert_eq!(m[2]["content"][0]["cache_control"], MARK());
        assert_eq!(out.to_string().matches("ephemeral").count(), 2);
    }
}
