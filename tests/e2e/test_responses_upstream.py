"""Tier 3: Anthropic clients -> real Envoy with the bridge
(`upstream_protocol: "openai_responses"`) -> a mock OpenAI Responses upstream.

The mock answers with Responses streams and bodies built here the way the
Responses API writes them (output items, summary/text/argument deltas,
`output_item.done` with the encrypted reasoning, `response.completed` with
usage) or recorded ones from fixtures/responses/, and records what it got.
Clients: the official `anthropic` SDK (`messages.create`, `messages.stream`)
and the pinned Claude Code CLI (tests/claude-code).

The bridge is stateless: every request it sends must carry `store: false`,
`include: ["reasoning.encrypted_content"]`, no item ids and no
`previous_response_id`; reasoning survives turns only because the thinking
block's signature carries the encrypted content back.
"""

import json
import os
import subprocess
from pathlib import Path

import anthropic
import pytest

from conftest import launch, retire
from mock_upstream import demo_responder, json_reply, sse_reply
from payloads import fixture_bytes, fixture_json

REPO = Path(__file__).resolve().parents[2]
CLAUDE = Path(os.environ.get("CLAUDE_CODE_BIN", REPO / "tests/claude-code/node_modules/.bin/claude"))
MODEL = "claude-sonnet-4-6"
UPSTREAM_MODEL = "gpt-5-codex"
CONFIG = {"upstream_protocol": "openai_responses", "model_map": {"claude-*": UPSTREAM_MODEL}}
SIGNATURE_PREFIX = "aob2."
MARKER = "bridge-responses-roundtrip-ok"
USAGE = {"input_tokens": 1500, "input_tokens_details": {"cached_tokens": 1200},
         "output_tokens": 40, "output_tokens_details": {"reasoning_tokens": 25}, "total_tokens": 1540}


@pytest.fixture(scope="module")
def responses_envoy(mock_server, tmp_path_factory):
    """Envoy with the bridge configured for a Responses upstream."""
    proc = launch(tmp_path_factory.mktemp("envoy"), mock_server.url, "responses-upstream", plugin_config=CONFIG)
    yield proc
    retire(proc)


def client_for(envoy):
    """The SDK as Claude Code authenticates: `x-api-key`, no retries."""
    return anthropic.Anthropic(base_url=envoy.url, default_headers={"x-api-key": "sk-test"}, max_retries=0, timeout=30)


# ------------------------------------------------------------ Responses answers


def reasoning(summary, encrypted, rid="rs_1"):
    return {"type": "reasoning", "id": rid, "summary": [{"type": "summary_text", "text": s} for s in summary],
            "encrypted_content": encrypted}


