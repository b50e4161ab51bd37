//! An OpenAI upstream's SSE body (arbitrary bytes, in chunks the fuzzer
//! chooses) → the Anthropic event stream.
//! Input: byte 0 = flags (low 4 bits: how many chunk sizes follow; bit 4:
//! a 64-byte SSE line bound instead of the default; bits 6-7: the held-bytes
//! cap, see `held_cap`), the chunk sizes, the body.
//! Invariants: no panic; the output does not depend on the chunking; the
//! bytes held between pushes never exceed the cap; after `finish` it passes
//! the Anthropic grammar checker (exactly one terminal `message_stop` or
//! `error`) and nothing more is written.
#![no_main]

use anthropic_openai_bridge::convert::anthropic_client::stream::StreamConverter;
use anthropic_openai_bridge::sse::MAX_LINE_BYTES;
use anthropic_openai_bridge_fuzz::{anthropic_ctx, chunks, frame, grammar, held_cap};
use libfuzzer_sys::fuzz_target;

fn converter(small_bound: bool, cap: usize) -> StreamConverter {
    let max_line_bytes = if small_bound { 64 } else { MAX_LINE_BYTES };
    StreamConverter::with_limits(anthropic_ctx(), max_line_bytes, cap)
}

fuzz_target!(|data: &[u8]| {
    let input = frame(data);
    let small_bound = input.flags & 0x10 != 0;
    let cap = held_cap(input.flags);

    let mut whole = Vec::new();
    let mut one = converter(small_bound, cap);
    one.push(input.body, &mut whole);
    assert!(one.held_bytes() <= cap, "held {} > cap {cap}", one.held_bytes());
    one.finish(&mut whole);

    let mut pieces = Vec::new();
    let mut many = converter(small_bound, cap);
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
    grammar::check_anthropic_stream_with(&pieces, false);

    let mut after = Vec::new();
    many.push(
        b"data: {\"choices\":[{\"delta\":{\"content\":\"late\"}}]}\n\n",
        &mut after,
    );
    many.finish(&mut after);
    assert!(
        after.is_empty(),
        "written after the end: {}",
        String::from_utf8_lossy(&after)
    );
});
