#!/bin/sh
# Runs every fuzz target (or those named) for FUZZ_SECONDS each, one after
# another, on seed corpora built from fixtures/, and prints one line per
# target: executions, seconds, new corpus entries, crashes. Exits non-zero
# if any target crashed (the input is in fuzz/artifacts/<target>/).
#
#   fuzz/run.sh                      # all targets, FUZZ_SECONDS (default 60) each
#   FUZZ_SECONDS=600 fuzz/run.sh exchange
#
# Needs the nightly toolchain and cargo-fuzz (`make fuzz` installs both).
set -u
cd "$(dirname "$0")"
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
TARGETS=${*:-"anthropic_client_request openai_client_request anthropic_client_response openai_client_response anthropic_client_stream openai_client_stream exchange anthropic_client_responses_request anthropic_client_responses_response anthropic_client_responses_stream responses_client_request responses_client_response responses_client_stream"}
LOGS=${FUZZ_LOGS:-logs}

python3 seeds.py seeds >/dev/null || exit 1
cargo +nightly fuzz build >/dev/null 2>&1 || cargo +nightly fuzz build || exit 1
mkdir -p "$LOGS"
failed=0
printf '%-28s %12s %8s %8s %8s\n' target executions seconds corpus crashes
for target in $TARGETS; do
    case $target in
        *_request) max_len=131072 ;;  # Claude Code's recorded request is 76 KB
        *) max_len=65536 ;;
    esac
    mkdir -p "corpus/$target"
    log="$LOGS/$target.log"
    cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$max_len" -print_final_stats=1 >"$log" 2>&1
    status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
    corpus=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
    crashes=0
    if [ "$status" -ne 0 ]; then
        crashes=1
        failed=1
    fi
    printf '%-28s %12s %8s %8s %8s\n' "$target" "${runs:-?}" "${took:-?}" "${corpus:-?}" "$crashes"
    if [ "$status" -ne 0 ]; then
        grep -E 'panicked at|ERROR: libFuzzer|Test unit written' -A2 "$log" | head -20
    fi
done
exit $failed
