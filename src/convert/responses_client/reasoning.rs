//! The `encrypted_content` of a reasoning item the bridge makes from an
//! Anthropic thinking block. A Responses client keeps its reasoning only as
//! that opaque string (Codex asks for it with `include:
//! ["reasoning.encrypted_content"]` and sends the item back on the next
//! turn), so the string carries the whole block: `aobt1.<signature>.<thinking>`
//! for a thinking block, `aobr1.<data>` for a redacted one. An Anthropic
//! signature is base64 and has no `.`, so the first `.` after the prefix
//! ends it. OpenAI's own encrypted content (`gAAAA…`) starts with neither
//! prefix, and neither is confused with the signatures the other pairs make
//! (`convert::signature`).

/// A thinking block carried in `encrypted_content`, version 1.
pub const THINKING_PREFIX: &str = "aobt1.";
/// A redacted_thinking block carried in `encrypted_content`, version 1.
pub const REDACTED_PREFIX: &str = "aobr1.";

/// A block read back from a bridge-made `encrypted_content`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarriedBlock<'a> {
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    Redacted {
        data: &'a str,
    },
}

/// The `encrypted_content` for a thinking block; `None` without a
/// signature (Anthropic would reject the block without it).
pub fn thinking_content(thinking: &str, signature: &str) -> Option<String> {
    if signature.is_empty() || signature.contains('.') {
        return None;
    }
    Some([THINKING_PREFIX, signature, ".", thinking].concat())
}

/// The `encrypted_content` for a redacted_thinking block's `data`.
pub fn redacted_content(data: &str) -> Option<String> {
    (!data.is_empty()).then(|| [REDACTED_PREFIX, data].concat())
}

/// The block an `encrypted_content` carries, if the bridge made it.
pub fn carried_block(content: &str) -> Option<CarriedBlock<'_>> {
    if let Some(rest) = content.strip_prefix(THINKING_PREFIX) {
        let (signature, thinking) = rest.split_once('.')?;
        return (!signature.is_empty()).then_some(CarriedBlock::Thinking {
            thinking,
            signature,
        });
    }
    let data = content.strip_prefix(REDACTED_PREFIX)?;
    (!data.is_empty()).then_some(CarriedBlock::Redacted { data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thinking_block_comes_back_whole() {
        let content = thinking_content("Let me think. Done.", "EqQBCgIYAhIM1gbcDa9GJwZA").unwrap();
        assert_eq!(
            content,
            "aobt1.EqQBCgIYAhIM1gbcDa9GJwZA.Let me think. Done."
        );
        assert_eq!(
            carried_block(&content),
            Some(CarriedBlock::Thinking {
                thinking: "Let me think. Done.",
                signature: "EqQBCgIYAhIM1gbcDa9GJwZA"
            })
        );
        let empty = thinking_content("", "c2ln").unwrap();
        assert_eq!(
            carried_block(&empty),
            Some(CarriedBlock::Thinking {
                thinking: "",
                signature: "c2ln"
            })
        );
    }

    #[test]
    fn redacted_data_comes_back_whole() {
        let content = redacted_content("EmwKAhgBEgy3va3pzix/LafPsn4a").unwrap();
        assert_eq!(
            carried_block(&content),
            Some(CarriedBlock::Redacted {
                data: "EmwKAhgBEgy3va3pzix/LafPsn4a"
            })
        );
    }

    #[test]
    fn openai_content_and_malformed_carriers_are_not_ours() {
        assert_eq!(carried_block("gAAAAABpWA2zdrYPBos46LiG"), None);
        assert_eq!(carried_block("aobt1."), None);
        assert_eq!(carried_block("aobt1.nosignatureend"), None);
        assert_eq!(carried_block("aobt1..thinking"), None);
        assert_eq!(carried_block("aobr1."), None);
        assert_eq!(carried_block("aob2.gAAAA"), None);
        assert_eq!(thinking_content("t", ""), None);
        assert_eq!(thinking_content("t", "a.b"), None);
        assert_eq!(redacted_content(""), None);
    }
}
