"""Tier 3: Anthropic clients -> real Envoy with the bridge -> a mock OpenAI upstream.

Each test checks both sides: what the upstream received
(docs/anthropic_client.md#request-mapping, docs/anthropic_client.md#headers)
and what the client got back (#response-mapping, #stream-event-grammar,
#errors-and-status-mapping). Upstream answers are recorded provider payloads
from fixtures/; the expected client view is derived from them by the docs/
rules in payloads.py.
"""

import base64
import http.client
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import anthropic
import httpx2
import pytest

from mock_upstream import Reply, json_reply, sse_reply
from payloads import (
    STOP_REASON,
    anthropic_content,
    anthropic_error_type,
    anthropic_usage,
    completion_of,
    fixture_bytes,
    fixture_json,
    fold_stream,
    sse_from_jsonl,
)
from rawhttp import post_json, send, sse_events

MODEL = "claude-sonnet-4-6"
BRIDGE_SIGNATURE_PREFIX = "aob1."  # docs/anthropic_client.md#reasoning-round-trip
STREAMS = {
    "text": "openai/stream-text-include-usage-gpt4o-mini.sse",
    "reasoning": "openai/deepseek-stream-reasoning-content.sse",
    "parallel-tools": "openai/stream-tool-calls-parallel.sse",
    "reasoning-tool-cached": "openai/deepseek-stream-reasoning-tool-call.chunks.jsonl",
}
COMPLETIONS = {
    "text": "openai/chat-text-gpt41-nano.json",
    "reasoning": "openai/deepseek-chat-reasoning.json",
    "tool-call": "openai/chat-tool-call.json",
}
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "location": {"type": "string", "description": "City and state"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["location"],
}


def client_for(envoy, auth="bearer"):
    """The official SDK pointed at Envoy, key "sk-test", no retries.

    This SDK version sends its key as `authorization: Bearer`; with
    `auth="x-api-key"` it sends it the way Claude Code and older SDKs do.
    """
    if auth == "x-api-key":
        return anthropic.Anthropic(base_url=envoy.url, default_headers={"x-api-key": "sk-test"},
                                   max_retries=0, timeout=30)
    return anthropic.Anthropic(base_url=envoy.url, api_key="sk-test", max_retries=0, timeout=30)


def stream_fixture(name):
    path = STREAMS[name]
    return sse_from_jsonl(path) if path.endswith(".jsonl") else fixture_bytes(path)


def tools_for(completion):
    """Anthropic tool definitions named like the fixture's tool calls."""
    names = dict.fromkeys(call["name"] for call in completion.tool_calls)
    return [{"name": name, "description": f"{name} tool", "input_schema": {"type": "object"}} for name in names]


def blocks_of(message):
    """An SDK Message's content in the shape of payloads.anthropic_content()."""
    blocks = []
    for block in message.content:
        if block.type == "thinking":
            blocks.append(("thinking", block.thinking))
        elif block.type == "text":
            blocks.append(("text", block.text))
        elif block.type == "tool_use":
            blocks.append(("tool_use", block.id, block.name, block.input))
        else:
            blocks.append((block.type,))
    return blocks


def usage_of(message):
    usage = message.usage
    return {
        "input_tokens": usage.input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "output_tokens": usage.output_tokens,
    }


def assert_bridge_signatures(message):
    for block in message.content:
        if block.type == "thinking":
            assert block.signature.startswith(BRIDGE_SIGNATURE_PREFIX)


def assert_translated(message, completion):
    """The client's Message is the image of the upstream answer (docs/anthropic_client.md#response-mapping)."""
    assert message.type == "message" and message.role == "assistant"
    assert blocks_of(message) == anthropic_content(completion)
    assert_bridge_signatures(message)
    assert message.stop_reason == STOP_REASON[completion.finish_reason]
    assert usage_of(message) == anthropic_usage(completion.usage)


def error_body(body):
    """The Anthropic error envelope, checked, as (type, message)."""
    payload = json.loads(body)
    assert payload["type"] == "error"
    return payload["error"]["type"], payload["error"]["message"]


# ------------------------------------------------------------------ requests


