"""Tier 3: the bridge on a shared gateway under issue 12's attacks.

Envoy runs each shipped config with two workers (`--concurrency 2`), as a
gateway would. After the attacks, normal requests on fresh connections (so
both workers serve some) must convert exactly as before, no VM may have been
reloaded (nothing trapped), `/stats` and the access log must hold no line a
client wrote, and Envoy's RSS must stay within RSS_BOUND of what it was
before the attacks.

RSS_BOUND: each worker's wasm memory may grow to what one exchange needs at
once — up to `max_held_bytes` (16 MiB) held by a stream (in a string that
grew by doubling, its earlier copy freed but not returned) plus the 64 KiB
slices the filter reads, or a request body (the 5 MB models, the 1.3 MB
tool list) read into the module and converted — and wasm memory never
shrinks; Envoy itself reads ahead of a slow filter, up to its 64 MiB buffer
limit per connection, and keeps the memory it used. Measured with two
workers and the shipped configs: +166 MiB (argument floods) and +184 MiB
(thinking floods) after six floods, most of it after the first one or two
per worker. Bound: 256 MiB. Before the fixes the same attacks took Envoy
from 262 to 1,006 MiB (held stream data) and from 108 to 821 MiB (5 MB
model names).
"""

import json
import re
import time

import pytest

from conftest import OPENAI_CLIENTS_TEMPLATE, RUNNING, TEMPLATE, Envoy, render_config
from mock_upstream import Reply, json_reply
from payloads import fixture_json
from rawhttp import post_json, sse_events

MIB = 1024 * 1024
RSS_BOUND = 256 * MIB
WORKERS = 2
NORMAL_REQUESTS = 12

ANTHROPIC_HEADERS = {"x-api-key": "sk-test"}
OPENAI_HEADERS = {"authorization": "Bearer sk-ant"}
FAKE_LOG_MODEL = 'gpt\n[2026-12-01T00:00:00.000Z] "POST /admin HTTP/1.1" 200 FAKE-LOG-LINE'
FAKE_STAT_MODEL = "m\ninjected_metric_line: 31337"


def openai_chunk(delta):
    chunk = {"id": "c1", "object": "chat.completion.chunk", "model": "gpt",
             "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    return f"data: {json.dumps(chunk)}\n\n".encode()


def anthropic_event(payload):
    return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()


def argument_flood():
    """400 MB of argument fragments for tool call 1 while call 0 (never
    complete) is the open block: an OpenAI upstream's stream."""
    yield openai_chunk({"role": "assistant", "content": None})
    yield openai_chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                        "function": {"name": "first", "arguments": "{\"a\": "}}]})
    yield openai_chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                                        "function": {"name": "second", "arguments": ""}}]})
    fragment = openai_chunk({"tool_calls": [{"index": 1, "function": {"arguments": "x" * 100_000}}]})
    for _ in range(4000):
        yield fragment
    yield b"data: [DONE]\n\n"


def thinking_flood():
    """One thinking block of 2,000 x 100 KB thinking_delta events: an
    Anthropic upstream's stream."""
    yield anthropic_event({"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude", "content": [],
        "usage": {"input_tokens": 1, "output_tokens": 1}}})
    yield anthropic_event({"type": "content_block_start", "index": 0,
                           "content_block": {"type": "thinking", "thinking": ""}})
    delta = anthropic_event({"type": "content_block_delta", "index": 0,
                             "delta": {"type": "thinking_delta", "thinking": "t" * 100_000}})
    for _ in range(2000):
        yield delta
    yield anthropic_event({"type": "message_stop"})


def responder(request):
    """Floods for the requests that ask for them, a normal answer otherwise."""
    body = request.json
    text = json.dumps(body.get("messages", [])[-1:])
    if request.path.endswith("/chat/completions"):
        if "FLOOD-ARGS" in text:
            return Reply(200, [("content-type", "text/event-stream")], chunks=argument_flood())
        return json_reply(fixture_json("openai/chat-text.json"))
    if "FLOOD-THINKING" in text:
        return Reply(200, [("content-type", "text/event-stream")], chunks=thinking_flood())
    return json_reply(fixture_json("anthropic/msg-text.json"))


