"""Tier 3: the bridge's metrics in Envoy's /stats/prometheus and its fields in
the access log, after requests of every kind.

Each test starts its own Envoy, so every counter starts at zero and must move
by exactly what the requests did. Expected token counts are derived from the
fixtures by the usage rules (docs/anthropic_client.md#usage, docs/openai_client.md#usage).
"""

import json
import re
import time

from conftest import OPENAI_CLIENTS_TEMPLATE
from mock_upstream import Reply, json_reply, sse_reply
from payloads import fixture_bytes, fixture_json
from rawhttp import post_json, send

METRIC_LINE = re.compile(r"^(aob_\w+)\{([^}]*)\} (\S+)$")


def prometheus(envoy):
    """The bridge's metrics: {(name, frozenset(tags)): value}."""
    metrics = {}
    for line in envoy.admin_get("/stats/prometheus").splitlines():
        match = METRIC_LINE.match(line)
        if match:
            name, labels, value = match.groups()
            tags = frozenset(re.findall(r'(\w+)="([^"]*)"', labels))
            metrics[(name, tags)] = float(value)
    return metrics


def metric(metrics, name, **tags):
    return metrics.get((name, frozenset(tags.items())), 0)


def anthropic_tokens(usage):
    """OpenAI usage -> the bridge's Anthropic-terms token counts."""
    details = usage.get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens") or 0
    return {"input": usage["prompt_tokens"] - cached, "output": usage["completion_tokens"],
            "cache_read": cached, "cache_creation": 0}


def stream_usage(stream):
    """The usage object of a recorded OpenAI stream (its last non-null one)."""
    chunks = [json.loads(line[5:]) for line in stream.decode().splitlines()
              if line.startswith("data:") and line[5:].strip() != "[DONE]"]
    return [c["usage"] for c in chunks if c.get("usage")][-1]


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()


def test_anthropic_client_counters_move_by_exactly_what_happened(start_envoy, upstream):
    envoy = start_envoy()
    request = {"model": "claude-obs", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}

    completion = fixture_json("openai/chat-text.json")
    upstream.push(json_reply(completion))
    assert post_json(envoy.url, "/v1/messages", request)[0] == 200

    stream = fixture_bytes("openai/stream-text-include-usage-gpt4o-mini.sse")
    upstream.push(sse_reply(stream, piece=50))
    assert post_json(envoy.url, "/v1/messages", {**request, "stream": True})[0] == 200

    assert post_json(envoy.url, "/v1/messages", b"{not json")[0] == 400
    assert post_json(envoy.url, "/v1/messages", {"model": "m", "messages": []})[0] == 400

    upstream.push(json_reply({"error": {"message": "slow down", "type": "requests"}}, status=429))
    assert post_json(envoy.url, "/v1/messages", request)[0] == 429

    half = stream[: stream.index(b"\n\n", 600) + 2]
    upstream.push(sse_reply(half))
    status, _, body = post_json(envoy.url, "/v1/messages", {**request, "stream": True})
    assert status == 200 and b"upstream stream ended before completion" in body

    upstream.push(json_reply({"object": "list", "data": []}))
    assert send(envoy.url, "GET", "/v1/models")[0] == 200

    metrics = prometheus(envoy)
    d = "anthropic_client"
    assert metric(metrics, "aob_requests_converted", direction=d, model="claude-obs") == 4
    assert metric(metrics, "aob_client_errors", direction=d, kind="malformed_json") == 1
    assert metric(metrics, "aob_client_errors", direction=d, kind="invalid_request") == 1
    assert metric(metrics, "aob_upstream_errors", direction=d, status_class="4xx") == 1
    assert metric(metrics, "aob_streams_ended_by_error", direction=d, reason="incomplete") == 1
    passthrough = [v for (name, _), v in metrics.items() if name == "aob_requests_passed_through"]
    assert passthrough == [1]

    expected = anthropic_tokens(completion["usage"])
    streamed = anthropic_tokens(stream_usage(stream))
    for token_type in ("input", "output", "cache_read"):
        total = expected[token_type] + streamed[token_type]
        assert metric(metrics, "aob_tokens", direction=d, model="claude-obs", token_type=token_type) == total, token_type

    histogram = wait_for(lambda: metric(prometheus(envoy), "aob_conversion_time_us_count", direction=d))
    assert histogram == 6, "one conversion-time sample per converted or rejected request"