@pytest.mark.parametrize("auth", ["x-api-key", "bearer"])
def test_text_request_headers_and_body(envoy, upstream, auth):
    response = fixture_json(COMPLETIONS["text"])
    upstream.push(json_reply(response))
    message = client_for(envoy, auth).messages.create(
        model=MODEL,
        max_tokens=1024,
        system="You are terse.",
        stop_sequences=["END"],
        metadata={"user_id": "user-42"},
        messages=[{"role": "user", "content": "Invent a holiday."}],
        extra_headers={"anthropic-beta": "prompt-caching-2024-07-31", "accept-encoding": "gzip"},
        # This SDK version has no sampling parameters; older clients and Claude Code send them.
        extra_body={"temperature": 0, "top_k": 5},
    )

    (received,) = upstream.requests
    assert (received.method, received.path) == ("POST", "/v1/chat/completions")
    assert received.header("authorization") == "Bearer sk-test"
    names = received.header_names
    assert "x-api-key" not in names and "accept-encoding" not in names
    assert not [n for n in names if n.startswith(("anthropic-", "x-stainless-"))]
    # docs/README.md#what-the-proxy-wasm-host-allows: content-length is removed, the converted body goes chunked.
    assert "content-length" not in names and received.chunked
    body = received.json
    assert body["model"] == MODEL
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Invent a holiday."},
    ]
    assert body["max_completion_tokens"] == 1024
    assert (body["temperature"], body["stop"], body["user"]) == (0, ["END"], "user-42")
    assert set(body) - {"stream"} == {"model", "messages", "max_completion_tokens", "temperature", "stop", "user"}
    assert not body.get("stream")

    assert_translated(message, completion_of(response))


def test_system_blocks_and_thinking_budget(envoy, upstream):
    upstream.push(json_reply(fixture_json(COMPLETIONS["reasoning"])))
    client_for(envoy).messages.create(
        model=MODEL,
        max_tokens=8000,
        system=[
            {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Be brief."},
        ],
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": [{"type": "text", "text": "Count the r's in strawberry."}]}],
    )
    body = upstream.requests[0].json
    assert body["messages"][0] == {"role": "system", "content": "You are Claude Code.\n\nBe brief."}
    # A single text part is sent as a plain string.
    assert body["messages"][1] == {"role": "user", "content": "Count the r's in strawberry."}
    assert body["reasoning_effort"] == "low"  # budget < 4096
    assert "thinking" not in body and "system" not in body


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_upstream_path_keeps_prefix_and_drops_query(envoy, upstream, prefix):
    upstream.push(json_reply(fixture_json(COMPLETIONS["text"])))
    payload = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    status, _, _ = post_json(envoy.url, f"{prefix}/v1/messages?beta=true", payload, {"x-api-key": "sk-raw"})
    assert status == 200
    (received,) = upstream.requests
    assert received.path == f"{prefix}/v1/chat/completions"
    assert received.header("authorization") == "Bearer sk-raw"


def test_existing_authorization_is_kept(envoy, upstream):
    upstream.push(json_reply(fixture_json(COMPLETIONS["text"])))
    payload = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"x-api-key": "sk-anthropic", "authorization": "Bearer sk-openai"}
    assert post_json(envoy.url, "/v1/messages", payload, headers)[0] == 200
    received = upstream.requests[0]
    assert received.header("authorization") == "Bearer sk-openai"
    assert "x-api-key" not in received.header_names


def test_tool_use_round_trip(envoy, upstream):
    response = fixture_json(COMPLETIONS["tool-call"])
    upstream.push(json_reply(response))
    tool = {"name": "get_current_weather", "description": "Get the current weather",
            "input_schema": WEATHER_SCHEMA, "cache_control": {"type": "ephemeral"}}
    paris, tokyo = {"location": "Paris, France"}, {"location": "Tokyo", "unit": "celsius"}
    message = client_for(envoy).messages.create(
        model=MODEL,
        max_tokens=1024,
        tools=[tool],
        tool_choice={"type": "tool", "name": "get_current_weather", "disable_parallel_tool_use": True},
        messages=[
            {"role": "user", "content": "Weather in Paris and Tokyo?"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me check both."},
                {"type": "tool_use", "id": "toolu_01", "name": "get_current_weather", "input": paris},
                {"type": "tool_use", "id": "toolu_02", "name": "get_current_weather", "input": tokyo},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18 C, sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_02", "is_error": True,
                 "content": [{"type": "text", "text": "station offline"}]},
                {"type": "text", "text": "And Boston?"},
            ]},
        ],
    )

    body = upstream.requests[0].json
    assert body["tools"] == [{"type": "function", "function": {
        "name": "get_current_weather", "description": "Get the current weather", "parameters": WEATHER_SCHEMA}}]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_current_weather"}}
    assert body["parallel_tool_calls"] is False
    user, assistant, *tool_messages, follow_up = body["messages"]
    assert user == {"role": "user", "content": "Weather in Paris and Tokyo?"}
    assert assistant["role"] == "assistant" and assistant["content"] == "Let me check both."
    calls = assistant["tool_calls"]
    assert [(c["id"], c["type"], c["function"]["name"]) for c in calls] == [
        ("toolu_01", "function", "get_current_weather"), ("toolu_02", "function", "get_current_weather")]
    assert all(isinstance(c["function"]["arguments"], str) for c in calls)
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [paris, tokyo]
    assert tool_messages == [
        {"role": "tool", "tool_call_id": "toolu_01", "content": "18 C, sunny"},
        {"role": "tool", "tool_call_id": "toolu_02", "content": "Error: station offline"},
    ]
    assert follow_up == {"role": "user", "content": "And Boston?"}

    assert_translated(message, completion_of(response))


