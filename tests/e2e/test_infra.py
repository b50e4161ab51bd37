"""The tier-3 machinery itself: mock upstream, config renderer, plain Envoy.

None of these need the bridge module, so they show whether a failure elsewhere
comes from the module or from the harness.
"""

import json
import socket
import time
from pathlib import Path

import anthropic
import envoy_config
import openai
import pytest
from mock_upstream import MockUpstream, RecordedRequest, Reply, demo_responder, json_reply, sse_reply
from rawhttp import send, sse_events

BODY = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * 5000}]}).encode()


def test_mock_decodes_chunked_and_content_length_bodies(upstream):
    upstream.push(json_reply({"ok": 1}), json_reply({"ok": 2}))
    assert send(upstream.url, "POST", "/a?q=1", BODY, chunked=True)[0] == 200
    assert send(upstream.url, "POST", "/b", BODY)[0] == 200
    chunked, whole = upstream.requests
    assert (chunked.path, chunked.chunked, chunked.body) == ("/a?q=1", True, BODY)
    assert (whole.path, whole.chunked, whole.body) == ("/b", False, BODY)
    assert whole.json["model"] == "m"


def test_mock_keeps_requests_cut_short_apart(upstream):
    with socket.create_connection(("127.0.0.1", upstream.port)) as connection:
        connection.sendall(b"POST /v1/x HTTP/1.1\r\nhost: m\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab")
    deadline = time.monotonic() + 5
    while not upstream.aborted and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [(r.method, r.path) for r in upstream.aborted] == [("POST", "/v1/x")]
    assert upstream.requests == []


def test_mock_replies_in_chunks(upstream):
    data = b"data: {}\n\n" * 20
    upstream.push(sse_reply(data, piece=7, delay=0.001, headers=[("x-extra", "1")]))
    status, headers, body = send(upstream.url, "GET", "/stream")
    assert (status, headers["transfer-encoding"], headers["x-extra"], body) == (200, "chunked", "1", data)


def test_mock_without_script_says_so(upstream):
    status, _, body = send(upstream.url, "GET", "/nothing")
    assert status == 500 and b"no reply scripted for GET /nothing" in body


def test_demo_openai_streams_usage_and_calls_tools():
    body = {"model": "demo", "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "hi there"}]}
    request = json_request("/v1/chat/completions", body)
    events = sse_payloads(b"".join(demo_responder(request).chunks))
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-2])
    assert text.endswith("You said: hi there")
    assert events[-2]["choices"] == [] and events[-2]["usage"]["prompt_tokens"] == 2
    assert events[-1] == "[DONE]"
    body.update(stream=False, tools=[{"type": "function", "function": {"name": "lookup", "parameters": {}}}],
                messages=[{"role": "user", "content": "use a tool"}])
    message = json.loads(demo_responder(json_request("/v1/chat/completions", body)).body)
    assert message["choices"][0]["message"]["tool_calls"][0]["function"] == {"name": "lookup", "arguments": "{}"}


