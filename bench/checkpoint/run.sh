#!/usr/bin/env bash
# Checkpoint benchmark (see run.py): throughput of continuous queries with
# checkpoints every second against checkpoints (almost) never, and the
# checkpoints' duration and size, on the release binary.
#
#   bench/checkpoint/run.sh [--events N] [--keys N] [--workers N]
#   NO_BUILD=1 bench/checkpoint/run.sh      # use the release binary as built
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../release.sh" tidewater
exec python3 "$here/run.py" --binary "$release/tidewater" \
    --results "$repo/bench/results/checkpoint.jsonl" "$@"
