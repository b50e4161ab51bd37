"""Tier 3: what a client gets when the upstream fails, in real Envoy.

Every failure is checked in both directions (an Anthropic client on an
OpenAI upstream, an OpenAI client on an Anthropic upstream), for streaming
and non-streaming requests where the two differ. Wherever the response is
still open the client gets a well-formed error in its own protocol, with
Envoy's own local replies (503 connection failures, 504 route timeouts)
converted like any upstream error; a reset after the stream began can only
end the connection. After each failure Envoy serves the next request, and
the module never trapped.

| upstream does | client gets |
|---|---|
| refuses the connection | 503, JSON error (Envoy's "upstream connect error" text) |
| resets before answering | 503, JSON error |
| stalls past the route timeout before answering | 504, JSON error (`timeout_error` / `server_error`) |
| stalls past the route timeout mid-stream | the events so far, then the connection ends |
| resets mid-stream | the events so far, then the connection ends |
| answers gzip although `accept-encoding` was removed | 502, JSON error naming the encoding |
| answers `text/html` with 200 | 502, JSON error |
| answers `text/html` with 502 (a proxy's error page) | 502, JSON error carrying the page text |
| answers 200 with an empty body | 502, JSON error; chunked and empty: the stream's error event, or a JSON error body under the 200 already sent |
| resets inside a completion's body | the 200 already sent, no body, the connection ends |
| ignores `stream: true` and answers one JSON completion | a well-formed stream of that completion (not an error) |
"""

import gzip
import http.client
import json
import socket
import time
from dataclasses import dataclass, field

import anthropic
import openai
import pytest

import envoy_config
from conftest import OPENAI_CLIENTS_TEMPLATE, RUNNING, TEMPLATE, Envoy, render_config, retire
from mock_upstream import MockUpstream, Reply, json_reply
from payloads import fixture_bytes, fixture_json
from rawhttp import post_json, sse_events

ROUTE_TIMEOUT = 1.0  # seconds, for the stall tests
TRAP_MARKERS = ("Function: proxy_on", "panicked", "wasm trap")


