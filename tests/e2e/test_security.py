"""Tier 3: credentials go only where they belong, and nothing secret is logged.

- An Anthropic client's `x-api-key` reaches an OpenAI upstream only as
  `authorization: Bearer <key>` (and not at all when the client sent its own
  `authorization`); an OpenAI client's bearer token reaches an Anthropic
  upstream only as the configured auth header (`x-api-key`, or
  `authorization` with `"upstream_auth": "bearer"`). Neither appears in any
  other header, the path or the body.
- With Envoy at its default `info` level, no request or response body, key
  or token shows up in Envoy's log (the module's own lines and Envoy's,
  access log included), on success and on every error path: streams,
  upstream errors, bodies the bridge cannot use, requests it rejects.
"""

import http.client
import json
import time
import uuid

import pytest

from conftest import OPENAI_CLIENTS_TEMPLATE, RUNNING, TEMPLATE, Envoy, render_config, retire
from mock_upstream import Reply, json_reply, sse_reply
from payloads import fixture_json
from rawhttp import post_json


def secret(kind):
    return f"{kind}-SECRET-{uuid.uuid4().hex}"


def assert_only_in(request, value, header_name, expected):
    """`value` appears in the upstream request only as `header_name: expected`."""
    assert request.header(header_name) == expected
    for name, header_value in request.headers:
        if name.lower() != header_name:
            assert value not in header_value, f"{value} leaked in {name}"
    assert value not in request.path
    assert value.encode() not in request.body


ANTHROPIC_REQUEST = {"model": "claude-sonnet-4-6", "max_tokens": 32,
                     "messages": [{"role": "user", "content": "hi"}]}
OPENAI_REQUEST = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


# ------------------------------------------------------------ credentials

@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_anthropic_clients_key_reaches_openai_only_as_bearer(envoy, upstream, stream):
    key = secret("sk")
    if stream:
        upstream.push(sse_reply(b'data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}\n\n'
                                b"data: [DONE]\n\n"))
    else:
        upstream.push(json_reply(fixture_json("openai/chat-text.json")))
    status, _, _ = post_json(envoy.url, "/v1/messages", {**ANTHROPIC_REQUEST, "stream": stream},
                             {"x-api-key": key, "anthropic-version": "2023-06-01",
                              "anthropic-beta": "prompt-caching-2024-07-31"})
    assert status == 200
    received = upstream.requests[0]
    assert "x-api-key" not in received.header_names
    assert not any(name.startswith("anthropic-") for name in received.header_names)
    assert_only_in(received, key, "authorization", f"Bearer {key}")


def test_anthropic_clients_own_authorization_wins_and_the_key_stays_behind(envoy, upstream):
    key, token = secret("sk"), secret("tok")
    upstream.push(json_reply(fixture_json("openai/chat-text.json")))
    status, _, _ = post_json(envoy.url, "/v1/messages", ANTHROPIC_REQUEST,
                             {"x-api-key": key, "authorization": f"Bearer {token}"})
    assert status == 200
    received = upstream.requests[0]
    assert_only_in(received, token, "authorization", f"Bearer {token}")
    assert_only_in(received, key, "authorization", f"Bearer {token}")


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_openai_clients_token_reaches_anthropic_only_as_x_api_key(openai_envoy, upstream, stream):
    token = secret("tok")
    if stream:
        upstream.push(sse_reply(
            b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message",'
            b'"role":"assistant","model":"claude","content":[],"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
            b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
            b'"usage":{"output_tokens":1}}\n\n'
            b'event: message_stop\ndata: {"type":"message_stop"}\n\n'))
    else:
        upstream.push(json_reply(fixture_json("anthropic/msg-text.json")))
    status, _, _ = post_json(openai_envoy.url, "/v1/chat/completions", {**OPENAI_REQUEST, "stream": stream},
                             {"authorization": f"Bearer {token}", "openai-organization": "org-x"})
    assert status == 200
    received = upstream.requests[0]
    assert "authorization" not in received.header_names
    assert_only_in(received, token, "x-api-key", token)


def test_openai_clients_explicit_x_api_key_wins_and_the_token_stays_behind(openai_envoy, upstream):
    key, token = secret("sk"), secret("tok")
    upstream.push(json_reply(fixture_json("anthropic/msg-text.json")))
    status, _, _ = post_json(openai_envoy.url, "/v1/chat/completions", OPENAI_REQUEST,
                             {"authorization": f"Bearer {token}", "x-api-key": key})
    assert status == 200
    received = upstream.requests[0]
    assert_only_in(received, key, "x-api-key", key)
    assert_only_in(received, token, "x-api-key", key)


