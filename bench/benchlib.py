"""Pieces of bench/e2e.py: processes, CPU accounting, Envoy, LiteLLM and wrk."""

import http.client
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "scripts"))
import envoy_config  # noqa: E402  (scripts/ is not a package)

FIXTURES = REPO / "fixtures" / "bench"
LITELLM_VENV = BENCH / ".venv-litellm"
LITELLM_CONFIG = BENCH / "litellm.yaml"
WRK_SCRIPT = BENCH / "wrk_post.lua"
MAX_BODY = 32 * 1024 * 1024
HEADERS = {"content-type": "application/json", "x-api-key": "sk-bench", "anthropic-version": "2023-06-01"}
NAMES = {"P": "Envoy passthrough", "B": "Envoy + bridge", "L": "LiteLLM proxy", "D": "direct, no proxy",
         "W": "Envoy + bridge, request passed through"}
WRK_ERRORS = ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")


def log(message):
    print(f"[e2e {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes

class Processes:
    """Every long-lived process the benchmark starts, each in its own session
    (process group), so stopping one also stops its children (LiteLLM's)."""

    def __init__(self):
        self.running = []

    def spawn(self, command, log_path, cpus=None, env=None, stdout=None):
        if cpus is not None:
            command = ["taskset", "-c", cpus] + list(command)
        with open(log_path, "ab") as log_file:
            process = subprocess.Popen(
                command, stdout=stdout if stdout is not None else log_file, stderr=log_file,
                env=env, start_new_session=True, stdin=subprocess.DEVNULL)
        self.running.append(process)
        return process

    def stop(self, process):
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            if process.poll() is not None:
                break
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(wait)
            except subprocess.TimeoutExpired:
                pass
        try:  # the group may outlive its leader (a worker still exiting)
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if process in self.running:
            self.running.remove(process)

    def stop_all(self):
        for process in reversed(list(self.running)):
            self.stop(process)


PROCS = Processes()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- CPU and memory

def cpu_by_session():
    """CPU seconds (user + system) used so far by each session's live processes."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields after the command: state ppid pgrp session ... utime(11) stime(12)
        session = int(fields[3])
        totals[session] = totals.get(session, 0) + (int(fields[11]) + int(fields[12])) / tick
    return totals


def machine_busy_seconds():
    """CPU seconds all cores together spent not idle (from /proc/stat)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """Who used the CPU during a run, as a fraction of one core: the proxy under
    test, the load side (wrk and the upstream), and every process this benchmark
    did not start (the machine's other work: noise)."""

    def __init__(self, proxy_pid=None, load_pids=()):
        self.proxy_pid, self.load_pids = proxy_pid, list(load_pids)
        self.proxy = self.load = self.others = 0.0

    def __enter__(self):
        self.sessions = cpu_by_session()
        self.busy = machine_busy_seconds()
        self.children = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.me = os.times()
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc):
        wall = time.monotonic() - self.started
        sessions = cpu_by_session()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        me = os.times()

        def used(pid):
            return sessions.get(pid, 0) - self.sessions.get(pid, 0)

        # finished children (wrk): their rusage; this process: os.times()
        waited = (children.ru_utime + children.ru_stime) - (self.children.ru_utime + self.children.ru_stime)
        mine = sum(used(p.pid) for p in PROCS.running) + waited + \
            (me.user + me.system) - (self.me.user + self.me.system)
        self.proxy = used(self.proxy_pid) / wall if self.proxy_pid else 0.0
        self.load = (waited + sum(used(pid) for pid in self.load_pids)) / wall
        self.others = max(0.0, (machine_busy_seconds() - self.busy) - mine) / wall
        return False


def others_cpu(seconds=2.0):
    """Fraction of a core used by processes this benchmark did not start."""
    with CpuMeter() as meter:
        time.sleep(seconds)
    return meter.others


def wait_quiet(limit, threshold=0.15):
    """Wait up to `limit` seconds for the machine's other work to drop below
    `threshold` of a core; return the last measurement."""
    deadline = time.monotonic() + limit
    busy = others_cpu()
    while busy > threshold and time.monotonic() < deadline:
        log(f"other processes use {busy:.0%} of a core; waiting for a quieter machine")
        busy = others_cpu(5.0)
    return busy


