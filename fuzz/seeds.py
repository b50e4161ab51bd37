#!/usr/bin/env python3
"""Build the fuzz seed corpora from fixtures/ (stdlib only).

    python3 fuzz/seeds.py [OUT_DIR]     # default: fuzz/seeds

Writes OUT_DIR/<target>/<name> for every fuzz target: recorded requests,
completions and streams, framed the way each target reads its input (see
fuzz/src/lib.rs and the targets' doc comments): stream targets get a flags
byte and chunk sizes in front of the body, the exchange target two flag
bytes. The seeds are rebuilt on every `make fuzz`, so they follow fixtures/.
"""

import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


def stream_bytes(path):
    """A recorded stream as SSE bytes (.sse as stored, .chunks.jsonl framed
    as fixtures document it: `event:` lines for Anthropic and OpenAI
    Responses, `[DONE]` for OpenAI Chat)."""
    data = path.read_bytes()
    if not path.name.endswith(".chunks.jsonl"):
        return data
    named = path.parent.name in ("anthropic", "responses")
    out = bytearray()
    for line in data.decode().splitlines():
        if not line.strip():
            continue
        if named:
            out += f"event: {json.loads(line)['type']}\n".encode()
        out += f"data: {line}\n\n".encode()
    if not named:
        out += b"data: [DONE]\n\n"
    return bytes(out)


def upstream_streams(protocol):
    """Streams an upstream speaking `protocol` sends (not the golden outputs)."""
    for path in sorted((FIXTURES / protocol).iterdir()):
        if ".to-" in path.name:
            continue
        if path.name.endswith((".sse", ".chunks.jsonl")):
            yield path.name, stream_bytes(path)


def upstream_bodies(protocol):
    for path in sorted((FIXTURES / protocol).glob("*.json")):
        if ".to-" not in path.name:
            yield path.name, path.read_bytes()


# Chunkings for the stream targets: (flags, sizes); flags' low nibble is the
# number of sizes, the high bits are the target's options.
ANTHROPIC_STREAM_FRAMES = [(0x00, b""), (0x03, bytes([1, 7, 64])), (0x11, bytes([13]))]
OPENAI_STREAM_FRAMES = [(0x00, b""), (0x23, bytes([1, 7, 64])), (0x31, bytes([13]))]
RESPONSES_STREAM_FRAMES = [(0x00, b""), (0x23, bytes([1, 7, 64])), (0x31, bytes([13]))]


def build(out):
    if out.exists():
        shutil.rmtree(out)
    corpora = {}

    def add(target, name, data):
        directory = out / target
        directory.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(data)
        corpora[target] = corpora.get(target, 0) + 1

    for path in sorted((FIXTURES / "requests").glob("*.json")):
        # Every request fixture seeds both directions: golden outputs are
        # requests in the other protocol.
        add("anthropic_client_request", path.name, path.read_bytes())
        add("anthropic_client_responses_request", path.name, path.read_bytes())
        add("openai_client_request", path.name, path.read_bytes())
    for name, body in upstream_bodies("openai"):
        add("anthropic_client_response", name, body)
    for name, body in upstream_bodies("anthropic"):
        add("openai_client_response", name, body)
    for name, body in upstream_streams("openai"):
        for i, (flags, sizes) in enumerate(ANTHROPIC_STREAM_FRAMES):
            add("anthropic_client_stream", f"{name}.{i}", bytes([flags]) + sizes + body)
    for name, body in upstream_bodies("responses"):
        add("anthropic_client_responses_response", name, body)
    for name, body in upstream_streams("responses"):
        for i, (flags, sizes) in enumerate(ANTHROPIC_STREAM_FRAMES):
            add("anthropic_client_responses_stream", f"{name}.{i}", bytes([flags]) + sizes + body)
    for name, body in upstream_streams("anthropic"):
        for i, (flags, sizes) in enumerate(OPENAI_STREAM_FRAMES):
            add("openai_client_stream", f"{name}.{i}", bytes([flags]) + sizes + body)
    for path in sorted((FIXTURES / "responses" / "requests").glob("*.json")):
        if ".to-" in path.name:
            continue
        body = json.loads(path.read_bytes())
        # Codex recordings wrap the body with the method, path and headers.
        if path.name.startswith("codex-"):
            body = body["body"]
        add("responses_client_request", path.name, json.dumps(body).encode())
    for name, body in upstream_bodies("anthropic"):
        add("responses_client_response", name, body)
    for name, body in upstream_streams("anthropic"):
        for i, (flags, sizes) in enumerate(RESPONSES_STREAM_FRAMES):
            add("responses_client_stream", f"{name}.{i}", bytes([flags]) + sizes + body)
    # exchange: flags (0x10 OpenAI client, 0x20 streaming, 0x40 include_usage),
    # response byte (status 200; content-type 0 = SSE, 1 = JSON), two sizes.
    for client, protocol in ((0x00, "openai"), (0x50, "anthropic")):
        for name, body in upstream_streams(protocol):
            add("exchange", f"{protocol}-{name}", bytes([client | 0x20 | 0x02, 0x00, 5, 200]) + body)
        for name, body in upstream_bodies(protocol):
            add("exchange", f"{protocol}-{name}", bytes([client, 0x08]) + body)
            # A JSON completion answering a streaming request.
            add("exchange", f"{protocol}-as-stream-{name}", bytes([client | 0x20, 0x08]) + body)
    return corpora


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "fuzz" / "seeds"
    for target, count in sorted(build(out).items()):
        print(f"{target}: {count} seeds")


if __name__ == "__main__":
    main()
