"""Tier 3: Responses API clients -> real Envoy with the bridge -> a mock Anthropic upstream.

Envoy runs envoy/envoy-openai-clients.yaml (`openai_envoy`,
`{"upstream_protocol": "anthropic"}`); the clients are the official `openai`
SDK's `client.responses` (`create` and `stream`, whose event parser rejects
unknown shapes) and the real Codex CLI (pinned in tests/codex, `codex exec`).
A `POST …/v1/responses` must reach the upstream as `POST …/v1/messages`
(issue 14). Upstream answers are recorded Anthropic payloads from
fixtures/anthropic/, or Anthropic streams built here for Codex's own tools.
"""

import json
import os
import subprocess
from pathlib import Path

import openai
import pytest
from mock_upstream import Reply, json_reply, sse_reply
from payloads import anthropic_events, fixture_bytes, fixture_json, fold_anthropic_stream

REPO = Path(__file__).resolve().parents[2]
CODEX = Path(os.environ.get("CODEX_BIN", REPO / "tests/codex/node_modules/.bin/codex"))
MODEL = "claude-sonnet-4-5"
API_KEY = "sk-ant-test"
MARKER = "bridge-codex-round-trip-ok"

needs_codex = pytest.mark.skipif(
    not CODEX.exists() and not os.environ.get("REQUIRE_CODEX"),
    reason="Codex CLI is not installed (make test installs it: npm ci in tests/codex)",
)


def client_for(envoy):
    return openai.OpenAI(base_url=f"{envoy.url}/v1", api_key=API_KEY, max_retries=0, timeout=30)


def messages_requests(upstream):
    return [r for r in upstream.requests if r.method == "POST"]


def last_has_tool_result(request):
    """Whether the last message of an Anthropic request carries a tool_result."""
    messages = (request.json or {}).get("messages") or [{}]
    content = messages[-1].get("content")
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content)


def the_messages_request(upstream):
    """The one request the upstream got, which must be Anthropic's."""
    (request,) = messages_requests(upstream)
    assert request.path == "/v1/messages", request.path
    assert request.header("x-api-key") == API_KEY
    assert request.header("anthropic-version")
    assert request.header("authorization") is None
    return request.json


def sse_event(payload):
    return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()


def anthropic_stream(blocks, stop_reason):
    """An Anthropic event stream with `blocks` (text or tool_use, complete),
    each streamed as one delta."""
    message = {"id": "msg_codex_1", "type": "message", "role": "assistant", "model": MODEL, "content": [],
               "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 900, "output_tokens": 1,
                                                                      "cache_read_input_tokens": 600}}
    events = [{"type": "message_start", "message": message}, {"type": "ping"}]
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            start, delta = {"type": "text", "text": ""}, {"type": "text_delta", "text": block["text"]}
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events += [{"type": "content_block_start", "index": index, "content_block": start},
                   {"type": "content_block_delta", "index": index, "delta": delta},
                   {"type": "content_block_stop", "index": index}]
    events += [{"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": 25}},
               {"type": "message_stop"}]
    return sse_reply(b"".join(sse_event(e) for e in events), piece=50)


def text_stream(text):
    return anthropic_stream([{"type": "text", "text": text}], "end_turn")


def tool_stream(name, arguments, tool_id="toolu_codex_1"):
    return anthropic_stream([{"type": "tool_use", "id": tool_id, "name": name, "input": arguments}], "tool_use")


# ------------------------------------------------------------------ openai SDK


def texts(content):
    """The texts of a string-or-blocks Anthropic content."""
    if isinstance(content, str):
        return [content]
    assert all(block["type"] == "text" for block in content), content
    return [block["text"] for block in content]


