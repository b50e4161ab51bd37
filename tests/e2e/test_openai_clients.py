"""Tier 3: OpenAI clients -> real Envoy with the bridge -> a mock Anthropic upstream.

Envoy runs the shipped envoy/envoy-openai-clients.yaml (`openai_envoy`;
`{"upstream_protocol": "anthropic", ...}`), the client is the official `openai`
SDK. Each test checks both sides: what the upstream received
(docs/openai_client.md#request-mapping, #headers) and what the client got back
(#response-mapping, #stream-event-grammar, #errors-and-status-mapping,
#reasoning-round-trip). Upstream answers are recorded Anthropic payloads from
fixtures/anthropic/; the expected client view is derived from them by the
docs/ rules in payloads.py.
"""

import base64
import http.client
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import envoy_config
import openai
import pytest
from mock_upstream import Reply, json_reply, sse_reply
from payloads import (
    FINISH_REASON,
    THINKING_BUDGET,
    anthropic_events,
    answer_of_message,
    fixture_bytes,
    fixture_json,
    fold_anthropic_stream,
)
from rawhttp import post_json, send, sse_events

MODEL = "claude-sonnet-4-5"
API_KEY = "sk-ant-test"
OPENAI_CLIENTS_TEMPLATE = envoy_config.OPENAI_CLIENTS_TEMPLATE
ANTHROPIC_VERSION = "2023-06-01"  # what envoy-openai-clients.yaml configures (and the default)
DEFAULT_MAX_TOKENS = 4096  # docs/configuration.md#configuration-reference
MESSAGES = {
    "text": "anthropic/msg-text.json",
    "cache-read": "anthropic/msg-cache-read.json",
    "cache-creation": "anthropic/msg-cache-creation.json",
    "tool-use": "anthropic/msg-tool-use.json",
    "thinking": "anthropic/msg-thinking-signature.json",
    "redacted-thinking": "anthropic/msg-redacted-thinking.json",
    "max-tokens": "anthropic/msg-max-tokens-bedrock.json",
}
STREAMS = {
    "text": "anthropic/stream-text-minimal.sse",
    "thinking": "anthropic/stream-thinking-signature.sse",
    "parallel-tools": "anthropic/stream-tool-use-parallel.sse",
    "text-then-tool": "anthropic/docs-stream-text-then-tool-use.sse",
    "stop-sequence": "anthropic/stream-stop-sequence.sse",
}
OVERLOADED = "anthropic/docs-stream-error-overloaded.sse"
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "location": {"type": "string", "description": "City and state"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["location"],
}
HI = [{"role": "user", "content": "hi"}]


def client_for(envoy, **options):
    """The official SDK pointed at Envoy with an Anthropic key, no retries."""
    return openai.OpenAI(base_url=f"{envoy.url}/v1", api_key=API_KEY, max_retries=0, timeout=30, **options)


def stream_fixture(name):
    return fixture_bytes(STREAMS[name])


def field_of(model, name):
    """A field of an SDK object, whether the SDK declares it or keeps it in model_extra."""
    extra = model.model_extra or {}
    return extra[name] if name in extra else getattr(model, name, None)


def tools_for(answer):
    """OpenAI function tools named like the answer's tool calls (the SDK's
    stream helper looks them up), or NOT_GIVEN."""
    names = dict.fromkeys(call["name"] for call in answer.tool_calls)
    tools = [{"type": "function", "function": {"name": name, "description": f"{name} tool",
                                               "parameters": {"type": "object"}}} for name in names]
    return tools or openai.NOT_GIVEN


def blocks(content):
    """Anthropic message content as a list of blocks (a string is one text block)."""
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


BREAKPOINT = {"type": "ephemeral"}


def breakpoints(body):
    """Where the request's prompt-cache breakpoints are: ("tools", i),
    ("system", i) or ("messages", i, j)."""
    found = [("tools", i) for i, t in enumerate(body.get("tools") or []) if t.get("cache_control")]
    system = body.get("system")
    if isinstance(system, list):
        found += [("system", i) for i, b in enumerate(system) if b.get("cache_control")]
    for i, message in enumerate(body["messages"]):
        if isinstance(message["content"], list):
            found += [("messages", i, j) for j, b in enumerate(message["content"]) if b.get("cache_control")]
    return found