def test_images_and_documents(envoy, upstream):
    """docs/anthropic_client.md#message-rules: image and PDF blocks become OpenAI parts."""
    upstream.push(json_reply(fixture_json(COMPLETIONS["text"])))
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(64)).decode()
    pdf = base64.b64encode(b"%PDF-1.4\n%%EOF").decode()
    client_for(envoy).messages.create(model=MODEL, max_tokens=100, messages=[{"role": "user", "content": [
        {"type": "text", "text": "Compare these."},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": pdf}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain notes"}},
    ]}])
    parts = upstream.requests[0].json["messages"][0]["content"]
    assert [part["type"] for part in parts] == ["text", "image_url", "image_url", "file", "text"]
    assert parts[0]["text"] == "Compare these." and parts[4]["text"] == "plain notes"
    assert parts[1]["image_url"]["url"] == f"data:image/png;base64,{png}"
    assert parts[2]["image_url"]["url"] == "https://example.com/cat.jpg"
    assert parts[3]["file"]["file_data"] == f"data:application/pdf;base64,{pdf}"
    assert parts[3]["file"]["filename"]  # the document's title, else document.pdf (docs/anthropic_client.md#message-rules)


def claude_code_system(nonce):
    """System blocks shaped like Claude Code's: a billing header with a
    per-request `cch=` nonce, then cached instruction blocks."""
    return [
        {"type": "text", "text": f"x-anthropic-billing-header: cc_version=2.1.39.c39; cc_entrypoint=cli; cch={nonce};"},
        {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.",
         "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "You are an interactive CLI tool.", "cache_control": {"type": "ephemeral"}},
    ]


def test_billing_nonce_does_not_reach_the_upstream(envoy, upstream):
    """docs/anthropic_client.md#message-rules: the `cch=` entry is removed so that the upstream's
    prompt cache sees the same system prompt on every request."""
    upstream.push(*[json_reply(fixture_json(COMPLETIONS["text"])) for _ in range(2)])
    client = client_for(envoy)
    for nonce in ("56445", "00017"):
        client.messages.create(model=MODEL, max_tokens=32000, system=claude_code_system(nonce),
                               messages=[{"role": "user", "content": "hi"}])
    first, second = (r.json["messages"][0] for r in upstream.requests)
    assert first == second and first["role"] == "system"
    assert "cch=" not in first["content"] and "cc_version=2.1.39.c39" in first["content"]
    assert first["content"].endswith(
        "\n\nYou are Claude Code, Anthropic's official CLI for Claude.\n\nYou are an interactive CLI tool.")


def test_tool_names_sanitized_and_restored_in_stream(envoy, upstream):
    """docs/anthropic_client.md#request-mapping: an invalid OpenAI tool name is sanitized (invalid
    characters -> `_`) in tools and history, server tools are dropped, and the
    streamed answer carries the original name again. The upstream answers with
    the recorded parallel-tools stream, renamed to what it was sent."""
    data = stream_fixture("parallel-tools")
    recorded_names = [call["name"] for call in fold_stream(data).tool_calls]

    def answer(request):
        sent = [tool["function"]["name"] for tool in request.json["tools"]]
        renamed = data
        for recorded, name in zip(recorded_names, sent):
            renamed = renamed.replace(f'"name":"{recorded}"'.encode(), f'"name":"{name}"'.encode())
        return sse_reply(renamed, piece=7, delay=0.0005)

    upstream.responder = answer
    tools = [
        {"name": "weather.get", "description": "Weather", "input_schema": {"type": "object"}},
        {"name": "get_stock_price", "description": "Quotes", "input_schema": {"type": "object"}},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
    ]
    history = [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_01", "name": "weather.get", "input": {"city": "Oslo"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "-3 C"},
                                     {"type": "text", "text": "Now Edinburgh and AAPL."}]},
    ]
    with client_for(envoy).messages.stream(model=MODEL, max_tokens=4096, tools=tools, messages=history) as stream:
        message = stream.get_final_message()

    body = upstream.requests[0].json
    assert [tool["function"]["name"] for tool in body["tools"]] == ["weather_get", "get_stock_price"]
    assert body["messages"][1]["tool_calls"][0]["function"]["name"] == "weather_get"
    assert [block.name for block in message.content if block.type == "tool_use"] == ["weather.get", "get_stock_price"]
    assert message.stop_reason == "tool_use"


