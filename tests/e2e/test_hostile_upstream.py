"""Tier 3: hostile upstream values (issue 12, point 5) through real Envoy and
the official SDKs, for what the native tests cannot show: Envoy's own
counters (u64, wrapping) stay saturated, and what the SDKs make of the
errors the bridge writes instead of a tool input that is not an object or
an upstream body that is not an answer.
"""

import json
import re
import time

import anthropic
import openai
import pytest

from mock_upstream import Reply, json_reply, sse_reply
from payloads import fixture_json
from rawhttp import post_json

U64_MAX = 2**64 - 1
ANTHROPIC_REQUEST = {"model": "claude-sonnet-4-6", "max_tokens": 32,
                     "messages": [{"role": "user", "content": "weather in Paris?"}]}
TOKEN_LINE = re.compile(r"^(?:wasmcustom\.)?aob\.tokens\..*token_type=\.=(\w+);\.;: (\d+)$")


def token_counters(envoy):
    """{token_type: value} of the bridge's token counters, from /stats (exact
    integers; Prometheus output is a float)."""
    counters = {}
    for line in envoy.admin_get("/stats?filter=aob.tokens").splitlines():
        match = TOKEN_LINE.match(line.strip())
        if match:
            counters[match.group(1)] = counters.get(match.group(1), 0) + int(match.group(2))
    return counters


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()


def test_huge_usage_saturates_the_token_counters(start_envoy, upstream):
    """Three answers claiming 2^64 - 1 tokens, then a normal one: the client
    sees the saturated count, and Envoy's counters stay at 2^64 - 1 instead
    of wrapping to a small number."""
    envoy = start_envoy()
    normal = fixture_json("openai/chat-text.json")
    huge = {**normal, "usage": {"prompt_tokens": U64_MAX, "completion_tokens": U64_MAX,
                                "total_tokens": U64_MAX}}
    for _ in range(3):
        upstream.push(json_reply(huge))
        status, _, body = post_json(envoy.url, "/v1/messages", ANTHROPIC_REQUEST)
        assert status == 200
        usage = json.loads(body)["usage"]
        assert (usage["input_tokens"], usage["output_tokens"]) == (U64_MAX, U64_MAX)
    upstream.push(json_reply(normal))
    assert post_json(envoy.url, "/v1/messages", ANTHROPIC_REQUEST)[0] == 200
    wait_for(lambda: len(re.findall(r"aob\.requests_converted\..*: 4", envoy.admin_get("/stats"))) == 1)
    counters = token_counters(envoy)
    assert counters["input"] == U64_MAX, counters
    assert counters["output"] == U64_MAX, counters


def tool_call_stream(arguments):
    chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}
    first = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_current_weather", "arguments": ""}}
    chunks = [{**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [first]}}]}]
    for i in range(0, len(arguments), 3):
        call = {"index": 0, "function": {"arguments": arguments[i:i + 3]}}
        chunks.append({**chunk, "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]})
    chunks.append({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    body = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)
    return body + b"data: [DONE]\n\n"


@pytest.mark.parametrize("arguments", ["{bad json", "[1,2]", '""', '{"city": "Paris"'])
def test_tool_arguments_that_are_not_an_object_are_an_error_for_anthropic_clients(envoy, upstream, arguments):
    """Never a silent `input: {}`: the whole answer is an error body naming
    the call, and the stream ends with an error event the SDK raises, before
    any bad fragment reaches it."""
    completion = fixture_json("openai/chat-tool-call.json")
    completion["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = arguments
    upstream.push(json_reply(completion))
    status, _, body = post_json(envoy.url, "/v1/messages", ANTHROPIC_REQUEST, {"x-api-key": "sk-test"})
    assert status == 200  # the status went out with the headers
    error = json.loads(body)
    assert (error["type"], error["error"]["type"]) == ("error", "api_error")
    whole_message = error["error"]["message"]
    assert whole_message.startswith("upstream tool call 0 (`get_current_weather`): its arguments ")
    assert arguments not in whole_message

    upstream.push(sse_reply(tool_call_stream(arguments), piece=40))
    client = anthropic.Anthropic(base_url=envoy.url, api_key="sk-test", max_retries=0, timeout=30)
    with pytest.raises(anthropic.APIStatusError) as raised:
        with client.messages.stream(**ANTHROPIC_REQUEST) as stream:
            for _ in stream:
                pass
    assert raised.value.body["error"]["message"] == whole_message


def test_empty_tool_arguments_are_an_empty_input(envoy, upstream):
    completion = fixture_json("openai/chat-tool-call.json")
    completion["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = ""
    upstream.push(json_reply(completion), sse_reply(tool_call_stream(""), piece=40))
    client = anthropic.Anthropic(base_url=envoy.url, api_key="sk-test", max_retries=0, timeout=30)
    whole = client.messages.create(**ANTHROPIC_REQUEST)
    with client.messages.stream(**ANTHROPIC_REQUEST) as stream:
        streamed = stream.get_final_message()
    for message in (whole, streamed):
        assert [(b.type, b.input) for b in message.content if b.type == "tool_use"] == [("tool_use", {})]


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_a_200_that_is_not_an_answer_is_not_echoed_to_openai_clients(openai_envoy, upstream, stream):
    """The issue's case: a 200 JSON body that is neither a message nor an
    error; the stream used to carry it whole in its error chunk."""
    upstream.push(json_reply({"hello": "world", "secret": "x"}))
    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    status, _, body = post_json(openai_envoy.url, "/v1/chat/completions", request,
                                {"authorization": "Bearer sk-ant"})
    assert status == 200
    text = body.decode()
    assert "upstream returned a response that is not a message" in text
    assert "secret" not in text and "hello" not in text
    if stream:
        upstream.push(json_reply({"hello": "world", "secret": "x"}))
        client = openai.OpenAI(base_url=f"{openai_envoy.url}/v1", api_key="sk-ant", max_retries=0, timeout=30)
        with pytest.raises(openai.APIError) as raised:
            for _ in client.chat.completions.create(**request):
                pass
        assert raised.value.message == "upstream returned a response that is not a message"


def test_an_html_error_page_is_a_short_clean_excerpt(envoy, upstream):
    page = "<html>\r\n<body>\r\n<h1>502 Bad Gateway</h1>" + "x" * 5000 + "INTERNAL-HOST-10.0.0.7</body></html>"
    upstream.push(Reply(502, [("content-type", "text/html")], page.encode()))
    status, _, body = post_json(envoy.url, "/v1/messages", ANTHROPIC_REQUEST, {"x-api-key": "sk-test"})
    assert status == 502
    message = json.loads(body)["error"]["message"]
    assert message.startswith("<html> <body> <h1>502 Bad Gateway</h1>xxx")
    assert len(message.encode()) <= 200 and message.endswith("…")
    assert "INTERNAL-HOST" not in message
