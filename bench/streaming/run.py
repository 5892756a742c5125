#!/usr/bin/env python3
"""Streaming benchmark: events/s of continuous queries over the nexmark bid
stream, at several worker counts, in one run.

Each query runs as a materialized view over a bounded nexmark table
(`event_count` events of all kinds, generated as fast as possible): the
time is from CREATE MATERIALIZED VIEW until SHOW JOBS reports the job
finished (every event read, every window emitted), and events/s counts
all `event_count` events (46 in 50 are bids). Prints a markdown table and
writes JSON lines to bench/results/streaming.jsonl.

    bench/streaming/run.sh                         # 10M events, 1 and 2 workers
    bench/streaming/run.sh --events 2000000 --workers 1 2 4
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness import Server, wait_finished  # noqa: E402

QUERIES = {
    # Nexmark q2's shape: a selective filter and a projection.
    "filter": "SELECT auction, price FROM bid WHERE auction % 123 = 0",
    # A TUMBLE count per auction, emitted as the watermark passes each window.
    "tumble_count": (
        "SELECT auction, window_start, window_end, count(*) AS bids "
        "FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND)) "
        "GROUP BY auction, window_start, window_end"
    ),
}


def run_query(conn, name, sql, events):
    conn.execute(
        "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel TEXT, "
        "url TEXT, date_time TIMESTAMP, extra TEXT, "
        "WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND) "
        f"WITH (connector = 'nexmark', table = 'bid', events_per_second = '0', "
        f"event_count = '{events}')"
    )
    start = time.perf_counter()
    conn.execute(f"CREATE MATERIALIZED VIEW q AS {sql}")
    wait_finished(conn)
    elapsed = time.perf_counter() - start
    rows = conn.execute("SELECT count(*) FROM q").fetchone()[0]
    conn.execute("DROP MATERIALIZED VIEW q")
    conn.execute("DROP TABLE bid")
    return elapsed, rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--results", required=True)
    args = parser.parse_args()

    out = []
    for workers in args.workers:
        with Server(args.binary, workers) as server:
            for name, sql in QUERIES.items():
                elapsed, rows = run_query(server.conn, name, sql, args.events)
                result = {
                    "query": name,
                    "workers": workers,
                    "events": args.events,
                    "seconds": round(elapsed, 3),
                    "events_per_second": round(args.events / elapsed),
                    "events_per_second_per_worker": round(args.events / elapsed / workers),
                    "result_rows": rows,
                }
                out.append(result)
                print(json.dumps(result), file=sys.stderr, flush=True)
    with open(args.results, "a") as f:
        for r in out:
            f.write(json.dumps(r) + "\n")
    print(f"\nnexmark bid stream, {args.events:,} events, {os.cpu_count()} cores\n")
    print("| query | workers | seconds | events/s | events/s per worker | result rows |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in out:
        print(f"| {r['query']} | {r['workers']} | {r['seconds']} | {r['events_per_second']:,} "
              f"| {r['events_per_second_per_worker']:,} | {r['result_rows']:,} |")


if __name__ == "__main__":
    main()