def test_bridge_thinking_comes_back_as_reasoning_content(envoy, upstream):
    """docs/anthropic_client.md#reasoning-round-trip: a thinking block signed by the bridge is restored;
    one with any other signature is dropped."""
    response = fixture_json(COMPLETIONS["reasoning"])
    upstream.push(json_reply(response), json_reply(fixture_json(COMPLETIONS["text"])))
    client = client_for(envoy)
    question = {"role": "user", "content": "How many r's are in strawberry?"}
    first = client.messages.create(model=MODEL, max_tokens=2000, messages=[question])
    foreign = {"type": "thinking", "thinking": "not from the bridge", "signature": "EqQBCkYIBxgCKkDforeign"}
    client.messages.create(
        model=MODEL,
        max_tokens=2000,
        messages=[
            question,
            {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
            {"role": "user", "content": "Now count the e's."},
            {"role": "assistant", "content": [foreign, {"type": "text", "text": "Two."}]},
            {"role": "user", "content": "Thanks."},
        ],
    )

    expected = completion_of(response)
    history = upstream.requests[1].json["messages"]
    assert history[1]["role"] == "assistant"
    assert history[1]["content"] == expected.text
    assert history[1]["reasoning_content"] == expected.reasoning
    assert history[3]["content"] == "Two." and history[3].get("reasoning_content") is None


def test_model_map(start_envoy, upstream):
    config = {"upstream_protocol": "openai", "model_map": {"claude-*": "gpt-4.1", "*": "gpt-4o-mini"}}
    envoy = start_envoy(plugin_config=config)
    upstream.push(json_reply(fixture_json(COMPLETIONS["text"])), json_reply(fixture_json(COMPLETIONS["text"])))
    client = client_for(envoy)
    for model in (MODEL, "llama-3"):
        client.messages.create(model=model, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert [r.json["model"] for r in upstream.requests] == ["gpt-4.1", "gpt-4o-mini"]


def test_max_tokens_field_and_limit(start_envoy, upstream):
    config = {"upstream_protocol": "openai", "max_tokens_field": "max_tokens", "max_tokens_limit": 16384}
    envoy = start_envoy(plugin_config=config)
    upstream.push(json_reply(fixture_json(COMPLETIONS["text"])))
    client_for(envoy).messages.create(model=MODEL, max_tokens=64000, messages=[{"role": "user", "content": "hi"}])
    body = upstream.requests[0].json
    assert body["max_tokens"] == 16384
    assert "max_completion_tokens" not in body


def test_configured_upstream_path(start_envoy, upstream):
    envoy = start_envoy(plugin_config={"upstream_protocol": "openai", "upstream_path": "/openai/chat/completions"})
    upstream.push(json_reply(fixture_json(COMPLETIONS["text"])))
    client_for(envoy).messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert upstream.requests[0].path == "/openai/chat/completions"


def test_invalid_plugin_configuration_stops_envoy(start_envoy):
    """docs/configuration.md#invalid-configurations: an unknown key fails on_configure, naming the field,
    and Envoy rejects the filter (fail_open: false)."""
    with pytest.raises(RuntimeError, match="max_token_field"):
        start_envoy(plugin_config={"upstream_protocol": "openai", "max_token_field": "max_tokens"})


def test_two_megabyte_request(envoy, upstream):
    """Larger than Envoy's default 1 MiB buffer; the shipped config raises it."""
    upstream.push(json_reply(fixture_json(COMPLETIONS["text"])))
    document = "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(40000))
    assert len(document) > 2_000_000
    message = client_for(envoy).messages.create(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": document}])
    assert upstream.requests[0].json["messages"] == [{"role": "user", "content": document}]
    assert message.stop_reason == "end_turn"


def test_request_over_max_request_bytes_gets_413(start_envoy, upstream):
    envoy = start_envoy(plugin_config={"upstream_protocol": "openai", "max_request_bytes": 1024})
    payload = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "x" * 4096}]}
    status, headers, body = post_json(envoy.url, "/v1/messages", payload, {"x-api-key": "sk-test"})
    assert status == 413
    assert headers["content-type"].startswith("application/json")
    assert error_body(body)[0] == "request_too_large"
    # Decided from content-length in the headers phase: not even the headers go
    # upstream. Give a leaked, reset request a moment to show up.
    time.sleep(0.2)
    assert upstream.requests == [] and upstream.aborted == []


