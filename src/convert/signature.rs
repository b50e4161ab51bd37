//! Round-trip fidelity of reasoning (docs/anthropic_client.md#reasoning-round-trip).
//!
//! OpenAI-compatible upstreams return unsigned `reasoning_content`. The bridge
//! gives the thinking block it makes a signature of its own, `aob1.` + a
//! base64url digest of the text, so that when the block comes back in history
//! it is recognised as bridge-made and restored as `reasoning_content`. Any
//! other signature belongs to a real Anthropic model and cannot be replayed to
//! an OpenAI upstream.
//!
//! A Responses API upstream returns its reasoning as a `reasoning` item whose
//! `encrypted_content` must come back in the next request for the model to
//! keep its chain of thought. That thinking block's signature is `aob2.`
//! followed by the encrypted content as sent, so the request side can
//! rebuild the item; neither prefix can begin an Anthropic signature
//! (base64, no `.`), and each version is recognised only by its own pair.

use crate::digest::{base64url, Fnv64};

pub const PREFIX: &str = "aob1.";

/// Signs thinking text as it streams.
#[derive(Debug, Default, Clone, Copy)]
pub struct Signer(Fnv64);

impl Signer {
    pub fn write(&mut self, text: &str) {
        self.0.write(text.as_bytes());
    }

    pub fn signature(&self) -> String {
        format!("{PREFIX}{}", base64url(&self.0.finish().to_be_bytes()))
    }
}

/// The bridge's signature for a whole thinking text.
pub fn sign(thinking: &str) -> String {
    let mut signer = Signer::default();
    signer.write(thinking);
    signer.signature()
}

pub fn is_bridge_signature(signature: &str) -> bool {
    signature.starts_with(PREFIX)
}

/// The prefix of a signature carrying a Responses `reasoning` item.
pub const REASONING_PREFIX: &str = "aob2.";

/// The signature of a thinking block made from a `reasoning` item.
pub fn reasoning_signature(encrypted_content: &str) -> String {
    let mut signature = String::with_capacity(REASONING_PREFIX.len() + encrypted_content.len());
    signature.push_str(REASONING_PREFIX);
    signature.push_str(encrypted_content);
    signature
}

/// The `encrypted_content` a bridge-made reasoning signature carries.
pub fn reasoning_encrypted_content(signature: &str) -> Option<&str> {
    signature
        .strip_prefix(REASONING_PREFIX)
        .filter(|content| !content.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_and_whole_signatures_agree() {
        let mut signer = Signer::default();
        signer.write("Let me ");
        signer.write("think.");
        assert_eq!(signer.signature(), sign("Let me think."));
        assert!(is_bridge_signature(&sign("x")));
        assert_ne!(sign("a"), sign("b"));
    }

    #[test]
    fn anthropic_signatures_are_not_ours() {
        assert!(!is_bridge_signature("EvMCCkYICxgCKkCHP2cSuEdcJK"));
        assert!(!is_bridge_signature(""));
        assert_eq!(
            reasoning_encrypted_content("EvMCCkYICxgCKkCHP2cSuEdcJK"),
            None
        );
    }

    #[test]
    fn reasoning_signatures_carry_the_encrypted_content_and_only_that() {
        let signature = reasoning_signature("gAAAAABo_x-1==");
        assert_eq!(signature, "aob2.gAAAAABo_x-1==");
        assert_eq!(
            reasoning_encrypted_content(&signature),
            Some("gAAAAABo_x-1==")
        );
        assert!(
            !is_bridge_signature(&signature),
            "not a Chat pair signature"
        );
        assert_eq!(reasoning_encrypted_content(&sign("x")), None);
        assert_eq!(reasoning_encrypted_content("aob2."), None);
    }
}
