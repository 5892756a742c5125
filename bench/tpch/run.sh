#!/usr/bin/env bash
# TPC-H benchmark: Tidewater vs DataFusion vs DuckDB. Idempotent set-up, then
# bench/tpch/run.py (see its --help). Examples:
#   bench/tpch/run.sh                          # SF1, q1 q3 q6 q18, 2 workers, 3 runs
#   bench/tpch/run.sh --sf 0.1 --queries q18 --engines tidewater --explain
#   NO_BUILD=1 bench/tpch/run.sh --runs 5 --json bench/results/sf1.json
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bench="$(dirname "$here")"
repo="$(dirname "$bench")"
venv="$bench/.venv"
python="${PYTHON:-python3}"

# 1. A venv with the pinned-by-name client packages (skipped when present).
if [[ ! -x "$venv/bin/python" ]]; then
    echo "creating $venv" >&2
    "$python" -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import datafusion, duckdb, psycopg' 2>/dev/null \
    || [[ ! -x "$venv/bin/tpchgen-cli" ]]; then
    echo "installing tpchgen-cli datafusion duckdb psycopg[binary] into $venv" >&2
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet tpchgen-cli datafusion duckdb 'psycopg[binary]' pyarrow
fi

# 2. The release server (a no-op when up to date; NO_BUILD=1 skips it).
source "$bench/release.sh" tidewater

# 3. Data generation, the three engines, the report.
exec "$venv/bin/python" "$here/run.py" "$@"