# ------------------------------------------------------------ non-streaming


@pytest.mark.parametrize("name", COMPLETIONS)
def test_create_translates_response(envoy, upstream, name):
    response = fixture_json(COMPLETIONS[name])
    upstream.push(json_reply(response))
    tools = tools_for(completion_of(response)) or anthropic.NOT_GIVEN
    message = client_for(envoy).messages.create(
        model=MODEL, max_tokens=1024, tools=tools, messages=[{"role": "user", "content": "hi"}])
    assert_translated(message, completion_of(response))


def test_create_usage_with_cached_tokens(envoy, upstream):
    """chat-text.json answered with the usage DeepSeek recorded for a cache hit."""
    response = fixture_json(COMPLETIONS["text"])
    final_chunk = json.loads(fixture_bytes(STREAMS["reasoning-tool-cached"]).splitlines()[-1])
    response["usage"] = final_chunk["usage"]
    assert response["usage"]["prompt_tokens_details"]["cached_tokens"] > 0
    upstream.push(json_reply(response))
    message = client_for(envoy).messages.create(
        model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": "hi"}])
    assert_translated(message, completion_of(response))
    # docs/anthropic_client.md#usage: cache_creation_input_tokens is 0 when the upstream has none.
    assert message.usage.cache_creation_input_tokens == 0


# ---------------------------------------------------------------- streaming


@pytest.mark.parametrize("piece", [None, 7], ids=["whole", "7-byte-pieces"])
@pytest.mark.parametrize("name", STREAMS)
def test_stream_final_message(envoy, upstream, name, piece):
    data = stream_fixture(name)
    completion = fold_stream(data)
    upstream.push(sse_reply(data, piece=piece, delay=0.0005 if piece else 0))
    with client_for(envoy).messages.stream(
        model=MODEL,
        max_tokens=4096,
        tools=tools_for(completion) or anthropic.NOT_GIVEN,
        messages=[{"role": "user", "content": "hi"}],
    ) as stream:
        message = stream.get_final_message()

    body = upstream.requests[0].json
    assert body["stream"] is True
    assert body["stream_options"]["include_usage"] is True
    # docs/anthropic_client.md#client-events fixes message_start usage at zero, so the counts (input and cache
    # included) can only reach the client through message_delta.usage.
    assert_translated(message, completion)


@pytest.mark.parametrize("name", ["text", "parallel-tools", "reasoning-tool-cached"])
def test_stream_event_sequence(envoy, upstream, name):
    """The raw SSE framing of docs/anthropic_client.md#client-events, which the SDK
    partly hides (it skips events without an `event:` line, and pings)."""
    data = stream_fixture(name)
    upstream.push(sse_reply(data, piece=7, delay=0.0005))
    payload = {"model": MODEL, "max_tokens": 4096, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    status, headers, body = post_json(envoy.url, "/v1/messages", payload, {"x-api-key": "sk-test"})
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    events = [(event_name, json.loads(text)) for event_name, text in sse_events(body)]
    assert all(event["type"] == event_name for event_name, event in events)
    names = [event_name for event_name, _ in events]

    start = events[0][1]["message"]
    assert names[:2] == ["message_start", "ping"]
    assert start["content"] == [] and start["usage"]["input_tokens"] == 0 and start["usage"]["output_tokens"] == 0
    assert names[-2:] == ["message_delta", "message_stop"]
    assert names.count("message_delta") == 1 and names.count("message_stop") == 1
    assert events[-2][1]["delta"]["stop_reason"] == STOP_REASON[fold_stream(data).finish_reason]
    assert_blocks_well_formed([event for _, event in events[2:-2] if event["type"] != "ping"])


def assert_blocks_well_formed(events):
    """One block open at a time, indexes 0, 1, 2..., deltas inside their block."""
    open_index, next_index, block, deltas = None, 0, None, []
    for event in events:
        kind = event["type"]
        if kind == "content_block_start":
            assert open_index is None and event["index"] == next_index
            open_index, next_index = event["index"], next_index + 1
            block, deltas = event["content_block"], []
            if block["type"] == "text":
                assert block["text"] == ""
            if block["type"] == "tool_use":
                assert block["input"] == {} and block["id"] and block["name"]
        elif kind == "content_block_delta":
            assert event["index"] == open_index
            deltas.append(event["delta"]["type"])
        else:
            assert kind == "content_block_stop" and event["index"] == open_index
            if block["type"] == "thinking":
                assert deltas[-1] == "signature_delta"
            if block["type"] == "tool_use":
                assert "input_json_delta" in deltas
            open_index = None
    assert open_index is None and next_index > 0


def test_stream_cut_short_ends_with_error_event(envoy, upstream):
    """docs/anthropic_client.md#rules-connecting-them: an upstream that ends without finish_reason/[DONE]."""
    data = stream_fixture("text")
    cut = b"".join(part + b"\n\n" for part in data.split(b"\n\n")[:5])
    assert b"finish_reason\":\"stop" not in cut
    upstream.push(sse_reply(cut, piece=7, delay=0.0005))
    payload = {"model": MODEL, "max_tokens": 100, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    status, _, body = post_json(envoy.url, "/v1/messages", payload, {"x-api-key": "sk-test"})
    assert status == 200
    event_name, text = sse_events(body)[-1]
    assert event_name == "error"
    error = json.loads(text)
    assert error["type"] == "error" and error["error"]["type"] == "api_error"


def test_error_chunk_inside_stream_ends_it(envoy, upstream):
    """docs/anthropic_client.md#rules-connecting-them: a chunk `{"error": ...}` becomes `event: error` and
    the stream ends. The error object is OpenRouter's recorded one."""
    head = b"".join(event + b"\n\n" for event in stream_fixture("text").split(b"\n\n")[:3])
    error = fixture_json("openai/error-429-openrouter-upstream.json")
    upstream.push(sse_reply(head + b"data: " + json.dumps(error).encode() + b"\n\n", piece=7, delay=0.0005))
    payload = {"model": MODEL, "max_tokens": 100, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    status, _, body = post_json(envoy.url, "/v1/messages", payload, {"x-api-key": "sk-test"})
    assert status == 200
    events = sse_events(body)
    assert [name for name, _ in events].count("error") == 1
    event_name, text = events[-1]
    assert event_name == "error"
    _, message = error_body(text.encode())
    assert message.startswith(error["error"]["message"])


def test_stream_events_are_not_held_back(envoy, upstream):
    """docs/protocols.md#sse-framing: an event is forwarded as soon as its last byte
    arrives. The upstream sends the first text, then stalls; the client must
    see that text before the stall ends."""
    data = stream_fixture("text")
    head = b"".join(event + b"\n\n" for event in data.split(b"\n\n")[:2])
    stall = 2.0
    upstream.push(Reply(200, [("content-type", "text/event-stream")], chunks=[head, stall, data[len(head):]]))
    started = time.monotonic()
    with client_for(envoy).messages.stream(
            model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "hi"}]) as stream:
        first_text = next(iter(stream.text_stream))
        first_text_after = time.monotonic() - started
        message = stream.get_final_message()
    assert first_text == fold_stream(head).text
    assert first_text_after < stall * 0.75
    assert message.content[0].text == fold_stream(data).text


def test_concurrent_streams_keep_their_own_state(envoy, upstream):
    """Streams interleaved on Envoy's single worker (--concurrency 1) each get
    their own conversion. The upstream picks the fixture named by the prompt."""
    streams = {name: stream_fixture(name) for name in STREAMS}
    upstream.responder = lambda request: sse_reply(
        streams[request.json["messages"][-1]["content"]], piece=16, delay=0.0005)

    def converse(name):
        with client_for(envoy).messages.stream(
            model=MODEL, max_tokens=4096, tools=tools_for(fold_stream(streams[name])) or anthropic.NOT_GIVEN,
            messages=[{"role": "user", "content": name}],
        ) as stream:
            return stream.get_final_message()

    names = list(STREAMS) * 2
    with ThreadPoolExecutor(len(names)) as pool:
        messages = list(pool.map(converse, names))
    for name, message in zip(names, messages):
        assert_translated(message, fold_stream(streams[name]))
    assert len(upstream.requests) == len(names)


def assert_module_healthy(envoy, upstream, log_start):
    """The module never trapped (a trap takes the worker's VM down) and the next
    request still converts."""
    upstream.push(json_reply(fixture_json(COMPLETIONS["text"])))
    message = client_for(envoy).messages.create(
        model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "still there?"}])
    assert blocks_of(message) == anthropic_content(completion_of(fixture_json(COMPLETIONS["text"])))
    log = envoy.log()[log_start:]
    assert "Function: proxy_on" not in log and "panicked" not in log


