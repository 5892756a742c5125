#!/usr/bin/env python3
"""Checkpoint benchmark: what checkpoints cost a running continuous query.

Two queries run as materialized views over bounded generated input, read
as fast as possible:

- `tumble`: a TUMBLE count per auction over the nexmark bid stream;
- `group_by_1m`: an updating GROUP BY over a datagen table with 1M keys
  (the view's state, the aggregate's and the view's, holds every key).

Each runs `--runs` times (default 3) both ways in one invocation,
alternating, on a fresh server each time, and the median times are
compared: with
`checkpoint_interval = '1 second'` and with an interval longer than the
run (the baseline; its job still writes one final checkpoint when its
input ends, as the other does). The time is from CREATE MATERIALIZED VIEW
until SHOW JOBS reports the job finished. Reported: events/s of each, their
ratio, the CPU time the server used (user + system, all threads: what
checkpoints cost beside the workers), and from SHOW CHECKPOINTS of the checkpointed run the number of
checkpoints, their median and largest duration (cut requested to manifest
durable), the median time spent writing one (off the workers), the
longest pause of an operator copying its state, the state size, and the bytes a checkpoint wrote (checkpoints
are incremental). Prints a markdown table, appends JSON lines to
bench/results/checkpoint.jsonl.

    bench/checkpoint/run.sh                       # 10M events, 1M keys, 1 worker
    bench/checkpoint/run.sh --events 2000000 --workers 2
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness import Server, wait_finished  # noqa: E402


def tables(events, keys):
    return {
        "tumble": (
            "CREATE TABLE src (auction BIGINT, bidder BIGINT, price BIGINT, channel TEXT, "
            "url TEXT, date_time TIMESTAMP, extra TEXT, "
            "WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND) "
            "WITH (connector = 'nexmark', table = 'bid', events_per_second = '0', "
            f"event_count = '{events}')",
            "SELECT auction, window_start, window_end, count(*) AS bids "
            "FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(date_time), INTERVAL '10' SECOND)) "
            "GROUP BY auction, window_start, window_end",
        ),
        "group_by_1m": (
            "CREATE TABLE src (k BIGINT, v BIGINT) WITH (connector = 'datagen', "
            f"rows_per_second = '0', number_of_rows = '{events}', "
            f"'fields.k.min' = '0', 'fields.k.max' = '{keys - 1}', "
            "'fields.v.min' = '0', 'fields.v.max' = '1000')",
            "SELECT k, count(*) AS n, sum(v) AS s FROM src GROUP BY k",
        ),
    }


def run(binary, workers, interval, create, sql):
    """One run on a fresh server: seconds, result rows, SHOW CHECKPOINTS."""
    with Server(binary, workers, ["--checkpoint-interval", interval]) as server:
        conn = server.conn
        conn.execute(create)
        start = time.perf_counter()
        cpu = server.cpu_seconds()
        conn.execute(f"CREATE MATERIALIZED VIEW q AS {sql}")
        wait_finished(conn)
        elapsed = time.perf_counter() - start
        cpu = server.cpu_seconds() - cpu
        rows = conn.execute("SELECT count(*) FROM q").fetchone()[0]
        # The final checkpoint (of the ended job) is durable.
        conn.execute("CHECKPOINT")
        cur = conn.execute("SHOW CHECKPOINTS")
        names = [d.name for d in cur.description]
        checkpoints = [dict(zip(names, r)) for r in cur.fetchall()]
        return elapsed, cpu, rows, checkpoints


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3, help="runs of each, medians compared")
    parser.add_argument("--binary", required=True)
    parser.add_argument("--results", required=True)
    args = parser.parse_args()

    out = []
    for name, (create, sql) in tables(args.events, args.keys).items():
        # Alternating runs without and with checkpoints; the medians are
        # compared (the machine is shared and noisy). The checkpoints
        # reported are those of the median checkpointed run.
        bases, timeds = [], []
        for _ in range(args.runs):
            base, base_cpu, base_rows, _ = run(args.binary, args.workers, "1 day", create, sql)
            bases.append((base, base_cpu))
            timeds.append(run(args.binary, args.workers, "1 second", create, sql))
        base = statistics.median(b[0] for b in bases)
        base_cpu = statistics.median(b[1] for b in bases)
        timed_cpu = statistics.median(t[1] for t in timeds)
        timeds.sort(key=lambda t: t[0])
        timed, _, rows, checkpoints = timeds[len(timeds) // 2]
        if rows != base_rows:
            raise RuntimeError(f"{name}: {rows} result rows with checkpoints, {base_rows} without")
        # The periodic ones (the last is the final state of the ended job).
        periodic = [c for c in checkpoints if c["epoch"] is not None] or checkpoints
        durations = [c["duration_ms"] for c in periodic]
        result = {
            "query": name,
            "workers": args.workers,
            "events": args.events,
            "runs": args.runs,
            "seconds_without_all": [round(b[0], 3) for b in bases],
            "cpu_seconds_without": round(base_cpu, 2),
            "cpu_seconds_with_1s": round(timed_cpu, 2),
            "cpu_ratio": round(timed_cpu / base_cpu, 3),
            "seconds_with_1s_all": [round(t[0], 3) for t in timeds],
            "keys": args.keys if name == "group_by_1m" else None,
            "result_rows": rows,
            "seconds_without": round(base, 3),
            "seconds_with_1s": round(timed, 3),
            "events_per_second_without": round(args.events / base),
            "events_per_second_with_1s": round(args.events / timed),
            "ratio": round(base / timed, 3),
            "checkpoints_listed": len(checkpoints),
            "duration_ms_median": int(statistics.median(durations)) if durations else None,
            "duration_ms_max": max(durations) if durations else None,
            "write_ms_median": int(statistics.median([c["write_ms"] for c in periodic]))
            if periodic else None,
            "pause_ms_max": max((c["pause_ms"] for c in periodic), default=None),
            "state_bytes_max": max((c["bytes"] for c in checkpoints), default=None),
            "written_bytes_median": int(statistics.median([c["written_bytes"] for c in periodic]))
            if periodic else None,
            "final_state_bytes": checkpoints[-1]["bytes"] if checkpoints else None,
        }
        out.append(result)
        print(json.dumps(result), file=sys.stderr, flush=True)
    with open(args.results, "a") as f:
        for r in out:
            f.write(json.dumps(r) + "\n")
    print(f"\n{args.events:,} events, {args.workers} worker(s), {os.cpu_count()} cores, "
          f"medians of {args.runs} runs\n")
    print("| query | events/s without | events/s at 1 s | ratio | CPU s without / with | checkpoints | duration median / max ms "
          "| write median ms | pause max ms | state bytes (max) | written per checkpoint (median) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in out:
        print(f"| {r['query']} | {r['events_per_second_without']:,} | {r['events_per_second_with_1s']:,} "
              f"| {r['ratio']} | {r['cpu_seconds_without']} / {r['cpu_seconds_with_1s']} "
              f"| {r['checkpoints_listed']} | {r['duration_ms_median']} / {r['duration_ms_max']} "
              f"| {r['write_ms_median']} | {r['pause_ms_max']} | {r['state_bytes_max']:,} | {r['written_bytes_median']:,} |")


if __name__ == "__main__":
    main()