def test_bearer_upstream_auth_sends_the_token_only_as_authorization(start_envoy, upstream):
    envoy = start_envoy(template=OPENAI_CLIENTS_TEMPLATE,
                        plugin_config={"upstream_protocol": "anthropic", "upstream_auth": "bearer"})
    token = secret("tok")
    upstream.push(json_reply(fixture_json("anthropic/msg-text.json")))
    status, _, _ = post_json(envoy.url, "/v1/chat/completions", OPENAI_REQUEST, {"authorization": f"Bearer {token}"})
    assert status == 200
    received = upstream.requests[0]
    assert "x-api-key" not in received.header_names
    assert_only_in(received, token, "authorization", f"Bearer {token}")


# ---------------------------------------------------------------- logging

class InfoEnvoy(Envoy):
    """Envoy at its default log level, `info`, for every component
    (conftest's Envoy turns on `wasm:debug`)."""

    LOG_LEVELS = []


@pytest.fixture
def info_envoy(mock_server, tmp_path):
    """Factory: an Envoy at info level from a shipped template."""
    started = []

    def start(template):
        name = f"info-{len(started)}"
        envoy = InfoEnvoy(render_config(mock_server.url, template=template), tmp_path / name, name).start()
        RUNNING.append(envoy)
        started.append(envoy)
        return envoy

    yield start
    for envoy in started:
        retire(envoy)