def message(text, mid="msg_1"):
    return {"type": "message", "id": mid, "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


def function_call(call_id, name, arguments, fid="fc_1"):
    return {"type": "function_call", "id": fid, "status": "completed", "call_id": call_id, "name": name,
            "arguments": json.dumps(arguments)}


def response_object(output, status="completed", incomplete=None, rid="resp_e2e_1"):
    return {"id": rid, "object": "response", "created_at": 1760000000, "status": status, "model": UPSTREAM_MODEL,
            "output": output, "incomplete_details": incomplete, "store": False, "usage": USAGE}


def words(text):
    """`text` in small deltas that rejoin to it exactly."""
    return [text[i:i + 5] for i in range(0, len(text), 5)]


def responses_events(output, status="completed"):
    """The Responses event stream that builds `output`, as (type, payload) pairs."""
    events = []
    started = response_object([], status="in_progress")
    events.append(("response.created", {"response": started}))
    events.append(("response.in_progress", {"response": started}))
    for index, item in enumerate(output):
        base = {"output_index": index, "item_id": item["id"]}
        if item["type"] == "reasoning":
            events.append(("response.output_item.added",
                           {"output_index": index, "item": {"type": "reasoning", "id": item["id"], "summary": []}}))
            for n, part in enumerate(item["summary"]):
                events.append(("response.reasoning_summary_part.added",
                               {**base, "summary_index": n, "part": {"type": "summary_text", "text": ""}}))
                for delta in words(part["text"]):
                    events.append(("response.reasoning_summary_text.delta", {**base, "summary_index": n, "delta": delta}))
                events.append(("response.reasoning_summary_text.done", {**base, "summary_index": n, "text": part["text"]}))
                events.append(("response.reasoning_summary_part.done", {**base, "summary_index": n, "part": part}))
        elif item["type"] == "message":
            events.append(("response.output_item.added",
                           {"output_index": index, "item": {**item, "status": "in_progress", "content": []}}))
            text = item["content"][0]["text"]
            empty = {"type": "output_text", "text": "", "annotations": []}
            events.append(("response.content_part.added", {**base, "content_index": 0, "part": empty}))
            for delta in words(text):
                events.append(("response.output_text.delta", {**base, "content_index": 0, "delta": delta}))
            events.append(("response.output_text.done", {**base, "content_index": 0, "text": text}))
            events.append(("response.content_part.done", {**base, "content_index": 0, "part": item["content"][0]}))
        else:
            events.append(("response.output_item.added",
                           {"output_index": index, "item": {**item, "status": "in_progress", "arguments": ""}}))
            for delta in words(item["arguments"]):
                events.append(("response.function_call_arguments.delta", {**base, "delta": delta}))
            events.append(("response.function_call_arguments.done", {**base, "arguments": item["arguments"]}))
        events.append(("response.output_item.done", {"output_index": index, "item": item}))
    events.append((f"response.{status}", {"response": response_object(output, status=status)}))
    return events


def sse_of(events):
    body = b""
    for sequence, (kind, payload) in enumerate(events):
        body += f"event: {kind}\ndata: {json.dumps({'type': kind, 'sequence_number': sequence, **payload})}\n\n".encode()
    return body


def stream_reply(output, status="completed"):
    """`output` as a Responses stream, sent chunked in small pieces."""
    return sse_reply(sse_of(responses_events(output, status)), piece=97, delay=0.001)


def fixture_stream_reply(name):
    return sse_reply(fixture_bytes(f"responses/{name}"), piece=211)


def fixture_output(name):
    """The output items of a recorded stream, from its `output_item.done` events."""
    items = []
    for block in fixture_bytes(f"responses/{name}").decode().split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data:"):
                payload = json.loads(line[5:].strip())
                if payload.get("type") == "response.output_item.done":
                    items.append(payload["item"])
    return items


# ------------------------------------------------------------ upstream checks


def assert_stateless(request):
    """What every request to the Responses upstream must be."""
    assert request.method == "POST"
    assert request.path == "/v1/responses"
    assert (request.header("authorization") or "").startswith("Bearer sk-")
    assert "x-api-key" not in request.header_names
    assert not any(name.startswith("anthropic-") for name in request.header_names)
    body = request.json
    assert body["store"] is False
    assert body["include"] == ["reasoning.encrypted_content"]
    assert "previous_response_id" not in body
    assert "conversation" not in body
    for item in body["input"]:
        assert "id" not in item, f"an item id was sent: {item}"
    return body


def reasoning_inputs(body):
    return [item for item in body["input"] if item["type"] == "reasoning"]


# ------------------------------------------------------------ anthropic SDK: create


def test_create_text(responses_envoy, upstream):
    upstream.push(json_reply(response_object([message("Paris is the capital of France.")])))
    result = client_for(responses_envoy).messages.create(
        model=MODEL, max_tokens=1024, system="You are terse.", metadata={"user_id": "user-42"},
        stop_sequences=["END"], messages=[{"role": "user", "content": "Capital of France?"}])
    assert [(b.type, b.text) for b in result.content] == [("text", "Paris is the capital of France.")]
    assert result.stop_reason == "end_turn"
    assert result.id == "resp_e2e_1"
    assert result.model == MODEL, "the model the client asked for (Claude Code drops other models' thinking)"
    assert result.usage.input_tokens == 300
    assert result.usage.cache_read_input_tokens == 1200
    assert result.usage.output_tokens == 40

    [sent] = upstream.requests
    assert sent.header("authorization") == "Bearer sk-test"
    body = assert_stateless(sent)
    assert body["model"] == UPSTREAM_MODEL
    assert body["instructions"] == "You are terse."
    assert body["max_output_tokens"] == 1024
    assert body["input"] == [{"type": "message", "role": "user", "content": "Capital of France?"}]
    assert body["safety_identifier"] == "user-42"
    assert body["prompt_cache_key"].startswith("aob-")
    assert "stop" not in body and "stop_sequences" not in body and "metadata" not in body
    assert body.get("stream") in (None, False)


def test_create_reasoning_round_trip(responses_envoy, upstream):
    """The encrypted reasoning comes back as a thinking block's signature and
    reaches the upstream again, exactly, in the next request."""
    encrypted = "gAAAAABo-e2e-encrypted-reasoning-turn-one=="
    first = response_object([reasoning(["**Thinking**", "Two plus two is four."], encrypted), message("4")])
    upstream.push(json_reply(first), json_reply(response_object([message("8")], rid="resp_e2e_2")))
    client = client_for(responses_envoy)
    question = {"role": "user", "content": "2+2?"}
    one = client.messages.create(model=MODEL, max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024},
                                 messages=[question])
    assert [b.type for b in one.content] == ["thinking", "text"]
    assert one.content[0].thinking == "**Thinking**\n\nTwo plus two is four."
    assert one.content[0].signature == SIGNATURE_PREFIX + encrypted
    assert one.content[1].text == "4"

    history = [question, {"role": "assistant", "content": [b.model_dump() for b in one.content]},
               {"role": "user", "content": "Double it."}]
    two = client.messages.create(model=MODEL, max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024},
                                 messages=history)
    assert two.content[0].text == "8"
    first_body, second_body = (assert_stateless(r) for r in upstream.requests)
    assert first_body["reasoning"]["summary"] == "auto"
    assert first_body["reasoning"]["effort"] in ("minimal", "low", "medium", "high")
    assert reasoning_inputs(first_body) == []
    assert [item["type"] for item in second_body["input"]] == ["message", "reasoning", "message", "message"]
    [sent_back] = reasoning_inputs(second_body)
    assert sent_back["encrypted_content"] == encrypted
    assert [part["text"] for part in sent_back["summary"]] == ["**Thinking**\n\nTwo plus two is four."]