def uncached(value):
    """`value` without its `cache_control` breakpoints (placed by default,
    tested in test_prompt_cache_breakpoints)."""
    if isinstance(value, dict):
        return {k: uncached(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [uncached(v) for v in value]
    return value


def texts(content):
    """The texts of a string-or-text-blocks value (system, tool_result content)."""
    if content is None:
        return []
    assert all(block["type"] == "text" for block in blocks(content)), content
    return [block["text"] for block in blocks(content)]


def usage_of(usage):
    """An SDK CompletionUsage in the shape of payloads.openai_usage()."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "cached_tokens": usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details else None,
    }


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def assert_completion(completion, answer):
    """A non-streaming ChatCompletion is the image of the upstream message (docs/openai_client.md#response-mapping)."""
    assert completion.object == "chat.completion"
    assert completion.id and isinstance(completion.created, int)
    assert completion.model == answer.model
    (choice,) = completion.choices
    assert choice.index == 0 and choice.finish_reason == answer.finish_reason
    message = choice.message
    assert message.role == "assistant"
    # "content = text blocks joined (null when only tool calls)"
    assert message.content == (None if not answer.text and answer.tool_calls else answer.text)
    calls = message.tool_calls or []
    assert [(c.id, c.type, c.function.name) for c in calls] == [
        (call["id"], "function", call["name"]) for call in answer.tool_calls]
    # "`arguments` = compact JSON string" of the tool_use input
    assert [c.function.arguments for c in calls] == [compact(call["input"]) for call in answer.tool_calls]
    assert field_of(message, "reasoning_content") == (answer.reasoning or None)
    assert field_of(message, "thinking_blocks") == (answer.thinking_blocks or None)
    assert usage_of(completion.usage) == answer.usage


def fold_chunks(chunks):
    """Check the framing of SDK chunks (docs/openai_client.md#client-events) and
    accumulate them: (text, reasoning, thinking_blocks, tool calls, finish
    reasons, usage chunks)."""
    assert chunks, "no chunks"
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert len({(c.id, c.created, c.model) for c in chunks}) == 1, "id/created/model differ between chunks"
    first = chunks[0].choices[0].delta
    assert (first.role, first.content) == ("assistant", "")  # message_start -> delta {role: assistant, content: ""}
    text, reasoning, thinking_blocks, calls, finishes, usages = "", "", [], {}, [], []
    for chunk in chunks:
        if chunk.usage is not None:
            usages.append(chunk)
        for choice in chunk.choices:
            assert choice.index == 0
            delta = choice.delta
            text += delta.content or ""
            reasoning += field_of(delta, "reasoning_content") or ""
            thinking_blocks += field_of(delta, "thinking_blocks") or []
            for call in delta.tool_calls or []:
                if call.index not in calls:
                    # The first delta of a call opens it: id, type, name, arguments "".
                    assert call.id and call.type == "function" and call.function.name, call
                    assert call.function.arguments == "", call
                    calls[call.index] = {"id": call.id, "name": call.function.name, "arguments": ""}
                else:
                    assert call.id in (None, calls[call.index]["id"])
                calls[call.index]["arguments"] += call.function.arguments or ""
            if choice.finish_reason is not None:
                finishes.append(choice.finish_reason)
    assert list(calls) == list(range(len(calls))), "tool call indexes are not 0, 1, ... in order"
    tool_calls = [{"id": c["id"], "name": c["name"], "input": json.loads(c["arguments"] or "{}")}
                  for c in calls.values()]
    return text, reasoning, thinking_blocks, tool_calls, finishes, usages


def assert_streamed(chunks, answer, include_usage=True):
    text, reasoning, thinking_blocks, tool_calls, finishes, usages = fold_chunks(chunks)
    assert chunks[0].model == answer.model
    assert text == answer.text
    assert reasoning == answer.reasoning
    assert thinking_blocks == answer.thinking_blocks
    assert tool_calls == answer.tool_calls
    assert finishes == [answer.finish_reason]  # exactly one finish_reason
    if include_usage:
        # One usage chunk, the last, with empty choices.
        assert usages == [chunks[-1]] and chunks[-1].choices == []
        assert usage_of(chunks[-1].usage) == answer.usage
    else:
        assert usages == [] and all(chunk.choices for chunk in chunks)


def error_of(body):
    """The OpenAI error envelope, checked: exactly {"error": {message, type, param, code}}."""
    payload = json.loads(body)
    assert list(payload) == ["error"]
    error = payload["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    assert error["param"] is None
    assert error["code"] is None or isinstance(error["code"], str)
    return error


def anthropic_error(kind, message):
    """An Anthropic error body (docs/protocols.md#anthropic-messages shape)."""
    return {"type": "error", "error": {"type": kind, "message": message}}


def events_until(data, stop_type):
    """The SSE bytes of `data` up to (not including) the first event of `stop_type`."""
    events = data.split(b"\n\n")
    kept = []
    for event in events:
        if f'"type":"{stop_type}"'.encode() in event.replace(b" ", b""):
            break
        kept.append(event + b"\n\n")
    assert len(kept) < len(events), f"{stop_type} not in the stream"
    return b"".join(kept)


# ------------------------------------------------------------------ requests


def test_text_request_headers_and_body(openai_envoy, upstream):
    message = fixture_json(MESSAGES["text"])
    upstream.push(json_reply(message))
    client = client_for(openai_envoy, organization="org-test", project="proj-test")
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": "Hello!"},
            {"role": "user", "content": [{"type": "text", "text": "How are you?"}]},
            {"role": "assistant", "content": "Bonjour."},
            {"role": "user", "content": "Again?"},
        ],
        temperature=1.5,
        top_p=0.9,
        stop="END",
        user="user-42",
        frequency_penalty=0.5,
        presence_penalty=0.5,
        seed=7,
        logit_bias={"50256": -100},
        logprobs=True,
        top_logprobs=2,
        extra_headers={"accept-encoding": "gzip"},
    )

    (received,) = upstream.requests
    assert (received.method, received.path) == ("POST", "/v1/messages")
    assert received.header("x-api-key") == API_KEY
    assert received.header("anthropic-version") == ANTHROPIC_VERSION
    names = received.header_names
    assert "authorization" not in names and "accept-encoding" not in names
    assert not [n for n in names if n.startswith(("openai-", "x-stainless-"))]
    # docs/README.md#what-the-proxy-wasm-host-allows: content-length is removed, the converted body goes chunked.
    assert "content-length" not in names and received.chunked
    body = uncached(received.json)
    assert body["model"] == MODEL
    assert body["max_tokens"] == DEFAULT_MAX_TOKENS  # the client sent none
    assert body["temperature"] == 1.0  # clamped to [0, 1]
    assert (body["top_p"], body["stop_sequences"], body["metadata"]) == (0.9, ["END"], {"user_id": "user-42"})
    # Every system and developer message -> `system` text blocks, in order.
    assert texts(body["system"]) == ["You are terse.", "Answer in French."]
    # Consecutive same-role messages are merged.
    assert [(m["role"], blocks(m["content"])) for m in body["messages"]] == [
        ("user", [{"type": "text", "text": "Hello!"}, {"type": "text", "text": "How are you?"}]),
        ("assistant", [{"type": "text", "text": "Bonjour."}]),
        ("user", [{"type": "text", "text": "Again?"}]),
    ]
    # Built field by field: penalties, seed, logit_bias and logprobs are dropped.
    assert set(body) - {"stream"} == {
        "model", "messages", "system", "max_tokens", "temperature", "top_p", "stop_sequences", "metadata"}
    assert not body.get("stream")

    assert_completion(completion, answer_of_message(message))


@pytest.mark.parametrize("limit", ["max_completion_tokens", "max_tokens"])
def test_single_system_message_is_a_string_and_max_tokens_kept(start_envoy, upstream, limit):
    """A string when there is one, and no breakpoints (`prompt_caching: false`)."""
    envoy = start_envoy(template=OPENAI_CLIENTS_TEMPLATE,
                        plugin_config={"upstream_protocol": "anthropic", "prompt_caching": False})
    upstream.push(json_reply(fixture_json(MESSAGES["text"])))
    client_for(envoy).chat.completions.create(
        model=MODEL, stop=["END", "  ", "STOP"], **{limit: 321},
        messages=[{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi"},
                  {"role": "assistant", "content": ""},
                  {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "there"}]}])
    body = upstream.requests[0].json
    assert body["system"] == "Be brief."  # "string when there is one"
    assert body["max_tokens"] == 321
    assert body["stop_sequences"] == ["END", "STOP"]  # whitespace-only entries dropped
    # The empty assistant message is dropped, the user turns around it are
    # merged, and the empty text part is dropped.
    assert [(m["role"], texts(m["content"])) for m in body["messages"]] == [("user", ["hi", "there"])]
    assert "cache_control" not in json.dumps(body)


def test_bearer_upstream_auth_keeps_authorization(start_envoy, upstream):
    envoy = start_envoy(template=OPENAI_CLIENTS_TEMPLATE,
                        plugin_config={"upstream_protocol": "anthropic", "upstream_auth": "bearer"})
    upstream.push(json_reply(fixture_json(MESSAGES["text"])))
    client_for(envoy).chat.completions.create(model=MODEL, messages=HI)
    (received,) = upstream.requests
    assert received.path == "/v1/messages"
    assert received.header("authorization") == f"Bearer {API_KEY}"
    assert "x-api-key" not in received.header_names
    assert received.header("anthropic-version") == ANTHROPIC_VERSION


def test_client_anthropic_version_wins_and_path_prefix_kept(openai_envoy, upstream):
    """docs/openai_client.md#headers: anthropic-version is set from the config
    unless the client sent one; docs/configuration.md#keys-in-detail: the path prefix is kept and the
    client's query string dropped."""
    upstream.push(json_reply(fixture_json(MESSAGES["text"])))
    client = openai.OpenAI(base_url=f"{openai_envoy.url}/anthropic/v1", api_key=API_KEY, max_retries=0)
    client.chat.completions.create(model=MODEL, messages=HI, extra_headers={"anthropic-version": "2099-01-01"},
                                   extra_query={"api-version": "2024-10-21"})
    (received,) = upstream.requests
    assert received.path == "/anthropic/v1/messages"
    assert received.header("anthropic-version") == "2099-01-01"


def test_tool_round_trip(openai_envoy, upstream):
    message = fixture_json(MESSAGES["tool-use"])
    upstream.push(json_reply(message))
    paris, tokyo = {"location": "Paris, France"}, {"location": "Tokyo", "unit": "celsius"}
    tools = [
        {"type": "function", "function": {"name": "get_weather", "description": "Get the current weather",
                                          "parameters": WEATHER_SCHEMA}},
        {"type": "function", "function": {"name": "get_time", "description": "Current time"}},
    ]
    completion = client_for(openai_envoy).chat.completions.create(
        model=MODEL,
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        parallel_tool_calls=False,
        messages=[
            {"role": "user", "content": "Weather in Paris and Tokyo?"},
            {"role": "assistant", "content": "Let me check both.", "tool_calls": [
                {"id": "toolu_01", "type": "function",
                 "function": {"name": "get_weather", "arguments": json.dumps(paris)}},
                {"id": "toolu_02", "type": "function",
                 "function": {"name": "get_weather", "arguments": json.dumps(tokyo, indent=2)}},
            ]},
            {"role": "tool", "tool_call_id": "toolu_01", "content": "18 C, sunny"},
            {"role": "tool", "tool_call_id": "toolu_02", "content": [{"type": "text", "text": "station offline"}]},
            {"role": "user", "content": "And Boston?"},
        ],
    )

    body = uncached(upstream.requests[0].json)
    assert [(t["name"], t.get("description"), t["input_schema"]) for t in body["tools"]] == [
        ("get_weather", "Get the current weather", WEATHER_SCHEMA),
        ("get_time", "Current time", {"type": "object"}),  # no parameters -> {"type": "object"}
    ]
    assert all(t.get("type") in (None, "custom") for t in body["tools"])
    assert body["tool_choice"] == {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}
    user, assistant, results = body["messages"]
    assert (user["role"], blocks(user["content"])) == ("user", [{"type": "text", "text": "Weather in Paris and Tokyo?"}])
    assert assistant["role"] == "assistant"
    assert assistant["content"] == [
        {"type": "text", "text": "Let me check both."},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": paris},
        {"type": "tool_use", "id": "toolu_02", "name": "get_weather", "input": tokyo},
    ]
    # Consecutive tool messages and the user message after them: ONE user message, results first.
    assert results["role"] == "user"
    *tool_results, follow_up = results["content"]
    assert [(r["type"], r["tool_use_id"], texts(r["content"])) for r in tool_results] == [
        ("tool_result", "toolu_01", ["18 C, sunny"]), ("tool_result", "toolu_02", ["station offline"])]
    assert follow_up == {"type": "text", "text": "And Boston?"}

    assert_completion(completion, answer_of_message(message))


def test_prompt_cache_breakpoints(openai_envoy, upstream):
    """OpenAI clients expect automatic prompt caching: the last tool, the
    system prompt and the last two user turns carry Anthropic breakpoints,
    and cache reads come back as cached tokens."""
    message = fixture_json("anthropic/msg-cache-read.json")
    upstream.push(json_reply(message))
    completion = client_for(openai_envoy).chat.completions.create(
        model=MODEL,
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}},
               {"type": "function", "function": {"name": "get_time"}}],
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "toolu_01", "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'}}]},
            {"role": "tool", "tool_call_id": "toolu_01", "content": "18 C, sunny"},
            {"role": "assistant", "content": "Sunny."},
            {"role": "user", "content": "And Boston?"},
        ],
    )
    body = upstream.requests[0].json
    assert breakpoints(body) == [("tools", 1), ("system", 0), ("messages", 2, 0), ("messages", 4, 0)]
    assert body["tools"][1]["cache_control"] == BREAKPOINT
    assert body["messages"][2]["content"][0]["type"] == "tool_result"
    assert body["messages"][4]["content"][0]["text"] == "And Boston?"
    read = message["usage"]["cache_read_input_tokens"]
    assert read > 0
    assert completion.usage.prompt_tokens_details.cached_tokens == read


