"""The flagship client: the real Claude Code CLI (pinned in tests/claude-code)
through Envoy with the bridge, on a scripted OpenAI-compatible upstream.

Claude Code 2.x posts to /v1/messages?beta=true with stream: true, two dozen
tools, adaptive thinking, a mid-conversation system message and a dozen
anthropic-*/x-stainless-* headers. These tests run it for a plain answer and
for a tool round trip in which Claude Code really executes the Bash command
the upstream asked for and sends its output back.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

from mock_upstream import Reply

REPO = Path(__file__).resolve().parents[2]
CLAUDE = Path(os.environ.get("CLAUDE_CODE_BIN", REPO / "tests/claude-code/node_modules/.bin/claude"))

pytestmark = pytest.mark.skipif(
    not CLAUDE.exists() and not os.environ.get("REQUIRE_CLAUDE_CODE"),
    reason="Claude Code is not installed (make test installs it: npm ci in tests/claude-code)",
)

MARKER = "bridge-roundtrip-ok"


def openai_stream(deltas, finish_reason):
    """An OpenAI chat.completion.chunk stream with usage and [DONE]."""
    chunks = []
    base = {"id": "chatcmpl-cc", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test"}
    first = {"role": "assistant"}
    for delta in deltas:
        chunks.append({**base, "choices": [{"index": 0, "delta": {**first, **delta}, "finish_reason": None}]})
        first = {}
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish_reason}]})
    chunks.append({**base, "choices": [], "usage": {"prompt_tokens": 1200, "completion_tokens": 20, "total_tokens": 1220,
                                                     "prompt_tokens_details": {"cached_tokens": 1000}}})
    body = b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"
    pieces = [body[i:i + 40] for i in range(0, len(body), 40)]
    return Reply(200, [("content-type", "text/event-stream")], chunks=pieces, delay=0.001)


def text_reply(text):
    return openai_stream([{"content": word + " "} for word in text.split()], "stop")


def bash_call_reply():
    """A Bash tool call whose arguments arrive split across chunks."""
    arguments = json.dumps({"command": f"echo {MARKER}", "description": "Print a marker"})
    deltas = [{"tool_calls": [{"index": 0, "id": "call_bash_1", "type": "function",
                               "function": {"name": "Bash", "arguments": ""}}]}]
    for i in range(0, len(arguments), 7):
        deltas.append({"tool_calls": [{"index": 0, "function": {"arguments": arguments[i:i + 7]}}]})
    return openai_stream(deltas, "tool_calls")


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


def message_requests(upstream):
    return [r for r in upstream.requests if r.path.endswith("/chat/completions")]


def test_claude_code_plain_answer(envoy, upstream, tmp_path):
    answer = "The bridge carried this answer from an OpenAI-compatible upstream."
    upstream.responder = lambda request: text_reply(answer)
    result = run_claude(envoy, tmp_path, "Say hello")
    assert result["is_error"] is False, json.dumps(result)[:2000]
    assert result["result"].strip() == answer
    assert result["usage"]["cache_read_input_tokens"] == 1000
    assert result["usage"]["input_tokens"] == 200

    requests = message_requests(upstream)
    assert requests, "Claude Code's request never reached the upstream"
    sent = requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.header("authorization") == "Bearer sk-claude-code-test"
    assert not any(n.startswith(("anthropic-", "x-stainless-")) or n == "x-api-key" for n in sent.header_names)
    body = sent.json
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert len(body["tools"]) >= 10 and all(t["type"] == "function" for t in body["tools"])
    assert {"Bash", "Read", "Edit"} <= {t["function"]["name"] for t in body["tools"]}
    roles = [m["role"] for m in body["messages"]]
    assert roles[0] == "system" and "user" in roles
    assert "cch=" not in body["messages"][0]["content"]
    assert len(body["user"]) <= 64
    assert body["reasoning_effort"] in ("low", "medium", "high")
    for dropped in ("thinking", "output_config", "context_management", "metadata", "system"):
        assert dropped not in body


def test_claude_code_tool_round_trip(envoy, upstream, tmp_path):
    """The upstream asks for Bash; Claude Code runs it and sends the output back."""

    def responder(request):
        messages = request.json["messages"]
        if messages[-1]["role"] == "tool":
            return text_reply(f"The command printed {messages[-1]['content'].strip()}")
        return bash_call_reply()

    upstream.responder = responder
    result = run_claude(envoy, tmp_path, "Run the marker command", "--allowedTools", "Bash")
    assert result["is_error"] is False, json.dumps(result)[:2000]
    assert MARKER in result["result"]

    requests = message_requests(upstream)
    assert len(requests) >= 2
    follow_up = requests[-1].json["messages"]
    call = next(m for m in follow_up if m["role"] == "assistant" and m.get("tool_calls"))
    assert call["tool_calls"][0]["id"] == "call_bash_1"
    assert call["tool_calls"][0]["function"]["name"] == "Bash"
    assert json.loads(call["tool_calls"][0]["function"]["arguments"])["command"] == f"echo {MARKER}"
    tool_message = follow_up[-1]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_bash_1"
    assert MARKER in tool_message["content"], "the real command output came back as the tool result"
