"""Streaming clients of bench/e2e.py: raw sockets, no buffering but the kernel's.

`event_delays` measures, per SSE event, the time from bench/sse_upstream.py
writing it (its timestamp, CLOCK_MONOTONIC in ns, is in the content text) to
this client reading the complete event, converted or not. `stream_through`
reads a long stream while sampling a process's memory.
"""

import re
import socket
import threading
import time

from benchlib import HEADERS

MARKER = re.compile(rb"T(\d{6,})T")


class ChunkedDecoder:
    """Incremental HTTP/1.1 chunked-body decoder."""

    def __init__(self):
        self.buffer = b""
        self.remaining = 0  # data bytes left in the current chunk
        self.need_crlf = False  # the CRLF that closes the current chunk
        self.done = False

    def feed(self, data):
        self.buffer += data
        out = []
        while not self.done:
            if self.remaining:
                if not self.buffer:
                    break
                take = self.buffer[:self.remaining]
                out.append(take)
                self.buffer = self.buffer[len(take):]
                self.remaining -= len(take)
                self.need_crlf = self.remaining == 0
            elif self.need_crlf:
                if len(self.buffer) < 2:
                    break
                self.buffer = self.buffer[2:]
                self.need_crlf = False
            else:
                line_end = self.buffer.find(b"\r\n")
                if line_end < 0:
                    break
                size = int(self.buffer[:line_end].split(b";")[0], 16)
                self.buffer = self.buffer[line_end + 2:]
                self.done = size == 0
                self.remaining = size
        return b"".join(out)


def open_stream(port, body, timeout=120, path="/v1/messages"):
    """POST `body` to `path`; return the socket, status, headers and the
    body bytes that came with the head."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    head = (f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items())
            + f"content-length: {len(body)}\r\n\r\n").encode()
    sock.sendall(head + body)
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            sock.close()
            raise RuntimeError("connection closed before the response head")
        data += piece
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    if status != 200:
        sock.close()
        raise RuntimeError(f"HTTP {status}: {rest[:300]!r}")
    return sock, headers, rest


def event_delays(port, body, skip, path="/v1/messages"):
    """Per-event delays (ns) of one timed stream, the first `skip` dropped."""
    sock, headers, data = open_stream(port, body, path=path)
    decoder = ChunkedDecoder() if headers.get(b"transfer-encoding") == b"chunked" else None
    pending = b""
    delays = []
    finished = False
    try:
        while not finished:
            now = time.monotonic_ns()
            if data:
                pending += decoder.feed(data) if decoder else data
                *events, pending = pending.split(b"\n\n")  # whole SSE events only
                for event in events:
                    delays.extend(now - int(marker) for marker in MARKER.findall(event))
                    finished = finished or b"[DONE]" in event or b"message_stop" in event
                finished = finished or (decoder is not None and decoder.done)
                if finished:
                    break
            data = sock.recv(1 << 20)
            if not data:
                break
    finally:
        sock.close()
    return delays[skip:]


def stream_through(port, body, sample, interval=0.05):
    """Read one (chunked) streamed response as fast as it comes. `sample(bytes_read)`
    runs before it, every `interval` seconds from another thread while it streams
    (so sampling never slows the reader), and after it. Returns (samples, bytes
    read, seconds the stream took)."""
    samples = [sample(0, True)]
    started = time.monotonic()
    sock, headers, data = open_stream(port, body)
    if headers.get(b"transfer-encoding") != b"chunked":
        sock.close()
        raise RuntimeError("expected a chunked stream")
    progress = {"received": 0}
    stop = threading.Event()

    def sampler():
        while not stop.wait(interval):
            samples.append(sample(progress["received"]))

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    tail = b""
    try:
        while True:
            progress["received"] += len(data)
            tail = (tail + data)[-16:]
            if tail.endswith(b"\r\n0\r\n\r\n"):  # the last chunk
                break
            data = sock.recv(1 << 20)
            if not data:
                break
    finally:
        seconds = time.monotonic() - started
        stop.set()
        thread.join()
        sock.close()
    time.sleep(0.5)
    samples.append(sample(progress["received"], True))
    return samples, progress["received"], seconds