@pytest.mark.parametrize("tool_choice,parallel,expected", [
    ("auto", openai.NOT_GIVEN, {"type": "auto"}),
    ("none", openai.NOT_GIVEN, {"type": "none"}),
    ("required", openai.NOT_GIVEN, {"type": "any"}),
    ({"type": "function", "function": {"name": "get_weather"}}, openai.NOT_GIVEN,
     {"type": "tool", "name": "get_weather"}),
    (openai.NOT_GIVEN, False, {"type": "auto", "disable_parallel_tool_use": True}),
    ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
], ids=["auto", "none", "required", "function", "parallel-off", "required-parallel-off"])
def test_tool_choice(openai_envoy, upstream, tool_choice, parallel, expected):
    upstream.push(json_reply(fixture_json(MESSAGES["tool-use"])))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}]
    client_for(openai_envoy).chat.completions.create(
        model=MODEL, messages=HI, tools=tools, tool_choice=tool_choice, parallel_tool_calls=parallel)
    assert upstream.requests[0].json["tool_choice"] == expected


def test_images_and_pdf(openai_envoy, upstream):
    """docs/openai_client.md#message-rules: image_url data/https URLs and PDF files."""
    upstream.push(json_reply(fixture_json(MESSAGES["text"])))
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(64)).decode()
    pdf = base64.b64encode(b"%PDF-1.4\n%%EOF").decode()
    client_for(openai_envoy).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [
        {"type": "text", "text": "Compare these."},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}},
        {"type": "file", "file": {"filename": "notes.pdf", "file_data": f"data:application/pdf;base64,{pdf}"}},
    ]}])
    parts = upstream.requests[0].json["messages"][0]["content"]
    assert [part["type"] for part in parts] == ["text", "image", "image", "document"]
    assert parts[0]["text"] == "Compare these."
    assert parts[1]["source"] == {"type": "base64", "media_type": "image/png", "data": png}
    assert parts[2]["source"] == {"type": "url", "url": "https://example.com/cat.jpg"}
    assert parts[3]["source"] == {"type": "base64", "media_type": "application/pdf", "data": pdf}