def openai_stream(*deltas, finish="stop", done=True):
    chunks = [{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt",
               "choices": [{"index": 0, "delta": delta, "finish_reason": None}]} for delta in deltas]
    if finish:
        chunks.append({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt",
                       "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    body = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)
    return body + (b"data: [DONE]\n\n" if done else b"")


def anthropic_stream(text, error=None, complete=True):
    events = [
        {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                                              "model": "claude", "content": [],
                                              "usage": {"input_tokens": 1, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
    ]
    if error:
        events.append({"type": "error", "error": {"type": "overloaded_error", "message": error}})
    elif complete:
        events += [{"type": "content_block_stop", "index": 0},
                   {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
                   {"type": "message_stop"}]
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def sse(body):
    return Reply(200, [("content-type", "text/event-stream")], chunks=[body])


def test_nothing_secret_is_logged_at_info(info_envoy, upstream):
    envoy = info_envoy(TEMPLATE)
    key, token = secret("sk"), secret("tok")
    asked, answered = secret("REQUEST-BODY"), secret("RESPONSE-BODY")
    completion = fixture_json("openai/chat-text.json")
    completion["choices"][0]["message"]["content"] = answered
    bad_arguments = fixture_json("openai/chat-tool-call.json")
    bad_arguments["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = f"{{{answered}"
    upstream_error = {"error": {"message": answered, "type": "invalid_request_error", "code": answered}}
    request = {"model": "claude-sonnet-4-6", "max_tokens": 32, "system": asked, "metadata": {"user_id": asked},
               "tools": [{"name": "get_weather", "input_schema": {"type": "object", "description": asked}}],
               "messages": [{"role": "user", "content": asked},
                            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1",
                                                               "name": "get_weather", "input": {"q": asked}}]},
                            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                                          "content": asked}]}]}
    # (upstream reply, streaming request) pairs: success, and each error path.
    cases = [
        (json_reply(completion), False),
        (sse(openai_stream({"content": answered}, {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": json.dumps({"q": answered})}}]})), True),
        (json_reply(upstream_error, status=400), False),
        (json_reply(upstream_error, status=429), True),
        (Reply(500, [("content-type", "text/html")], f"<html>{answered}</html>".encode()), False),
        (Reply(200, [("content-type", "text/html")], f"<html>{answered}</html>".encode()), True),
        (json_reply(upstream_error), False),  # a 200 that is not a completion: the module warns
        (json_reply(bad_arguments), False),  # unparsable tool arguments: the module warns
        (sse(openai_stream({"content": answered}).replace(b"data: [DONE]", b"data: " + json.dumps(upstream_error).encode())), True),
        (sse(openai_stream({"content": answered}, finish=None, done=False)), True),  # cut short
        (Reply(200, [("content-type", "application/json"), ("content-encoding", "gzip")], answered.encode()), False),
    ]
    for reply, stream in cases:
        upstream.push(reply)
        status, _, body = post_json(envoy.url, "/v1/messages?beta=true", {**request, "stream": stream},
                                    {"x-api-key": key, "authorization": f"Bearer {token}"})
        assert status in (200, 400, 429, 500, 502)
        assert asked.encode() in upstream.requests[-1].body
    # The bridge's own rejections, echoing the client's input back to it.
    rejected = [
        json.dumps({"model": asked, "messages": [{"role": asked, "content": asked}]}).encode(),
        f'{{"model": "{asked}", "messages": ['.encode(),
        json.dumps({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "file", "file_id": asked}}]}]}).encode(),
    ]
    for body in rejected:
        status, _, answer = post_json(envoy.url, "/v1/messages", body, {"x-api-key": key})
        assert status == 400
    assert answered.encode() in post_and_read_success(envoy, upstream, completion, key)
    # The log is complete once every request's access line is in (flushed
    # every 100 ms): one per request, and the module's own warnings.
    log = wait_for_log(envoy, "bridge=anthropic_client", len(cases) + len(rejected) + 1)
    for value in (key, token, asked, answered):
        assert value not in log, f"{value} was logged:\n{excerpt(log, value)}"
    assert "upstream 2xx body is not a chat completion" in log
    assert "tool call arguments are not a JSON object" in log


def test_nothing_secret_is_logged_at_info_for_openai_clients(info_envoy, upstream):
    envoy = info_envoy(OPENAI_CLIENTS_TEMPLATE)
    token = secret("tok")
    asked, answered = secret("REQUEST-BODY"), secret("RESPONSE-BODY")
    message = fixture_json("anthropic/msg-text.json")
    message["content"][0]["text"] = answered
    upstream_error = {"type": "error", "error": {"type": "invalid_request_error", "message": answered}}
    request = {"model": "gpt-4o", "user": asked,
               "tools": [{"type": "function", "function": {"name": "f", "parameters": {"description": asked}}}],
               "messages": [{"role": "system", "content": asked}, {"role": "user", "content": asked},
                            {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                             "function": {"name": "f", "arguments": json.dumps({"q": asked})}}]},
                            {"role": "tool", "tool_call_id": "call_1", "content": asked}]}
    cases = [
        (json_reply(message), False),
        (sse(anthropic_stream(answered)), True),
        (json_reply(upstream_error, status=400), False),
        (json_reply(upstream_error, status=529), True),
        (Reply(502, [("content-type", "text/html")], f"<html>{answered}</html>".encode()), False),
        (json_reply(upstream_error), False),  # a 200 that is not a message: the module warns
        (sse(anthropic_stream(answered, error=answered)), True),
        (sse(anthropic_stream(answered, complete=False)), True),
    ]
    for reply, stream in cases:
        upstream.push(reply)
        status, _, _ = post_json(envoy.url, "/v1/chat/completions", {**request, "stream": stream},
                                 {"authorization": f"Bearer {token}"})
        assert status in (200, 400, 502, 503)
        assert asked.encode() in upstream.requests[-1].body
    rejected = [
        json.dumps({"model": asked, "messages": [{"role": asked, "content": asked}]}).encode(),
        json.dumps({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
            "function": {"name": "f", "arguments": asked}}]}]}).encode(),
        json.dumps({"model": "m", "n": 2, "messages": [{"role": "user", "content": asked}]}).encode(),
    ]
    for body in rejected:
        status, _, _ = post_json(envoy.url, "/v1/chat/completions", body, {"authorization": f"Bearer {token}"})
        assert status == 400
    log = wait_for_log(envoy, "bridge=openai_client", len(cases) + len(rejected))
    for value in (token, asked, answered):
        assert value not in log, f"{value} was logged:\n{excerpt(log, value)}"
    assert "upstream 2xx body is not an Anthropic message" in log


def post_and_read_success(envoy, upstream, completion, key):
    """One more successful request; its answer proves the markers flowed
    through the filter (they are in the client's answer, not the log)."""
    upstream.push(json_reply(completion))
    status, _, body = post_json(envoy.url, "/v1/messages", ANTHROPIC_REQUEST, {"x-api-key": key})
    assert status == 200
    return body


def wait_for_log(envoy, access_marker, count, timeout=10.0):
    """The log once it holds `count` access-log lines marked `access_marker`."""
    deadline = time.monotonic() + timeout
    while True:
        log = envoy.log()
        if log.count(access_marker) >= count or time.monotonic() > deadline:
            assert log.count(access_marker) >= count, f"{log.count(access_marker)} access lines, expected {count}"
            return log
        time.sleep(0.1)


def excerpt(log, value):
    return "\n".join(line for line in log.splitlines() if value in line)[:2000]


