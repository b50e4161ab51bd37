"""Tier 3: the bridge's limits in real Envoy, each with the client's own error.

- `max_request_bytes` on a chunked request (no content-length, so the
  headers phase cannot decide): a 413 once the buffered bytes pass the limit,
  and the request never reaches the upstream whole. (The content-length case
  is in test_anthropic_clients.py and test_openai_clients.py.)
- An SSE line longer than the parser's bound (8 MiB): an error event / error
  chunk to the client, after what was converted before it.
- JSON nested deeper than serde's limit where the bridge parses it: a 400.
"""

import json
import time

import pytest

from conftest import OPENAI_CLIENTS_TEMPLATE, TEMPLATE
from mock_upstream import Reply, json_reply
from payloads import fixture_json
from rawhttp import post_json, send, sse_events

MAX_LINE_BYTES = 8 * 1024 * 1024

DIRECTIONS = {
    "anthropic": dict(template=TEMPLATE, path="/v1/messages", protocol="openai",
                      headers={"x-api-key": "sk-test"}, too_large="request_too_large",
                      completion="openai/chat-text.json"),
    "openai": dict(template=OPENAI_CLIENTS_TEMPLATE, path="/v1/chat/completions", protocol="anthropic",
                   headers={"authorization": "Bearer sk-ant"}, too_large="invalid_request_error",
                   completion="anthropic/msg-text.json"),
}


@pytest.fixture(params=list(DIRECTIONS))
def direction(request):
    return {"name": request.param, **DIRECTIONS[request.param]}


def request_body(direction, text, stream=False):
    body = {"model": "m", "stream": stream, "messages": [{"role": "user", "content": text}]}
    if direction["name"] == "anthropic":
        body["max_tokens"] = 16
    return json.dumps(body).encode()


def error_of(direction, headers, body):
    assert headers["content-type"].startswith("application/json")
    payload = json.loads(body)
    if direction["name"] == "anthropic":
        assert payload["type"] == "error"
    return payload["error"]["type"], payload["error"]["message"]


def test_chunked_request_over_max_request_bytes_gets_413(start_envoy, upstream, direction):
    envoy = start_envoy(template=direction["template"],
                        plugin_config={"upstream_protocol": direction["protocol"], "max_request_bytes": 4096})
    headers = {"content-type": "application/json", **direction["headers"]}
    # Under the limit, chunked, the request converts (the control).
    upstream.push(json_reply(fixture_json(direction["completion"])))
    status, _, _ = send(envoy.url, "POST", direction["path"], request_body(direction, "x" * 1000), headers,
                        chunked=True)
    assert status == 200
    assert len(upstream.requests) == 1
    # Over it: decided on the bytes buffered, a 413 in the client's format.
    status, response_headers, body = send(envoy.url, "POST", direction["path"],
                                          request_body(direction, "x" * 20000), headers, chunked=True)
    assert status == 413
    kind, message = error_of(direction, response_headers, body)
    assert kind == direction["too_large"]
    assert "4096 bytes" in message
    time.sleep(0.3)  # a leaked request would have shown up by now
    assert len(upstream.requests) == 1, "the oversized request reached the upstream"


UPSTREAM_STREAM_HEAD = {
    "anthropic": b'data: {"id":"c1","model":"gpt","choices":[{"index":0,"delta":{"role":"assistant","content":"ok"}}]}\n\n',
    "openai": (b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message",'
               b'"role":"assistant","model":"claude","content":[],"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'),
}


def test_sse_line_over_the_parser_bound_is_an_error_to_the_client(envoy, openai_envoy, upstream, direction):
    proxy = envoy if direction["name"] == "anthropic" else openai_envoy
    line = b"data: " + b"x" * MAX_LINE_BYTES + b"\n\n"
    chunks = [UPSTREAM_STREAM_HEAD[direction["name"]]]
    chunks += [line[i:i + 256 * 1024] for i in range(0, len(line), 256 * 1024)]
    upstream.push(Reply(200, [("content-type", "text/event-stream")], chunks=chunks))
    status, _, body = post_json(proxy.url, direction["path"], request_body(direction, "hi", stream=True),
                                direction["headers"])
    assert status == 200
    events = [(name, data) for name, data in sse_events(body) if name != "comment"]
    assert len(body) < 16 * 1024, "the overlong line must not reach the client"
    last_name, last = events[-1]
    error = json.loads(last)
    if direction["name"] == "anthropic":
        assert [name for name, _ in events][:2] == ["message_start", "ping"]
        assert last_name == "error" and error["error"]["type"] == "api_error"
    else:
        assert json.loads(events[0][1])["choices"][0]["delta"]["role"] == "assistant"
        assert "error" in error
    assert f"longer than {MAX_LINE_BYTES} bytes" in error["error"]["message"]


def test_json_nested_past_the_limit_is_a_400(envoy, openai_envoy, upstream, direction):
    proxy = envoy if direction["name"] == "anthropic" else openai_envoy
    if direction["name"] == "anthropic":
        content = "[{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"content\":" * 200 + "\"x\"" + "}]" * 200
        body = f'{{"model":"m","max_tokens":5,"messages":[{{"role":"user","content":{content}}}]}}'
    else:
        blocks = "[{\"type\":\"thinking\",\"content\":" * 200 + "\"x\"" + "}]" * 200
        body = (f'{{"model":"m","messages":[{{"role":"user","content":"a"}},'
                f'{{"role":"assistant","content":"b","thinking_blocks":{blocks}}}]}}')
    status, headers, answer = post_json(proxy.url, direction["path"], body.encode(), direction["headers"])
    assert status == 400
    kind, message = error_of(direction, headers, answer)
    assert kind == "invalid_request_error"
    assert "recursion limit" in message
    assert upstream.requests == []