def test_response_format_json_schema(openai_envoy, upstream):
    upstream.push(json_reply(fixture_json(MESSAGES["text"])))
    client_for(openai_envoy).chat.completions.create(model=MODEL, messages=HI, response_format={
        "type": "json_schema", "json_schema": {"name": "weather", "schema": WEATHER_SCHEMA, "strict": True}})
    body = upstream.requests[0].json
    assert body["output_config"]["format"] == {"type": "json_schema", "schema": WEATHER_SCHEMA}


@pytest.mark.parametrize("effort", [*THINKING_BUDGET, "none"])
def test_reasoning_effort_becomes_thinking(openai_envoy, upstream, effort):
    """docs/openai_client.md#request-mapping: reasoning_effort -> thinking budget; with thinking on,
    temperature/top_p are dropped, tool_choice any becomes auto, and max_tokens
    is raised above the budget."""
    upstream.push(json_reply(fixture_json(MESSAGES["thinking"])))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}]
    client_for(openai_envoy).chat.completions.create(
        model=MODEL, messages=HI, reasoning_effort=effort, temperature=0.5, top_p=0.9,
        tools=tools, tool_choice="required")
    body = upstream.requests[0].json
    if effort == "none":
        assert "thinking" not in body
        assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.5, 0.9, DEFAULT_MAX_TOKENS)
        assert body["tool_choice"] == {"type": "any"}
        return
    budget = THINKING_BUDGET[effort]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert "temperature" not in body and "top_p" not in body
    assert body["max_tokens"] > budget and body["max_tokens"] >= DEFAULT_MAX_TOKENS
    assert body["tool_choice"] == {"type": "auto"}


def test_model_map(start_envoy, upstream):
    config = {"upstream_protocol": "anthropic", "model_map": {"gpt-4o": "claude-sonnet-4-5"}}
    envoy = start_envoy(template=OPENAI_CLIENTS_TEMPLATE, plugin_config=config)
    message = fixture_json(MESSAGES["text"])
    upstream.push(json_reply(message), json_reply(message))
    client = client_for(envoy)
    completions = [client.chat.completions.create(model=model, messages=HI) for model in ("gpt-4o", "gpt-4o-mini")]
    # Exact names only: gpt-4o-mini is unmapped and passes through.
    assert [r.json["model"] for r in upstream.requests] == ["claude-sonnet-4-5", "gpt-4o-mini"]
    assert [c.model for c in completions] == [message["model"]] * 2


def test_configured_limits_path_and_version(start_envoy, upstream):
    """docs/configuration.md#keys-in-detail for an Anthropic upstream: default_max_tokens,
    max_tokens_limit (clamps what the client asked for), upstream_path and
    anthropic_version."""
    config = {"upstream_protocol": "anthropic", "upstream_path": "/anthropic/v1/messages",
              "default_max_tokens": 1000, "max_tokens_limit": 2000, "anthropic_version": "2023-01-01"}
    envoy = start_envoy(template=OPENAI_CLIENTS_TEMPLATE, plugin_config=config)
    upstream.push(*[json_reply(fixture_json(MESSAGES["text"])) for _ in range(2)])
    client = client_for(envoy)
    client.chat.completions.create(model=MODEL, messages=HI)
    client.chat.completions.create(model=MODEL, messages=HI, max_completion_tokens=64000)
    assert [r.json["max_tokens"] for r in upstream.requests] == [1000, 2000]
    assert {r.path for r in upstream.requests} == {"/anthropic/v1/messages"}
    assert {r.header("anthropic-version") for r in upstream.requests} == {"2023-01-01"}


def test_request_over_max_request_bytes_gets_413(start_envoy, upstream):
    envoy = start_envoy(template=OPENAI_CLIENTS_TEMPLATE,
                        plugin_config={"upstream_protocol": "anthropic", "max_request_bytes": 1024})
    with pytest.raises(openai.APIStatusError) as raised:
        client_for(envoy).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x" * 4096}])
    assert raised.value.status_code == 413
    error_of(raised.value.response.content)
    time.sleep(0.2)  # give a leaked, reset request a moment to show up
    assert upstream.requests == [] and upstream.aborted == []


# ------------------------------------------------------------ non-streaming


@pytest.mark.parametrize("name", MESSAGES)
def test_create_translates_message(openai_envoy, upstream, name):
    message = fixture_json(MESSAGES[name])
    answer = answer_of_message(message)
    upstream.push(json_reply(message))
    completion = client_for(openai_envoy).chat.completions.create(
        model=MODEL, messages=HI, tools=tools_for(answer))
    assert_completion(completion, answer)


