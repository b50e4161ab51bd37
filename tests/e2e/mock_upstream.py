#!/usr/bin/env python3
"""A mock model server on 127.0.0.1 for the real-Envoy tests (stdlib only).

Scripted mode (tests): every request is recorded (method, path with query,
headers, decoded body) and answered with the next scripted `Reply`: a whole body
with content-length, or a list of chunks sent with chunked transfer encoding and
a delay before each, so Envoy sees many body callbacks. A request whose body
never completes (Envoy reset the upstream stream) is kept apart in `aborted`.

Requests converted by the bridge arrive WITHOUT content-length, i.e. with a
chunked body; the handler decodes chunked request bodies itself
(http.server does not).

Demo mode (`make run` without a real upstream):

    python tests/e2e/mock_upstream.py --demo --port 8000

answers POST .../v1/chat/completions (OpenAI), POST .../v1/responses (OpenAI
Responses) and POST .../v1/messages (Anthropic), streaming or not, from the
request itself.
"""

import argparse
import collections
import json
import re
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: list  # (name, value) pairs as received
    body: bytes
    chunked: bool  # the body came with transfer-encoding: chunked

    def header(self, name):
        """The first value of header `name` (case-insensitive), or None."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def header_names(self):
        return {key.lower() for key, _ in self.headers}

    @property
    def json(self):
        """The body parsed as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass
class Reply:
    """What the mock answers.

    `chunks` (when not None) switches to chunked encoding; a number among the
    chunks is a pause of that many seconds instead of data. `complete=False`
    closes the connection after the chunks without the terminating chunk, like
    an upstream that dies mid-response.
    """

    status: int = 200
    headers: list = field(default_factory=list)
    body: bytes = b""
    chunks: list = None
    delay: float = 0.0  # seconds slept before each chunk
    complete: bool = True


def pieces(data, size):
    """`data` cut into `size`-byte pieces (the last one may be shorter)."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def json_reply(payload, status=200, headers=()):
    """A whole JSON body; `payload` is an object or already-encoded bytes."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Reply(status, [("content-type", "application/json"), *headers], body)


def sse_reply(data, piece=None, delay=0.0, headers=()):
    """An SSE body sent chunked, in `piece`-byte chunks (whole when None)."""
    chunks = pieces(data, piece) if piece else [data]
    return Reply(200, [("content-type", "text/event-stream"), *headers], chunks=chunks, delay=delay)


