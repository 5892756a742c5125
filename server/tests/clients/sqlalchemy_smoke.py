"""What a SQLAlchemy 2 / pandas application does against Tidewater.

Run by server/tests/clients_sqlalchemy.rs as

    python3 sqlalchemy_smoke.py <host> <port> <user> <database> <driver>

on a fresh server, where <driver> is ``psycopg2`` or ``psycopg`` (3): the
two PostgreSQL dialects SQLAlchemy ships. The checks are what a notebook
or an ORM application does first: connect (SQLAlchemy's dialect
initialisation queries the server version, settings and types), create
tables with ``MetaData.create_all``, reflect them with ``inspect(engine)``
and ``Table(..., autoload_with=engine)``, write DataFrames with
``DataFrame.to_sql`` (replace, append, ``method="multi"``), read them
back with ``pandas.read_sql``, use the ORM in a session, and nest
transactions with savepoints (recovering from an error inside one). Every check runs even when an earlier one
failed; each prints ``ok <name>`` or ``FAIL <name>: <what>``, and the
exit status is 1 when any failed. The expected values are what
PostgreSQL 15 answers.
"""

import datetime
import sys
import traceback

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import orm

HOST, PORT, USER, DATABASE, DRIVER = sys.argv[1:6]
URL = f"postgresql+{DRIVER}://{USER}@{HOST}:{PORT}/{DATABASE}"
FAILURES = []


def check(name):
    def run(fn):
        try:
            fn()
            print(f"ok   {name}", flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            FAILURES.append(name)
            detail = f"{type(e).__name__}: {e}"
            frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == __file__]
            detail += "".join(f"\n       at line {f.lineno}: {f.line}" for f in frames)
            print(f"FAIL {name}: {detail}", flush=True)
        return fn

    return run


def eq(expected, actual, what):
    if expected != actual:
        raise AssertionError(f"{what}: expected {expected!r} but got {actual!r}")


engine = sa.create_engine(URL)
metadata = sa.MetaData()
customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("balance", sa.Numeric(12, 2)),
    sa.Column("joined", sa.DateTime),
    sa.Column("active", sa.Boolean),
)


@check("connect: the dialect initialises")
def _():
    with engine.connect() as conn:
        eq(1, conn.execute(sa.text("SELECT 1")).scalar(), "SELECT 1")
        version = engine.dialect.server_version_info
        if not version or version[0] < 14:
            raise AssertionError(f"server_version_info {version!r}")


@check("metadata: create_all and has_table")
def _():
    metadata.create_all(engine)
    eq(True, sa.inspect(engine).has_table("customers"), "has_table")
    # A second create_all sees the table and does nothing.
    metadata.create_all(engine)


@check("core: insert and select with bound parameters")
def _():
    joined = datetime.datetime(2026, 3, 1, 12, 30, 5)
    with engine.begin() as conn:
        conn.execute(
            customers.insert(),
            [
                {"id": 1, "name": "ada", "balance": 10.5, "joined": joined, "active": True},
                {"id": 2, "name": "grace", "balance": None, "joined": None, "active": False},
            ],
        )
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(customers.c.id, customers.c.name, customers.c.joined)
            .where(customers.c.id >= sa.bindparam("lo"))
            .order_by(customers.c.id),
            {"lo": 1},
        ).all()
        eq([(1, "ada", joined), (2, "grace", None)], [tuple(r) for r in rows], "rows")
        like = conn.execute(
            sa.select(customers.c.name).where(customers.c.name.like("a/%%", escape="/"))
        ).all()
        eq([], like, "LIKE with ESCAPE")
        contains = conn.execute(
            sa.select(customers.c.name).where(customers.c.name.contains("rac", autoescape=True))
        ).scalars().all()
        eq(["grace"], contains, "contains(autoescape=True)")


@check("inspect: schemas, tables, columns, keys, indexes")
def _():
    insp = sa.inspect(engine)
    schemas = insp.get_schema_names()
    if "public" not in schemas:
        raise AssertionError(f"public not in {schemas!r}")
    if "customers" not in insp.get_table_names():
        raise AssertionError(f"customers not in {insp.get_table_names()!r}")
    cols = {c["name"]: c for c in insp.get_columns("customers")}
    eq(["id", "name", "balance", "joined", "active"], list(cols), "column names")
    eq(False, cols["name"]["nullable"], "name nullable")
    eq(True, cols["balance"]["nullable"], "balance nullable")
    eq("VARCHAR(40)", str(cols["name"]["type"]), "name type")
    eq("NUMERIC(12, 2)", str(cols["balance"]["type"]), "balance type")
    eq("TIMESTAMP", str(cols["joined"]["type"]), "joined type")
    eq("BOOLEAN", str(cols["active"]["type"]), "active type")
    eq(["id"], insp.get_pk_constraint("customers")["constrained_columns"], "primary key")
    eq([], insp.get_foreign_keys("customers"), "foreign keys")
    eq([], insp.get_indexes("customers"), "indexes")
    eq([], insp.get_unique_constraints("customers"), "unique constraints")
    views = insp.get_view_names()
    eq([], views, "views")


