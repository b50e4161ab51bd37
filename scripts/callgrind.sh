#!/usr/bin/env bash
# Instructions per conversion (valgrind callgrind: repeatable, whatever else
# the machine is doing). For each benchmark row: run it 1 and 11 times and
# divide the difference by 10, so fixture loading and start-up cancel out.
# Usage: scripts/callgrind.sh [row filter...]   (default: the main rows)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
bin=$(cargo bench --bench convert --no-run --message-format=json 2>/dev/null \
  | sed -n 's/.*"executable":"\([^"]*convert[^"]*\)".*/\1/p' | tail -1)
rows=("$@")
[ ${#rows[@]} -gt 0 ] || rows=(
  "request anthropic→openai small" "request anthropic→openai claude-code"
  "request openai→anthropic small" "request openai→anthropic claude-code"
  "response openai→anthropic" "response anthropic→openai"
  "stream openai→anthropic" "stream anthropic→openai")
count() {
  BENCH_ONLY="$1" BENCH_ITERS="$2" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
echo "| conversion (native, callgrind) | instructions per conversion |"
echo "|---|---:|"
for row in "${rows[@]}"; do
  one=$(count "$row" 1); eleven=$(count "$row" 11)
  echo "| $row | $(( (eleven - one) / 10 )) |"
done