def test_client_abort_mid_stream(envoy, upstream):
    """Claude Code's Esc: the client hangs up while the upstream still streams."""
    data = stream_fixture("text")
    head = b"".join(event + b"\n\n" for event in data.split(b"\n\n")[:3])
    upstream.push(Reply(200, [("content-type", "text/event-stream")], chunks=[head, 0.5, data[len(head):]]))
    log_start = len(envoy.log())
    payload = {"model": MODEL, "max_tokens": 100, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    connection = http.client.HTTPConnection(envoy.url.removeprefix("http://"), timeout=10)
    connection.request("POST", "/v1/messages", json.dumps(payload), {"x-api-key": "sk-test"})
    response = connection.getresponse()
    assert response.readline() == b"event: message_start\n"
    connection.close()
    time.sleep(1)  # the upstream finishes writing into the reset stream
    assert_module_healthy(envoy, upstream, log_start)


def test_upstream_dies_mid_stream(envoy, upstream):
    """The upstream connection closes inside the chunked body: Envoy cuts the
    client's stream short (no clean end, so no bridge error event either)."""
    data = stream_fixture("text")
    head = b"".join(event + b"\n\n" for event in data.split(b"\n\n")[:3])
    upstream.push(Reply(200, [("content-type", "text/event-stream")], chunks=[head], complete=False))
    log_start = len(envoy.log())
    with pytest.raises(httpx2.RemoteProtocolError):  # the SDK's HTTP client sees the cut
        with client_for(envoy).messages.stream(
                model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "hi"}]) as stream:
            stream.get_final_message()
    assert_module_healthy(envoy, upstream, log_start)


