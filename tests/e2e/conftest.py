"""Fixtures for the real-Envoy tier: a scripted mock upstream and Envoy processes.

Envoy runs a shipped config, rendered by scripts/envoy_config.py onto OS-chosen
ports (port 0; the real ones are read back from the admin API), pointing at the
mock and at the module named by $BRIDGE_WASM: envoy/envoy.yaml for Anthropic
clients (`envoy`), envoy/envoy-openai-clients.yaml for OpenAI clients
(`openai_envoy`, or `template=OPENAI_CLIENTS_TEMPLATE` in the factories).

Environment:
  BRIDGE_WASM  the built module (default: target/wasm32-wasip1/release/
               anthropic_openai_bridge.wasm; relative paths are from the repo root)
  ENVOY_BIN    the Envoy binary (default: the repo's .venv/bin/envoy)
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from mock_upstream import MockUpstream

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import envoy_config  # noqa: E402  (lives in scripts/, not a package)


def repo_path(value):
    path = Path(value)
    return path if path.is_absolute() else REPO / path


WASM = repo_path(os.environ.get("BRIDGE_WASM", "target/wasm32-wasip1/release/anthropic_openai_bridge.wasm"))
ENVOY_BIN = repo_path(os.environ.get("ENVOY_BIN", ".venv/bin/envoy"))
STARTUP_TIMEOUT = 30.0


class EnvoyStartError(RuntimeError):
    pass


class Envoy:
    """One Envoy process; `url` is its listener, `log()` its stdout+stderr."""

    def __init__(self, config, workdir, name):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.config_path = self.workdir / "envoy.yaml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.admin_path = self.workdir / "admin-address"
        self.log_path = self.workdir / "envoy.log"
        self.process = None
        self.admin_url = None
        self.url = None

    # Worker threads; tests that need several set it before `start`.
    concurrency = 1

    # The module's debug lines (its conversion decisions) are what tests read.
    LOG_LEVELS = ["--log-level", "info", "--component-log-level", "wasm:debug"]

    def start(self):
        command = [
            str(ENVOY_BIN), "-c", str(self.config_path),
            "--concurrency", str(self.concurrency), "--use-dynamic-base-id",
            "--admin-address-path", str(self.admin_path),
            *self.LOG_LEVELS,
            "--file-flush-interval-msec", "100",  # access log lines show up while the test runs
        ]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            self.wait_ready()
        except Exception:
            self.stop()
            raise
        return self

    def wait_ready(self):
        """Wait until the admin API says LIVE, then read the listener's port."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EnvoyStartError(f"Envoy exited with {self.process.returncode}:\n{self.log()}")
            if self.admin_path.exists() and self.admin_path.read_text().strip():
                self.admin_url = "http://" + self.admin_path.read_text().strip()
                if self.admin_get("/ready") == "LIVE":
                    self.url = f"http://127.0.0.1:{self.listener_port()}"
                    return
            time.sleep(0.05)
        raise EnvoyStartError(f"Envoy not ready after {STARTUP_TIMEOUT}s:\n{self.log()}")

    def admin_get(self, path):
        try:
            with urllib.request.urlopen(self.admin_url + path, timeout=2) as response:
                return response.read().decode().strip()
        except OSError:
            return None

    def listener_port(self):
        statuses = json.loads(self.admin_get("/listeners?format=json"))["listener_statuses"]
        return statuses[0]["local_address"]["socket_address"]["port_value"]

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


TEMPLATE = envoy_config.TEMPLATE
OPENAI_CLIENTS_TEMPLATE = envoy_config.OPENAI_CLIENTS_TEMPLATE


def render_config(upstream_url, plugin_config=None, with_filter=True, template=TEMPLATE):
    if with_filter and not WASM.is_file():
        pytest.skip(f"bridge module not built: {WASM} (cargo build --release --target wasm32-wasip1)")
    return envoy_config.render(
        upstream_url,
        wasm_path=WASM if with_filter else None,
        port=0,
        admin_port=0,
        listen_address="127.0.0.1",
        plugin_config=plugin_config,
        with_filter=with_filter,
        template=template,
    )


RUNNING = []  # Envoys alive now, whose logs a failing test reports


def launch(tmp_dir, upstream_url, name, **render_options):
    envoy = Envoy(render_config(upstream_url, **render_options), tmp_dir / name, name).start()
    RUNNING.append(envoy)
    return envoy


def retire(envoy):
    envoy.stop()
    RUNNING.remove(envoy)


@pytest.fixture(autouse=True)
def no_sdk_credentials_from_environment(monkeypatch):
    """The SDKs read keys from the environment; the tests set their own."""
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def mock_server():
    server = MockUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def upstream(mock_server):
    """The mock upstream, with an empty script and no recorded requests."""
    mock_server.reset()
    yield mock_server
    mock_server.reset()


@pytest.fixture(scope="session")
def envoy(mock_server, tmp_path_factory):
    """Envoy with the bridge and the shipped plugin configuration."""
    proc = launch(tmp_path_factory.mktemp("envoy"), mock_server.url, "bridge")
    yield proc
    retire(proc)


@pytest.fixture(scope="session")
def openai_envoy(mock_server, tmp_path_factory):
    """Envoy from envoy/envoy-openai-clients.yaml with its own plugin configuration."""
    proc = launch(tmp_path_factory.mktemp("envoy"), mock_server.url, "openai-clients",
                  template=OPENAI_CLIENTS_TEMPLATE)
    yield proc
    retire(proc)


@pytest.fixture(scope="session")
def passthrough_envoy(mock_server, tmp_path_factory):
    """Envoy from the same file with the wasm filter removed."""
    proc = launch(tmp_path_factory.mktemp("envoy"), mock_server.url, "passthrough", with_filter=False)
    yield proc
    retire(proc)


@pytest.fixture
def start_envoy(mock_server, tmp_path):
    """Factory: `start_envoy(plugin_config=..., with_filter=..., template=...)` -> a fresh Envoy."""
    started = []

    def start(**render_options):
        proc = launch(tmp_path, mock_server.url, f"envoy-{len(started)}", **render_options)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        retire(proc)


@pytest.fixture
def validate_config(mock_server, tmp_path):
    """Factory: `envoy --mode validate` on a rendered config; returns the process result."""

    def validate(upstream_url=None, **render_options):
        config = render_config(upstream_url or mock_server.url, **render_options)
        path = tmp_path / "validate.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        command = [str(ENVOY_BIN), "--mode", "validate", "-c", str(path), "--use-dynamic-base-id"]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    return validate


@pytest.fixture(autouse=True)
def envoy_log_offsets(request):
    """Remember how long each Envoy log was when the test started."""
    request.node.envoy_log_offsets = {id(e): len(e.log()) for e in RUNNING}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach what every running Envoy logged during the test."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    offsets = getattr(item, "envoy_log_offsets", {})
    for envoy in RUNNING:
        report.sections.append((f"Envoy log ({envoy.name})", envoy.log()[offsets.get(id(envoy), 0):]))