def test_demo_anthropic_answers_tool_results_in_text():
    body = {"model": "demo", "max_tokens": 10, "tools": [{"name": "lookup", "input_schema": {}}],
            "messages": [{"role": "user", "content": "use a tool"}]}
    message = json.loads(demo_responder(json_request("/v1/messages", body)).body)
    assert message["stop_reason"] == "tool_use" and message["content"][0]["name"] == "lookup"
    body["messages"].append({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": message["content"][0]["id"], "content": "42"}]})
    body["stream"] = True
    stream = b"".join(demo_responder(json_request("/v1/messages", body)).chunks).decode()
    assert "Tool result received: 42" in "".join(
        e["delta"].get("text", "") for e in sse_payloads(stream.encode()) if e["type"] == "content_block_delta")
    assert stream.rstrip().endswith('data: {"type": "message_stop"}')


def test_renderer_https_upstream_gets_tls_with_sni(tmp_path):
    config = envoy_config.render("https://api.openai.com", wasm_path="x.wasm", ca_file="/ca.pem",
                                 plugin_config={"upstream_protocol": "openai", "max_tokens_field": "max_tokens"})
    cluster = envoy_config.upstream_cluster(config)
    address = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
    assert address["socket_address"] == {"address": "api.openai.com", "port_value": 443}
    tls = cluster["transport_socket"]["typed_config"]
    assert tls["sni"] == "api.openai.com"
    assert tls["common_tls_context"]["validation_context"]["trusted_ca"] == {"filename": "/ca.pem"}
    plugin = envoy_config.http_connection_manager(config)["http_filters"][0]["typed_config"]["config"]
    assert json.loads(plugin["configuration"]["value"])["max_tokens_field"] == "max_tokens"
    assert plugin["vm_config"]["code"]["local"]["filename"] == str(Path("x.wasm").resolve())


def test_renderer_cli_writes_passthrough_config(tmp_path):
    out = tmp_path / "out.yaml"
    envoy_config.main(["--upstream", "http://127.0.0.1:8123", "--no-filter", "--port", "10001", "-o", str(out)])
    config = envoy_config.yaml.safe_load(out.read_text())
    names = [f["name"] for f in envoy_config.http_connection_manager(config)["http_filters"]]
    assert names == ["envoy.filters.http.router"]
    listener = config["static_resources"]["listeners"][0]
    assert listener["address"]["socket_address"]["port_value"] == 10001
    assert "transport_socket" not in envoy_config.upstream_cluster(config)


SHIPPED_TEMPLATES = {
    "anthropic-clients": envoy_config.TEMPLATE,
    "openai-clients": envoy_config.OPENAI_CLIENTS_TEMPLATE,
}


@pytest.mark.parametrize("template", SHIPPED_TEMPLATES.values(), ids=SHIPPED_TEMPLATES.keys())
@pytest.mark.parametrize("with_filter", [False, True], ids=["passthrough", "bridge"])
def test_rendered_shipped_config_validates(validate_config, with_filter, template):
    result = validate_config(with_filter=with_filter, template=template)
    assert result.returncode == 0, result.stdout + result.stderr


def plugin_configuration(config):
    plugin = envoy_config.find_named(envoy_config.http_connection_manager(config)["http_filters"],
                                     envoy_config.WASM_FILTER)
    return plugin["typed_config"]["config"]["configuration"]


def test_shipped_configs_differ_only_in_plugin_configuration():
    """envoy-openai-clients.yaml is envoy.yaml for the other direction: the
    same listener, limits, timeouts and docker-compose upstream (`upstream:8000`),
    with an Anthropic upstream in the plugin configuration (docs/configuration.md#keys-in-detail)."""
    anthropic_clients, openai_clients = (envoy_config.yaml.safe_load(t.read_text())
                                         for t in SHIPPED_TEMPLATES.values())
    assert json.loads(plugin_configuration(anthropic_clients)["value"]) == {"upstream_protocol": "openai"}
    assert json.loads(plugin_configuration(openai_clients)["value"]) == {
        "upstream_protocol": "anthropic", "anthropic_version": "2023-06-01"}
    plugin_configuration(openai_clients)["value"] = plugin_configuration(anthropic_clients)["value"]
    assert openai_clients == anthropic_clients


def test_renderer_cli_renders_the_openai_clients_template(tmp_path):
    out = tmp_path / "out.yaml"
    envoy_config.main(["--template", str(envoy_config.OPENAI_CLIENTS_TEMPLATE), "--upstream",
                       "http://127.0.0.1:8124", "--wasm", "x.wasm", "-o", str(out)])
    config = envoy_config.yaml.safe_load(out.read_text())
    assert json.loads(plugin_configuration(config)["value"])["upstream_protocol"] == "anthropic"
    address = envoy_config.upstream_cluster(config)["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
    assert address["endpoint"]["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 8124}


def test_rendered_https_config_validates(validate_config):
    result = validate_config("https://api.openai.com", with_filter=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_plain_envoy_forwards_chunked_request_and_streamed_reply(passthrough_envoy, upstream):
    data = b"".join(b'data: {"n": %d}\n\n' % i for i in range(50))
    upstream.push(sse_reply(data, piece=7, delay=0.001))
    status, headers, body = send(passthrough_envoy.url, "POST", "/v1/chat/completions?x=1", BODY,
                                 headers={"content-type": "application/json"}, chunked=True)
    assert (status, body) == (200, data)
    assert headers["content-type"] == "text/event-stream"
    (received,) = upstream.requests
    assert (received.method, received.path, received.body, received.chunked) == (
        "POST", "/v1/chat/completions?x=1", BODY, True)


def test_plain_envoy_keeps_status_and_headers(passthrough_envoy, upstream):
    upstream.push(Reply(429, [("retry-after", "7"), ("content-type", "text/plain")], b"slow down"))
    status, headers, body = send(passthrough_envoy.url, "GET", "/v1/models")
    assert (status, headers["retry-after"], body) == (429, "7", b"slow down")


def json_request(path, body):
    return RecordedRequest("POST", path, [("content-type", "application/json")], json.dumps(body).encode(), False)


def sse_payloads(stream):
    """The `data:` payloads of an SSE byte stream, JSON-decoded except [DONE]."""
    return [data if data == "[DONE]" else json.loads(data) for _, data in sse_events(stream)]


def test_demo_satisfies_the_official_sdks():
    demo = MockUpstream(demo_responder).start()
    try:
        claude = anthropic.Anthropic(base_url=demo.url, api_key="sk-test", max_retries=0)
        with claude.messages.stream(model="demo", max_tokens=50,
                                    messages=[{"role": "user", "content": "ping"}]) as stream:
            assert stream.get_final_message().content[0].text.endswith("You said: ping")
        gpt = openai.OpenAI(base_url=demo.url + "/v1", api_key="sk-test", max_retries=0)
        chunks = list(gpt.chat.completions.create(model="demo", stream=True,
                                                  messages=[{"role": "user", "content": "pong"}]))
        assert "".join(c.choices[0].delta.content or "" for c in chunks).endswith("You said: pong")
    finally:
        demo.stop()