@check("reflect: Table(autoload_with=engine)")
def _():
    reflected = sa.Table("customers", sa.MetaData(), autoload_with=engine)
    eq(["id", "name", "balance", "joined", "active"], [c.name for c in reflected.columns], "columns")
    eq(["id"], [c.name for c in reflected.primary_key.columns], "primary key")
    with engine.connect() as conn:
        eq(2, conn.execute(sa.select(sa.func.count()).select_from(reflected)).scalar(), "count")
    everything = sa.MetaData()
    everything.reflect(engine)
    if "customers" not in everything.tables:
        raise AssertionError(f"reflect() found {sorted(everything.tables)!r}")


FRAME = pd.DataFrame(
    {
        "k": [1, 2, 3],
        "label": ["one", "two", None],
        "x": [0.5, None, 2.25],
        "at": pd.to_datetime(["2026-01-01 00:00:00", "2026-01-02 03:04:05", None]),
        "flag": [True, False, True],
    }
)


@check("pandas: to_sql replace, append and method=multi; read_sql")
def _():
    FRAME.to_sql("frame", engine, index=False, if_exists="replace")
    FRAME.to_sql("frame", engine, index=False, if_exists="replace")
    FRAME.to_sql("frame", engine, index=False, if_exists="append", method="multi")
    back = pd.read_sql("SELECT * FROM frame ORDER BY k, label", engine)
    eq(6, len(back), "rows read back")
    eq(["k", "label", "x", "at", "flag"], list(back.columns), "columns")
    eq([1, 1, 2, 2, 3, 3], back["k"].tolist(), "k")
    eq(pd.Timestamp("2026-01-02 03:04:05"), back["at"][2], "timestamp")
    eq(True, bool(pd.isna(back["at"][4])), "NULL timestamp")
    table = pd.read_sql_table("frame", engine)
    eq(6, len(table), "read_sql_table rows")
    query = pd.read_sql_query(
        sa.text("SELECT k, x FROM frame WHERE k = :k ORDER BY x"), engine, params={"k": 3}
    )
    eq([2.25, 2.25], query["x"].tolist(), "parameterized read_sql_query")


@check("pandas: to_sql with an index and chunks")
def _():
    frame = pd.DataFrame({"v": range(2500)})
    frame.index.name = "i"
    frame.to_sql("chunked", engine, if_exists="replace", chunksize=1000, method="multi")
    back = pd.read_sql("SELECT count(*) AS n, sum(v) AS s, max(i) AS m FROM chunked", engine)
    eq((2500, sum(range(2500)), 2499), tuple(int(v) for v in back.iloc[0]), "count, sum, max")


class Base(orm.DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True, autoincrement=False)
    body: orm.Mapped[str] = orm.mapped_column(sa.String(100))


@check("orm: session add, query and get")
def _():
    Base.metadata.create_all(engine)
    with orm.Session(engine) as session:
        session.add_all([Note(id=1, body="first"), Note(id=2, body="second")])
        session.commit()
    with orm.Session(engine) as session:
        notes = session.scalars(sa.select(Note).order_by(Note.id)).all()
        eq(["first", "second"], [n.body for n in notes], "bodies")
        eq("second", session.get(Note, 2).body, "get")


@check("transactions: savepoints, and an error rolled back to one")
def _():
    with engine.connect() as conn:
        with conn.begin():
            conn.execute(sa.text("INSERT INTO notes VALUES (10, 'kept')"))
            with conn.begin_nested():
                conn.execute(sa.text("INSERT INTO notes VALUES (11, 'also kept')"))
            # A failed statement inside a savepoint: rolling back to it
            # makes the transaction usable again.
            try:
                with conn.begin_nested():
                    conn.execute(sa.text("SELECT * FROM no_such_table"))
                raise AssertionError("no error for a missing table")
            except sa.exc.ProgrammingError:
                pass
            conn.execute(sa.text("INSERT INTO notes VALUES (12, 'after the error')"))
        ids = conn.execute(sa.text("SELECT id FROM notes WHERE id >= 10 ORDER BY id")).scalars().all()
        eq([10, 11, 12], ids, "ids after the savepoints")


@check("errors: a failed statement leaves the connection usable")
def _():
    with engine.connect() as conn:
        try:
            conn.execute(sa.text("SELECT * FROM no_such_table"))
            raise AssertionError("no error for a missing table")
        except sa.exc.ProgrammingError as e:
            if "no_such_table" not in str(e):
                raise AssertionError(f"error does not name the table: {e}") from e
        conn.rollback()
        eq(1, conn.execute(sa.text("SELECT 1")).scalar(), "after the error")


@check("metadata: drop_all")
def _():
    Base.metadata.drop_all(engine)
    metadata.drop_all(engine)
    eq(False, sa.inspect(engine).has_table("customers"), "has_table after drop")


engine.dispose()
sys.exit(1 if FAILURES else 0)
