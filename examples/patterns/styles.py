"""Runs a pattern example in its two styles: ``python examples/patterns/<pattern>.py [declared|code-first]``
runs one of them, or both, printing one line each."""

from __future__ import annotations

import sys
from collections.abc import Callable

from intentd.client import Client
from intentd.worker import Worker

STYLES = ("declared", "code-first")


def run(
    workers: list[Worker], declared: Callable[[Client], str], code_first: Callable[[Client], str]
) -> None:
    styles = sys.argv[1:] or list(STYLES)
    if not set(styles) <= set(STYLES):
        raise SystemExit(f"usage: {sys.argv[0]} [{'|'.join(STYLES)}]")
    for worker in workers:
        worker.start()  # in a background thread
    try:
        with Client() as client:  # INTENTD_URL / INTENTD_API_KEY, or .intentd-key
            for style in styles:
                line = declared(client) if style == "declared" else code_first(client)
                print(f"{style}: {line}", flush=True)
    finally:
        for worker in workers:
            worker.stop()