def test_create_tool_use(responses_envoy, upstream):
    arguments = {"location": "Paris", "unit": "celsius"}
    upstream.push(json_reply(response_object([function_call("call_weather_1", "get_weather", arguments)])))
    tools = [{"name": "get_weather", "description": "Weather", "input_schema": {
        "type": "object", "properties": {"location": {"type": "string"}, "unit": {"type": "string"}},
        "required": ["location"]}}]
    result = client_for(responses_envoy).messages.create(
        model=MODEL, max_tokens=512, tools=tools, tool_choice={"type": "any", "disable_parallel_tool_use": True},
        messages=[{"role": "user", "content": "Weather in Paris?"}])
    assert result.stop_reason == "tool_use"
    [call] = result.content
    assert (call.type, call.id, call.name, call.input) == ("tool_use", "call_weather_1", "get_weather", arguments)

    body = assert_stateless(upstream.requests[0])
    assert body["tools"] == [{"type": "function", "name": "get_weather", "description": "Weather",
                              "parameters": tools[0]["input_schema"], "strict": False}]
    assert body["tool_choice"] == "required"
    assert body["parallel_tool_calls"] is False


def test_create_upstream_error(responses_envoy, upstream):
    error = fixture_json("responses/error-429-insufficient-quota.json")
    upstream.push(json_reply(error, status=429, headers=[("retry-after", "3")]))
    with pytest.raises(anthropic.RateLimitError) as raised:
        client_for(responses_envoy).messages.create(model=MODEL, max_tokens=10,
                                                    messages=[{"role": "user", "content": "hi"}])
    assert raised.value.status_code == 429
    assert raised.value.body["type"] == "error"
    assert raised.value.body["error"]["type"] == "rate_limit_error"
    assert raised.value.body["error"]["message"].startswith("You exceeded your current quota")
    assert raised.value.response.headers["retry-after"] == "3"