def cpu_ns(pid):
    """CPU time of all of a process's threads, in ns (/proc/PID/task/*/schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


WASM_RESERVATION = 4 << 30  # V8 reserves 8 GiB of address space per wasm memory


def wasm_linear_memory(pid, resident=False):
    """The wasm modules' linear memories in an Envoy process, from /proc/PID/maps
    (or smaps, for the resident bytes, which costs more to read): V8 reserves each
    one as a large PROT_NONE region and makes its first `memory.size` bytes
    accessible, so each is the read-write mapping that ends where such a
    reservation begins. Returns (bytes accessible, bytes resident or None),
    summed over the process's wasm VMs, or (None, None)."""
    try:
        text = Path(f"/proc/{pid}/{'smaps' if resident else 'maps'}").read_text()
    except OSError:
        return None, None
    vmas = []  # (start, end, perms, rss bytes)
    current = None
    for line in text.splitlines():
        head = line.split(" ", 2)
        if "-" in head[0] and len(head) > 1 and len(head[1]) == 4:
            start, end = (int(x, 16) for x in head[0].split("-"))
            current = [start, end, head[1], 0]
            vmas.append(current)
        elif line.startswith("Rss:") and current is not None:
            current[3] = int(line.split()[1]) * 1024
    size = resident_bytes = 0
    found = False
    for before, vma in zip(vmas, vmas[1:]):
        if vma[1] - vma[0] >= WASM_RESERVATION and vma[2] == "---p" and before[2] == "rw-p" \
                and before[1] == vma[0]:
            size += before[1] - before[0]
            resident_bytes += before[3]
            found = True
    return (size, resident_bytes if resident else None) if found else (None, None)


def memory_of(pid, resident=False):
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                values[key] = int(value.split()[0]) * 1024
    values["wasm_size"], values["wasm_rss"] = wasm_linear_memory(pid, resident)
    return values


# ---------------------------------------------------------------- Envoy

class Envoy:
    """One Envoy process on OS-chosen ports (read back from its admin API)."""

    def __init__(self, args, workdir, name, config, cpus):
        self.args, self.name, self.cpus = args, name, cpus
        self.dir = Path(workdir) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.dir / "envoy.yaml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.admin_path = self.dir / "admin-address"
        self.process = None
        self.admin_url = None

    def start(self):
        command = [str(self.args.envoy), "-c", str(self.config_path), "--concurrency", str(self.args.workers),
                   "--use-dynamic-base-id", "--admin-address-path", str(self.admin_path),
                   "--log-level", "warn"]
        # stdout is the shipped config's access log (kept, sent to /dev/null); stderr is Envoy's log
        self.process = PROCS.spawn(command, self.dir / "envoy.log", cpus=self.cpus, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Envoy {self.name} exited with {self.process.returncode}:\n"
                                   + (self.dir / "envoy.log").read_text(errors="replace")[-3000:])
            if self.admin_path.exists() and self.admin_path.read_text().strip():
                self.admin_url = "http://" + self.admin_path.read_text().strip()
                if self.admin_get("/ready") == "LIVE":
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"Envoy {self.name} not ready after 60 s")

    def admin_get(self, path):
        try:
            with urllib.request.urlopen(self.admin_url + path, timeout=5) as response:
                return response.read().decode().strip()
        except OSError:
            return None

    def port(self, listener=None):
        statuses = json.loads(self.admin_get("/listeners?format=json"))["listener_statuses"]
        for status in statuses:
            if listener is None or status["name"] == listener:
                return status["local_address"]["socket_address"]["port_value"]
        raise KeyError(listener)

    def heap(self):
        """Envoy's own heap (tcmalloc) from the admin /memory endpoint: bytes in
        use (`allocated`) and bytes of physical memory it holds (`physical`)."""
        try:
            memory = json.loads(self.admin_get("/memory"))
            return {"allocated": int(memory["allocated"]), "physical": int(memory["total_physical_bytes"])}
        except (TypeError, ValueError, KeyError):
            return {"allocated": None, "physical": None}

    @property
    def pid(self):
        return self.process.pid

    def stop(self):
        PROCS.stop(self.process)


def upstream_config():
    """The direct-response upstream: listener `json` answers any POST with
    fixtures/bench/openai-completion.json, listener `sse` with openai-stream.sse."""
    def listener(name, filename, content_type):
        return {
            "name": name,
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
            "per_connection_buffer_limit_bytes": MAX_BODY,
            "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network."
                             "http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": f"mock_{name}",
                    "route_config": {
                        "name": name,
                        # Envoy's default limit is 4 KB; the stream fixture is 2.2 MB
                        "max_direct_response_body_size_bytes": MAX_BODY,
                        "virtual_hosts": [{
                            "name": name, "domains": ["*"],
                            "routes": [{
                                "match": {"prefix": "/"},
                                "direct_response": {"status": 200, "body": {"filename": str(filename)}},
                                "response_headers_to_add": [{
                                    "header": {"key": "content-type", "value": content_type},
                                    "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}],
                            }],
                        }],
                    },
                    "http_filters": [
                        # read the whole request before answering, as a model server
                        # does, so the proxy's upstream connections stay keep-alive
                        {"name": "envoy.filters.http.buffer", "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer",
                            "max_request_bytes": MAX_BODY}},
                        {"name": "envoy.filters.http.router", "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}},
                    ],
                },
            }]}],
        }
    return {
        "static_resources": {"listeners": [
            listener("json", FIXTURES / "openai-completion.json", "application/json"),
            listener("sse", FIXTURES / "openai-stream.sse", "text/event-stream"),
        ]},
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
    }


