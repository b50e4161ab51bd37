#!/usr/bin/env bash
# Starts Envoy with the bridge on localhost:$PORT. Without UPSTREAM_URL it also
# starts the built-in demo upstream on 127.0.0.1:$DEMO_PORT and points Envoy at it.
#
# Whatever way it ends, nothing it started is left running: Ctrl-C or SIGTERM
# runs the trap below; if this script or the process that started it (`make`,
# $RUN_PARENT) is killed outright (SIGKILL), a watchdog notices within half a
# second and stops the demo upstream and Envoy.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build

parent="${RUN_PARENT:-$PPID}"
self=$$
children=()
watchdog_pid=""
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$watchdog_pid" ]; then kill "$watchdog_pid" 2>/dev/null || true; fi
  if [ "${#children[@]}" -gt 0 ]; then kill "${children[@]}" 2>/dev/null || true; fi
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# True while process $1 runs (a zombie, dead but not yet reaped, does not).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local stat
  read -r stat 2>/dev/null < "/proc/$1/stat" || return 0
  stat="${stat##*) }"
  [ "${stat%% *}" != Z ]
}

# Polls this script and its parent; when either is gone, stops the children
# (their pids as arguments) and this script.
watchdog() {
  while alive "$self" && alive "$parent"; do
    sleep 0.5
  done
  kill "$@" "$self" 2>/dev/null
}

upstream="$UPSTREAM_URL"
if [ -z "$upstream" ]; then
  "$PY" tests/e2e/mock_upstream.py --demo --host 127.0.0.1 --port "$DEMO_PORT" &
  children+=($!)
  upstream="http://127.0.0.1:$DEMO_PORT"
  echo "demo upstream on $upstream"
fi

"$PY" scripts/envoy_config.py --upstream "$upstream" --wasm "$WASM" \
  --listen-address 127.0.0.1 --port "$PORT" --admin-port "$ADMIN_PORT" \
  --plugin-config "$BRIDGE_CONFIG" -o build/envoy-run.yaml

echo "bridge on http://127.0.0.1:$PORT -> $upstream  (Ctrl-C stops it)"
if [[ "$BRIDGE_CONFIG" =~ \"upstream_protocol\"[[:space:]]*:[[:space:]]*\"anthropic\" ]]; then
  cat <<MSG
  curl http://127.0.0.1:$PORT/v1/chat/completions -H 'authorization: Bearer sk-demo' -H 'content-type: application/json' \\
    -d '{"model":"gpt-4o","messages":[{"role":"user","content":"Hello"}]}'
  OPENAI_BASE_URL=http://127.0.0.1:$PORT/v1 OPENAI_API_KEY=sk-demo python app.py
MSG
else
  cat <<MSG
  curl http://127.0.0.1:$PORT/v1/messages -H 'x-api-key: sk-demo' -H 'content-type: application/json' \\
    -d '{"model":"claude-sonnet-4-5","max_tokens":256,"messages":[{"role":"user","content":"Hello"}]}'
  ANTHROPIC_BASE_URL=http://127.0.0.1:$PORT claude
MSG
fi
# A dynamic base id: several Envoys (another `make run`, the tests) can run at once.
"$ENVOY" -c build/envoy-run.yaml --concurrency 2 --log-level warn --use-dynamic-base-id &
envoy_pid=$!
children+=("$envoy_pid")
watchdog "${children[@]}" &
watchdog_pid=$!
wait "$envoy_pid"
