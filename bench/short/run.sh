#!/usr/bin/env bash
# Short-query benchmark: Tidewater beside PostgreSQL on this machine, in one
# run. Starts each server on a free loopback port with a temporary data
# directory, runs the short-queries client against it, prints a markdown
# table and writes the JSON lines to bench/results/short-<engine>.jsonl.
#
#   bench/short/run.sh                      # both engines, defaults
#   bench/short/run.sh --sessions 64 --seconds 10 --iterations 2000
#   ENGINES=tidewater bench/short/run.sh    # Tidewater only
#   NO_BUILD=1 bench/short/run.sh           # use the release binaries as built
#
# PostgreSQL comes from Debian's postgresql package (installed when missing).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
results="$repo/bench/results"
engines="${ENGINES:-tidewater postgres}"
mkdir -p "$results"
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

source "$here/../release.sh" tidewater short-queries
client="$release/short-queries"
server="$release/tidewater"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
    local deadline=$((SECONDS + 60))
    until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null; do
        if (( SECONDS > deadline )); then echo "server on port $1 did not start" >&2; return 1; fi
        sleep 0.2
    done
}

tmp="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
    if [[ -d "$tmp/pg" ]]; then
        runuser -u postgres -- "$pgbin/pg_ctl" -D "$tmp/pg" -m fast stop >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

run_client() { "$client" --url "$1" "${@:2}" | tee "$results/short-$engine.jsonl"; }

for engine in $engines; do
    case "$engine" in
    tidewater)
        port="$(free_port)"
        "$server" --data-dir "$tmp/tw" --pg-listen "127.0.0.1:$port" --workers 2 \
            >"$tmp/tidewater.log" 2>&1 &
        pids+=($!)
        wait_port "$port"
        run_client "host=127.0.0.1 port=$port user=tidewater" "$@"
        ;;
    postgres)
        pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
        if [[ -z "$pgbin" ]]; then
            $SUDO apt-get install -y -qq postgresql >/dev/null
            pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
        fi
        port="$(free_port)"
        mkdir -p "$tmp/pg" && chown postgres "$tmp" "$tmp/pg"
        runuser -u postgres -- "$pgbin/initdb" -D "$tmp/pg" -A trust -U postgres >/dev/null
        runuser -u postgres -- "$pgbin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg.log" \
            -o "-p $port -k $tmp -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
        wait_port "$port"
        run_client "host=127.0.0.1 port=$port user=postgres dbname=postgres" "$@"
        ;;
    *) echo "unknown engine $engine" >&2; exit 2 ;;
    esac
done

python3 - "$results" $engines <<'PY'
import json, sys
results, engines = sys.argv[1], sys.argv[2:]
data = {e: {m["measure"]: m for m in map(json.loads, open(f"{results}/short-{e}.jsonl"))} for e in engines}
measures = ["select1_simple", "select1_prepared", "point_prepared", "point_simple"]
print("\n| measure | " + " | ".join(f"{e} p50 ms | {e} p99 ms" for e in engines) + " |")
print("|---" * (1 + 2 * len(engines)) + "|")
for m in measures:
    cells = []
    for e in engines:
        r = data[e].get(m)
        cells += [f"{r['p50_ms']:.3f}", f"{r['p99_ms']:.3f}"] if r else ["-", "-"]
    print(f"| {m} | " + " | ".join(cells) + " |")
row = [f"{data[e]['aggregate_sessions']['queries_per_s']:.0f}" for e in engines]
sessions = data[engines[0]]["aggregate_sessions"]["sessions"]
print(f"\n| {sessions} sessions, small aggregate, queries/s | " + " | ".join(engines) + " |")
print("|---|" + "---|" * len(engines))
print("| | " + " | ".join(row) + " |")
PY