@pytest.mark.parametrize("stop_reason", FINISH_REASON)
def test_every_stop_reason(openai_envoy, upstream, stop_reason):
    """msg-text.json and stream-text-minimal.sse with each stop_reason of
    docs/openai_client.md#response-mapping, non-streaming and streaming."""
    message = {**fixture_json(MESSAGES["text"]), "stop_reason": stop_reason}
    data = stream_fixture("text").replace(b'"stop_reason":"end_turn"', f'"stop_reason":"{stop_reason}"'.encode())
    assert fold_anthropic_stream(data).finish_reason == FINISH_REASON[stop_reason]
    upstream.push(json_reply(message), sse_reply(data, piece=5, delay=0.0002))
    client = client_for(openai_envoy)
    completion = client.chat.completions.create(model=MODEL, messages=HI)
    assert completion.choices[0].finish_reason == FINISH_REASON[stop_reason]
    chunks = list(client.chat.completions.create(model=MODEL, messages=HI, stream=True))
    assert_streamed(chunks, fold_anthropic_stream(data), include_usage=False)


def test_stream_usage_with_cache_tokens(openai_envoy, upstream):
    """stream-text-minimal.sse with the cache counts msg-cache-read.json and
    msg-cache-creation.json recorded: prompt_tokens includes both, cached_tokens
    is the read."""
    read = fixture_json(MESSAGES["cache-read"])["usage"]["cache_read_input_tokens"]
    created = fixture_json(MESSAGES["cache-creation"])["usage"]["cache_creation_input_tokens"]
    data = (stream_fixture("text")
            .replace(b'"cache_read_input_tokens":0', f'"cache_read_input_tokens":{read}'.encode())
            .replace(b'"cache_creation_input_tokens":0', f'"cache_creation_input_tokens":{created}'.encode()))
    answer = fold_anthropic_stream(data)
    assert answer.usage["cached_tokens"] == read and answer.usage["prompt_tokens"] > read + created
    upstream.push(sse_reply(data, piece=5, delay=0.0002))
    chunks = list(client_for(openai_envoy).chat.completions.create(
        model=MODEL, messages=HI, stream=True, stream_options={"include_usage": True}))
    assert_streamed(chunks, answer)


def assistant_turn_from_stream(client):
    """Stream the recorded thinking answer and rebuild the assistant message
    an app would send back: content plus the thinking_blocks it received."""
    chunks = list(client.chat.completions.create(model=MODEL, messages=HI, stream=True))
    text, _, thinking_blocks, _, _, _ = fold_chunks(chunks)
    return {"role": "assistant", "content": text, "thinking_blocks": thinking_blocks}


def assistant_turn_from_create(client):
    """The non-streaming reply, dumped as it came (extra fields included)."""
    message = client.chat.completions.create(model=MODEL, messages=HI).choices[0].message
    return message.model_dump(exclude_none=True)


@pytest.mark.parametrize("source,reply", [
    ("create", MESSAGES["thinking"]),
    ("create", MESSAGES["redacted-thinking"]),
    ("stream", STREAMS["thinking"]),
], ids=["thinking", "redacted-thinking", "streamed-thinking"])
def test_thinking_blocks_round_trip(openai_envoy, upstream, source, reply):
    """docs/openai_client.md#reasoning-round-trip: the thinking_blocks a client received come back in
    its next request and reach the upstream verbatim, signatures unchanged,
    first in the assistant turn."""
    if source == "create":
        answer = answer_of_message(fixture_json(reply))
        upstream.push(json_reply(fixture_bytes(reply)))
    else:
        answer = fold_anthropic_stream(fixture_bytes(reply))
        upstream.push(sse_reply(fixture_bytes(reply), piece=64, delay=0.0002))
    upstream.push(json_reply(fixture_json(MESSAGES["text"])))
    client = client_for(openai_envoy)
    assistant = assistant_turn_from_create(client) if source == "create" else assistant_turn_from_stream(client)
    assert assistant["thinking_blocks"] == answer.thinking_blocks

    client.chat.completions.create(model=MODEL, messages=[*HI, assistant, {"role": "user", "content": "Sure?"}])
    history = upstream.requests[1].json["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "user"]
    assert history[1]["content"] == [*answer.thinking_blocks, {"type": "text", "text": answer.text}]


# ---------------------------------------------------------------- streaming


@pytest.mark.parametrize("piece", [None, 5], ids=["whole", "5-byte-pieces"])
@pytest.mark.parametrize("name", STREAMS)
def test_stream_chunks(openai_envoy, upstream, name, piece):
    data = stream_fixture(name)
    answer = fold_anthropic_stream(data)
    upstream.push(sse_reply(data, piece=piece, delay=0.0002 if piece else 0))
    stream = client_for(openai_envoy).chat.completions.create(
        model=MODEL, messages=HI, tools=tools_for(answer), stream=True, stream_options={"include_usage": True})
    chunks = list(stream)  # ends at [DONE] without raising

    body = upstream.requests[0].json
    assert body["stream"] is True and "stream_options" not in body
    assert_streamed(chunks, answer)


def sse_event(payload):
    return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()


def server_tool_stream():
    """A web-search answer shaped like Anthropic's documented one: text, a
    server_tool_use block and its web_search_tool_result (both ran on
    Anthropic's side), cited text, then a client tool call."""
    citation = {"type": "web_search_result_location", "url": "https://example.com/paris",
                "title": "Paris weather", "encrypted_index": "Eo8BCioIAhgBIiQyYjQ0", "cited_text": "Sunny"}
    blocks = [
        ({"type": "text", "text": ""}, [{"type": "text_delta", "text": "Let me search."}]),
        ({"type": "server_tool_use", "id": "srvtoolu_01", "name": "web_search", "input": {}},
         [{"type": "input_json_delta", "partial_json": '{"query": "paris weather"}'}]),
        ({"type": "web_search_tool_result", "tool_use_id": "srvtoolu_01", "content": [
            {"type": "web_search_result", "url": "https://example.com/paris", "title": "Paris weather",
             "encrypted_content": "EqgfCioIARgBIiQ3YTAw", "page_age": None}]}, []),
        ({"type": "text", "text": ""}, [{"type": "citations_delta", "citation": citation},
                                        {"type": "text_delta", "text": " It is sunny."}]),
        ({"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {}},
         [{"type": "input_json_delta", "partial_json": '{"location": '},
          {"type": "input_json_delta", "partial_json": '"Paris"}'}]),
    ]
    events = [{"type": "message_start", "message": {
        "id": "msg_01search", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 2679, "cache_read_input_tokens": 0, "output_tokens": 3,
                  "server_tool_use": {"web_search_requests": 0}}}}]
    for index, (block, deltas) in enumerate(blocks):
        events.append({"type": "content_block_start", "index": index, "content_block": block})
        events += [{"type": "content_block_delta", "index": index, "delta": delta} for delta in deltas]
        events.append({"type": "content_block_stop", "index": index})
    events += [{"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": 510, "server_tool_use": {"web_search_requests": 1}}},
               {"type": "message_stop"}]
    return b"".join(sse_event(event) for event in events)