# ------------------------------------------------------------------- errors


@pytest.mark.parametrize("fixture,status", [
    ("openai/error-429-openrouter-upstream.json", 429),
    ("openai/error-404-model-not-found.json", 404),
])
def test_upstream_json_error(envoy, upstream, fixture, status):
    upstream.push(json_reply(fixture_bytes(fixture), status, [("retry-after", "7"), ("x-request-id", "req-abc")]))
    payload = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    got_status, headers, body = post_json(envoy.url, "/v1/messages", payload, {"x-api-key": "sk-test"})
    assert got_status == status
    assert headers["content-type"].startswith("application/json")
    error_type, message = error_body(body)
    assert error_type == anthropic_error_type(status)
    # The upstream's message leads, details appended (docs/protocols.md#reading-an-upstream-error-body)
    # (the module adds OpenRouter's error.metadata.raw).
    assert message.startswith(fixture_json(fixture)["error"]["message"])
    assert headers["retry-after"] == "7"
    assert headers["request-id"] == "req-abc"  # docs/anthropic_client.md#headers: upstream id exposed as the client's


def test_rate_limit_headers_are_translated(envoy, upstream):
    """docs/anthropic_client.md#headers: x-ratelimit-* become anthropic-ratelimit-*; the names checked are the Anthropic API's own, and
    OpenAI's reset durations become the RFC 3339 instants Anthropic sends."""
    limits = {"limit-requests": "10000", "remaining-requests": "9999", "reset-requests": "6ms",
              "limit-tokens": "200000", "remaining-tokens": "199990", "reset-tokens": "1m2.5s"}
    upstream.push(json_reply(fixture_json(COMPLETIONS["text"]),
                             headers=[(f"x-ratelimit-{name}", value) for name, value in limits.items()]))
    sent = datetime.now(timezone.utc)
    payload = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    status, headers, _ = post_json(envoy.url, "/v1/messages", payload, {"x-api-key": "sk-test"})
    assert status == 200
    for kind in ("requests", "tokens"):
        for field in ("limit", "remaining"):
            assert headers[f"anthropic-ratelimit-{kind}-{field}"] == limits[f"{field}-{kind}"]
    reset = datetime.fromisoformat(headers["anthropic-ratelimit-tokens-reset"].replace("Z", "+00:00"))
    assert timedelta(seconds=61) <= reset - sent <= timedelta(seconds=65)


def test_rate_limit_raises_in_sdk_streaming_or_not(envoy, upstream):
    error = fixture_bytes("openai/error-429-openrouter-upstream.json")
    upstream.push(*[json_reply(error, 429, [("retry-after", "7")]) for _ in range(2)])
    client = client_for(envoy)
    request = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(anthropic.RateLimitError) as raised:
        client.messages.create(**request)
    assert raised.value.response.headers["retry-after"] == "7"
    assert raised.value.body["error"]["type"] == "rate_limit_error"
    # A streaming request answered with a JSON error is an error, not a stream.
    with pytest.raises(anthropic.RateLimitError):
        with client.messages.stream(**request) as stream:
            stream.get_final_message()
    assert upstream.requests[1].json["stream"] is True


