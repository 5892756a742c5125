"""What a Python application does against Tidewater through psycopg 3.

Run by server/tests/clients_psycopg.rs as

    python3 psycopg_smoke.py '<libpq conninfo>' <group>

on a fresh server. Both groups first create a schema, tables and a view.
Group ``query``: inserts and queries with parameters in text format
(``%t``, and ``%s`` which psycopg sends as text) and in binary format
(``%b``), results in text and binary format (``binary=True``),
server-side prepared statements, executemany (pipelined), NULLs, array
parameters, COPY, errors and psycopg's default transaction mode. Group
``metadata``: listing tables and columns through information_schema and
pg_catalog, and psycopg's TypeInfo. Every check runs even when an
earlier one failed; each prints ``ok <name>`` or ``FAIL <name>: <what>``,
and the exit status is 1 when any failed. The expected values are what
PostgreSQL 15 answers.
"""

import datetime
import sys
import time
import traceback
from decimal import Decimal

import psycopg
from psycopg.types import TypeInfo

FAILURES = []


def check(name, group):
    """Runs the decorated function as a check named `name` when its group
    is the one selected on the command line (or is `setup`)."""

    def run(fn):
        if group not in ("setup", GROUP):
            return fn
        try:
            fn()
            print(f"ok   {name}", flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            FAILURES.append(name)
            detail = f"{type(e).__name__}: {e}"
            sqlstate = getattr(e, "sqlstate", None)
            if sqlstate:
                detail += f" [SQLSTATE {sqlstate}]"
            if not isinstance(e, AssertionError):
                frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == __file__]
                detail += "".join(f"\n       at line {f.lineno}: {f.line}" for f in frames)
            print(f"FAIL {name}: {detail}", flush=True)
        return fn

    return run


def eq(expected, actual, what):
    if expected != actual:
        raise AssertionError(f"{what}: expected {expected!r} but got {actual!r}")


if len(sys.argv) != 3 or sys.argv[2] not in ("query", "metadata", "streaming"):
    print("usage: psycopg_smoke.py '<libpq conninfo>' query|metadata|streaming", file=sys.stderr)
    sys.exit(2)
CONNINFO, GROUP = sys.argv[1:]

conn = psycopg.connect(CONNINFO, autocommit=True)
print(f"psycopg {psycopg.__version__} ({psycopg.pq.__impl__}, libpq {psycopg.pq.version()})", flush=True)

ROWS = 12
COLUMNS = "id, big, name, price, weight, active, born, seen"


def expected_row(i):
    return (
        i,
        10_000_000_000 + i,
        "it's \"é\" ✓" if i == 3 else f"item-{i}",
        Decimal("12.34") + i,
        i * 0.5,
        i % 2 == 0,
        datetime.date(2024, 1, 1) + datetime.timedelta(days=i),
        datetime.datetime(2024, 2, 29, 23, 59, 0) + datetime.timedelta(seconds=i, microseconds=i),
    )


@check("server parameters", "query")
def _():
    version = conn.info.parameter_status("server_version")
    if version is None:
        raise AssertionError("no server_version parameter")
    eq("UTF8", conn.info.encoding.upper().replace("-", ""), "client encoding")
    eq(psycopg.pq.TransactionStatus.IDLE, conn.info.transaction_status, "transaction status")


@check("create schema, tables and a view", "setup")
def _():
    conn.execute("CREATE SCHEMA py_s")
    conn.execute(
        "CREATE TABLE py_items (id integer NOT NULL, big bigint, name text, price numeric(10,2), "
        "weight double precision, active boolean, born date, seen timestamp)"
    )
    conn.execute("CREATE TABLE py_s.other (x integer)")
    conn.execute("CREATE VIEW py_view AS SELECT id, name FROM py_items")


@check("insert with text parameters (%s and %t)", "query")
def _():
    with conn.cursor() as cur:
        for i in range(0, ROWS, 2):
            cur.execute(f"INSERT INTO py_items ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", expected_row(i))
            eq(1, cur.rowcount, f"rowcount of insert {i}")
        for i in range(1, 6, 2):
            cur.execute(f"INSERT INTO py_items ({COLUMNS}) VALUES (%t, %t, %t, %t, %t, %t, %t, %t)", expected_row(i))
            eq(1, cur.rowcount, f"rowcount of insert {i}")


