"""Generate the synchronous client (``src/intentd/client/_sync.py``) from the asynchronous one.

An unasync-style rewrite of whole tokens (httpcore's ``scripts/unasync.py`` does the same): the two
clients can then never drift apart, and a fix made in ``_async.py`` reaches ``Client`` by running

    python scripts/gen_sync.py           # rewrite _sync.py
    python scripts/gen_sync.py --check   # exit 1 if _sync.py is stale (run by the test suite)
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

CLIENT = Path(__file__).resolve().parent.parent / "src" / "intentd" / "client"
SOURCE = CLIENT / "_async.py"
TARGET = CLIENT / "_sync.py"

HEADER = (
    "# GENERATED from _async.py by scripts/gen_sync.py. Do not edit: edit _async.py and rerun.\n"
    "# ruff: noqa: UP028  (`for x in y: yield x` mirrors `async for`, which has no `yield from`)\n"
)

# Order matters where one pattern contains another (AsyncIterator before Async…, aclosing first).
REWRITES: list[tuple[str, str]] = [
    (r"\bimport asyncio\b", "import time"),
    (r"\basyncio\.sleep\b", "time.sleep"),
    (r"\baclosing\b", "closing"),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\bAsyncGenerator\b", "Generator"),
    (r"\bAsyncBaseTransport\b", "BaseTransport"),
    (r"\bAsyncClient\b", "Client"),
    (r"\basynccontextmanager\b", "contextmanager"),
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\bawait ", ""),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\baclose\b", "close"),
    (r"\baread\b", "read"),
    (r"\baiter_lines\b", "iter_lines"),
    (r"\baiter_text\b", "iter_text"),
    (r"\baiter_bytes\b", "iter_bytes"),
    (r"\bAsynchronous\b", "Synchronous"),
    (r"\basynchronous\b", "synchronous"),
]


def unasync(source: str) -> str:
    for pattern, replacement in REWRITES:
        source = re.sub(pattern, replacement, source)
    return HEADER + source


def _formatted(source: str) -> str:
    """Dropping ``async``/``await`` shortens lines, so the output is run through ``ruff format`` (the
    project's formatter) to come out exactly as ``make lint`` expects every file."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(TARGET), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if _sync.py differs from what would be generated",
    )
    args = parser.parse_args(argv)
    generated = _formatted(unasync(SOURCE.read_text()))
    current = TARGET.read_text() if TARGET.exists() else ""
    if args.check:
        if current != generated:
            print(f"{TARGET.name} is stale: run `python scripts/gen_sync.py`", file=sys.stderr)
            return 1
        return 0
    if current != generated:
        TARGET.write_text(generated)
        print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