def test_server_tool_blocks_are_not_tool_calls(openai_envoy, upstream):
    """docs/openai_client.md#rules-connecting-them: server-side tool blocks ran on Anthropic's side; they
    are not tool_calls, text around them flows on, citations_delta is dropped,
    and the client tool after them is tool call 0."""
    data = server_tool_stream()
    answer = fold_anthropic_stream(data)
    assert [call["id"] for call in answer.tool_calls] == ["toolu_01"]
    upstream.push(sse_reply(data, piece=5, delay=0.0002))
    chunks = list(client_for(openai_envoy).chat.completions.create(
        model=MODEL, messages=HI, tools=tools_for(answer), stream=True, stream_options={"include_usage": True}))
    assert_streamed(chunks, answer)


@pytest.mark.parametrize("name", ["text", "parallel-tools"])
def test_stream_without_include_usage_has_no_usage_chunk(openai_envoy, upstream, name):
    data = stream_fixture(name)
    upstream.push(sse_reply(data, piece=5, delay=0.0002))
    chunks = list(client_for(openai_envoy).chat.completions.create(
        model=MODEL, messages=HI, stream=True, tools=tools_for(fold_anthropic_stream(data))))
    assert_streamed(chunks, fold_anthropic_stream(data), include_usage=False)


@pytest.mark.parametrize("name", ["parallel-tools", "text-then-tool"])
def test_stream_helper_accumulates_tool_calls(openai_envoy, upstream, name):
    """The SDK's own accumulator (`chat.completions.stream`) over 5-byte pieces."""
    data = stream_fixture(name)
    answer = fold_anthropic_stream(data)
    upstream.push(sse_reply(data, piece=5, delay=0.0002))
    with client_for(openai_envoy).chat.completions.stream(
        model=MODEL, messages=HI, tools=tools_for(answer), stream_options={"include_usage": True},
    ) as stream:
        events = list(stream)
        final = stream.get_final_completion()

    done = [e for e in events if e.type == "tool_calls.function.arguments.done"]
    assert [(e.index, e.name, json.loads(e.arguments)) for e in done] == [
        (k, call["name"], call["input"]) for k, call in enumerate(answer.tool_calls)]
    assert [e.content for e in events if e.type == "content.done"] == [answer.text]
    (choice,) = final.choices
    assert choice.finish_reason == answer.finish_reason == "tool_calls"
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls] == [
        (call["id"], call["name"], call["input"]) for call in answer.tool_calls]
    assert choice.message.content == answer.text
    assert usage_of(final.usage) == answer.usage


@pytest.mark.parametrize("name", STREAMS)
def test_stream_raw_framing(openai_envoy, upstream, name):
    """The SSE framing the SDK partly hides: `data:` events only, pings as
    comments, `data: [DONE]` last."""
    data = stream_fixture(name)
    upstream.push(sse_reply(data, piece=5, delay=0.0002))
    payload = {"model": MODEL, "stream": True, "messages": HI}
    status, headers, body = post_json(openai_envoy.url, "/v1/chat/completions", payload,
                                      {"authorization": f"Bearer {API_KEY}"})
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    events = sse_events(body)
    assert events[-1] == (None, "[DONE]") and [e for e in events if e[1] == "[DONE]"] == [events[-1]]
    pings = sum(1 for event in anthropic_events(data) if event["type"] == "ping")
    assert [e for e in events if e[0] is not None] == [("comment", "ping")] * pings
    for event_name, text in events[:-1]:
        if event_name is None:
            assert json.loads(text)["object"] == "chat.completion.chunk"


def test_stream_events_are_not_held_back(openai_envoy, upstream):
    """docs/protocols.md#sse-framing: a chunk is forwarded as soon as its event is whole.
    The upstream sends the first text delta, then stalls."""
    data = stream_fixture("thinking")
    head = events_until(data, "signature_delta")
    stall = 1.5
    upstream.push(Reply(200, [("content-type", "text/event-stream")], chunks=[head, stall, data[len(head):]]))
    started = time.monotonic()
    stream = client_for(openai_envoy).chat.completions.create(model=MODEL, messages=HI, stream=True)
    reasoning, first_after = "", None
    for chunk in stream:
        piece = chunk.choices and field_of(chunk.choices[0].delta, "reasoning_content")
        if piece and first_after is None:
            first_after = time.monotonic() - started
        reasoning += piece or ""
    assert first_after is not None and first_after < stall * 0.75
    assert reasoning == fold_anthropic_stream(data).reasoning


def test_concurrent_streams_keep_their_own_state(openai_envoy, upstream):
    """Streams interleaved on Envoy's single worker each get their own
    conversion. The upstream picks the fixture named by the prompt."""
    streams = {name: stream_fixture(name) for name in STREAMS}
    upstream.responder = lambda request: sse_reply(
        streams[texts(request.json["messages"][-1]["content"])[-1]], piece=16, delay=0.0002)

    def converse(name):
        answer = fold_anthropic_stream(streams[name])
        chunks = list(client_for(openai_envoy).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": name}], tools=tools_for(answer),
            stream=True, stream_options={"include_usage": True}))
        return chunks, answer

    names = list(STREAMS) * 2
    with ThreadPoolExecutor(len(names)) as pool:
        results = list(pool.map(converse, names))
    for chunks, answer in results:
        assert_streamed(chunks, answer)
    assert len(upstream.requests) == len(names)


# ------------------------------------------------------------------- errors


