#!/usr/bin/env bash
# Streaming benchmark (see run.py): continuous queries over nexmark bids at
# 1 and 2 workers, on the release binary.
#
#   bench/streaming/run.sh [--events N] [--workers 1 2 ...]
#   NO_BUILD=1 bench/streaming/run.sh      # use the release binary as built
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../release.sh" tidewater
exec python3 "$here/run.py" --binary "$release/tidewater" \
    --results "$repo/bench/results/streaming.jsonl" "$@"
