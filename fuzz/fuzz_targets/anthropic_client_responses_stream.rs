//! An OpenAI Responses upstream's SSE body (arbitrary bytes, in chunks the
//! fuzzer chooses) → the Anthropic event stream.
//! Input: byte 0 = flags (low 4 bits: how many chunk sizes follow; bit 4:
//! a 64-byte SSE line bound instead of the default), the chunk sizes, the body.
//! Invariants: no panic; the output does not depend on the chunking; after
//! `finish` it passes the Anthropic grammar checker (exactly one terminal
//! `message_stop` or `error`) and nothing more is written.
#![no_main]

use anthropic_openai_bridge::convert::anthropic_client_responses::stream::StreamConverter;
use anthropic_openai_bridge::sse::SseParser;
use anthropic_openai_bridge_fuzz::{anthropic_ctx, chunks, frame, grammar};
use libfuzzer_sys::fuzz_target;

fn converter(small_bound: bool) -> StreamConverter {
    if small_bound {
        StreamConverter::with_parser(anthropic_ctx(), SseParser::new(64))
    } else {
        StreamConverter::new(anthropic_ctx())
    }
}

fuzz_target!(|data: &[u8]| {
    let input = frame(data);
    let small_bound = input.flags & 0x10 != 0;

    let mut whole = Vec::new();
    let mut one = converter(small_bound);
    one.push(input.body, &mut whole);
    one.finish(&mut whole);

    let mut pieces = Vec::new();
    let mut many = converter(small_bound);
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
    grammar::check_anthropic_stream_with(&pieces, false);

    let mut after = Vec::new();
    many.push(
        b"data: {\"type\":\"response.output_text.delta\",\"output_index\":0,\"delta\":\"late\"}\n\n",
        &mut after,
    );
    many.finish(&mut after);
    assert!(
        after.is_empty(),
        "written after the end: {}",
        String::from_utf8_lossy(&after)
    );
});