# ------------------------------------------------------------ anthropic SDK: stream


def test_stream_text(responses_envoy, upstream):
    text = "Streaming through the Responses API, one small delta at a time."
    upstream.push(stream_reply([message(text)]))
    with client_for(responses_envoy).messages.stream(
            model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": "Say something"}]) as stream:
        deltas = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(deltas) == text
    assert len(deltas) > 5
    assert [(b.type, b.text) for b in final.content] == [("text", text)]
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.cache_read_input_tokens, final.usage.output_tokens) == (300, 1200, 40)
    body = assert_stateless(upstream.requests[0])
    assert body["stream"] is True


def test_stream_reasoning_then_text(responses_envoy, upstream):
    encrypted = "gAAAAABo-e2e-streamed-reasoning"
    summary = ["**Plan**", "Answer with one word."]
    upstream.push(stream_reply([reasoning(summary, encrypted), message("Yes.")]))
    with client_for(responses_envoy).messages.stream(
            model=MODEL, max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 2048},
            messages=[{"role": "user", "content": "Ready?"}]) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert "thinking" in kinds and "signature" in kinds and "text" in kinds
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "\n\n".join(summary)
    assert final.content[0].signature == SIGNATURE_PREFIX + encrypted
    assert final.content[1].text == "Yes."
    assert final.stop_reason == "end_turn"


def test_stream_tool_use(responses_envoy, upstream):
    arguments = {"command": "ls -la", "description": "List files"}
    upstream.push(stream_reply([reasoning(["Use Bash."], "gAAAA-tool"), function_call("call_bash_9", "Bash", arguments)]))
    tools = [{"name": "Bash", "description": "Run", "input_schema": {"type": "object"}}]
    with client_for(responses_envoy).messages.stream(
            model=MODEL, max_tokens=1024, tools=tools, messages=[{"role": "user", "content": "List files"}]) as stream:
        partial = [event.partial_json for event in stream if event.type == "input_json"]
        final = stream.get_final_message()
    assert len(partial) > 1 and json.loads("".join(partial)) == arguments
    assert [b.type for b in final.content] == ["thinking", "tool_use"]
    assert (final.content[1].id, final.content[1].name, final.content[1].input) == ("call_bash_9", "Bash", arguments)
    assert final.stop_reason == "tool_use"


def test_stream_recorded_reasoning(responses_envoy, upstream):
    """A recorded OpenAI stream (o3-mini, summary + encrypted reasoning)."""
    name = "stream-reasoning-summary-encrypted.sse"
    output = fixture_output(name)
    upstream.push(fixture_stream_reply(name))
    with client_for(responses_envoy).messages.stream(
            model=MODEL, max_tokens=4096, messages=[{"role": "user", "content": "How do I cross a street?"}]) as stream:
        final = stream.get_final_message()
    expected = []
    for item in output:
        if item["type"] == "reasoning":
            expected.append(("thinking", "\n\n".join(s["text"] for s in item["summary"]),
                             SIGNATURE_PREFIX + item["encrypted_content"]))
        elif item["type"] == "message":
            expected.append(("text", "".join(c["text"] for c in item["content"] if c["type"] == "output_text"), None))
    got = [(b.type, b.thinking, b.signature) if b.type == "thinking" else (b.type, b.text, None) for b in final.content]
    assert got == expected
    assert final.stop_reason == "end_turn"