class Gateway:
    """One shipped config in Envoy with two workers."""

    def __init__(self, template, path, headers, upstream, tmp_path, name):
        config = render_config(upstream.url, template=template)
        self.envoy = Envoy(config, tmp_path / name, name)
        self.envoy.concurrency = WORKERS
        self.path = path
        self.headers = headers

    def __enter__(self):
        self.envoy.start()
        RUNNING.append(self.envoy)
        return self

    def __exit__(self, *exc):
        self.envoy.stop()
        RUNNING.remove(self.envoy)

    def post(self, payload, timeout_headers=None):
        return post_json(self.envoy.url, self.path, payload, {**self.headers, **(timeout_headers or {})})

    def rss(self):
        status = open(f"/proc/{self.envoy.process.pid}/status").read()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024

    def stats(self):
        return self.envoy.admin_get("/stats") or ""


def anthropic_request(text, stream=False, **extra):
    return {"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": stream,
            "messages": [{"role": "user", "content": text}], **extra}


def openai_request(text, stream=False, **extra):
    return {"model": "gpt-4o", "stream": stream, "messages": [{"role": "user", "content": text}], **extra}


def assert_normal_requests_convert(gateway, anthropic_clients):
    """Fresh connections (so every worker serves some), each converted."""
    for _ in range(NORMAL_REQUESTS):
        if anthropic_clients:
            status, _, body = gateway.post(anthropic_request("hello"))
            assert status == 200, body[:300]
            expected = fixture_json("openai/chat-text.json")["choices"][0]["message"]["content"]
            assert json.loads(body)["content"][0]["text"] == expected
        else:
            status, _, body = gateway.post(openai_request("hello"))
            assert status == 200, body[:300]
            expected = fixture_json("anthropic/msg-text.json")["content"][0]["text"]
            assert json.loads(body)["choices"][0]["message"]["content"] == expected


def flood(gateway, anthropic_clients):
    """The point-1 attack for this direction: the stream ends with the
    protocol's error naming max_held_bytes."""
    if anthropic_clients:
        status, _, body = gateway.post(anthropic_request("FLOOD-ARGS", stream=True))
        events = [(name, json.loads(data)) for name, data in sse_events(body) if name != "comment"]
        name, error = events[-1]
        assert name == "error"
    else:
        status, _, body = gateway.post(openai_request("FLOOD-THINKING", stream=True))
        chunks = [json.loads(data) for name, data in sse_events(body) if name != "comment"]
        error = chunks[-1]
    assert status == 200
    assert "max_held_bytes" in error["error"]["message"]
    return body


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def reload_and_failure_stats(gateway):
    """wasm VM reloads and failures: nonzero only if the module trapped."""
    found = {}
    for line in gateway.stats().splitlines():
        name, _, value = line.partition(": ")
        if name.startswith("wasm.") and ("reload" in name or "fail" in name) and value.strip().isdigit():
            found[name] = int(value)
    return found