# ------------------------------------------------ header edges (issue 12)

def send_with_repeated_headers(base_url, path, payload, repeated):
    """POST with `repeated` [(name, value)] sent as separate header lines."""
    connection = http.client.HTTPConnection(base_url.removeprefix("http://"), timeout=30)
    body = json.dumps(payload).encode()
    connection.putrequest("POST", path)
    connection.putheader("content-type", "application/json")
    connection.putheader("content-length", str(len(body)))
    for name, value in repeated:
        connection.putheader(name, value)
    connection.endheaders(body)
    response = connection.getresponse()
    result = response.status, response.read()
    connection.close()
    return result


def test_every_openai_header_is_dropped_for_an_anthropic_upstream(openai_envoy, upstream):
    upstream.push(json_reply(fixture_json("anthropic/msg-text.json")))
    status, _, _ = post_json(openai_envoy.url, "/v1/chat/completions", OPENAI_REQUEST,
                             {"authorization": "Bearer k", "openai-beta": "assistants=v2",
                              "openai-organization": "org-x", "OpenAI-Project": "p"})
    assert status == 200
    names = upstream.requests[0].header_names
    assert not [n for n in names if n.startswith("openai-")], names


@pytest.mark.parametrize("name, values", [
    ("authorization", ["Bearer A1", "Bearer A2"]),
    ("x-api-key", ["A1", "A2"]),
])
def test_a_credential_sent_twice_is_a_400_in_the_clients_format(envoy, openai_envoy, upstream, name, values):
    """Two header lines (Envoy joins repeated `authorization` lines with a
    comma and keeps repeated `x-api-key` lines apart): never a merged key."""
    status, body = send_with_repeated_headers(envoy.url, "/v1/messages", ANTHROPIC_REQUEST,
                                              [(name, v) for v in values])
    assert status == 400, body
    answer = json.loads(body)
    assert answer["type"] == "error" and answer["error"]["type"] == "invalid_request_error"
    assert answer["error"]["message"].startswith(f"{name}: sent more than once")
    status, body = send_with_repeated_headers(openai_envoy.url, "/v1/chat/completions", OPENAI_REQUEST,
                                              [(name, v) for v in values])
    assert status == 400, body
    answer = json.loads(body)
    assert answer["error"]["type"] == "invalid_request_error"
    assert answer["error"]["message"].startswith(f"{name}: sent more than once")
    assert upstream.requests == []


# ------------------------------- semantic validation before upstream (issue 12)

def test_an_anthropic_request_invalid_after_parsing_is_a_400_and_nothing_goes_upstream(envoy, upstream):
    orphan = {**ANTHROPIC_REQUEST, "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "x"}]}]}
    empty = {**ANTHROPIC_REQUEST, "messages": [{"role": "user", "content": []}]}
    for request, message in [
        (orphan, "messages[2].content: unexpected `tool_use_id` found in `tool_result` blocks: toolu_9"),
        (empty, "messages[0].content: no content an OpenAI upstream can take"),
        ({**ANTHROPIC_REQUEST, "max_tokens": 0}, "max_tokens: must be at least 1"),
        ({**ANTHROPIC_REQUEST, "metadata": ["uid"]}, "metadata: must be a JSON object"),
    ]:
        status, _, body = post_json(envoy.url, "/v1/messages", request, {"x-api-key": "k"})
        assert status == 400, body
        answer = json.loads(body)
        assert answer["type"] == "error" and answer["error"]["type"] == "invalid_request_error"
        assert message in answer["error"]["message"], answer
    assert upstream.requests == []


def test_an_openai_request_invalid_after_parsing_is_a_400_and_nothing_goes_upstream(openai_envoy, upstream):
    unanswered = {**OPENAI_REQUEST, "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                                              "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "user", "content": "and?"}]}
    for request, message in [
        (unanswered, "messages[1].tool_calls: "),
        ({**OPENAI_REQUEST, "reasoning_effort": "str"}, "reasoning_effort: unknown value `str`"),
        ({**OPENAI_REQUEST, "messages": [{"role": "system", "content": "only"}]}, "messages: no user or assistant message"),
        ({**OPENAI_REQUEST, "messages": [{"role": "user", "content": None}]}, "messages: no user or assistant message"),
    ]:
        status, _, body = post_json(openai_envoy.url, "/v1/chat/completions", request, {"authorization": "Bearer k"})
        assert status == 400, body
        answer = json.loads(body)
        assert answer["error"]["type"] == "invalid_request_error"
        assert message in answer["error"]["message"], answer
    assert upstream.requests == []