def test_stream_incomplete_is_max_tokens(responses_envoy, upstream):
    upstream.push(stream_reply([message("Cut off here")], status="incomplete"))
    with client_for(responses_envoy).messages.stream(
            model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "Long story"}]) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "max_tokens"
    assert final.content[0].text == "Cut off here"


def test_stream_failure_is_an_error_not_end_turn(responses_envoy, upstream):
    events = responses_events([message("partial answer")])[:-1]
    failed = response_object([], status="failed")
    failed["error"] = {"code": "server_error", "message": "The model crashed."}
    events.append(("response.failed", {"response": failed}))
    upstream.push(sse_reply(sse_of(events), piece=64))
    with pytest.raises(anthropic.APIStatusError) as raised:
        with client_for(responses_envoy).messages.stream(
                model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "hi"}]) as stream:
            stream.get_final_message()
    assert "The model crashed." in str(raised.value)


def test_demo_upstream_answers_through_the_bridge(responses_envoy, upstream):
    """`make run BRIDGE_CONFIG='{"upstream_protocol":"openai_responses"}'`
    without UPSTREAM_URL: the demo upstream's Responses side."""
    upstream.responder = demo_responder
    client = client_for(responses_envoy)
    reply = client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Hello"}])
    assert reply.content[0].text == "Hello from the bridge demo upstream. You said: Hello"
    with client.messages.stream(model=MODEL, max_tokens=64, tools=[{"name": "Bash", "input_schema": {"type": "object"}}],
                                messages=[{"role": "user", "content": "use a tool"}]) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[0].name == "Bash"
    assert final.content[0].input["command"] == "echo Hello from the bridge demo tool call"


# ------------------------------------------------------------ Claude Code

claude_code = pytest.mark.skipif(
    not CLAUDE.exists() and not os.environ.get("REQUIRE_CLAUDE_CODE"),
    reason="Claude Code is not installed (make test installs it: npm ci in tests/claude-code)",
)