def test_openai_client_counters_and_the_529_class(start_envoy, upstream):
    envoy = start_envoy(template=OPENAI_CLIENTS_TEMPLATE)
    request = {"model": "gpt-obs", "messages": [{"role": "user", "content": "hi"}]}
    message = fixture_json("anthropic/msg-cache-read-usage.json")
    upstream.push(json_reply(message))
    assert post_json(envoy.url, "/v1/chat/completions", request)[0] == 200

    upstream.push(json_reply({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, status=529))
    assert post_json(envoy.url, "/v1/chat/completions", request)[0] == 503

    audio = {"model": "gpt-obs", "messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]}
    assert post_json(envoy.url, "/v1/chat/completions", audio)[0] == 400

    metrics = prometheus(envoy)
    d = "openai_client"
    assert metric(metrics, "aob_requests_converted", direction=d, model="gpt-obs") == 2
    assert metric(metrics, "aob_upstream_errors", direction=d, status_class="5xx") == 1
    assert metric(metrics, "aob_client_errors", direction=d, kind="invalid_request") == 1
    usage = message["usage"]
    for token_type, key in (("input", "input_tokens"), ("output", "output_tokens"),
                            ("cache_read", "cache_read_input_tokens"), ("cache_creation", "cache_creation_input_tokens")):
        assert metric(metrics, "aob_tokens", direction=d, model="gpt-obs", token_type=token_type) == usage[key], token_type


def test_responses_client_counters(start_envoy, upstream):
    """A Responses API client (Codex) on an Anthropic upstream counts under
    direction `responses_client`, its stream's usage included."""
    envoy = start_envoy(template=OPENAI_CLIENTS_TEMPLATE)
    message = fixture_json("anthropic/msg-cache-read-usage.json")
    upstream.push(json_reply(message))
    assert post_json(envoy.url, "/v1/responses", {"model": "resp-obs", "input": "hi"})[0] == 200
    upstream.push(sse_reply(fixture_bytes("anthropic/stream-text-minimal.sse"), piece=31))
    status = post_json(envoy.url, "/v1/responses", {"model": "resp-obs", "input": "hi", "stream": True})[0]
    assert status == 200
    assert post_json(envoy.url, "/v1/responses",
                     {"model": "resp-obs", "input": "hi", "previous_response_id": "resp_1"})[0] == 400

    d = "responses_client"
    wait_for(lambda: metric(prometheus(envoy), "aob_requests_converted", direction=d, model="resp-obs") == 2)
    metrics = prometheus(envoy)
    assert metric(metrics, "aob_requests_converted", direction=d, model="resp-obs") == 2
    assert metric(metrics, "aob_client_errors", direction=d, kind="invalid_request") == 1
    assert metric(metrics, "aob_tokens", direction=d, model="resp-obs", token_type="cache_read") == \
        message["usage"]["cache_read_input_tokens"]
    assert metric(metrics, "aob_requests_converted", direction="openai_client", model="resp-obs") == 0


def test_model_map_decides_the_model_tag(start_envoy, upstream):
    envoy = start_envoy(plugin_config={"upstream_protocol": "openai", "model_map": {"claude-*": "gpt-mapped.1"}})
    upstream.push(json_reply(fixture_json("openai/chat-text.json")))
    request = {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    assert post_json(envoy.url, "/v1/messages", request)[0] == 200
    metrics = prometheus(envoy)
    assert metric(metrics, "aob_requests_converted", direction="anthropic_client", model="gpt-mapped.1") == 1


def test_access_log_prints_direction_model_and_tokens(start_envoy, upstream):
    envoy = start_envoy()
    completion = fixture_json("openai/chat-text.json")
    upstream.push(json_reply(completion, headers=[("x-request-id", "req-obs-1")]))
    request = {"model": "claude-log", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    status, _, _ = post_json(envoy.url, "/v1/messages", request, headers={"x-request-id": "obs-log-1"})
    assert status == 200
    tokens = anthropic_tokens(completion["usage"])
    expected = (f"bridge=anthropic_client model=claude-log input_tokens={tokens['input']} "
                f"output_tokens={tokens['output']} cache_read_tokens={tokens['cache_read']} cache_creation_tokens=0")
    line = wait_for(lambda: next((l for l in envoy.log().splitlines() if "obs-log-1" in l), None))
    assert line is not None, envoy.log()
    assert expected in line, line

    upstream.push(json_reply({}))
    send(envoy.url, "GET", "/v1/models", headers={"x-request-id": "obs-log-2"})
    line = wait_for(lambda: next((l for l in envoy.log().splitlines() if "obs-log-2" in l), None))
    assert "bridge=- model=- input_tokens=-" in line, "a passed-through request has no bridge fields"


FORGED_LOG_LINE = 'gpt\n[2026-12-01T00:00:00.000Z] "POST /admin HTTP/1.1" 200 FAKE-LOG-LINE'
FORGED_METRIC = "m\ninjected_metric_line: 31337"


def test_hostile_model_names_cannot_add_log_lines_or_stats(start_envoy, upstream):
    """Issue 12: a model that forges an access-log line, one that forges a
    /stats line, and a 5 MB name. Each is answered 200 (so it earns a tag);
    the access log and /stats get one bounded safe value for each."""
    envoy = start_envoy()
    huge = "x" * (5 << 20)
    safe = {FORGED_LOG_LINE: "gpt__2026-12-01T00:00:00.000Z___POST_/admin_HTTP/1.1__200_FAKE-L",
            FORGED_METRIC: "m_injected_metric_line:_31337",
            huge: "x" * 64}
    for i, model in enumerate(safe):
        upstream.push(json_reply(fixture_json("openai/chat-text.json")))
        request = {"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
        status, _, _ = post_json(envoy.url, "/v1/messages", request, headers={"x-request-id": f"hostile-{i}"})
        assert status == 200
    assert [r.json["model"] for r in upstream.requests] == list(safe), "the upstream still gets the real name"

    lines = wait_for(lambda: [l for l in envoy.log().splitlines() if "hostile-" in l and "bridge=" in l]
                     if envoy.log().count("bridge=anthropic_client") >= 3 else None)
    assert lines and len(lines) == 3, envoy.log()[-3000:]
    for i, expected in enumerate(safe.values()):
        line = next(l for l in lines if f"hostile-{i}" in l)
        assert f" model={expected} " in line, line
    log = envoy.log()
    assert not any(l.startswith('[2026-12-01T00:00:00.000Z] "POST /admin') for l in log.splitlines())
    assert "FAKE-LOG-LINE" not in log
    assert len(log) < 1 << 20, "the 5 MB name is not written anywhere"

    stats = envoy.admin_get("/stats")
    assert not any(l.startswith("injected_metric_line") for l in stats.splitlines())
    assert len(stats) < 1 << 20
    metrics = prometheus(envoy)
    for expected in safe.values():
        assert metric(metrics, "aob_requests_converted", direction="anthropic_client", model=expected) == 1
    models = {dict(tags).get("model") for (name, tags) in metrics if name == "aob_requests_converted"}
    assert models == set(safe.values())