@pytest.mark.parametrize("direction", ["anthropic", "openai"])
def test_stream_floods_leave_every_worker_serving(upstream, tmp_path, direction):
    anthropic_clients = direction == "anthropic"
    upstream.responder = responder
    template = TEMPLATE if anthropic_clients else OPENAI_CLIENTS_TEMPLATE
    path = "/v1/messages" if anthropic_clients else "/v1/chat/completions"
    headers = ANTHROPIC_HEADERS if anthropic_clients else OPENAI_HEADERS
    with Gateway(template, path, headers, upstream, tmp_path, direction) as gateway:
        assert_normal_requests_convert(gateway, anthropic_clients)
        before = gateway.rss()
        for _ in range(2 * WORKERS):
            flood(gateway, anthropic_clients)
        assert_normal_requests_convert(gateway, anthropic_clients)
        after = gateway.rss()
        assert after - before < RSS_BOUND, f"Envoy RSS {before >> 20} -> {after >> 20} MiB"
        assert not any(reload_and_failure_stats(gateway).values()), reload_and_failure_stats(gateway)
        d = "anthropic_client" if anthropic_clients else "openai_client"
        line = f'aob_streams_ended_by_error{{direction="{d}",reason="over_held_limit"}} {2 * WORKERS}'
        assert wait_for(lambda: line in gateway.envoy.admin_get("/stats/prometheus").splitlines()), line


def colliding_tools(count):
    """`count` tools whose names all sanitise to the same string: "t" plus
    2-3 punctuation characters (about 1.3 MB for 24,000)."""
    punctuation = "!#$%&()*+,/:;<=>?@[]^`{|}~'\"\\"
    names = ["t" + "".join(p) for n in (2, 3) for p in _products(punctuation, n)][:count]
    return [{"name": name, "description": "d", "input_schema": {"type": "object"}} for name in names]


def _products(alphabet, n):
    if n == 0:
        yield ()
        return
    for head in alphabet:
        for tail in _products(alphabet, n - 1):
            yield (head, *tail)


def stat_lines_are_clean(stats):
    lines = [line for line in stats.splitlines() if line]
    assert len(stats) < 4 * MIB, f"/stats is {len(stats)} bytes"
    for line in lines:
        assert re.match(r"^[\x21-\x7e]+: \S", line), f"not a stat line: {line[:200]!r}"
        assert not line.startswith("injected_metric_line"), line
        name = line.partition(": ")[0]
        if name.startswith("aob."):
            assert len(name) < 400, name[:200]


def access_log_is_clean(log):
    for line in log.splitlines():
        assert not line.startswith("[2026-12-01T00:00:00.000Z]"), f"forged access log line: {line[:200]!r}"
        assert len(line) < 64 * 1024, "a client string reached the access log whole"


def test_all_attacks_together_leave_the_gateway_clean(upstream, tmp_path):
    """Issue 12, points 1-3 on one gateway (Anthropic clients, two workers):
    argument floods, 24,000 colliding tool names, models with newlines and
    twenty 5 MB models; then normal requests on every worker."""
    upstream.responder = responder
    with Gateway(TEMPLATE, "/v1/messages", ANTHROPIC_HEADERS, upstream, tmp_path, "shared") as gateway:
        assert_normal_requests_convert(gateway, True)
        before = gateway.rss()
        for _ in range(WORKERS):
            flood(gateway, True)
        tools = colliding_tools(24_000)
        assert len({t["name"] for t in tools}) == 24_000
        started = time.monotonic()
        status, _, body = gateway.post(anthropic_request("hello", tools=tools))
        assert time.monotonic() - started < 10, "tool-name sanitising is not linear"
        assert status in (200, 400), body[:300]
        for model in (FAKE_LOG_MODEL, FAKE_STAT_MODEL):
            status, _, _ = gateway.post({**anthropic_request("hello"), "model": model})
            assert status in (200, 400)
        for i in range(20):
            status, _, _ = gateway.post({**anthropic_request("hello"), "model": f"m{i}" + "x" * (5 * 1000 * 1000)})
            assert status in (200, 400, 413)
        assert_normal_requests_convert(gateway, True)
        after = gateway.rss()
        assert after - before < RSS_BOUND, f"Envoy RSS {before >> 20} -> {after >> 20} MiB"
        assert not any(reload_and_failure_stats(gateway).values()), reload_and_failure_stats(gateway)
        stat_lines_are_clean(gateway.stats())
        time.sleep(0.3)  # the access log is flushed every 100 ms
        access_log_is_clean(gateway.envoy.log())