@dataclass
class Direction:
    name: str
    fixture: str  # the session Envoy for this direction
    template: object
    path: str
    headers: dict
    model: str
    completion: str  # an upstream completion fixture
    stream: str  # an upstream stream fixture
    error_types: dict = field(default_factory=dict)  # status -> the client's error type

    def payload(self, stream=False):
        body = {"model": self.model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
        if self.name == "anthropic":
            body["max_tokens"] = 64
        return body

    def post(self, envoy, stream=False, extra_headers=None):
        return post_json(envoy.url, self.path, self.payload(stream), {**self.headers, **(extra_headers or {})})

    def error(self, status, headers, body):
        """The client's own error envelope, checked; returns (type, message)."""
        assert headers["content-type"].startswith("application/json"), headers
        payload = json.loads(body)
        if self.name == "anthropic":
            assert payload["type"] == "error", payload
            error = payload["error"]
            assert set(error) == {"type", "message"}, payload
        else:
            error = payload["error"]
            assert {"message", "type", "param", "code"} <= set(error), payload
        assert isinstance(error["message"], str) and error["message"], payload
        if status in self.error_types:
            assert error["type"] == self.error_types[status], (status, payload)
        return error["type"], error["message"]

    def stream_events(self, body):
        """The converted stream's events: (name, JSON or the [DONE] text)."""
        events = []
        for name, data in sse_events(body):
            if name == "comment":
                continue
            events.append((name, data if data == "[DONE]" else json.loads(data)))
        return events

    def stream_ends_with_error(self, body):
        last_name, last = self.stream_events(body)[-1]
        if self.name == "anthropic":
            assert last_name == "error" and last["type"] == "error", last
            return last["error"]["message"]
        assert "error" in last, last
        return last["error"]["message"]

    def terminals(self, body):
        """How many terminal events the (possibly cut) stream holds."""
        if self.name == "anthropic":
            return sum(1 for name, _ in self.stream_events(body) if name in ("message_stop", "error"))
        return sum(1 for _, data in self.stream_events(body) if data == "[DONE]" or "error" in data)

    def first_event_is_the_start(self, body):
        name, data = self.stream_events(body)[0]
        if self.name == "anthropic":
            return name == "message_start"
        return data["object"] == "chat.completion.chunk" and data["choices"][0]["delta"]["role"] == "assistant"

    def check_message(self, body):
        payload = json.loads(body)
        if self.name == "anthropic":
            assert payload["type"] == "message", payload
        else:
            assert payload["object"] == "chat.completion", payload


ANTHROPIC = Direction(
    "anthropic", "envoy", TEMPLATE, "/v1/messages", {"x-api-key": "sk-test"}, "claude-sonnet-4-6",
    "openai/chat-text-gpt41-nano.json", "openai/stream-text.sse",
    {503: "overloaded_error", 504: "timeout_error", 502: "api_error"},
)
OPENAI = Direction(
    "openai", "openai_envoy", OPENAI_CLIENTS_TEMPLATE, "/v1/chat/completions",
    {"authorization": "Bearer sk-ant-test"}, "gpt-4o",
    "anthropic/msg-text.json", "anthropic/stream-text-minimal.sse",
    {503: "server_error", 504: "server_error", 502: "server_error"},
)
DIRECTIONS = {"anthropic": ANTHROPIC, "openai": OPENAI}


@pytest.fixture(params=list(DIRECTIONS))
def direction(request):
    return DIRECTIONS[request.param]


@pytest.fixture
def session_envoy(request, direction):
    """The session Envoy of the direction under test."""
    return request.getfixturevalue(direction.fixture)


def launch_envoy(tmp_dir, direction, upstream_url, route_timeout=None):
    """An Envoy of the given direction on any upstream URL, with options
    scripts/envoy_config.py's renderer takes (route_timeout=...)."""
    config = render_config(upstream_url, template=direction.template)
    if route_timeout is not None:
        envoy_config.set_route_timeout(config, route_timeout)
    envoy = Envoy(config, tmp_dir / direction.name, direction.name).start()
    RUNNING.append(envoy)
    return envoy


@pytest.fixture(scope="module")
def refused_envoys(tmp_path_factory):
    """Per direction: (an Envoy whose upstream port has no listener, the port)."""
    port = free_port()
    envoys = {name: launch_envoy(tmp_path_factory.mktemp("refused"), d, f"http://127.0.0.1:{port}")
              for name, d in DIRECTIONS.items()}
    yield {name: (envoy, port) for name, envoy in envoys.items()}
    for envoy in envoys.values():
        retire(envoy)


@pytest.fixture(scope="module")
def timeout_envoys(mock_server, tmp_path_factory):
    """Per direction: an Envoy on the mock with a ROUTE_TIMEOUT route timeout."""
    envoys = {name: launch_envoy(tmp_path_factory.mktemp("timeout"), d, mock_server.url, ROUTE_TIMEOUT)
              for name, d in DIRECTIONS.items()}
    yield envoys
    for envoy in envoys.values():
        retire(envoy)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_still_serving(envoy, upstream, direction, log_start, close=False):
    """Envoy answers the next request, converted, and the module never trapped.
    `close`: the upstream closes the connection after answering."""
    headers = [("connection", "close")] if close else []
    upstream.push(json_reply(fixture_json(direction.completion), headers=headers))
    status, _, body = direction.post(envoy)
    assert status == 200, body
    direction.check_message(body)
    log = envoy.log()[log_start:]
    for marker in TRAP_MARKERS:
        assert marker not in log


def read_until_cut(envoy, direction, stream=True):
    """POST and read the response until the connection ends; returns
    (status, headers, the bytes received, whether the body ended cleanly)."""
    connection = http.client.HTTPConnection(envoy.url.removeprefix("http://"), timeout=15)
    connection.request("POST", direction.path, json.dumps(direction.payload(stream)),
                       {"content-type": "application/json", **direction.headers})
    response = connection.getresponse()
    headers = {k.lower(): v for k, v in response.getheaders()}
    received = bytearray()
    clean = True
    try:
        while True:
            piece = response.read1(65536)
            if not piece:
                break
            received += piece
    except http.client.IncompleteRead as cut:
        received += cut.partial
        clean = False
    except (ConnectionError, http.client.HTTPException):
        clean = False
    if clean and response.chunked and not response.isclosed():
        clean = False
    connection.close()
    return response.status, headers, bytes(received), clean


# --------------------------------------------------- before the answer

@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_connection_refused_is_a_503_in_the_clients_format(refused_envoys, mock_server, direction, stream):
    envoy, port = refused_envoys[direction.name]
    log_start = len(envoy.log())
    status, headers, body = direction.post(envoy, stream)
    assert status == 503
    _, message = direction.error(status, headers, body)
    assert "upstream connect error" in message
    # Once the upstream is there, the same Envoy converts again.
    # (It closes its connection so that the port is refused again after.)
    upstream = MockUpstream(port=port).start()
    try:
        assert_still_serving(envoy, upstream, direction, log_start, close=True)
    finally:
        upstream.stop()


def test_connection_refused_raises_typed_sdk_errors(refused_envoys):
    anthropic_envoy, _ = refused_envoys["anthropic"]
    client = anthropic.Anthropic(base_url=anthropic_envoy.url, api_key="sk-test", max_retries=0, timeout=10)
    with pytest.raises(anthropic.InternalServerError) as raised:
        client.messages.create(model="claude", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert raised.value.status_code == 503
    assert raised.value.body["error"]["type"] == "overloaded_error"
    openai_envoy, _ = refused_envoys["openai"]
    client = openai.OpenAI(base_url=f"{openai_envoy.url}/v1", api_key="sk-ant", max_retries=0, timeout=10)
    with pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True)
    assert raised.value.status_code == 503
    assert raised.value.body["type"] == "server_error"


def reset_connection(request):
    """A responder that hangs up without answering."""
    raise ConnectionResetError("mock upstream: hanging up")


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_reset_before_the_answer_is_a_503(session_envoy, upstream, direction, stream):
    log_start = len(session_envoy.log())
    upstream.responder = reset_connection
    status, headers, body = direction.post(session_envoy, stream)
    assert status == 503
    _, message = direction.error(status, headers, body)
    assert "reset before headers" in message
    upstream.reset()
    assert_still_serving(session_envoy, upstream, direction, log_start)


def stall_then(seconds, reply):
    def responder(request):
        time.sleep(seconds)
        return reply
    return responder


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_stall_past_the_route_timeout_is_a_504(timeout_envoys, upstream, direction, stream):
    envoy = timeout_envoys[direction.name]
    log_start = len(envoy.log())
    upstream.responder = stall_then(ROUTE_TIMEOUT + 1.5, json_reply(fixture_json(direction.completion)))
    started = time.monotonic()
    status, headers, body = direction.post(envoy, stream)
    took = time.monotonic() - started
    assert status == 504
    _, message = direction.error(status, headers, body)
    assert "upstream request timeout" in message
    assert ROUTE_TIMEOUT * 0.9 <= took < ROUTE_TIMEOUT + 1.0
    upstream.reset()
    assert_still_serving(envoy, upstream, direction, log_start)


def test_route_timeout_504_raises_typed_sdk_errors(timeout_envoys, upstream):
    anthropic_envoy, openai_envoy = timeout_envoys["anthropic"], timeout_envoys["openai"]
    upstream.responder = stall_then(ROUTE_TIMEOUT + 1.0, Reply(500))
    client = anthropic.Anthropic(base_url=anthropic_envoy.url, api_key="sk-test", max_retries=0, timeout=10)
    with pytest.raises(anthropic.InternalServerError) as raised:
        with client.messages.stream(model="claude", max_tokens=10,
                                    messages=[{"role": "user", "content": "hi"}]) as stream:
            stream.get_final_message()
    assert raised.value.status_code == 504
    assert raised.value.body["error"]["type"] == "timeout_error"
    client = openai.OpenAI(base_url=f"{openai_envoy.url}/v1", api_key="sk-ant", max_retries=0, timeout=10)
    with pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert raised.value.status_code == 504


# ------------------------------------------------------- mid-stream

def stream_head(direction, events=3):
    data = fixture_bytes(direction.stream)
    return b"".join(event + b"\n\n" for event in data.split(b"\n\n")[:events])


def test_reset_mid_stream_ends_the_connection(session_envoy, upstream, direction):
    log_start = len(session_envoy.log())
    upstream.push(Reply(200, [("content-type", "text/event-stream")], chunks=[stream_head(direction)],
                        complete=False))
    status, headers, received, clean = read_until_cut(session_envoy, direction)
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    assert not clean, "a cut upstream must not look like a complete response"
    # What arrived before the cut was converted; no terminal event was invented.
    assert direction.first_event_is_the_start(received)
    assert direction.terminals(received) == 0
    assert_still_serving(session_envoy, upstream, direction, log_start)


def test_stall_past_the_route_timeout_mid_stream_ends_the_connection(timeout_envoys, upstream, direction):
    envoy = timeout_envoys[direction.name]
    log_start = len(envoy.log())
    head = stream_head(direction)
    rest = fixture_bytes(direction.stream)[len(head):]
    stall = ROUTE_TIMEOUT + 4.0
    upstream.push(Reply(200, [("content-type", "text/event-stream")], chunks=[head, stall, rest]))
    started = time.monotonic()
    status, _, received, clean = read_until_cut(envoy, direction)
    # Cut by the timeout (plus Envoy's 1 s delayed close), not by the upstream.
    assert time.monotonic() - started < stall - 1.0
    assert status == 200 and not clean
    assert direction.first_event_is_the_start(received)
    assert direction.terminals(received) == 0
    assert_still_serving(envoy, upstream, direction, log_start)


def test_reset_mid_body_of_a_completion_ends_the_connection(session_envoy, upstream, direction):
    """A non-streaming answer cut inside its body: the status went out
    with the headers, so the connection ends without a body."""
    log_start = len(session_envoy.log())
    body = fixture_bytes(direction.completion)
    upstream.push(Reply(200, [("content-type", "application/json")], chunks=[body[: len(body) // 2]],
                        complete=False))
    status, _, received, clean = read_until_cut(session_envoy, direction, stream=False)
    assert not clean
    assert received == b"", "a half-converted completion must not reach the client"
    assert status == 200
    assert_still_serving(session_envoy, upstream, direction, log_start)


# ------------------------------------------------- answers it cannot use

@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
@pytest.mark.parametrize("status", [200, 429])
def test_gzip_despite_removed_accept_encoding(session_envoy, upstream, direction, stream, status):
    log_start = len(session_envoy.log())
    if status == 200:
        plain = fixture_bytes(direction.stream if stream else direction.completion)
        content_type = "text/event-stream" if stream else "application/json"
    else:
        plain, content_type = b'{"error": {"message": "slow down", "type": "rate_limit_error"}}', "application/json"
    upstream.push(Reply(status, [("content-type", content_type), ("content-encoding", "gzip")], gzip.compress(plain)))
    got_status, headers, body = direction.post(session_envoy, stream, {"accept-encoding": "gzip"})
    assert upstream.requests[0].header("accept-encoding") is None  # the bridge asked for identity
    assert got_status == (502 if status == 200 else 429)
    assert "content-encoding" not in headers
    _, message = direction.error(got_status, headers, body)
    assert "`gzip`-encoded" in message
    assert_still_serving(session_envoy, upstream, direction, log_start)


BAD_GATEWAY_PAGE = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
@pytest.mark.parametrize("status", [200, 502])
def test_html_answer_is_a_502(session_envoy, upstream, direction, stream, status):
    log_start = len(session_envoy.log())
    upstream.push(Reply(status, [("content-type", "text/html")], BAD_GATEWAY_PAGE))
    got_status, headers, body = direction.post(session_envoy, stream)
    assert got_status == 502
    _, message = direction.error(got_status, headers, body)
    if status == 200:
        assert "unexpected content-type `text/html`" in message
    else:
        assert "502 Bad Gateway" in message and "nginx" in message
    assert_still_serving(session_envoy, upstream, direction, log_start)


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_empty_200_is_a_502(session_envoy, upstream, direction, stream):
    log_start = len(session_envoy.log())
    content_type = "text/event-stream" if stream else "application/json"
    upstream.push(Reply(200, [("content-type", content_type)], b""))
    got_status, headers, body = direction.post(session_envoy, stream)
    assert got_status == 502
    _, message = direction.error(got_status, headers, body)
    assert "empty response" in message
    assert_still_serving(session_envoy, upstream, direction, log_start)


def test_empty_chunked_stream_ends_with_the_streams_error(session_envoy, upstream, direction):
    """A 200 event stream that ends at once: the status is out, so the
    client's stream carries the error."""
    log_start = len(session_envoy.log())
    upstream.push(Reply(200, [("content-type", "text/event-stream")], chunks=[]))
    status, headers, body = direction.post(session_envoy, True)
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    assert "ended before completion" in direction.stream_ends_with_error(body)
    assert direction.terminals(body) == 1
    assert_still_serving(session_envoy, upstream, direction, log_start)


def test_empty_chunked_completion_is_an_error_body_under_200(session_envoy, upstream, direction):
    """A 200 JSON answer whose chunked body turns out empty: the status went
    out with the headers (a filter cannot hold response headers for its
    body), so the body is the client's error envelope, under 200."""
    log_start = len(session_envoy.log())
    upstream.push(Reply(200, [("content-type", "application/json")], chunks=[]))
    status, headers, body = direction.post(session_envoy, False)
    assert status == 200
    _, message = direction.error(status, headers, body)
    assert "not a" in message  # "…is not a chat completion" / "…is not a message"
    assert_still_serving(session_envoy, upstream, direction, log_start)


# --------------------------------------------------------- not an error

def test_json_completion_for_a_streaming_request_becomes_a_stream(session_envoy, upstream, direction):
    """Some OpenAI-compatible servers ignore `stream: true`: the client gets
    that completion as a stream in its own format, through its SDK."""
    completion = fixture_json(direction.completion)
    upstream.push(json_reply(completion), json_reply(completion))
    if direction.name == "anthropic":
        client = anthropic.Anthropic(base_url=session_envoy.url, api_key="sk-test", max_retries=0, timeout=30)
        request = dict(model=direction.model, max_tokens=64, messages=[{"role": "user", "content": "hi"}])
        whole = client.messages.create(**request)
        with client.messages.stream(**request) as stream:
            streamed = stream.get_final_message()
        assert upstream.requests[1].json["stream"] is True
        assert streamed.model_dump() == whole.model_dump()
    else:
        client = openai.OpenAI(base_url=f"{session_envoy.url}/v1", api_key="sk-ant", max_retries=0, timeout=30)
        request = dict(model=direction.model, messages=[{"role": "user", "content": "hi"}])
        whole = client.chat.completions.create(**request)
        chunks = list(client.chat.completions.create(**request, stream=True, stream_options={"include_usage": True}))
        assert upstream.requests[1].json["stream"] is True
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == whole.choices[0].message.content
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        assert finish == [whole.choices[0].finish_reason]
        assert chunks[-1].usage.total_tokens == whole.usage.total_tokens


def test_renderer_route_timeout_option(tmp_path):
    """scripts/envoy_config.py --route-timeout (what these tests use); the
    default keeps the template's 600 s."""
    out = tmp_path / "envoy.yaml"
    envoy_config.main(["--upstream", "http://127.0.0.1:1", "--no-filter", "--route-timeout", "2.5", "-o", str(out)])
    assert "timeout: 2.5s" in out.read_text()
    envoy_config.main(["--upstream", "http://127.0.0.1:1", "--no-filter", "-o", str(out)])
    assert "timeout: 600s" in out.read_text()
    with pytest.raises(ValueError):
        envoy_config.set_route_timeout(envoy_config.render("http://127.0.0.1:1", with_filter=False), -1)
