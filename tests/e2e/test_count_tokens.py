"""Tier 3: `/v1/messages/count_tokens` for Anthropic clients on an OpenAI
upstream, through the official anthropic SDK's `messages.count_tokens` (and
its beta form, the `?beta=true` call Claude Code makes) in real Envoy.

The estimate's values against the real o200k tokenizer are measured natively
(tests/count_tokens.rs); here: the estimate is answered without the upstream
seeing the conversation or a credential, the upstream mode returns the
completion's exact `prompt_tokens`, and bad input gets the messages 400s.
"""

import json
import re
import uuid

import anthropic
import pytest

from mock_upstream import json_reply
from payloads import fixture_json

MODEL = "claude-sonnet-4-5"
MESSAGES = [{"role": "user", "content": "What is the weather in Paris today?"}]
TOOLS = [{"name": "get_weather", "description": "Weather for a city.",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]


# Marks this module's count_tokens calls: a request another test aborted can
# be recorded by the mock after the next test started.
CALL_TAG = ("x-test-call", f"count-tokens-{uuid.uuid4().hex}")


def client_for(envoy, tagged=True):
    headers = dict([CALL_TAG]) if tagged else None
    return anthropic.Anthropic(base_url=envoy.url, api_key="sk-test", max_retries=0, timeout=30,
                               default_headers=headers)


def assert_nothing_reached_upstream(upstream):
    name, tag = CALL_TAG
    assert [r for r in upstream.requests if r.header(name) == tag] == [], \
        "a count_tokens request reached the upstream"
    for request in upstream.aborted:
        if request.header(name) == tag:
            assert request.body == b""
            assert not request.header_names & {"authorization", "x-api-key"}, request.headers


def test_the_estimate_answers_locally(envoy, upstream):
    client = client_for(envoy)
    short = client.messages.count_tokens(model=MODEL, messages=MESSAGES)
    with_tools = client.messages.count_tokens(model=MODEL, messages=MESSAGES, tools=TOOLS,
                                              system="You are a weather bot.")
    beta = client.beta.messages.count_tokens(model=MODEL, messages=MESSAGES)
    # 3 per message + role + about 9 text tokens + 3 to prime the reply.
    assert 12 <= short.input_tokens <= 25
    assert with_tools.input_tokens > short.input_tokens + 20
    assert beta.input_tokens == short.input_tokens
    assert_nothing_reached_upstream(upstream)


def test_claude_codes_own_request_is_counted_locally(envoy, upstream):
    request = fixture_json("requests/claude-code-2.1.197-recorded.json")
    body = {key: request[key] for key in ("model", "system", "messages", "tools") if key in request}
    client = client_for(envoy)
    response = client.post("/v1/messages/count_tokens?beta=true", cast_to=object, body=body)
    text_bytes = len(json.dumps(body).encode())
    # o200k gives about 4 bytes a token on this request (README: count_tokens).
    assert text_bytes / 8 < response["input_tokens"] < text_bytes / 2
    assert_nothing_reached_upstream(upstream)


def test_upstream_mode_returns_the_completions_prompt_tokens(start_envoy, upstream):
    envoy = start_envoy(plugin_config={"upstream_protocol": "openai", "count_tokens": "upstream",
                                       "model_map": {"claude-*": "gpt-4.1"}})
    completion = fixture_json("openai/chat-text-gpt41-nano.json")
    upstream.push(json_reply(completion))
    counted = client_for(envoy).messages.count_tokens(model=MODEL, messages=MESSAGES, tools=TOOLS)
    assert counted.input_tokens == completion["usage"]["prompt_tokens"]
    (received,) = upstream.requests
    assert received.path == "/v1/chat/completions"
    assert received.header("authorization") == "Bearer sk-test"
    sent = received.json
    assert sent["model"] == "gpt-4.1"
    assert sent["max_completion_tokens"] == 1 and "stream" not in sent
    assert sent["messages"] == [{"role": "user", "content": MESSAGES[0]["content"]}]
    assert sent["tools"][0]["function"]["name"] == "get_weather"


def test_upstream_mode_errors_are_anthropic_errors(start_envoy, upstream):
    envoy = start_envoy(plugin_config={"upstream_protocol": "openai", "count_tokens": "upstream"})
    upstream.push(json_reply(fixture_json("openai/error-404-model-not-found.json"), status=404))
    with pytest.raises(anthropic.NotFoundError) as error:
        client_for(envoy).messages.count_tokens(model=MODEL, messages=MESSAGES)
    assert error.value.body["type"] == "error"
    assert error.value.body["error"]["type"] == "not_found_error"


@pytest.mark.parametrize("messages", [[], [{"role": "robot", "content": "x"}]])
def test_bad_input_gets_the_messages_400(envoy, upstream, messages):
    client = client_for(envoy)
    with pytest.raises(anthropic.BadRequestError) as counted:
        client.messages.count_tokens(model=MODEL, messages=messages)
    assert_nothing_reached_upstream(upstream)
    with pytest.raises(anthropic.BadRequestError) as created:
        client_for(envoy, tagged=False).messages.create(model=MODEL, max_tokens=5, messages=messages)
    position = re.compile(r" at line \d+ column \d+$")  # the two bodies differ in length
    assert position.sub("", counted.value.body["error"]["message"]) == \
        position.sub("", created.value.body["error"]["message"])
    assert counted.value.body["error"]["type"] == "invalid_request_error"