@check("executemany with binary parameters (%b)", "query")
def _():
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO py_items ({COLUMNS}) VALUES (%b, %b, %b, %b, %b, %b, %b, %b)",
            [expected_row(i) for i in range(7, ROWS, 2)],
        )


@check("insert NULLs", "query")
def _():
    conn.execute(f"INSERT INTO py_items ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", (100,) + (None,) * 7)
    conn.execute(f"INSERT INTO py_items ({COLUMNS}) VALUES (%b, %b, %b, %b, %b, %b, %b, %b)", (101,) + (None,) * 7)


SELECT = f"SELECT {COLUMNS} FROM py_items WHERE id >= {{p}} AND id < {{p}} AND price > {{p}} AND born >= {{p}} ORDER BY id"
PARAMS = (2, 9, Decimal("0.5"), datetime.date(2024, 1, 1))
EXPECTED_OIDS = [23, 20, 25, 1700, 701, 16, 1082, 1114]


def check_select(placeholder, binary, prepare):
    with conn.cursor(binary=binary) as cur:
        cur.execute(SELECT.format(p=placeholder), PARAMS, prepare=prepare)
        eq(EXPECTED_OIDS, [d.type_code for d in cur.description], "column type oids")
        eq(COLUMNS.split(", "), [d.name for d in cur.description], "column names")
        eq(1 if binary else 0, cur.pgresult.fformat(0), "result format")
        eq([expected_row(i) for i in range(2, 9)], cur.fetchall(), "rows")


for placeholder, binary in [("%s", False), ("%t", False), ("%t", True), ("%b", False), ("%b", True)]:
    for prepare in [False, True]:
        name = f"query with {placeholder} parameters, {'binary' if binary else 'text'} results"
        check(name + (", prepared" if prepare else ""), "query")(lambda: check_select(placeholder, binary, prepare))


@check("the same query prepared and run 6 times (binary)", "query")
def _():
    with conn.cursor(binary=True) as cur:
        for run in range(6):
            cur.execute("SELECT name, price FROM py_items WHERE id = %b", (run,))
            eq([expected_row(run)[2:4]], cur.fetchall(), f"run {run}")


@check("NULLs read back in text and binary", "query")
def _():
    for binary in [False, True]:
        with conn.cursor(binary=binary) as cur:
            cur.execute(f"SELECT {COLUMNS} FROM py_items WHERE id >= %s ORDER BY id", (100,))
            eq([(100,) + (None,) * 7, (101,) + (None,) * 7], cur.fetchall(), f"binary={binary}")


@check("expressions over parameters", "query")
def _():
    for p in ["%t", "%b"]:
        row = conn.execute(
            f"SELECT {p}::integer + 1, {p}::text || '!', {p}::integer IS NULL, {p}::numeric * 2, {p}::date + 1",
            (41, "hi", None, Decimal("1.25"), datetime.date(2024, 2, 28)),
        ).fetchone()
        eq((42, "hi!", True, Decimal("2.50"), datetime.date(2024, 2, 29)), row, f"with {p}")


@check("aggregates", "query")
def _():
    row = conn.execute(
        "SELECT count(*), sum(price), avg(weight), bool_and(active), min(born), max(seen) FROM py_items WHERE id < %s",
        (100,),
    ).fetchone()
    rows = [expected_row(i) for i in range(ROWS)]
    eq(
        (ROWS, sum(r[3] for r in rows), sum(r[4] for r in rows) / ROWS, False, rows[0][6], rows[-1][7]),
        row,
        "count, sum, avg, bool_and, min, max",
    )


@check("COPY FROM STDIN with write_row", "query")
def _():
    with conn.cursor() as cur:
        with cur.copy("COPY py_items (id, name, price, born) FROM STDIN") as copy:
            for i in range(200, 300):
                copy.write_row((i, f"copied\t{i}\n", Decimal(i) / 4, datetime.date(2025, 1, 1)))
        eq(100, cur.rowcount, "rows copied")
    row = conn.execute("SELECT count(*), min(name), sum(price) FROM py_items WHERE id >= 200").fetchone()
    eq((100, "copied\t200\n", sum(Decimal(i) / 4 for i in range(200, 300))), row, "copied rows")


