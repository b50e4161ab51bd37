"""Tier 3: `make run` as README "Run it" describes it.

Its examples (the Anthropic curl, and for `BRIDGE_CONFIG='{"upstream_protocol":
"anthropic"}'` the OpenAI curl and SDK snippet) are taken from README.md and
run against it, on non-default ports. Whatever way `make run` ends (Ctrl-C to
its process group, `make` killed with SIGTERM or SIGKILL), no process it
started is left: every process of its session is gone within a few seconds.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO, WASM
from mock_upstream import DEMO_GREETING

README = (REPO / "README.md").read_text()
STARTUP_TIMEOUT = 60.0


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def session_processes(sid):
    """(pid, command line) of every live process in session `sid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            state, session = fields[0], int(fields[3])
            if session == sid and state != "Z":
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append((int(entry.name), cmdline.strip()))
        except (OSError, ValueError, IndexError):
            continue
    return found


class MakeRun:
    """`make run` in its own session, on free ports, without rebuilding."""

    def __init__(self, tmp_path, bridge_config=None):
        self.port, self.admin_port, self.demo_port = free_ports(3)
        args = ["make", "--no-print-directory", "-o", ".venv/.installed", "-o", str(WASM.relative_to(REPO)),
                "run", f"PORT={self.port}", f"ADMIN_PORT={self.admin_port}", f"DEMO_PORT={self.demo_port}"]
        if bridge_config:
            args.append(f"BRIDGE_CONFIG={bridge_config}")
        self.log_path = tmp_path / "make-run.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        self.sid = self.process.pid

    def log(self):
        return self.log_path.read_text(errors="replace")

    def wait_ready(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"make run exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/ready", timeout=1) as r:
                    if r.read().strip() == b"LIVE":
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"make run not ready after {STARTUP_TIMEOUT}s:\n{self.log()}")

    def wait_gone(self, timeout=5.0):
        """The processes of the session still alive after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            left = session_processes(self.sid)
            if not left:
                return []
            time.sleep(0.1)
        return session_processes(self.sid)

    def kill_leftovers(self):
        for pid, _ in session_processes(self.sid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture
def make_run(tmp_path):
    if not WASM.is_file():
        pytest.skip(f"bridge module not built: {WASM}")
    started = []

    def start(bridge_config=None):
        run = MakeRun(tmp_path / str(len(started)), bridge_config)
        started.append(run)
        return run.wait_ready()

    (tmp_path / "0").mkdir()
    (tmp_path / "1").mkdir()
    yield start
    for run in started:
        run.kill_leftovers()


def readme_block(language, containing):
    """The README's fenced `language` code block that contains `containing`."""
    blocks = re.findall(rf"```{language}\n(.*?)```", README, re.S)
    (block,) = [b for b in blocks if containing in b]
    return block


def on_port(text, port):
    return text.replace("127.0.0.1:10000", f"127.0.0.1:{port}")


def run_shell(command):
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_readme_examples_work_in_both_directions(make_run):
    anthropic_run = make_run()
    anthropic_curl = readme_block("sh", "curl http://127.0.0.1:10000/v1/messages")
    assert f"{DEMO_GREETING} You said: Hello" in run_shell(on_port(anthropic_curl, anthropic_run.port))

    config = re.search(r"make run BRIDGE_CONFIG='(\{[^']*\})'\n", README).group(1)
    assert config == '{"upstream_protocol":"anthropic"}'
    openai_run = make_run(config)
    openai_curl = readme_block("sh", "curl http://127.0.0.1:10000/v1/chat/completions")
    answer = run_shell(on_port(openai_curl, openai_run.port))
    assert '"object":"chat.completion"' in answer.replace(" ", "")
    assert f"{DEMO_GREETING} You said: Hello" in answer
    snippet = readme_block("python", "from openai import OpenAI")
    result = subprocess.run([sys.executable, "-c", on_port(snippet, openai_run.port)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{DEMO_GREETING} You said: Hello"


@pytest.mark.parametrize("ending", ["ctrl-c", "make-sigterm", "make-sigkill"])
def test_nothing_is_left_running(make_run, ending):
    run = make_run()
    started = session_processes(run.sid)
    commands = " | ".join(command for _, command in started)
    assert "envoy" in commands and "mock_upstream.py" in commands and "run.sh" in commands, commands
    if ending == "ctrl-c":
        os.killpg(run.sid, signal.SIGINT)  # what the terminal sends the foreground job
    else:
        os.kill(run.process.pid, signal.SIGTERM if ending == "make-sigterm" else signal.SIGKILL)
    left = run.wait_gone()
    assert left == [], f"still running after {ending}: {left}\n{run.log()}"