def test_create_text(openai_envoy, upstream):
    message = fixture_json("anthropic/msg-text.json")
    upstream.push(json_reply(message))
    response = client_for(openai_envoy).responses.create(
        model=MODEL, instructions="Be brief.", input="hi", max_output_tokens=300, temperature=0.5)

    body = the_messages_request(upstream)
    assert texts(body["system"]) == ["Be brief."]
    assert [(m["role"], texts(m["content"])) for m in body["messages"]] == [("user", ["hi"])]
    assert (body["max_tokens"], body["temperature"]) == (300, 0.5)
    assert not body.get("stream")

    expected = "".join(texts(message["content"]))
    assert response.object == "response" and response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.output_text == expected
    (item,) = response.output
    assert item.type == "message" and item.id.startswith("msg_")
    usage = message["usage"]
    assert response.usage.output_tokens == usage["output_tokens"]
    assert response.usage.input_tokens == usage["input_tokens"]
    assert response.usage.total_tokens == usage["input_tokens"] + usage["output_tokens"]


def test_stream_text(openai_envoy, upstream):
    stream = fixture_bytes("anthropic/stream-text-minimal.sse")
    upstream.push(sse_reply(stream, piece=17))
    expected = fold_anthropic_stream(stream).text
    client = client_for(openai_envoy)
    with client.responses.stream(model=MODEL, input="hi") as events:
        kinds = [event.type for event in events]
        final = events.get_final_response()

    assert the_messages_request(upstream)["stream"] is True
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert final.output_text == expected
    assert final.usage.total_tokens == final.usage.input_tokens + final.usage.output_tokens


def test_function_call_round_trip(openai_envoy, upstream):
    message = fixture_json("anthropic/msg-tool-use.json")
    uses = [b for b in message["content"] if b["type"] == "tool_use"]
    upstream.push(json_reply(message))
    client = client_for(openai_envoy)
    tools = [{"type": "function", "name": use["name"], "description": f"{use['name']} tool",
              "parameters": {"type": "object"}} for use in uses]
    first = client.responses.create(model=MODEL, input="call them", tools=tools, parallel_tool_calls=False)

    body = the_messages_request(upstream)
    assert [t["name"] for t in body["tools"]] == [use["name"] for use in uses]
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    calls = [item for item in first.output if item.type == "function_call"]
    assert [(c.call_id, c.name, json.loads(c.arguments)) for c in calls] == [
        (use["id"], use["name"], use["input"]) for use in uses]
    assert all(c.id.startswith("fc_") for c in calls)

    upstream.reset()
    upstream.push(json_reply(fixture_json("anthropic/msg-text.json")))
    history = [{"role": "user", "content": "call them"}, *(c.model_dump(exclude_none=True) for c in calls),
               *({"type": "function_call_output", "call_id": c.call_id, "output": f"result {n}"}
                 for n, c in enumerate(calls))]
    client.responses.create(model=MODEL, input=history, tools=tools)
    user, assistant, results = the_messages_request(upstream)["messages"]
    assert (user["role"], assistant["role"], results["role"]) == ("user", "assistant", "user")
    assert assistant["content"] == [{"type": "tool_use", "id": use["id"], "name": use["name"],
                                     "input": use["input"]} for use in uses]
    assert [(r["type"], r["tool_use_id"], texts(r["content"])) for r in results["content"]] == [
        ("tool_result", use["id"], [f"result {n}"]) for n, use in enumerate(uses)]


def test_stream_reasoning_round_trip(openai_envoy, upstream):
    stream = fixture_bytes("anthropic/stream-thinking-signature.sse")
    upstream.push(sse_reply(stream, piece=23))
    thinking = [e for e in anthropic_events(stream) if e["type"] == "content_block_delta"]
    thought = "".join(e["delta"].get("thinking", "") for e in thinking)
    client = client_for(openai_envoy)
    with client.responses.stream(model=MODEL, input="think", reasoning={"effort": "medium"},
                                 include=["reasoning.encrypted_content"]) as events:
        final = events.get_final_response()

    assert the_messages_request(upstream)["thinking"]["type"] in ("enabled", "adaptive")
    (reasoning,) = [item for item in final.output if item.type == "reasoning"]
    assert "".join(s.text for s in reasoning.summary) == thought
    assert reasoning.encrypted_content

    # The reasoning item sent back becomes the original thinking block.
    upstream.reset()
    upstream.push(json_reply(fixture_json("anthropic/msg-text.json")))
    history = [{"role": "user", "content": "think"}, reasoning.model_dump(exclude_none=True),
               {"role": "user", "content": "again"}]
    client.responses.create(model=MODEL, input=history, reasoning={"effort": "medium"})
    assistant = the_messages_request(upstream)["messages"][1]
    assert assistant["role"] == "assistant"
    assert assistant["content"][0]["type"] == "thinking"
    assert assistant["content"][0]["thinking"] == thought