@check("an error leaves the connection usable", "query")
def _():
    try:
        conn.execute("SELECT * FROM no_such_table")
        raise AssertionError("a query on a missing table succeeded")
    except psycopg.errors.UndefinedTable:
        pass
    try:
        conn.execute("SELECT 10 / %s", (0,))
        raise AssertionError("a division by zero succeeded")
    except psycopg.errors.DivisionByZero:
        pass
    eq((1,), conn.execute("SELECT 1").fetchone(), "SELECT 1")
    eq(psycopg.pq.TransactionStatus.IDLE, conn.info.transaction_status, "transaction status")


@check("psycopg's default transaction mode (BEGIN ... COMMIT)", "query")
def _():
    with psycopg.connect(CONNINFO) as tx:
        tx.execute("INSERT INTO py_items (id, name) VALUES (%s, %s)", (500, "in a transaction"))
        eq(psycopg.pq.TransactionStatus.INTRANS, tx.info.transaction_status, "inside the transaction")
    eq([("in a transaction",)], conn.execute("SELECT name FROM py_items WHERE id = 500").fetchall(), "committed row")


@check("an array parameter (= ANY(%s) with a list)", "query")
def _():
    for p in ["%t", "%b"]:
        rows = conn.execute(
            f"SELECT table_name FROM information_schema.tables WHERE table_schema = ANY({p}) ORDER BY table_name",
            (["public", "py_s"],),
        ).fetchall()
        eq([("other",), ("py_items",), ("py_view",)], rows, f"tables with {p}")
        rows = conn.execute(f"SELECT id FROM py_items WHERE id = ANY({p}) ORDER BY id", ([1, 4, 99],)).fetchall()
        eq([(1,), (4,)], rows, f"ids with {p}")


@check("list tables through information_schema.tables", "metadata")
def _():
    query = (
        "SELECT table_schema, table_name, table_type FROM information_schema.tables "
        "WHERE table_schema IN (%s, %s) ORDER BY table_schema, table_name"
    )
    eq(
        [("public", "py_items", "BASE TABLE"), ("public", "py_view", "VIEW"), ("py_s", "other", "BASE TABLE")],
        conn.execute(query, ("public", "py_s")).fetchall(),
        "tables",
    )
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = %s",
        ("public", "BASE TABLE"),
    ).fetchall()
    eq([("py_items",)], rows, "base tables of public")
    rows = conn.execute(
        "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s", ("py%",)
    ).fetchall()
    eq([("py_s",)], rows, "schemata like py%")


@check("list columns through information_schema.columns", "metadata")
def _():
    rows = conn.execute(
        "SELECT column_name, data_type, is_nullable, numeric_precision, numeric_scale "
        "FROM information_schema.columns WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        ("public", "py_items"),
    ).fetchall()
    eq(
        [
            ("id", "integer", "NO", 32, 0),
            ("big", "bigint", "YES", 64, 0),
            ("name", "text", "YES", None, None),
            ("price", "numeric", "YES", 10, 2),
            ("weight", "double precision", "YES", 53, None),
            ("active", "boolean", "YES", None, None),
            ("born", "date", "YES", None, None),
            ("seen", "timestamp without time zone", "YES", None, None),
        ],
        rows,
        "columns of py_items",
    )


@check("list tables through pg_catalog.pg_class", "metadata")
def _():
    for binary in [False, True]:
        rows = conn.cursor(binary=binary).execute(
            "SELECT n.nspname, c.relname, c.relkind FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname IN (%s, %s) AND c.relkind IN ('r', 'v') ORDER BY n.nspname, c.relname",
            ("public", "py_s"),
        ).fetchall()
        eq(
            [("public", "py_items", "r"), ("public", "py_view", "v"), ("py_s", "other", "r")],
            rows,
            f"relations (binary={binary})",
        )