def read_chunked(rfile):
    """Decode a chunked request body (RFC 9112 section 7.1), trailers discarded."""
    body = bytearray()
    while True:
        size_line = rfile.readline(1024)
        if not size_line:
            raise ValueError("connection closed inside a chunked body")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            break
        chunk = rfile.read(size)
        if len(chunk) != size or rfile.readline(3) != b"\r\n":
            raise ValueError("truncated chunk")
        body += chunk
    while rfile.readline(65536) not in (b"\r\n", b"\n", b""):
        pass
    return bytes(body)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real model server

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_any(self):
        chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        request = RecordedRequest(self.command, self.path, list(self.headers.items()), b"", chunked)
        try:
            request.body = self.read_body(chunked)
        except (ValueError, ConnectionError):
            self.server.upstream.record_aborted(request)
            self.close_connection = True
            return
        try:
            self.send_reply(self.server.upstream.handle(request))
        except ConnectionError:
            self.close_connection = True

    def read_body(self, chunked):
        if chunked:
            return read_chunked(self.rfile)
        length = int(self.headers.get("content-length", 0))
        body = self.rfile.read(length)
        if len(body) != length:
            raise ValueError("connection closed inside the body")
        return body

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any

    def send_reply(self, reply):
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.chunks is None:
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for chunk in reply.chunks:
            if isinstance(chunk, (int, float)):
                time.sleep(chunk)
                continue
            if reply.delay:
                time.sleep(reply.delay)
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        if reply.complete:
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.close_connection = True

    def log_message(self, format, *args):
        if self.server.upstream.verbose:
            super().log_message(format, *args)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A peer that resets an idle keep-alive connection is not an error.

        Envoy does that when its client hung up before the upstream response
        ended, e.g. an OpenAI SDK that stops reading at `data: [DONE]` while
        the chunked body's last chunk is still on its way.
        """
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class MockUpstream:
    """An HTTP server in a background thread.

    Without a `responder`, replies come from the script (`push`); an unscripted
    request gets a text/plain 500 saying so.
    """

    def __init__(self, responder=None, host="127.0.0.1", port=0, verbose=False):
        self.responder = responder or self.next_scripted
        self.verbose = verbose
        self.requests = []
        self.aborted = []
        self.script = collections.deque()
        self.lock = threading.Lock()
        self.server = Server((host, port), Handler)
        self.server.upstream = self
        self.thread = None

    @property
    def port(self):
        return self.server.server_address[1]

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def push(self, *replies):
        """Queue replies for the next requests, in order."""
        with self.lock:
            self.script.extend(replies)

    def reset(self):
        """Back to scripted replies, with an empty script and no records."""
        with self.lock:
            self.responder = self.next_scripted
            self.script.clear()
            self.requests.clear()
            self.aborted.clear()

    def handle(self, request):
        with self.lock:
            self.requests.append(request)
        return self.responder(request)

    def record_aborted(self, request):
        """A request whose body never completed (the client reset the stream)."""
        with self.lock:
            self.aborted.append(request)

    def next_scripted(self, request):
        with self.lock:
            if self.script:
                return self.script.popleft()
        message = f"mock upstream: no reply scripted for {request.method} {request.path}\n"
        return Reply(500, [("content-type", "text/plain")], message.encode())


# ---------------------------------------------------------------- demo mode

DEMO_GREETING = "Hello from the bridge demo upstream."


def text_of(content):
    """The text of an OpenAI or Anthropic message content (string or parts)."""
    if isinstance(content, str):
        return content
    texts = []
    for part in content or []:
        if isinstance(part, dict) and part.get("type") == "text":
            texts.append(part.get("text", ""))
        elif isinstance(part, dict) and part.get("type") == "tool_result":
            texts.append(text_of(part.get("content")))
    return " ".join(texts)


def is_tool_result(message):
    content = message.get("content")
    return message.get("role") == "tool" or (
        isinstance(content, list)
        and any(isinstance(p, dict) and p.get("type") == "tool_result" for p in content)
    )


def last_text(content):
    """The last text the user typed: the final text part (Claude Code puts
    system reminders in earlier parts of the same message)."""
    if isinstance(content, str):
        return content
    texts = [p.get("text", "") for p in content or [] if isinstance(p, dict) and p.get("type") == "text"]
    return texts[-1] if texts else ""


def demo_turn(messages, tool_names):
    """Decide the demo answer: ("text", reply) or ("tool", (name, arguments)).

    A tool is called when tools were offered and the user's last text mentions
    "tool": Claude Code's Bash when offered (it can run it), else the first
    tool with no arguments. Right after a tool result the demo answers in text
    (no agent loop).
    """
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    if is_tool_result(last):
        return "text", f"{DEMO_GREETING} Tool result received: {text_of(last.get('content')).strip()}"
    said = last_text(last.get("content"))
    if tool_names and "tool" in said.lower():
        if "Bash" in tool_names:
            return "tool", ("Bash", {"command": "echo Hello from the bridge demo tool call",
                                     "description": "Print a greeting"})
        return "tool", (tool_names[0], {})
    return "text", f"{DEMO_GREETING} You said: {said}"


def word_count(messages):
    return sum(len(text_of(m.get("content")).split()) for m in messages if isinstance(m, dict))


def words(text):
    """`text` split into stream deltas that join back to it exactly."""
    return re.findall(r"\S+\s*|\s+", text)


def sse_event(payload, event=None):
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(payload)}\n\n".encode()


def demo_openai(body):
    messages = body.get("messages") or []
    tools = [t.get("function", {}).get("name") for t in body.get("tools") or []]
    kind, value = demo_turn(messages, tools)
    model = body.get("model", "demo")
    usage = {"prompt_tokens": word_count(messages), "completion_tokens": 0}
    base = {"id": f"chatcmpl-demo-{uuid.uuid4().hex[:12]}", "created": int(time.time()), "model": model}
    if kind == "tool":
        name, arguments = value
        call = {"id": f"call_demo_{uuid.uuid4().hex[:8]}", "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)}}
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        finish = "tool_calls"
        deltas = [{"tool_calls": [{"index": 0, **call}]}]
    else:
        message = {"role": "assistant", "content": value}
        finish = "stop"
        deltas = [{"content": w} for w in words(value)]
    usage["completion_tokens"] = len(deltas)
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    if not body.get("stream"):
        choice = {"index": 0, "message": message, "finish_reason": finish}
        return json_reply({**base, "object": "chat.completion", "choices": [choice], "usage": usage})

    def chunk(delta, finish_reason=None):
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return sse_event({**base, "object": "chat.completion.chunk", "choices": [choice]})

    events = [chunk({"role": "assistant", "content": ""})] + [chunk(d) for d in deltas]
    events.append(chunk({}, finish))
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append(sse_event({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}))
    events.append(b"data: [DONE]\n\n")
    return Reply(200, [("content-type", "text/event-stream")], chunks=events, delay=0.02)


def demo_anthropic(body):
    messages = body.get("messages") or []
    tools = [t.get("name") for t in body.get("tools") or []]
    kind, value = demo_turn(messages, tools)
    if kind == "tool":
        name, arguments = value
        block = {"type": "tool_use", "id": f"toolu_demo_{uuid.uuid4().hex[:12]}", "name": name, "input": arguments}
        stop_reason, deltas = "tool_use", [{"type": "input_json_delta", "partial_json": json.dumps(arguments)}]
    else:
        block = {"type": "text", "text": value}
        stop_reason = "end_turn"
        deltas = [{"type": "text_delta", "text": w} for w in words(value)]
    message = {"id": f"msg_demo_{uuid.uuid4().hex[:12]}", "type": "message", "role": "assistant",
               "model": body.get("model", "demo"), "content": [block], "stop_reason": stop_reason,
               "stop_sequence": None,
               "usage": {"input_tokens": word_count(messages), "output_tokens": len(deltas)}}
    if not body.get("stream"):
        return json_reply(message)
    start_block = {**block, "input": {}} if kind == "tool" else {**block, "text": ""}
    events = [
        sse_event({"type": "message_start",
                   "message": {**message, "content": [], "stop_reason": None,
                               "usage": {**message["usage"], "output_tokens": 0}}}, "message_start"),
        sse_event({"type": "content_block_start", "index": 0, "content_block": start_block},
                  "content_block_start"),
        sse_event({"type": "ping"}, "ping"),
        *(sse_event({"type": "content_block_delta", "index": 0, "delta": d}, "content_block_delta")
          for d in deltas),
        sse_event({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        sse_event({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                   "usage": {"output_tokens": len(deltas)}}, "message_delta"),
        sse_event({"type": "message_stop"}, "message_stop"),
    ]
    return Reply(200, [("content-type", "text/event-stream")], chunks=events, delay=0.02)


def responses_messages(items):
    """A Responses `input` as the chat-shaped messages `demo_turn` reads."""
    messages = []
    for item in items if isinstance(items, list) else [{"role": "user", "content": items}]:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call_output":
            output = item.get("output")
            messages.append({"role": "tool", "content": output if isinstance(output, str) else json.dumps(output)})
        elif item.get("role") in ("user", "assistant"):
            content = item.get("content")
            if isinstance(content, list):
                content = [{"type": "text", "text": p.get("text", "")} for p in content
                           if isinstance(p, dict) and p.get("type") in ("input_text", "output_text")]
            messages.append({"role": item["role"], "content": content})
    return messages


def demo_responses(body):
    """An OpenAI Responses answer (`store: false` is all the demo supports)."""
    messages = responses_messages(body.get("input") or [])
    tools = [t.get("name") for t in body.get("tools") or [] if t.get("type") == "function"]
    kind, value = demo_turn(messages, tools)
    response_id = f"resp_demo_{uuid.uuid4().hex[:12]}"
    if kind == "tool":
        name, arguments = value
        item = {"type": "function_call", "id": f"fc_demo_{uuid.uuid4().hex[:8]}", "status": "completed",
                "call_id": f"call_demo_{uuid.uuid4().hex[:8]}", "name": name, "arguments": json.dumps(arguments)}
        deltas = [("response.function_call_arguments.delta", item["arguments"])]
    else:
        item = {"type": "message", "id": f"msg_demo_{uuid.uuid4().hex[:8]}", "status": "completed",
                "role": "assistant", "content": [{"type": "output_text", "text": value, "annotations": []}]}
        deltas = [("response.output_text.delta", w) for w in words(value)]
    usage = {"input_tokens": word_count(messages), "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": len(deltas), "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": word_count(messages) + len(deltas)}
    response = {"id": response_id, "object": "response", "created_at": int(time.time()), "status": "completed",
                "model": body.get("model", "demo"), "output": [item], "usage": usage}
    if not body.get("stream"):
        return json_reply(response)
    started = {**response, "status": "in_progress", "output": [], "usage": None}
    added = {**item, "status": "in_progress"}
    if kind == "tool":
        added["arguments"] = ""
    else:
        added["content"] = []
    payloads = [
        {"type": "response.created", "response": started},
        {"type": "response.output_item.added", "output_index": 0, "item": added},
        *({"type": kind_, "output_index": 0, "item_id": item["id"], "content_index": 0, "delta": d}
          for kind_, d in deltas),
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": response},
    ]
    events = [sse_event({**p, "sequence_number": n}, p["type"]) for n, p in enumerate(payloads)]
    return Reply(200, [("content-type", "text/event-stream")], chunks=events, delay=0.02)


def demo_models():
    return json_reply({"object": "list",
                       "data": [{"id": "demo", "object": "model", "created": 0, "owned_by": "demo"}]})


def demo_responder(request):
    path = request.path.split("?", 1)[0]
    body = request.json if isinstance(request.json, dict) else {}
    if request.method == "POST" and path.endswith("/v1/chat/completions"):
        return demo_openai(body)
    if request.method == "POST" and path.endswith("/v1/messages"):
        return demo_anthropic(body)
    if request.method == "POST" and path.endswith("/v1/responses"):
        return demo_responses(body)
    if request.method == "GET" and path.endswith("/v1/models"):
        return demo_models()
    error = {"error": {"message": f"demo upstream has no {request.method} {path}",
                       "type": "invalid_request_error", "param": None, "code": None}}
    return json_reply(error, status=404)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Demo OpenAI/Anthropic-compatible upstream.")
    parser.add_argument("--demo", action="store_true", required=True,
                        help="answer from the request (the only command-line mode)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    upstream = MockUpstream(demo_responder, args.host, args.port, verbose=True)
    print(f"demo upstream listening on http://{args.host}:{upstream.port}", file=sys.stderr)
    try:
        upstream.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        upstream.server.server_close()


if __name__ == "__main__":
    main()