PATCH = ('*** Begin Patch\n*** Add File: notes.txt\n+say "hi" {not json}\n+\tcaf\u00e9 \\ done\n'
         '*** End Patch\n')
CUSTOM_TOOL = {"type": "custom", "name": "apply_patch", "description": "Edit files with a patch.",
               "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}}


def assert_custom_tool_upstream(body):
    """The custom tool reached the upstream as a tool with one string parameter."""
    (tool,) = body["tools"]
    assert tool["name"] == "apply_patch"
    schema = tool["input_schema"]
    assert schema["type"] == "object" and schema["required"] == ["input"]
    assert schema["properties"] == {"input": {"type": "string"}}
    assert tool["description"].startswith("Edit files with a patch.")
    assert "start: /.+/" in tool["description"]


def assert_custom_call_round_trip(client, upstream, call):
    """The call and its custom_tool_call_output sent back reach the upstream
    as the same tool_use and a tool_result with its id."""
    upstream.reset()
    upstream.push(json_reply(fixture_json("anthropic/msg-text.json")))
    history = [{"role": "user", "content": "add notes"}, call.model_dump(exclude_none=True),
               {"type": "custom_tool_call_output", "call_id": call.call_id, "output": "Done: notes.txt"}]
    client.responses.create(model=MODEL, input=history, tools=[CUSTOM_TOOL])
    body = the_messages_request(upstream)
    assert_custom_tool_upstream(body)
    user, assistant, results = body["messages"]
    assert (user["role"], assistant["role"], results["role"]) == ("user", "assistant", "user")
    assert assistant["content"] == [{"type": "tool_use", "id": call.call_id, "name": "apply_patch",
                                     "input": {"input": PATCH}}]
    assert [(r["type"], r["tool_use_id"], texts(r["content"])) for r in results["content"]] == [
        ("tool_result", call.call_id, ["Done: notes.txt"])]


def test_create_custom_tool_round_trip(openai_envoy, upstream):
    """A custom freeform tool (Codex's apply_patch shape): the upstream's
    tool_use comes back as a custom_tool_call whose input is the exact string."""
    message = fixture_json("anthropic/msg-tool-use.json")
    message["content"] = [{"type": "tool_use", "id": "toolu_patch_1", "name": "apply_patch",
                           "input": {"input": PATCH}}]
    upstream.push(json_reply(message))
    client = client_for(openai_envoy)
    response = client.responses.create(model=MODEL, input="add notes", tools=[CUSTOM_TOOL])

    assert_custom_tool_upstream(the_messages_request(upstream))
    (call,) = response.output
    assert call.type == "custom_tool_call" and call.id.startswith("ctc_")
    assert (call.call_id, call.name, call.input) == ("toolu_patch_1", "apply_patch", PATCH)
    assert_custom_call_round_trip(client, upstream, call)


def test_stream_custom_tool_round_trip(openai_envoy, upstream):
    """Streamed: custom_tool_call_input.delta/.done carry the exact string,
    the SDK's stream parser takes them, and the finished item is a
    custom_tool_call."""
    from openai.types.responses import (ResponseCustomToolCallInputDeltaEvent,
                                        ResponseCustomToolCallInputDoneEvent)

    upstream.push(tool_stream("apply_patch", {"input": PATCH}, tool_id="toolu_patch_2"))
    client = client_for(openai_envoy)
    with client.responses.stream(model=MODEL, input="add notes", tools=[CUSTOM_TOOL]) as stream:
        events = list(stream)
        final = stream.get_final_response()

    body = the_messages_request(upstream)
    assert body["stream"] is True
    assert_custom_tool_upstream(body)
    deltas = [e for e in events if e.type == "response.custom_tool_call_input.delta"]
    dones = [e for e in events if e.type == "response.custom_tool_call_input.done"]
    assert deltas and all(isinstance(e, ResponseCustomToolCallInputDeltaEvent) for e in deltas)
    assert "".join(e.delta for e in deltas) == PATCH
    (done,) = dones
    assert isinstance(done, ResponseCustomToolCallInputDoneEvent) and done.input == PATCH
    (item_done,) = [e.item for e in events if e.type == "response.output_item.done"]
    assert item_done.type == "custom_tool_call" and item_done.id == done.item_id
    assert events[-1].type == "response.completed"
    (call,) = final.output
    assert call.type == "custom_tool_call" and call.id.startswith("ctc_")
    assert (call.call_id, call.name, call.input) == ("toolu_patch_2", "apply_patch", PATCH)
    assert_custom_call_round_trip(client, upstream, call)


def test_rate_limit_error(openai_envoy, upstream):
    error = {"type": "error", "error": {"type": "rate_limit_error", "message": "Slow down"}}
    upstream.push(json_reply(error, status=429, headers=[("retry-after", "7")]))
    with pytest.raises(openai.RateLimitError) as raised:
        client_for(openai_envoy).responses.create(model=MODEL, input="hi")
    assert the_messages_request(upstream)
    assert raised.value.response.headers["retry-after"] == "7"
    # Codex reads the delay from the message ("try again in 7s").
    assert raised.value.body["message"] == "Slow down. Please try again in 7s."
    assert raised.value.body["code"] == "rate_limit_exceeded"


def test_stream_rate_limit_says_when(openai_envoy, upstream):
    """A rate limit mid-stream: response.failed whose message carries the
    upstream's retry-after as Codex reads it ("try again in 7s")."""
    message = {"id": "msg_rl_1", "type": "message", "role": "assistant", "model": MODEL, "content": [],
               "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 1}}
    error = {"type": "error", "error": {"type": "rate_limit_error", "message": "Slow down"}}
    stream = sse_event({"type": "message_start", "message": message}) + sse_event(error)
    upstream.push(sse_reply(stream, piece=40, headers=[("retry-after", "7")]))
    with client_for(openai_envoy).responses.stream(model=MODEL, input="hi") as events:
        kinds = list(events)

    assert the_messages_request(upstream)["stream"] is True
    assert [e.type for e in kinds] == ["response.created", "response.in_progress", "response.failed"]
    failed = kinds[-1].response
    assert failed.status == "failed"
    assert (failed.error.code, failed.error.message) == ("rate_limit_exceeded", "Slow down. Please try again in 7s.")


def test_previous_response_id_is_refused(openai_envoy, upstream):
    with pytest.raises(openai.BadRequestError) as raised:
        client_for(openai_envoy).responses.create(model=MODEL, input="hi", previous_response_id="resp_1")
    assert not upstream.requests
    assert "state" in raised.value.body["message"]


# ------------------------------------------------------------------ Codex CLI


def run_codex(envoy, tmp_path, prompt, *flags):
    """`codex exec` with a throwaway CODEX_HOME whose provider is the bridge
    (or anything with a `url`)."""
    home, work = tmp_path / "codex-home", tmp_path / "work"
    home.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    (home / "config.toml").write_text(
        f'model = "{MODEL}"\n'
        'model_provider = "bridge"\n'
        "[model_providers.bridge]\n"
        'name = "bridge"\n'
        f'base_url = "{envoy.url}/v1"\n'
        'env_key = "BRIDGE_KEY"\n'
        'wire_api = "responses"\n'
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n"
    )
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "CODEX_HOME": str(home), "BRIDGE_KEY": API_KEY}
    done = subprocess.run([str(CODEX), "exec", "--skip-git-repo-check", *flags, prompt], cwd=work, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)
    return done, work


@needs_codex
def test_codex_plain_answer(openai_envoy, upstream, tmp_path):
    answer = "The bridge carried this answer from an Anthropic upstream."
    upstream.responder = lambda request: text_stream(answer)
    done, _ = run_codex(openai_envoy, tmp_path, "Say hello.")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith(answer)

    request = messages_requests(upstream)[0]
    assert request.path == "/v1/messages"
    assert request.header("x-api-key") == API_KEY
    assert "zstd" not in (request.header("accept-encoding") or "")
    body = request.json
    assert body["stream"] is True
    assert "exec_command" in {t["name"] for t in body["tools"]}
    assert "Say hello." in json.dumps(body["messages"][-1])
    # Prompt caching: the last tool, the system prompt and the user turn.
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}


