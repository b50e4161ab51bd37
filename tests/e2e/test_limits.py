"""Tier 3: the bridge's limits in real Envoy, each with the client's own error.

- `max_request_bytes` on a chunked request (no content-length, so the
  headers phase cannot decide): a 413 once the buffered bytes pass the limit,
  and the request never reaches the upstream whole. (The content-length case
  is in test_anthropic_clients.py and test_openai_clients.py.)
- An SSE line longer than the parser's bound (8 MiB): an error event / error
  chunk to the client, after what was converted before it.
- JSON nested deeper than serde's limit where the bridge parses it: a 400.
- The limits mean what they say: `content-length == max_request_bytes`
  passes; a chunked body over 32 MiB gets the filter's 413, not Envoy's; a
  40 MB non-streaming answer is a 502 (content-length) or ends as the error
  (chunked) in the client's format, never a reset.
"""

import http.client
import json
import time

import pytest

from conftest import OPENAI_CLIENTS_TEMPLATE, TEMPLATE
from mock_upstream import Reply, json_reply, pieces
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


# ---------------------------------------------------------------- limits that mean what they say
# (issue 12, point 4), with the shipped configs and default limits.

DEFAULT_MAX_REQUEST_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024


def body_of_size(direction, size):
    """A valid request body of exactly `size` bytes (the padding is the text)."""
    body = request_body(direction, "")
    return request_body(direction, "x" * (size - len(body)))


@pytest.mark.parametrize("limit", [4096, DEFAULT_MAX_REQUEST_BYTES])
def test_content_length_equal_to_max_request_bytes_passes(start_envoy, upstream, direction, limit):
    envoy = start_envoy(template=direction["template"],
                        plugin_config={"upstream_protocol": direction["protocol"], "max_request_bytes": limit})
    upstream.push(json_reply(fixture_json(direction["completion"])))
    body = body_of_size(direction, limit)
    assert len(body) == limit
    status, _, answer = post_json(envoy.url, direction["path"], body, direction["headers"])
    assert status == 200, answer[:300]
    assert len(upstream.requests) == 1
    content = upstream.requests[0].json["messages"][-1]["content"]
    text = content if isinstance(content, str) else "".join(part["text"] for part in content)
    assert len(text) == limit - len(request_body(direction, ""))
    if limit > 1024 * 1024:
        return  # a client still writing 32 MiB sees the early 413 as a reset
    # One byte more is the filter's 413, decided from content-length.
    status, headers, answer = post_json(envoy.url, direction["path"], body_of_size(direction, limit + 1),
                                        direction["headers"])
    assert status == 413
    assert error_of(direction, headers, answer)[0] == direction["too_large"]


def test_chunked_body_over_32_mib_gets_the_filters_413_not_envoys(envoy, openai_envoy, upstream, direction):
    """The shipped configs' buffer limit is above max_request_bytes, so the
    filter, not Envoy's own `text/plain` "Payload Too Large", answers."""
    proxy = envoy if direction["name"] == "anthropic" else openai_envoy
    body = body_of_size(direction, DEFAULT_MAX_REQUEST_BYTES + 1024 * 1024)
    headers = {"content-type": "application/json", **direction["headers"]}
    connection = http.client.HTTPConnection(proxy.url.removeprefix("http://"), timeout=60)
    connection.request("POST", direction["path"], body=iter(pieces(body, 256 * 1024)), headers=headers,
                       encode_chunked=True)
    response = connection.getresponse()
    status, answer = response.status, response.read()
    response_headers = {k.lower(): v for k, v in response.getheaders()}
    connection.close()
    assert status == 413, answer[:300]
    kind, message = error_of(direction, response_headers, answer)
    assert kind == direction["too_large"]
    assert f"{DEFAULT_MAX_REQUEST_BYTES} bytes" in message
    assert upstream.requests == []


BIG_ANSWER_BYTES = 40 * 1000 * 1000


def big_completion(direction):
    """A 40 MB non-streaming answer in the upstream's protocol."""
    completion = fixture_json(direction["completion"])
    text = "y" * BIG_ANSWER_BYTES
    if direction["name"] == "anthropic":
        completion["choices"][0]["message"]["content"] = text
    else:
        completion["content"] = [{"type": "text", "text": text}]
    return json.dumps(completion).encode()


def test_a_40_mb_answer_with_content_length_is_a_502_before_headers(envoy, openai_envoy, upstream, direction):
    proxy = envoy if direction["name"] == "anthropic" else openai_envoy
    body = big_completion(direction)
    upstream.push(Reply(200, [("content-type", "application/json")], body=body))
    status, headers, answer = post_json(proxy.url, direction["path"], request_body(direction, "hi"),
                                        direction["headers"])
    assert status == 502
    kind, message = error_of(direction, headers, answer)
    assert kind in ("api_error", "server_error")
    assert f"{len(body)} bytes" in message and f"max_response_bytes: {DEFAULT_MAX_RESPONSE_BYTES}" in message
    # The worker is fine: the next answer converts.
    upstream.push(json_reply(fixture_json(direction["completion"])))
    status, _, answer = post_json(proxy.url, direction["path"], request_body(direction, "hi"), direction["headers"])
    assert status == 200, answer[:300]


def test_a_40_mb_chunked_answer_ends_as_the_error_not_a_reset(envoy, openai_envoy, upstream, direction):
    """Without content-length the status has gone out before the size is
    known: the client gets that status and the error in its format as the
    body (README "Limits"), never a reset connection."""
    proxy = envoy if direction["name"] == "anthropic" else openai_envoy
    # Paced, so Envoy hands the filter one piece at a time: a single read
    # larger than Envoy's buffer limit minus max_response_bytes overflows
    # Envoy's buffer before the filter sees it (README "Limits").
    paced = dict(chunks=pieces(big_completion(direction), 1 << 20), delay=0.002)
    upstream.push(Reply(200, [("content-type", "application/json")], **paced))
    status, headers, answer = post_json(proxy.url, direction["path"], request_body(direction, "hi"),
                                        direction["headers"])
    assert status == 200
    kind, message = error_of(direction, headers, answer)
    assert kind in ("api_error", "server_error")
    assert f"max_response_bytes: {DEFAULT_MAX_RESPONSE_BYTES}" in message
    assert len(answer) < 4096
    # A streaming request answered with JSON gets the stream's error event.
    paced = dict(chunks=pieces(big_completion(direction), 1 << 20), delay=0.002)
    upstream.push(Reply(200, [("content-type", "application/json")], **paced))
    status, headers, answer = post_json(proxy.url, direction["path"], request_body(direction, "hi", stream=True),
                                        direction["headers"])
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = [(name, json.loads(data)) for name, data in sse_events(answer) if name != "comment"]
    assert len(events) == 1
    name, error = events[0]
    assert "max_response_bytes" in error["error"]["message"]
    if direction["name"] == "anthropic":
        assert name == "error"
    upstream.push(json_reply(fixture_json(direction["completion"])))
    status, _, _ = post_json(proxy.url, direction["path"], request_body(direction, "hi"), direction["headers"])
    assert status == 200