def test_upstream_html_error_becomes_api_error(envoy, upstream):
    page = b"<html><head><title>500 Internal Server Error</title></head><body>oops</body></html>"
    upstream.push(Reply(500, [("content-type", "text/html")], page))
    payload = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    status, headers, body = post_json(envoy.url, "/v1/messages", payload, {"x-api-key": "sk-test"})
    assert status == 500
    assert headers["content-type"].startswith("application/json")
    assert error_body(body) == ("api_error", page.decode())


def assert_nothing_forwarded(upstream):
    """No request reached the upstream whole.

    The request headers alone may have: header decisions are made before the
    body is seen and the filter continues from headers (docs/README.md#what-the-proxy-wasm-host-allows),
    so Envoy may already have sent them when the body is rejected, and then
    resets that upstream stream. No body is ever forwarded.
    """
    assert upstream.requests == []


def test_malformed_json_is_rejected_locally(envoy, upstream):
    status, headers, body = post_json(envoy.url, "/v1/messages", b'{"model": "claude", "messages": [',
                                      {"x-api-key": "sk-test"})
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    assert error_body(body)[0] == "invalid_request_error"
    assert_nothing_forwarded(upstream)


@pytest.mark.parametrize("messages,index", [
    ([], None),
    ("hello", None),
    ([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
      {"role": "tool", "content": "c"}], 2),
    ([{"role": "user", "content": 5}], 0),
], ids=["empty", "not-an-array", "unknown-role", "numeric-content"])
def test_invalid_messages_are_rejected_locally(envoy, upstream, messages, index):
    payload = {"model": MODEL, "max_tokens": 10, "messages": messages}
    status, _, body = post_json(envoy.url, "/v1/messages", payload, {"x-api-key": "sk-test"})
    assert status == 400
    error_type, message = error_body(body)
    assert error_type == "invalid_request_error"
    if index is not None:
        # "naming the index": the exact wording is the module's; the number must be there.
        assert re.search(rf"\b{index}\b", message), message
    assert_nothing_forwarded(upstream)


def test_a_system_message_inside_messages_keeps_its_position(envoy, upstream):
    """Claude Code 2.1 sends one (beta mid-conversation-system-2026-04-07)."""
    upstream.push(json_reply(fixture_json(COMPLETIONS["text"])))
    messages = [{"role": "user", "content": "a"}, {"role": "system", "content": "From now on, be terse."},
                {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]
    status, _, _ = post_json(envoy.url, "/v1/messages", {"model": MODEL, "max_tokens": 10, "messages": messages},
                             {"x-api-key": "sk-test"})
    assert status == 200
    sent = upstream.requests[-1].json["messages"]
    assert sent == [{"role": "user", "content": "a"}, {"role": "system", "content": "From now on, be terse."},
                    {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]


def test_empty_messages_via_sdk(envoy, upstream):
    with pytest.raises(anthropic.BadRequestError) as raised:
        client_for(envoy).messages.create(model=MODEL, max_tokens=10, messages=[])
    assert raised.value.body["error"]["type"] == "invalid_request_error"
    assert_nothing_forwarded(upstream)


# -------------------------------------------------------------- passthrough


def test_openai_request_passes_through_byte_for_byte(envoy, upstream):
    answer = fixture_bytes(COMPLETIONS["text"])
    upstream.push(Reply(200, [("content-type", "application/json")], answer))
    request = b'{"model":"gpt-4.1",  "messages":[{"role":"user","content":"hi"}], "max_tokens": 5}'
    headers = {"content-type": "application/json", "authorization": "Bearer sk-openai", "accept-encoding": "gzip"}
    status, _, body = send(envoy.url, "POST", "/v1/chat/completions?x=1", request, headers)
    assert (status, body) == (200, answer)
    (received,) = upstream.requests
    assert (received.path, received.body) == ("/v1/chat/completions?x=1", request)
    assert received.header("authorization") == "Bearer sk-openai"
    assert received.header("accept-encoding") == "gzip"


@pytest.mark.parametrize("method,path,request_body", [
    ("GET", "/v1/models?limit=2", None),
    ("POST", "/v1/messages/batches", b'{"requests":[]}'),
])
def test_other_paths_pass_through(envoy, upstream, method, path, request_body):
    answer = b'{"object":"list","data":[]}'
    upstream.push(Reply(200, [("content-type", "application/json")], answer))
    headers = {"x-api-key": "sk-test", "anthropic-version": "2023-06-01"}
    status, _, body = send(envoy.url, method, path, request_body, headers)
    assert (status, body) == (200, answer)
    (received,) = upstream.requests
    assert (received.method, received.path, received.body) == (method, path, request_body or b"")
    assert received.header("x-api-key") == "sk-test"