@needs_codex
def test_codex_shell_round_trip(openai_envoy, upstream, tmp_path):
    """The upstream asks for a shell command; Codex runs it and sends its output back."""

    def responder(request):
        if last_has_tool_result(request):
            return text_stream(f"The command printed {MARKER}.")
        return tool_stream("exec_command", {"cmd": f"echo {MARKER}"})

    upstream.responder = responder
    done, _ = run_codex(openai_envoy, tmp_path, "Run the marker command.", "-s", "danger-full-access")
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = messages_requests(upstream)
    assert second.path == "/v1/messages"
    assistant, results = second.json["messages"][-2:]
    assert assistant["content"][-1]["type"] == "tool_use" and assistant["content"][-1]["id"] == "toolu_codex_1"
    (result,) = [b for b in results["content"] if b["type"] == "tool_result"]
    assert result["tool_use_id"] == "toolu_codex_1"
    assert MARKER in json.dumps(result["content"])


@needs_codex
def test_codex_file_edit_lands_on_disk(openai_envoy, upstream, tmp_path):
    """Codex 0.171 with a model outside its catalogue offers no apply_patch
    tool (fixtures/responses/requests/codex-0.171.0-plain-0.json), so the edit
    comes as a shell command."""

    def responder(request):
        if last_has_tool_result(request):
            return text_stream("Wrote notes.txt.")
        return tool_stream("exec_command", {"cmd": f"printf '{MARKER}\\n' > notes.txt"})

    upstream.responder = responder
    done, work = run_codex(openai_envoy, tmp_path, "Write the marker to notes.txt.", "-s", "danger-full-access")
    assert done.returncode == 0, done.stderr[-3000:]
    assert (work / "notes.txt").read_text() == f"{MARKER}\n"
    assert all(r.path == "/v1/messages" for r in messages_requests(upstream))


