//! An Anthropic upstream's SSE body (arbitrary bytes, in chunks the fuzzer
//! chooses) → the OpenAI chunk stream.
//! Input: byte 0 = flags (low 4 bits: how many chunk sizes follow; bit 4:
//! a 64-byte SSE line bound; bit 5: `include_usage`; bits 6-7: the held-bytes
//! cap, see `held_cap`), the chunk sizes, the body.
//! Invariants: no panic; the output does not depend on the chunking; the
//! bytes held between pushes never exceed the cap; after
//! `finish` it passes the OpenAI grammar checker (ends in `[DONE]` or one
//! error chunk) and nothing more is written.
#![no_main]

use anthropic_openai_bridge::convert::openai_client::stream::StreamConverter;
use anthropic_openai_bridge::sse::MAX_LINE_BYTES;
use anthropic_openai_bridge_fuzz::{chunks, frame, grammar, held_cap, openai_ctx};
use libfuzzer_sys::fuzz_target;

fn converter(small_bound: bool, include_usage: bool, cap: usize) -> StreamConverter {
    let max_line_bytes = if small_bound { 64 } else { MAX_LINE_BYTES };
    StreamConverter::with_limits(openai_ctx(include_usage), max_line_bytes, cap)
}

fuzz_target!(|data: &[u8]| {
    let input = frame(data);
    let small_bound = input.flags & 0x10 != 0;
    let include_usage = input.flags & 0x20 != 0;
    let cap = held_cap(input.flags);

    let mut whole = Vec::new();
    let mut one = converter(small_bound, include_usage, cap);
    one.push(input.body, &mut whole);
    assert!(one.held_bytes() <= cap, "held {} > cap {cap}", one.held_bytes());
    one.finish(&mut whole);

    let mut pieces = Vec::new();
    let mut many = converter(small_bound, include_usage, cap);
    for piece in chunks(input.body, input.sizes) {
        many.push(piece, &mut pieces);
        assert!(many.held_bytes() <= cap, "held {} > cap {cap}", many.held_bytes());
    }
    many.finish(&mut pieces);
    assert!(many.is_done());

    assert!(
        whole == pieces,
        "output depends on the chunking:\n--- whole\n{}\n--- in pieces\n{}",
        String::from_utf8_lossy(&whole),
        String::from_utf8_lossy(&pieces)
    );
    let chunks = grammar::check_openai_stream(&pieces);
    assert!(
        chunks.done != chunks.error.is_some(),
        "exactly one terminal: [DONE] or an error"
    );
    if chunks.done && !include_usage {
        assert!(chunks.usage.is_none(), "usage chunk without include_usage");
    }

    let mut after = Vec::new();
    many.push(
        b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        &mut after,
    );
    many.finish(&mut after);
    assert!(
        after.is_empty(),
        "written after the end: {}",
        String::from_utf8_lossy(&after)
    );
});
