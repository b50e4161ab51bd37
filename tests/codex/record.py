#!/usr/bin/env python3
"""Records what the pinned Codex CLI sends to a Responses API provider.

Runs `codex exec` with a throwaway CODEX_HOME whose provider points at a mock
Responses server on 127.0.0.1 (tests/e2e/mock_upstream.py), which answers
every `POST …/responses` with the next recorded stream from
fixtures/responses/ and records the request. Writes each captured request as
fixtures/responses/requests/codex-<version>-<name>-<n>.json:
{"method", "path", "headers", "body"} (headers as received, the API key
replaced by a placeholder).

    python3 tests/codex/record.py NAME 'prompt' REPLY [REPLY ...]

A REPLY is a fixture path (responses/stream-text.sse) or `tool({"json":1})`,
the recorded function-call stream calling that tool instead. CODEX_MODEL sets
the model, CODEX_ARGS extra `codex exec` arguments.
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from mock_upstream import MockUpstream, Reply  # noqa: E402

CODEX = ROOT / "tests" / "codex" / "node_modules" / ".bin" / "codex"
KEY = "sk-codex-recording-placeholder"


def codex_config(base_url, model):
    return (
        f'model = "{model}"\n'
        'model_provider = "x"\n'
        "[model_providers.x]\n"
        'name = "recording mock"\n'
        f'base_url = "{base_url}"\n'
        'env_key = "X_KEY"\n'
        'wire_api = "responses"\n'
    )


def codex_version():
    out = subprocess.run([str(CODEX), "--version"], capture_output=True, text=True, check=True)
    return out.stdout.split()[-1]


def tool_call_stream(name, arguments):
    """fixtures/responses/stream-function-call.sse (a recorded function call)
    calling tool `name` with `arguments` (one delta) instead."""
    events = []
    for block in (ROOT / "fixtures/responses/stream-function-call.sse").read_text().split("\n\n"):
        if not block.strip():
            continue
        data = json.loads(block.split("data: ", 1)[1])
        kind = data["type"]
        if kind == "response.function_call_arguments.delta":
            if any(e["type"] == kind for e in events):
                continue
            data["delta"] = arguments
        if kind == "response.function_call_arguments.done":
            data["arguments"] = arguments
        for item in [data.get("item")] + ((data.get("response") or {}).get("output") or []):
            if item and item.get("type") == "function_call":
                item["name"] = name
                item["arguments"] = arguments if "done" in kind or "completed" in kind else ""
        events.append(data)
    out = b""
    for n, data in enumerate(events):
        data["sequence_number"] = n
        out += f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()
    return out


def reply_for(spec):
    """`name(json arguments)` calls a tool; anything else is a fixture."""
    if spec.endswith(")") and "(" in spec:
        name, arguments = spec[:-1].split("(", 1)
        body = tool_call_stream(name, arguments)
    else:
        body = (ROOT / "fixtures" / spec).read_bytes()
    return Reply(200, [("content-type", "text/event-stream")], chunks=[body])


def main():
    name, prompt, *streams = sys.argv[1:]
    replies = [reply_for(s) for s in streams]
    mock = MockUpstream().start()
    mock.push(*replies)
    try:
        with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as work:
            pathlib.Path(home, "config.toml").write_text(codex_config(f"{mock.url}/v1", os.environ.get("CODEX_MODEL", "gpt-5-codex")))
            env = {"PATH": os.environ["PATH"], "HOME": home, "CODEX_HOME": home, "X_KEY": KEY}
            run = subprocess.run(
                [str(CODEX), "exec", "--skip-git-repo-check", *os.environ.get("CODEX_ARGS", "").split(), prompt],
                cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
            )
            print("exit", run.returncode)
            print(run.stdout[-3000:])
            print(run.stderr[-3000:], file=sys.stderr)
    finally:
        mock.stop()
    version = codex_version()
    out_dir = ROOT / "fixtures" / "responses" / "requests"
    for n, request in enumerate(mock.requests):
        headers = [[k, KEY_PLACEHOLDER if v.endswith(KEY) else v] for k, v in request.headers]
        record = {"method": request.method, "path": request.path, "headers": headers,
                  "body": request.json if request.json is not None else request.body.decode("utf-8", "replace")}
        path = out_dir / f"codex-{version}-{name}-{n}.json"
        path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        print("wrote", path.relative_to(ROOT), request.method, request.path)


KEY_PLACEHOLDER = "Bearer <X_KEY>"

if __name__ == "__main__":
    main()