def front_config(args, upstream_port, with_filter):
    """envoy/envoy.yaml as shipped, on 127.0.0.1 and OS-chosen ports, with or
    without the bridge (the default plugin configuration: upstream_protocol openai)."""
    return envoy_config.render(
        f"http://127.0.0.1:{upstream_port}", wasm_path=args.wasm, port=0, admin_port=0,
        listen_address="127.0.0.1", with_filter=with_filter)


# ---------------------------------------------------------------- LiteLLM

class LiteLLM:
    """`litellm --config bench/litellm.yaml` in front of the upstream at `upstream_port`."""

    def __init__(self, args, workdir, upstream_port, cpus):
        self.args, self.cpus = args, cpus
        self.upstream_port = upstream_port
        self.log_path = Path(workdir) / f"litellm-{upstream_port}.log"
        self.process = None
        self.port = None

    def start(self):
        self.port = free_port()
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "LITELLM_MASTER_KEY", "REDIS_HOST", "REDIS_URL")}
        env.update({
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
            "LITELLM_LOG": "ERROR",
            "BENCH_UPSTREAM_BASE": f"http://127.0.0.1:{self.upstream_port}/v1",
        })
        command = [str(self.args.litellm), "--config", str(LITELLM_CONFIG),
                   "--host", "127.0.0.1", "--port", str(self.port), "--num_workers", str(self.args.workers)]
        self.process = PROCS.spawn(command, self.log_path, cpus=self.cpus, env=env)
        deadline = time.monotonic() + self.args.litellm_start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"it exited with status {self.process.returncode}; log:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health/liveliness",
                                            timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"not ready after {self.args.litellm_start_timeout} s; log:\n{self.log_tail()}")

    def log_tail(self):
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-2000:]

    @property
    def pid(self):
        return self.process.pid

    def stop(self):
        PROCS.stop(self.process)


def litellm_version(litellm):
    try:
        out = subprocess.run([str(Path(litellm).parent / "python"), "-c",
                              "import importlib.metadata as m; print(m.version('litellm'))"],
                             capture_output=True, text=True, timeout=60)
        return out.stdout.strip() or None
    except OSError:
        return None


# ---------------------------------------------------------------- requests

def post(port, body, timeout=120):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/v1/messages", body=body, headers=HEADERS)
        response = connection.getresponse()
        return response.status, response.getheader("content-type", ""), response.read()
    finally:
        connection.close()


def check_target(kind, port, body, stream):
    """One request before the load: is this really the conversion (or passthrough)?"""
    status, content_type, data = post(port, body)
    if status != 200:
        raise RuntimeError(f"{NAMES[kind]}: HTTP {status}: {data[:500]!r}")
    text = data.decode(errors="replace")
    if stream:
        want = "data: [DONE]" if kind == "P" else "event: message_stop"
        if want not in text or "text/event-stream" not in content_type:
            raise RuntimeError(f"{NAMES[kind]}: not the expected stream ({content_type}): {text[:300]!r}")
        if kind != "P" and "chat.completion.chunk" in text:
            raise RuntimeError(f"{NAMES[kind]}: OpenAI chunks reached the Anthropic client")
    else:
        answer = json.loads(data)
        want = "chat.completion" if kind == "P" else "message"
        got = answer.get("object") if kind == "P" else answer.get("type")
        if got != want:
            raise RuntimeError(f"{NAMES[kind]}: expected a {want}, got {text[:300]!r}")
    return len(data)


def run_wrk(args, port, body_path, connections, duration, proxy_pid=None, load_pids=()):
    """One wrk run; its summary (bench/wrk_post.lua) plus the CPU split."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency",
               "--timeout", f"{args.wrk_timeout}s", "-s", str(WRK_SCRIPT),
               f"http://127.0.0.1:{port}/v1/messages"]
    if args.pin:
        command = ["taskset", "-c", args.load_cpus] + command
    env = dict(os.environ, BENCH_BODY=str(body_path))
    with CpuMeter(proxy_pid, load_pids) as cpu:
        out = subprocess.run(command, capture_output=True, text=True, env=env,
                             timeout=duration + args.wrk_timeout + 30)
    match = re.search(r"^BENCH_JSON (.*)$", out.stdout, re.M)
    if out.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout}\n{out.stderr}")
    result = json.loads(match.group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = sum(result[k] for k in WRK_ERRORS)
    result.update(cpu=cpu.proxy, load_cpu=cpu.load, others_cpu=cpu.others, command=" ".join(command))
    return result
