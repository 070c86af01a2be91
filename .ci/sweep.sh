#!/usr/bin/env bash
# The project's own regression gate (docs/sweeps.md): a small sweep of a shipped model, with its
# gates, then a comparison with the committed baseline. models/sweep-mlp.yaml is 8 trials (2
# learning rates x 2 widths x 2 seeds, 40 epochs on iris): a few seconds on 2 cores.
#
#   .ci/sweep.sh            exit 0 when every trial passes, every gate holds and nothing regressed
#   .ci/sweep.sh --update   rewrite .ci/baseline.jsonl from this run; commit it with the change
#                          that moved the numbers
#
# RMAD_CI_SWEEP_OUT sets the output folder (default sweeps/ci), RMAD_CI_JOBS the jobs (default 2).
set -uo pipefail
cd "$(dirname "$0")/.."

[ -f dist/src/cli/main.js ] || npx tsc -p tsconfig.json || exit 2
out="${RMAD_CI_SWEEP_OUT:-sweeps/ci}"
rm -rf "$out"

./bin/rmad sweep models/sweep-mlp.yaml --out "$out" --jobs "${RMAD_CI_JOBS:-2}"
status=$?
if [ "$status" -ne 0 ]; then
  echo ".ci/sweep.sh: the sweep failed (exit $status); see $out/summary.md" >&2
  exit "$status"
fi

if [ "${1:-}" = "--update" ]; then
  cp "$out/results.jsonl" .ci/baseline.jsonl
  echo ".ci/sweep.sh: .ci/baseline.jsonl rewritten from $out"
  exit 0
fi

# Losses move continuously, so they get a relative tolerance; an accuracy moves in steps of one
# test row (1/22 on iris), so it gets an absolute one a little above a step.
./bin/rmad compare .ci/baseline.jsonl "$out" --metric val.loss --tolerance 10%
loss=$?
./bin/rmad compare .ci/baseline.jsonl "$out" --metric test.accuracy --tolerance 0.05
accuracy=$?
[ "$loss" -eq 0 ] && [ "$accuracy" -eq 0 ] && exit 0
echo ".ci/sweep.sh: results moved beyond the tolerance against .ci/baseline.jsonl; if on purpose, run .ci/sweep.sh --update and commit it" >&2
exit $(( loss > accuracy ? loss : accuracy ))
