"""Migrations: one gapless numbered history, dialect overrides by file name, idempotent application
recorded in ``schema_migrations``, and a freshly migrated schema equal to the committed dump (so
every schema change shows up in review as a diff of ``tests/store/schema.<dialect>.sql``).

Regenerate the dumps after adding a migration: ``python -m tests.store.test_migrations``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace

import asyncpg
import pytest

from intentd.store import _migrate, is_postgres_url, migrate_url
from intentd.store._migrate import migrations_for
from intentd.store.sqlite import path_from_url
from tests.conftest import _dsn, _pg_admin

HERE = Path(__file__).parent


def _history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *files: str) -> None:
    """Point the migration loader at a folder holding ``files`` instead of the package's own."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    for name in files:
        (folder / name).write_text(f"-- {name}\n")
    monkeypatch.setattr(_migrate, "resources", SimpleNamespace(files=lambda _package: tmp_path))


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_the_shipped_history_starts_at_one_and_has_no_gaps(dialect: str) -> None:
    versions = [m.version for m in migrations_for(dialect)]
    assert versions == list(range(1, len(versions) + 1))
    assert versions, "no migrations shipped"


def test_a_gap_in_the_history_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _history(tmp_path, monkeypatch, "0001_initial.sql", "0002_more.sql", "0004_skipped.sql")
    with pytest.raises(RuntimeError, match="gap before version 4"):
        migrations_for("sqlite")


def test_a_history_not_starting_at_one_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _history(tmp_path, monkeypatch, "0002_late.sql")
    with pytest.raises(RuntimeError, match="gap before version 2"):
        migrations_for("postgres")


def test_a_version_only_one_dialect_has_is_a_gap_for_the_other(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _history(tmp_path, monkeypatch, "0001_initial.sql", "0002_wal.sqlite.sql", "0003_next.sql")
    assert [m.name for m in migrations_for("sqlite")] == ["initial", "wal", "next"]
    with pytest.raises(RuntimeError, match="gap before version 3"):
        migrations_for("postgres")


def test_a_dialect_file_overrides_the_shared_one_and_other_files_are_ignored(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _history(
        tmp_path,
        monkeypatch,
        "0001_initial.sql",
        "0001_initial.postgres.sql",
        "0002_index.sql",
        "README.md",
        "0003_draft.sql.orig",
    )
    assert [m.sql for m in migrations_for("postgres")] == [
        "-- 0001_initial.postgres.sql\n",
        "-- 0002_index.sql\n",
    ]
    assert [m.sql for m in migrations_for("sqlite")] == ["-- 0001_initial.sql\n", "-- 0002_index.sql\n"]


# -- applying migrations to a real, empty database --------------------------------------------


@pytest.fixture
def empty_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database with no schema at all (not the migrated template the other tests clone)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    request.getfixturevalue("pg_template")  # skips (or fails under CI) without PostgreSQL
    name = f"intentd_empty_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f"CREATE DATABASE {name}"))
    yield _dsn(name)
    asyncio.run(_pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def _recorded_versions(url: str) -> list[int]:
    sql = "SELECT version FROM schema_migrations ORDER BY version"
    if is_postgres_url(url):
        conn = await asyncpg.connect(url)
        try:
            return [r["version"] for r in await conn.fetch(sql)]
        finally:
            await conn.close()
    with closing(sqlite3.connect(path_from_url(url))) as conn:
        return [r[0] for r in conn.execute(sql)]


async def test_migrate_applies_everything_once_and_records_it(backend: str, empty_url: str) -> None:
    everything = [m.version for m in migrations_for(backend)]
    assert await migrate_url(empty_url) == everything
    assert await migrate_url(empty_url) == []  # a second run (next `serve` start) applies nothing
    assert await _recorded_versions(empty_url) == everything


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_concurrent_replicas_starting_up_migrate_exactly_once(empty_url: str) -> None:
    results = await asyncio.gather(*(migrate_url(empty_url) for _ in range(3)))
    everything = [m.version for m in migrations_for("postgres")]
    assert sorted(results) == [[], [], everything]


async def test_a_fresh_database_matches_the_committed_schema(backend: str, empty_url: str) -> None:
    await migrate_url(empty_url)
    committed = (HERE / f"schema.{backend}.sql").read_text()
    assert await schema_dump(empty_url) == committed, (
        f"the migrated schema differs from tests/store/schema.{backend}.sql; if the change is "
        "intended, regenerate it with `python -m tests.store.test_migrations` and commit the diff"
    )


# -- the dump: a stable, diff-friendly text of what the migrations built ----------------------


async def schema_dump(url: str) -> str:
    if is_postgres_url(url):
        return await _postgres_dump(url)
    with closing(sqlite3.connect(path_from_url(url))) as conn:
        rows = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type DESC, name"
        ).fetchall()
    return "".join(f"-- {kind} {name}\n{sql};\n\n" for kind, name, sql in rows)


async def _postgres_dump(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        columns = await conn.fetch(
            "SELECT table_name, column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = 'public' "
            "ORDER BY table_name, ordinal_position"
        )
        keys = await conn.fetch(
            "SELECT tc.table_name, tc.constraint_type, "
            "string_agg(k.column_name, ', ' ORDER BY k.ordinal_position) AS cols "
            "FROM information_schema.table_constraints tc "
            "JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name) "
            "WHERE tc.table_schema = 'public' GROUP BY 1, 2, tc.constraint_name ORDER BY 1, 2, 3"
        )
        indexes = await conn.fetch(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "ORDER BY tablename, indexname"
        )
    finally:
        await conn.close()
    lines = [
        f"{c['table_name']}.{c['column_name']} {c['data_type']}"
        f"{'' if c['is_nullable'] == 'YES' else ' NOT NULL'}"
        f"{'' if c['column_default'] is None else ' DEFAULT ' + c['column_default']}"
        for c in columns
    ]
    lines += [f"{k['table_name']} {k['constraint_type']} ({k['cols']})" for k in keys]
    lines += [f"{i['indexdef']};" for i in indexes]
    return "\n".join(lines) + "\n"


async def _regenerate() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'schema.db'}"
        await migrate_url(url)
        (HERE / "schema.sqlite.sql").write_text(await schema_dump(url))
    name = f"intentd_schema_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f"CREATE DATABASE {name}")
    try:
        await migrate_url(_dsn(name))
        (HERE / "schema.postgres.sql").write_text(await schema_dump(_dsn(name)))
    finally:
        await _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    asyncio.run(_regenerate())
    sys.stdout.write("wrote tests/store/schema.sqlite.sql and tests/store/schema.postgres.sql\n")
