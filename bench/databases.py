"""Where a benchmark runs: a fresh SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
import contextlib
import os
import tempfile
import uuid

PG = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def each(backend, prefix):
    """(label, url context manager) for 'sqlite', 'postgres' or 'both'."""
    if backend in ("sqlite", "both"):
        yield "sqlite", contextlib.nullcontext(f"sqlite:///{tempfile.mkdtemp(prefix=prefix + '-')}/bench.db")
    if backend in ("postgres", "both"):
        yield "postgres", pg_schema(prefix)


@contextlib.contextmanager
def pg_schema(prefix):
    import psycopg2
    schema = f"{prefix.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(PG.replace("postgresql://", "postgres://", 1))
    conn.autocommit = True
    conn.cursor().execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG}?options=-csearch_path%3D{schema}"
    finally:
        conn.cursor().execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()
