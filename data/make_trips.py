#!/usr/bin/env python3
"""Writes data/trips.parquet, the sample file table of the README quickstart.

Deterministic: the same 1000 trips every time. Needs pyarrow.
Usage: python3 data/make_trips.py
"""

import datetime as dt
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

rng = random.Random(42)
customers = ["ann", "bob", "cat", "dan", "eve", "fay", "gus", "hal"]
start = dt.datetime(2026, 1, 1, 6, 0, 0)
rows = []
for i in range(1, 1001):
    pickup = start + dt.timedelta(seconds=rng.randrange(0, 7 * 24 * 3600))
    minutes = rng.randrange(3, 90)
    distance = round(rng.uniform(0.5, 40.0), 2)
    rows.append(
        {
            "trip_id": i,
            "customer": rng.choice(customers),
            "pickup_ts": pickup,
            "dropoff_ts": pickup + dt.timedelta(minutes=minutes),
            "distance_km": distance,
            "fare": round(3.0 + distance * 1.8 + minutes * 0.3, 2),
        }
    )
rows.sort(key=lambda r: r["pickup_ts"])
schema = pa.schema(
    [
        ("trip_id", pa.int64()),
        ("customer", pa.string()),
        ("pickup_ts", pa.timestamp("us")),
        ("dropoff_ts", pa.timestamp("us")),
        ("distance_km", pa.float64()),
        ("fare", pa.float64()),
    ]
)
table = pa.Table.from_pylist(rows, schema=schema)
out = Path(__file__).resolve().parent / "trips.parquet"
pq.write_table(table, out, row_group_size=250)
print(f"wrote {out} ({table.num_rows} rows)")
