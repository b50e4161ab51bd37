//! Round-trip fidelity of reasoning (docs/anthropic_client.md#reasoning-round-trip).
//!
//! OpenAI-compatible upstreams return unsigned `reasoning_content`. The bridge
//! gives the thinking block it makes a signature of its own, `aob1.` + a
//! base64url digest of the text, so that when the block comes back in history
//! it is recognised as bridge-made and restored as `reasoning_content`. Any
//! other signature belongs to a real Anthropic model and cannot be replayed to
//! an OpenAI upstream.

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
    }
}
