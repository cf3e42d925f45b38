"""Named queries: every name the code asks for exists in both dialects, PostgreSQL placeholders are
numbered in the order the arguments are passed, and every query compiles against the schema."""

from __future__ import annotations

import ast
import re
import sqlite3
from importlib import resources

import asyncpg
import pytest

from intentd.store import _sql
from intentd.store._sql import Query, load_queries
from intentd.store.sqlite import connect, migrate, path_from_url

DIALECTS = ["sqlite", "postgres"]
# The modules of one transaction: the core and the mixin of each area (the backends are checked apart).
_TX_MODULES = sorted(
    e.name
    for e in resources.files("intentd.store").iterdir()
    if e.name.endswith(".py") and e.name not in ("postgres.py", "sqlite.py")
)
_NAMED_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


def _query_names_used_by(module: str) -> set[str]:
    """String literals the module passes to its query helpers or looks up in its query table."""
    tree = ast.parse((resources.files("intentd.store") / module).read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and (node.func.attr in ("_rows", "_one", "_write") and node.args)
        ):
            names |= {
                c.value
                for c in ast.walk(node.args[0])
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            }
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and (node.value.attr in ("_q", "_queries") and isinstance(node.slice, ast.Constant))
        ):
            names.add(node.slice.value)
    return names


def test_the_scan_finds_the_queries_it_is_meant_to_find() -> None:
    used = _query_names_used_by("_tx.py")
    # Both arms of a conditional name and the executemany lookup are seen.
    assert {
        "get_intent",
        "get_intent_for_update",
        "insert_event",
        "claimable_intents",
        "list_intents",
        "reserve_feed_seqs",
    } <= used
    assert "notify" in _query_names_used_by("postgres.py")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_query_the_store_uses_exists_in_both_dialects(dialect: str) -> None:
    used: set[str] = set().union(*(_query_names_used_by(m) for m in _TX_MODULES))
    if dialect == "postgres":
        used |= _query_names_used_by("postgres.py")
    missing = used - set(load_queries(dialect))
    assert not missing, f"{dialect} lacks named queries {sorted(missing)}"


def _source(dialect: str) -> dict[str, str]:
    folder = resources.files("intentd.store") / "sql"
    shared: dict[str, str] = {}
    own: dict[str, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        stem = entry.name.removesuffix(".sql")
        if stem == dialect or stem.endswith(f".{dialect}"):
            own |= _sql._parse(entry.read_text())
        elif stem not in DIALECTS and "." not in stem:
            shared |= _sql._parse(entry.read_text())
    return shared | own


def test_each_query_is_defined_in_one_shared_file() -> None:
    """Areas keep their queries in files of their own; a name defined twice would silently win by file
    order, so loading refuses it."""
    folder = resources.files("intentd.store") / "sql"
    seen: dict[str, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if "." in entry.name.removesuffix(".sql") or entry.name.removesuffix(".sql") in DIALECTS:
            continue
        for name in _sql._parse(entry.read_text()):
            assert name not in seen, f"{name} is in both {seen[name]} and {entry.name}"
            seen[name] = entry.name
    assert "insert_api_key" in seen and seen["insert_api_key"] == "keys.sql"


def _renamed(query: Query) -> str:
    return re.sub(r"\$(\d+)", lambda m: ":" + query.params[int(m.group(1)) - 1], query.text)


def test_postgres_placeholders_map_back_to_the_named_params() -> None:
    source = _source("postgres")
    for name, query in load_queries("postgres").items():
        assert not _NAMED_PARAM.search(query.text), f"{name} kept a :param"
        numbers = {int(n) for n in re.findall(r"\$(\d+)", query.text)}
        assert numbers == set(range(1, len(query.params) + 1)), name
        # Putting each $n's param name back gives the SQL as written: every argument lands in
        # the slot its name was written in.
        assert _renamed(query) == source[name], name
        assert query.params == tuple(dict.fromkeys(_NAMED_PARAM.findall(source[name]))), name


def test_a_repeated_param_reuses_its_number_and_args_come_in_that_order() -> None:
    query = load_queries("postgres")["list_intents"]
    assert query.params[0] == "namespace"
    assert query.text.count("$2") == 2  # :status is both the NULL test and the comparison
    values = dict.fromkeys(query.params, None) | {"namespace": "ns", "limit": 10, "status": "X"}
    args = query.args(values)
    assert args[0] == "ns" and args[1] == "X" and args[-1] == 10


def test_casts_and_comments_are_not_params() -> None:
    parsed = _sql._parse("-- name: q\n-- a :comment line\nSELECT :a::bigint, x::text, :b;\n")
    assert parsed == {"q": "SELECT :a::bigint, x::text, :b"}
    query = _sql._positional("q", parsed["q"])
    assert query == Query("q", "SELECT $1::bigint, x::text, $2", ("a", "b"))


def test_dialect_file_overrides_a_shared_name() -> None:
    shared, pg = load_queries("sqlite"), load_queries("postgres")
    assert "SKIP LOCKED" in pg["claimable_intents"].text
    assert "SKIP LOCKED" not in shared["claimable_intents"].text
    assert "FOR UPDATE" in pg["get_intent_for_update"].text
    assert "notify" not in shared  # a postgres-only name stays postgres-only


async def test_every_query_compiles_against_the_migrated_schema(backend: str, database_url: str) -> None:
    queries = load_queries(backend)
    if backend == "postgres":
        conn = await asyncpg.connect(database_url)
        try:
            for query in queries.values():
                await conn.prepare(query.text)  # parses and plans; nothing runs
        finally:
            await conn.close()
        return
    db = connect(path_from_url(database_url))
    try:
        migrate(db)
        for query in queries.values():
            params = dict.fromkeys(_NAMED_PARAM.findall(query.text))
            try:
                db.execute(f"EXPLAIN {query.text}", params)
            except sqlite3.Error as exc:
                pytest.fail(f"{query.name}: {exc}")
    finally:
        db.close()