@check("list columns through pg_attribute and format_type", "metadata")
def _():
    rows = conn.execute(
        "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull "
        "FROM pg_catalog.pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        ("public.py_items",),
    ).fetchall()
    eq(
        [
            ("id", "integer", True),
            ("big", "bigint", False),
            ("name", "text", False),
            ("price", "numeric(10,2)", False),
            ("weight", "double precision", False),
            ("active", "boolean", False),
            ("born", "date", False),
            ("seen", "timestamp without time zone", False),
        ],
        rows,
        "columns of py_items",
    )


@check("TypeInfo.fetch", "metadata")
def _():
    for name, oid, array_oid in [("numeric", 1700, 1231), ("int8", 20, 1016), ("text", 25, 1009)]:
        info = TypeInfo.fetch(conn, name)
        if info is None:
            raise AssertionError(f"TypeInfo.fetch({name!r}) found nothing")
        eq((name, oid, array_oid), (info.name, info.oid, info.array_oid), f"TypeInfo of {name}")


@check("a materialized view over a table", "streaming")
def _():
    conn.execute("CREATE TABLE py_ev (k bigint, v bigint)")
    conn.execute("INSERT INTO py_ev VALUES (1, 10), (2, 20)")
    conn.execute("CREATE MATERIALIZED VIEW py_per_k AS SELECT k, count(*) AS n, sum(v) AS s FROM py_ev GROUP BY k")
    conn.execute("FLUSH")
    eq([(1, 1, 10), (2, 1, 20)], conn.execute("SELECT k, n, s FROM py_per_k ORDER BY k").fetchall(), "view rows")


@check("DECLARE CURSOR FOR SUBSCRIBE, then FETCH as changes come", "streaming")
def _():
    sub = psycopg.connect(CONNINFO)  # not autocommit: a transaction block
    with sub.cursor() as cur:
        cur.execute("DECLARE c CURSOR FOR SUBSCRIBE TO py_per_k")
        cur.execute("FETCH ALL c")
        eq(["epoch", "diff", "k", "n", "s"], [d.name for d in cur.description], "columns")
        snapshot = sorted(cur.fetchall())
        eq([(0, 1, 1, 1, 10), (0, 1, 2, 1, 20)], snapshot, "snapshot")
        conn.execute("INSERT INTO py_ev VALUES (1, 5)")
        # FETCH waits for the next change, then returns what is ready.
        changes = []
        deadline = time.time() + 30
        while len(changes) < 2 and time.time() < deadline:
            cur.execute("FETCH 10 FROM c")
            changes += cur.fetchall()
        changes.sort(key=lambda r: r[1])
        eq([(-1, 1, 1, 10), (1, 1, 2, 15)], [r[1:] for r in changes], "the update")
        eq(1, len({r[0] for r in changes}), "one epoch")
        cur.execute("CLOSE c")
    sub.rollback()
    sub.close()


@check("a cursor over a query: FETCH n, then the rest", "streaming")
def _():
    with psycopg.connect(CONNINFO) as c2, c2.cursor() as cur:
        cur.execute("DECLARE q CURSOR FOR SELECT x FROM generate_series(1, 10) AS t(x) ORDER BY x")
        cur.execute("FETCH FORWARD 4 FROM q")
        eq([(1,), (2,), (3,), (4,)], cur.fetchall(), "first rows")
        cur.execute("FETCH ALL FROM q")
        eq([(i,) for i in range(5, 11)], cur.fetchall(), "the rest")
        cur.execute("FETCH 1 FROM q")
        eq([], cur.fetchall(), "after the end")
        try:
            cur.execute("FETCH BACKWARD 1 FROM q")
            raise AssertionError("FETCH BACKWARD succeeded")
        except psycopg.errors.ObjectNotInPrerequisiteState:
            pass
    try:
        conn.execute("DECLARE q CURSOR FOR SELECT 1")
        raise AssertionError("DECLARE outside a transaction block succeeded")
    except psycopg.errors.NoActiveSqlTransaction:
        pass


conn.close()
if FAILURES:
    print(f"{len(FAILURES)} check(s) failed: {FAILURES}")
    sys.exit(1)
print("all checks passed")
