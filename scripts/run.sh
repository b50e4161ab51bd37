#!/usr/bin/env bash
# Starts Envoy with the bridge on localhost:$PORT. Without UPSTREAM_URL it also
# starts the built-in demo upstream on 127.0.0.1:$DEMO_PORT and points Envoy at it.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
demo_pid=""
cleanup() { [ -n "$demo_pid" ] && kill "$demo_pid" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

upstream="$UPSTREAM_URL"
if [ -z "$upstream" ]; then
  "$PY" tests/e2e/mock_upstream.py --demo --host 127.0.0.1 --port "$DEMO_PORT" &
  demo_pid=$!
  upstream="http://127.0.0.1:$DEMO_PORT"
  echo "demo upstream on $upstream"
fi

"$PY" scripts/envoy_config.py --upstream "$upstream" --wasm "$WASM" \
  --listen-address 127.0.0.1 --port "$PORT" --admin-port "$ADMIN_PORT" \
  --plugin-config "$BRIDGE_CONFIG" -o build/envoy-run.yaml

cat <<MSG
bridge on http://127.0.0.1:$PORT -> $upstream  (Ctrl-C stops it)
  curl http://127.0.0.1:$PORT/v1/messages -H 'x-api-key: sk-demo' -H 'content-type: application/json' \\
    -d '{"model":"claude-sonnet-4-5","max_tokens":256,"messages":[{"role":"user","content":"Hello"}]}'
  ANTHROPIC_BASE_URL=http://127.0.0.1:$PORT claude
MSG
"$ENVOY" -c build/envoy-run.yaml --concurrency 2 --log-level warn &
envoy_pid=$!
wait "$envoy_pid"
