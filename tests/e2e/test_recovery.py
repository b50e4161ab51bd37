"""Tier 3: a module that traps is reloaded (issue 12, "Recovery").

The shipped configs set `failure_policy: FAIL_RELOAD`. Without it, one trap
(an allocation failure, say) leaves the VM dead on that worker: about half of
all later requests get an empty 503 until Envoy restarts. Here the test-only
build (`make trap-module`: feature `test-trap`, a request header makes it
trap; never the shipped module) runs in the shipped config, traps on
purpose, and the requests after it are served and converted again.
"""

import json
import time

import pytest

from conftest import REPO, RUNNING, TEMPLATE, Envoy, envoy_config
from mock_upstream import json_reply
from payloads import fixture_json
from rawhttp import post_json

TRAP_WASM = REPO / "target/wasm32-wasip1/release/anthropic_openai_bridge_trap.wasm"
REQUEST = {"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
HEADERS = {"x-api-key": "sk-test"}


@pytest.fixture
def trap_envoy(mock_server, tmp_path):
    if not TRAP_WASM.is_file():
        pytest.skip(f"test-only module not built: {TRAP_WASM} (make trap-module)")
    config = envoy_config.render(mock_server.url, wasm_path=TRAP_WASM, port=0, admin_port=0,
                                 listen_address="127.0.0.1", template=TEMPLATE)
    envoy = Envoy(config, tmp_path / "trap", "trap").start()
    RUNNING.append(envoy)
    yield envoy
    envoy.stop()
    RUNNING.remove(envoy)


def wasm_stats(envoy):
    stats = {}
    for line in envoy.admin_get("/stats").splitlines():
        name, _, value = line.partition(": ")
        if name.startswith("wasm.") and value.strip().isdigit():
            stats[name] = int(value)
    return stats


def stat_ending(stats, suffix):
    return sum(value for name, value in stats.items() if name.endswith(suffix))


def converted_ok(envoy, upstream):
    completion = fixture_json("openai/chat-text.json")
    upstream.push(json_reply(completion))
    status, _, body = post_json(envoy.url, "/v1/messages", REQUEST, HEADERS)
    if status != 200:
        return False
    message = json.loads(body)
    assert message["type"] == "message"
    assert message["content"][0]["text"] == completion["choices"][0]["message"]["content"]
    return True


def test_the_shipped_policy_reloads_a_trapped_module(trap_envoy, upstream):
    plugin = envoy_config.find_named(envoy_config.http_connection_manager(
        envoy_config.render(upstream.url, template=TEMPLATE))["http_filters"], envoy_config.WASM_FILTER)
    assert plugin["typed_config"]["config"]["failure_policy"] == "FAIL_RELOAD"
    assert converted_ok(trap_envoy, upstream), "the test build converts like the shipped one"

    status, _, _ = post_json(trap_envoy.url, "/v1/messages", REQUEST, {**HEADERS, "x-aob-test-trap": "1"})
    assert status != 200
    assert "unreachable" in trap_envoy.log() or "abort" in trap_envoy.log().lower()

    # Envoy reloads the VM on a later request (after its backoff).
    deadline = time.monotonic() + 10
    while not converted_ok(trap_envoy, upstream):
        assert time.monotonic() < deadline, "the module was never reloaded"
        time.sleep(0.2)
    results = [converted_ok(trap_envoy, upstream) for _ in range(20)]
    assert all(results), results
    stats = wasm_stats(trap_envoy)
    assert stat_ending(stats, "vm_reload_success") >= 1, stats


def test_the_shipped_module_has_no_trap_switch(envoy, upstream):
    upstream.push(json_reply(fixture_json("openai/chat-text.json")))
    status, _, body = post_json(envoy.url, "/v1/messages", REQUEST, {**HEADERS, "x-aob-test-trap": "1"})
    assert status == 200, body
    assert json.loads(body)["type"] == "message"
    assert stat_ending(wasm_stats(envoy), "vm_reload_success") == 0
