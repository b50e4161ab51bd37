"""Tier 3: the client sees the content-type its protocol's real API sends.

Both real APIs send `text/event-stream; charset=utf-8` with streams and
`application/json` with JSON answers and errors. A client that honours HTTP
charsets (Python `requests`: `r.text`) decodes a stream without the charset
as ISO-8859-1, so a converted stream of non-ASCII text is read here through
`requests` in both directions.
"""

import json

import pytest
import requests

from mock_upstream import Reply, json_reply, sse_reply

TEXT = "héllo 世界 🎉"
SSE = "text/event-stream; charset=utf-8"
JSON = "application/json"


def openai_stream(text):
    chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1",
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]}
    end = {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    data = f"data: {json.dumps(chunk, ensure_ascii=False)}\n\ndata: {json.dumps(end)}\n\ndata: [DONE]\n\n"
    return data.encode()


def anthropic_stream(text):
    events = [
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": text}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": 4}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    data = "".join(f"event: {name}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n" for name, payload in events)
    return data.encode()


def data_lines(text):
    return [json.loads(line[6:]) for line in text.splitlines()
            if line.startswith("data: ") and line != "data: [DONE]"]


def post(envoy, path, body, **headers):
    return requests.post(envoy.url + path, json=body, timeout=30,
                         headers={"x-api-key": "sk-test", "authorization": "Bearer sk-test", **headers})


ANTHROPIC_REQUEST = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
OPENAI_REQUEST = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def test_a_non_ascii_stream_reads_right_for_an_anthropic_client(envoy, upstream):
    upstream.push(sse_reply(openai_stream(TEXT), piece=5))
    r = post(envoy, "/v1/messages", {**ANTHROPIC_REQUEST, "stream": True})
    assert r.status_code == 200
    assert r.headers["content-type"] == SSE
    assert r.encoding.lower() == "utf-8"
    deltas = [e["delta"]["text"] for e in data_lines(r.text) if e["type"] == "content_block_delta"]
    assert "".join(deltas) == TEXT


def test_a_non_ascii_stream_reads_right_for_an_openai_client(openai_envoy, upstream):
    upstream.push(Reply(200, [("content-type", SSE)], chunks=[anthropic_stream(TEXT)]))
    r = post(openai_envoy, "/v1/chat/completions", {**OPENAI_REQUEST, "stream": True})
    assert r.status_code == 200
    assert r.headers["content-type"] == SSE
    assert r.encoding.lower() == "utf-8"
    content = [c["choices"][0]["delta"].get("content") or "" for c in data_lines(r.text) if c["choices"]]
    assert "".join(content) == TEXT


@pytest.mark.parametrize("client", ["anthropic", "openai"])
def test_json_answers_local_replies_and_errors_are_application_json(client, envoy, openai_envoy, upstream):
    proxy, path, request = {
        "anthropic": (envoy, "/v1/messages", ANTHROPIC_REQUEST),
        "openai": (openai_envoy, "/v1/chat/completions", OPENAI_REQUEST),
    }[client]
    if client == "anthropic":
        completion = {"id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4.1",
                      "choices": [{"index": 0, "message": {"role": "assistant", "content": TEXT},
                                   "finish_reason": "stop"}],
                      "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}
        error = {"error": {"message": "bad", "type": "invalid_request_error", "param": None, "code": None}}
    else:
        completion = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                      "content": [{"type": "text", "text": TEXT}], "stop_reason": "end_turn",
                      "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 4}}
        error = {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}}
    upstream.push(json_reply(completion), json_reply(error, status=400))
    answer = post(proxy, path, request)
    assert (answer.status_code, answer.headers["content-type"]) == (200, JSON)
    assert TEXT in answer.text
    upstream_error = post(proxy, path, request)
    assert (upstream_error.status_code, upstream_error.headers["content-type"]) == (400, JSON)
    local = requests.post(proxy.url + path, data=b"{not json", timeout=30,
                          headers={"content-type": JSON, "x-api-key": "k", "authorization": "Bearer k"})
    assert (local.status_code, local.headers["content-type"]) == (400, JSON)
    assert len(upstream.requests) == 2, "the malformed body never went upstream"
