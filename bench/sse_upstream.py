#!/usr/bin/env python3
"""OpenAI-compatible streaming upstream for bench/e2e.py (stdlib only, asyncio).

Two listeners on 127.0.0.1, each answering every POST (any path, keep-alive,
request bodies with content-length or chunked) with an OpenAI chat-completion
chunk stream (`text/event-stream`, chunked transfer encoding):

  timed  one chunk every --interval-ms, each written on its own. The content
         text of chunk i is " T<ns>T", where <ns> is time.monotonic_ns() (the
         system-wide CLOCK_MONOTONIC) taken just before the chunk is written,
         so a client on the same machine can compute, per event, the time from
         the upstream writing it to the client receiving its converted form.
  bulk   --bulk-mb megabytes of ordinary content chunks (about 250 bytes each,
         like fixtures/bench/openai-stream.sse), written as fast as the reader
         takes them: the stream for the memory measurement.
  paced  the same stream, one 64 KB block (256 chunks) every --pace-ms, slower
         than Envoy and the bridge forward it, so no large backlog builds up
         between the upstream and the filter.

Not a throughput mock (the Envoy direct_response upstream in e2e.py is that):
it measures delays and memory, where Python's speed does not matter.
Prints one line `PORTS timed=<port> bulk=<port> paced=<port>` on stdout once listening.
"""

import argparse
import asyncio
import json
import socket
import time

BASE = ('{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1760000000,'
        '"model":"gpt-bench","choices":[{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}],"usage":null}')
USAGE = ('{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1760000000,"model":"gpt-bench",'
         '"choices":[],"usage":{"prompt_tokens":1000,"completion_tokens":%d,"total_tokens":%d}}')


def event(payload):
    return b"data: " + payload.encode() + b"\n\n"


def chunk(data):
    return b"%x\r\n" % len(data) + data + b"\r\n"


def content_event(text):
    return event(BASE % (json.dumps({"content": text}), "null"))


ROLE = event(BASE % ('{"role":"assistant","content":""}', "null"))
FINISH = event(BASE % ("{}", '"stop"'))
DONE = event("[DONE]")
HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        b"transfer-encoding: chunked\r\n\r\n")


async def read_request(reader):
    """Read one request (headers and body); False at a clean end of connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        if b":" in line:
            name, value = line.split(b":", 1)
            headers[name.strip().lower()] = value.strip()
    if b"content-length" in headers:
        await reader.readexactly(int(headers[b"content-length"]))
    elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                break
            await reader.readexactly(size + 2)
    return True


async def timed_stream(writer, events, interval):
    writer.write(HEAD + chunk(ROLE))
    await writer.drain()
    start = time.monotonic()
    for i in range(events):
        delay = start + (i + 1) * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        data = content_event(" T%dT" % time.monotonic_ns())
        writer.write(chunk(data))
        await writer.drain()
    writer.write(chunk(FINISH + event(USAGE % (events, 1000 + events)) + DONE) + b"0\r\n\r\n")
    await writer.drain()


def bulk_block():
    words = "the request converts each field by construction so nothing unknown reaches".split()
    events = b"".join(content_event(" " + words[i % len(words)]) for i in range(256))
    return chunk(events), len(events), 256


async def bulk_stream(writer, total_bytes, pace):
    block, block_len, block_events = bulk_block()
    writer.write(HEAD + chunk(ROLE))
    sent, events = len(ROLE), 0
    start = time.monotonic()
    while sent < total_bytes:
        if pace:
            delay = start + (events // block_events) * pace - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        writer.write(block)
        sent += block_len
        events += block_events
        await writer.drain()
    writer.write(chunk(FINISH + event(USAGE % (events, 1000 + events)) + DONE) + b"0\r\n\r\n")
    await writer.drain()


def handler(stream):
    async def handle(reader, writer):
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                try:
                    await read_request(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                await stream(writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
    return handle


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300, help="timed: content chunks per response")
    parser.add_argument("--interval-ms", type=float, default=10.0, help="timed: time between chunks")
    parser.add_argument("--bulk-mb", type=float, default=50.0, help="bulk: stream length in MB (10^6 bytes)")
    parser.add_argument("--pace-ms", type=float, default=2.0, help="paced: time between 64 KB blocks")
    args = parser.parse_args()
    timed = await asyncio.start_server(
        handler(lambda w: timed_stream(w, args.events, args.interval_ms / 1000)), "127.0.0.1", 0)
    bulk = await asyncio.start_server(
        handler(lambda w: bulk_stream(w, int(args.bulk_mb * 1e6), 0)), "127.0.0.1", 0, limit=1 << 20)
    paced = await asyncio.start_server(
        handler(lambda w: bulk_stream(w, int(args.bulk_mb * 1e6), args.pace_ms / 1000)), "127.0.0.1", 0,
        limit=1 << 20)
    print("PORTS timed=%d bulk=%d paced=%d" % tuple(s.sockets[0].getsockname()[1] for s in (timed, bulk, paced)),
          flush=True)
    async with timed, bulk, paced:
        await asyncio.gather(timed.serve_forever(), bulk.serve_forever(), paced.serve_forever())


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
