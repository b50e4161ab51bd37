//! An Anthropic upstream's SSE body (arbitrary bytes, in chunks the fuzzer
//! chooses) → the Responses event stream a Responses client (Codex) reads.
//! Input: byte 0 = flags (low 4 bits: how many chunk sizes follow; bit 4:
//! a 64-byte SSE line bound; bit 5: the client declared custom and
//! namespaced tools), the chunk sizes, the body.
//! Invariants: no panic; the output does not depend on the chunking; after
//! `finish` it passes the strict Responses grammar checker (one terminal
//! event, nothing after it) and nothing more is written.
#![no_main]

use anthropic_openai_bridge::convert::responses_client::stream::StreamConverter;
use anthropic_openai_bridge::sse::SseParser;
use anthropic_openai_bridge_fuzz::{chunks, frame, grammar, responses_client_ctx};
use libfuzzer_sys::fuzz_target;

fn converter(small_bound: bool, tools: bool) -> StreamConverter {
    let ctx = responses_client_ctx(tools);
    if small_bound {
        StreamConverter::with_parser(ctx, SseParser::new(64))
    } else {
        StreamConverter::new(ctx)
    }
}

fuzz_target!(|data: &[u8]| {
    let input = frame(data);
    let small_bound = input.flags & 0x10 != 0;
    let tools = input.flags & 0x20 != 0;

    let mut whole = Vec::new();
    let mut one = converter(small_bound, tools);
    one.push(input.body, &mut whole);
    one.finish(&mut whole);

    let mut pieces = Vec::new();
    let mut many = converter(small_bound, tools);
    for piece in chunks(input.body, input.sizes) {
        many.push(piece, &mut pieces);
    }
    many.finish(&mut pieces);
    assert!(many.is_done());

    assert!(
        whole == pieces,
        "output depends on the chunking:\n--- whole\n{}\n--- in pieces\n{}",
        String::from_utf8_lossy(&whole),
        String::from_utf8_lossy(&pieces)
    );
    grammar::responses::check_responses_stream(&pieces);

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