@pytest.mark.parametrize("status,body,error_class", [
    (400, fixture_bytes("anthropic/error-400-invalid-request.json"), openai.BadRequestError),
    (401, json.dumps(anthropic_error("authentication_error", "invalid x-api-key")).encode(),
     openai.AuthenticationError),
    (404, fixture_bytes("anthropic/error-404-not-found.json"), openai.NotFoundError),
    (429, json.dumps(anthropic_error("rate_limit_error", "Number of request tokens has exceeded your "
                                     "per-minute rate limit")).encode(), openai.RateLimitError),
], ids=["400", "401", "404", "429"])
def test_upstream_error_raises_typed_exception(openai_envoy, upstream, status, body, error_class):
    upstream.push(json_reply(body, status, [("retry-after", "3"), ("request-id", "req_011CVEA3SF7rnb3DuBZytqQa")]))
    with pytest.raises(error_class) as raised:
        client_for(openai_envoy).chat.completions.create(model=MODEL, messages=HI)
    error = raised.value
    assert error.status_code == status
    assert error.response.headers["content-type"].startswith("application/json")
    envelope = error_of(error.response.content)
    assert envelope["message"].startswith(json.loads(body)["error"]["message"])
    assert error.message and error.body == envelope
    assert error.response.headers["retry-after"] == "3"
    # docs/openai_client.md#headers: the upstream's request id is exposed as x-request-id.
    assert error.request_id == "req_011CVEA3SF7rnb3DuBZytqQa"


@pytest.mark.parametrize("size", [80, 5000], ids=["short", "over-200-bytes"])
def test_upstream_html_error_becomes_message_text(openai_envoy, upstream, size):
    """docs/protocols.md#reading-an-upstream-error-body: a non-JSON error body
    becomes the message text, an excerpt of at most 200 bytes, a cut marked
    with an ellipsis."""
    page = ("<html><body>" + "<p>bad&nbsp;gateway</p>" * size)[:size]
    upstream.push(Reply(502, [("content-type", "text/html")], page.encode()))
    with pytest.raises(openai.InternalServerError) as raised:
        client_for(openai_envoy).chat.completions.create(model=MODEL, messages=HI)
    assert raised.value.status_code == 502
    assert raised.value.response.headers["content-type"].startswith("application/json")
    expected = page if len(page) <= 200 else page[:197] + "\u2026"
    assert error_of(raised.value.response.content)["message"] == expected


def test_overloaded_529_becomes_503(openai_envoy, upstream):
    (overloaded,) = anthropic_events(fixture_bytes(OVERLOADED))
    upstream.push(json_reply(overloaded, 529))
    with pytest.raises(openai.InternalServerError) as raised:
        client_for(openai_envoy).chat.completions.create(model=MODEL, messages=HI)
    assert raised.value.status_code == 503
    assert error_of(raised.value.response.content)["message"].startswith(overloaded["error"]["message"])


def test_streaming_request_answered_with_json_error(openai_envoy, upstream):
    """docs/openai_client.md#errors-and-status-mapping: converted as an error, not as a stream."""
    error = anthropic_error("rate_limit_error", "slow down")
    upstream.push(json_reply(error, 429, [("retry-after", "3")]), json_reply(error, 429, [("retry-after", "3")]))
    with pytest.raises(openai.RateLimitError) as raised:
        client_for(openai_envoy).chat.completions.create(model=MODEL, messages=HI, stream=True)
    assert raised.value.response.headers["retry-after"] == "3"
    assert upstream.requests[0].json["stream"] is True
    status, headers, body = post_json(openai_envoy.url, "/v1/chat/completions",
                                      {"model": MODEL, "stream": True, "messages": HI},
                                      {"authorization": f"Bearer {API_KEY}"})
    assert status == 429
    assert headers["content-type"].startswith("application/json")
    assert error_of(body)["message"].startswith("slow down")


def test_error_event_mid_stream_raises(openai_envoy, upstream):
    data = stream_fixture("text")
    head = events_until(data, "content_block_stop")
    upstream.push(sse_reply(head + fixture_bytes(OVERLOADED), piece=5, delay=0.0002))
    received = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in client_for(openai_envoy).chat.completions.create(model=MODEL, messages=HI, stream=True):
            received.append(chunk)
    (overloaded,) = anthropic_events(fixture_bytes(OVERLOADED))
    assert raised.value.body["message"] == overloaded["error"]["message"]
    # What came before the error reached the client.
    assert "".join(c.choices[0].delta.content or "" for c in received if c.choices) == fold_anthropic_stream(data).text


def test_error_event_mid_stream_raw(openai_envoy, upstream):
    """`data: {"error": {message, type, code}}`, then the stream ends (no [DONE])."""
    head = events_until(stream_fixture("text"), "content_block_stop")
    upstream.push(sse_reply(head + fixture_bytes(OVERLOADED), piece=5, delay=0.0002))
    status, _, body = post_json(openai_envoy.url, "/v1/chat/completions",
                                {"model": MODEL, "stream": True, "messages": HI},
                                {"authorization": f"Bearer {API_KEY}"})
    assert status == 200
    data = [text for name, text in sse_events(body) if name is None]
    assert "[DONE]" not in data
    last = json.loads(data[-1])
    assert set(last["error"]) >= {"message", "type", "code"}
    assert [d for d in data if '"error"' in d] == [data[-1]]


@pytest.mark.parametrize("stop_before", ["message_delta", "message_stop"])
def test_stream_cut_before_message_stop_raises(openai_envoy, upstream, stop_before):
    """An upstream whose stream ends (cleanly, at the HTTP level) before
    message_stop: an error chunk, which the SDK raises."""
    head = events_until(stream_fixture("text"), stop_before)
    upstream.push(sse_reply(head, piece=5, delay=0.0002))
    with pytest.raises(openai.APIError) as raised:
        list(client_for(openai_envoy).chat.completions.create(model=MODEL, messages=HI, stream=True))
    assert raised.value.body["message"]


def assert_module_healthy(envoy, upstream, log_start):
    """The module never trapped and the next request still converts."""
    message = fixture_json(MESSAGES["text"])
    upstream.push(json_reply(message))
    completion = client_for(envoy).chat.completions.create(model=MODEL, messages=HI)
    assert_completion(completion, answer_of_message(message))
    log = envoy.log()[log_start:]
    assert "Function: proxy_on" not in log and "panicked" not in log


def test_upstream_dies_mid_stream(openai_envoy, upstream):
    head = events_until(stream_fixture("text"), "content_block_stop")
    upstream.push(Reply(200, [("content-type", "text/event-stream")], chunks=[head], complete=False))
    log_start = len(openai_envoy.log())
    with pytest.raises(openai.APIError):  # APIConnectionError: the SDK's HTTP client sees the cut
        list(client_for(openai_envoy).chat.completions.create(model=MODEL, messages=HI, stream=True))
    assert_module_healthy(openai_envoy, upstream, log_start)