def test_reply_helpers_build_valid_anthropic_streams():
    """The scaffold's own Anthropic stream builder."""
    reply = tool_stream("exec_command", {"cmd": "true"})
    events = anthropic_events(b"".join(reply.chunks))
    assert [e["type"] for e in events][:2] == ["message_start", "ping"]
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    assert isinstance(reply, Reply)



# ------------------------------------------- the converter's goldens vs the SDK

GOLDENS = sorted(p.name for p in (REPO / "fixtures/anthropic").glob("*.to-responses.*"))


def sdk_event_models():
    """Event type name -> the openai SDK's pydantic model(s) for it."""
    import typing

    import pydantic
    from openai.types import responses

    models = {}
    for name in dir(responses):
        model = getattr(responses, name)
        if not (isinstance(model, type) and issubclass(model, pydantic.BaseModel) and name.endswith("Event")):
            continue
        field = model.model_fields.get("type")
        for literal in typing.get_args(field.annotation) if field else ():
            models.setdefault(literal, []).append(model)
    return models


@pytest.mark.parametrize("name", GOLDENS)
def test_converter_goldens_validate_against_the_sdk_models(name):
    """The native converter's golden output (tests/responses_client_*.rs)
    passes the openai SDK's own models strictly, not only its lenient
    construction: every event of a stream, or the whole response."""
    from openai.types.responses import Response

    body = (REPO / "fixtures/anthropic" / name).read_text()
    if name.endswith(".json"):
        Response.model_validate(json.loads(body))
        return
    models = sdk_event_models()
    events = [json.loads(block.split("data: ", 1)[1]) for block in body.split("\n\n") if block.strip()]
    assert events
    for event in events:
        (model,) = models[event["type"]]
        model.model_validate(event)