def run_claude(envoy, tmp_path, prompt, *flags):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": envoy.url,
        "ANTHROPIC_API_KEY": "sk-claude-code-test",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    done = subprocess.run([str(CLAUDE), "-p", prompt, "--output-format", "json", *flags], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.stdout, f"claude printed nothing; stderr:\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def agent_requests(upstream):
    """Claude Code's main-loop requests (the ones that carry its tools)."""
    return [r for r in upstream.requests
            if r.method == "POST" and r.path.endswith("/responses") and (r.json or {}).get("tools")]


def other_reply(request):
    """Claude Code's side requests (titles, topic checks; its HEAD probe): a
    short answer."""
    if request.method != "POST":
        return json_reply({})
    return stream_reply([message("ok")]) if (request.json or {}).get("stream") else json_reply(
        response_object([message("ok")]))


def function_outputs(body):
    return [item for item in body["input"] if item["type"] == "function_call_output"]


@claude_code
def test_claude_code_plain_answer(responses_envoy, upstream, tmp_path):
    answer = "The bridge carried this answer from a Responses upstream."

    def responder(request):
        if not (request.json or {}).get("tools"):
            return other_reply(request)
        return stream_reply([reasoning(["Just answer."], "gAAAA-plain"), message(answer)])

    upstream.responder = responder
    result = run_claude(responses_envoy, tmp_path, "Say hello")
    assert result["is_error"] is False, json.dumps(result)[:2000]
    assert result["result"].strip() == answer
    assert result["usage"]["cache_read_input_tokens"] == 1200
    assert result["usage"]["input_tokens"] == 300

    requests = agent_requests(upstream)
    assert requests, "Claude Code's request never reached the upstream"
    assert requests[0].header("authorization") == "Bearer sk-claude-code-test"
    for request in upstream.requests:
        if request.method == "POST":
            assert_stateless(request)
    body = requests[0].json
    assert body["model"] == UPSTREAM_MODEL
    assert body["stream"] is True
    assert len(body["tools"]) >= 10
    assert all(t["type"] == "function" and t["strict"] is False for t in body["tools"])
    assert {"Bash", "Read", "Edit"} <= {t["name"] for t in body["tools"]}
    assert body["instructions"] and "cch=" not in body["instructions"]
    assert body["prompt_cache_key"].startswith("aob-")
    assert len(body.get("safety_identifier", "")) <= 64
    assert body["max_output_tokens"] >= 16
    for dropped in ("thinking", "output_config", "context_management", "metadata", "system", "messages"):
        assert dropped not in body


@claude_code
def test_claude_code_bash_round_trip_carries_reasoning(responses_envoy, upstream, tmp_path):
    """The upstream reasons and asks for Bash; Claude Code runs it and sends
    the output back with the reasoning item, exactly as the upstream sent it."""
    encrypted = "gAAAAABo-claude-code-turn-one-" + "x" * 64
    arguments = {"command": f"echo {MARKER}", "description": "Print a marker"}

    def responder(request):
        body = request.json or {}
        if not body.get("tools"):
            return other_reply(request)
        outputs = function_outputs(body)
        if outputs:
            return stream_reply([message(f"The command printed {outputs[-1]['output'].strip()}")])
        return stream_reply([reasoning(["I will run the marker command."], encrypted),
                             function_call("call_bash_1", "Bash", arguments)])

    upstream.responder = responder
    result = run_claude(responses_envoy, tmp_path, "Run the marker command", "--allowedTools", "Bash")
    assert result["is_error"] is False, json.dumps(result)[:2000]
    assert MARKER in result["result"]

    requests = agent_requests(upstream)
    assert len(requests) >= 2
    for request in requests:
        assert_stateless(request)
    follow_up = requests[-1].json["input"]
    kinds = [item["type"] for item in follow_up]
    call_at = kinds.index("function_call")
    assert kinds[call_at - 1] == "reasoning", kinds
    assert follow_up[call_at - 1]["encrypted_content"] == encrypted
    call = follow_up[call_at]
    assert (call["call_id"], call["name"]) == ("call_bash_1", "Bash")
    assert json.loads(call["arguments"])["command"] == f"echo {MARKER}"
    [output] = function_outputs(requests[-1].json)
    assert output["call_id"] == "call_bash_1"
    output_text = output["output"] if isinstance(output["output"], str) else json.dumps(output["output"])
    assert MARKER in output_text, "the real command output came back as the tool result"


@claude_code
def test_claude_code_second_turn_sends_back_the_first_turns_reasoning(responses_envoy, upstream, tmp_path):
    """Two Claude Code invocations of one session (`--continue`): the second
    turn's request carries the first turn's reasoning item, exactly."""
    encrypted = "gAAAAABo-claude-code-session-turn-one-" + "y" * 48

    def responder(request):
        body = request.json or {}
        if not body.get("tools"):
            return other_reply(request)
        if reasoning_inputs(body):
            return stream_reply([message("Second answer.")])
        return stream_reply([reasoning(["First thoughts."], encrypted), message("First answer.")])

    upstream.responder = responder
    first = run_claude(responses_envoy, tmp_path, "First question")
    assert first["is_error"] is False, json.dumps(first)[:2000]
    assert first["result"].strip() == "First answer."
    second = run_claude(responses_envoy, tmp_path, "Second question", "--continue")
    assert second["is_error"] is False, json.dumps(second)[:2000]
    assert second["result"].strip() == "Second answer."

    requests = agent_requests(upstream)
    assert len(requests) >= 2
    last = assert_stateless(requests[-1])
    [sent_back] = reasoning_inputs(last)
    assert sent_back["encrypted_content"] == encrypted
    assert [part["text"] for part in sent_back["summary"]] == ["First thoughts."]
    texts = [json.dumps(item) for item in last["input"]]
    assert any("First answer." in t for t in texts) and any("Second question" in t for t in texts)