def test_client_abort_mid_stream(openai_envoy, upstream):
    data = stream_fixture("thinking")
    head = events_until(data, "signature_delta")
    upstream.push(Reply(200, [("content-type", "text/event-stream")], chunks=[head, 0.5, data[len(head):]]))
    log_start = len(openai_envoy.log())
    payload = {"model": MODEL, "stream": True, "messages": HI}
    connection = http.client.HTTPConnection(openai_envoy.url.removeprefix("http://"), timeout=10)
    connection.request("POST", "/v1/chat/completions", json.dumps(payload), {"authorization": f"Bearer {API_KEY}"})
    response = connection.getresponse()
    assert response.readline().startswith(b"data: {")
    connection.close()
    time.sleep(1)  # the upstream finishes writing into the reset stream
    assert_module_healthy(openai_envoy, upstream, log_start)


# ---------------------------------------------------- rejected before upstream


def assert_nothing_forwarded(upstream):
    """No request reached the upstream whole (its headers may have, and been
    reset: header decisions are made before the body is seen, docs/README.md#what-the-proxy-wasm-host-allows)."""
    assert upstream.requests == []


def test_n_greater_than_one_is_rejected(openai_envoy, upstream):
    with pytest.raises(openai.BadRequestError) as raised:
        client_for(openai_envoy).chat.completions.create(model=MODEL, messages=HI, n=2)
    error = error_of(raised.value.response.content)
    assert re.search(r"\bn\b", error["message"]), error["message"]
    assert_nothing_forwarded(upstream)


def test_input_audio_is_rejected(openai_envoy, upstream):
    audio = base64.b64encode(b"RIFF\x00\x00\x00\x00WAVE").decode()
    with pytest.raises(openai.BadRequestError) as raised:
        client_for(openai_envoy).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [
            {"type": "text", "text": "What is said here?"},
            {"type": "input_audio", "input_audio": {"data": audio, "format": "wav"}},
        ]}])
    assert "input_audio" in error_of(raised.value.response.content)["message"]
    assert_nothing_forwarded(upstream)


def test_unparsable_tool_arguments_are_rejected(openai_envoy, upstream):
    with pytest.raises(openai.BadRequestError) as raised:
        client_for(openai_envoy).chat.completions.create(model=MODEL, messages=[
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                                                  "function": {"name": "get_weather", "arguments": "{\"loc"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ])
    message = error_of(raised.value.response.content)["message"]
    assert re.search(r"\b1\b", message), message  # "naming the message index"
    assert_nothing_forwarded(upstream)


@pytest.mark.parametrize("body", [b'{"model": "gpt-4o", "messages": [', b"not json at all"],
                         ids=["truncated", "garbage"])
def test_malformed_json_is_rejected_locally(openai_envoy, upstream, body):
    status, headers, response = post_json(openai_envoy.url, "/v1/chat/completions", body,
                                          {"authorization": f"Bearer {API_KEY}"})
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    error_of(response)
    assert_nothing_forwarded(upstream)


# -------------------------------------------------------------- passthrough


def test_anthropic_request_passes_through_byte_for_byte(openai_envoy, upstream):
    answer = fixture_bytes(MESSAGES["text"])
    upstream.push(Reply(200, [("content-type", "application/json")], answer))
    request = b'{"model":"claude-sonnet-4-5",  "max_tokens": 5, "messages":[{"role":"user","content":"hi"}]}'
    headers = {"content-type": "application/json", "x-api-key": "sk-ant-raw", "accept-encoding": "gzip"}
    status, _, body = send(openai_envoy.url, "POST", "/v1/messages?beta=true", request, headers)
    assert (status, body) == (200, answer)
    (received,) = upstream.requests
    assert (received.method, received.path, received.body) == ("POST", "/v1/messages?beta=true", request)
    assert received.header("x-api-key") == "sk-ant-raw"
    assert received.header("accept-encoding") == "gzip"
    assert received.header("anthropic-version") is None  # not added to a request it does not convert


def test_other_paths_pass_through(openai_envoy, upstream):
    answer = b'{"object":"list","data":[]}'
    upstream.push(Reply(200, [("content-type", "application/json")], answer))
    status, _, body = send(openai_envoy.url, "GET", "/v1/models?limit=2", None,
                           {"authorization": f"Bearer {API_KEY}"})
    assert (status, body) == (200, answer)
    (received,) = upstream.requests
    assert (received.method, received.path) == ("GET", "/v1/models?limit=2")
    assert received.header("authorization") == f"Bearer {API_KEY}"
    assert "x-api-key" not in received.header_names


# ----------------------------------------------------------- response headers


def duration_seconds(text):
    """An OpenAI reset duration ("1m0s", "59.5s", "6ms") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text)
    assert parts and "".join(n + u for n, u in parts) == text, text
    return sum(float(n) * units[u] for n, u in parts)


def test_rate_limit_headers_and_request_id(openai_envoy, upstream):
    """docs/openai_client.md#headers: anthropic-ratelimit-* become x-ratelimit-* (reset
    instants become durations, as OpenAI sends them) and the request id is
    exposed as x-request-id."""
    reset = (datetime.now(timezone.utc) + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    limits = {"requests-limit": "50", "requests-remaining": "49", "tokens-limit": "40000",
              "tokens-remaining": "39000", "tokens-reset": reset}
    upstream.push(json_reply(fixture_json(MESSAGES["text"]), headers=[
        ("request-id", "req_011CSHoEeqs5C35K2UUqR7Fy"),
        *((f"anthropic-ratelimit-{name}", value) for name, value in limits.items())]))
    raw = client_for(openai_envoy).chat.completions.with_raw_response.create(model=MODEL, messages=HI)
    headers = raw.headers
    for kind in ("requests", "tokens"):
        for field in ("limit", "remaining"):
            assert headers[f"x-ratelimit-{field}-{kind}"] == limits[f"{kind}-{field}"]
    assert 55 <= duration_seconds(headers["x-ratelimit-reset-tokens"]) <= 61
    assert headers["x-request-id"] == "req_011CSHoEeqs5C35K2UUqR7Fy"
    assert raw.parse()._request_id == "req_011CSHoEeqs5C35K2UUqR7Fy"