def responses_events(stream):
    """The JSON payloads of a Responses event stream."""
    blocks = [b for b in stream.decode().split("\n\n") if b.strip()]
    return [json.loads(b.split("data: ", 1)[1]) for b in blocks]


def streamed_text(stream):
    return "".join(e["delta"] for e in responses_events(stream) if e["type"] == "response.output_text.delta")


@needs_codex
def test_codex_accepts_the_converters_stream(upstream, tmp_path):
    """Not through the bridge yet: Codex straight on a mock Responses server
    that answers with the stream converter's golden output for a recorded
    Anthropic text-then-tool_use stream. Codex must show the text, take the
    function call from output_item.done (it runs it: an unknown tool gets an
    "unsupported call" output) and send the call back with its call_id."""
    first = fixture_bytes("anthropic/docs-stream-text-then-tool-use.to-responses.sse")
    then = fixture_bytes("anthropic/stream-text-minimal.to-responses.sse")
    upstream.push(sse_reply(first, piece=64), sse_reply(then, piece=64))
    done, _ = run_codex(upstream, tmp_path, "Weather?")
    assert done.returncode == 0, done.stderr[-3000:]
    assert streamed_text(first) in done.stderr  # progress goes to stderr
    assert done.stdout.strip() == streamed_text(then).strip()  # the final answer to stdout

    (call,) = [e["item"] for e in responses_events(first)
               if e["type"] == "response.output_item.done" and e["item"]["type"] == "function_call"]
    first_request, second_request = messages_requests(upstream)
    assert first_request.path == second_request.path == "/v1/responses"
    sent = second_request.json["input"]
    calls = [i for i in sent if i.get("type") == "function_call"]
    outputs = [i for i in sent if i.get("type") == "function_call_output"]
    assert [(c["call_id"], c["name"], c["arguments"]) for c in calls] == [
        (call["call_id"], call["name"], call["arguments"])]
    assert [o["call_id"] for o in outputs] == [call["call_id"]]
    assert "unsupported call" in outputs[0]["output"]


@needs_codex
def test_codex_sends_the_converters_reasoning_back(upstream, tmp_path):
    """Codex straight on a mock Responses server answering with the
    converter's golden output for thinking then an exec_command call: Codex
    runs the command and its next request carries the bridge-made reasoning
    item back with its encrypted_content unchanged."""
    first = fixture_bytes("responses/bridge-thinking-then-exec-command.sse")
    then = fixture_bytes("anthropic/stream-text-minimal.to-responses.sse")
    upstream.push(sse_reply(first, piece=64), sse_reply(then, piece=64))
    done, _ = run_codex(upstream, tmp_path, "Echo the marker.")
    assert done.returncode == 0, done.stderr[-3000:]
    (reasoning,) = [e["item"] for e in responses_events(first)
                    if e["type"] == "response.output_item.done" and e["item"]["type"] == "reasoning"]
    _, second_request = messages_requests(upstream)
    sent = second_request.json["input"]
    (back,) = [i for i in sent if i.get("type") == "reasoning"]
    assert back["encrypted_content"] == reasoning["encrypted_content"]
    assert back["encrypted_content"].startswith("aobt1.")
    (output,) = [i for i in sent if i.get("type") == "function_call_output"]
    assert output["call_id"] == "toolu_codex_1"
    assert MARKER in output["output"]
