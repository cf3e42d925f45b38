"""The ``intentd`` command.

Typer and Rich come with the ``intentd[cli]`` extra (``intentd[server]`` includes it). Nothing is
imported here before ``main()`` has checked that they are installed, so an SDK-only install that
runs ``intentd`` gets one line saying what to install instead of a traceback.
"""

from __future__ import annotations

import sys

__all__ = ["main"]

# What the extra brings (click comes with typer); a missing module of any other name is a bug.
_CLI_EXTRA = frozenset({"typer", "click", "rich"})


def main() -> None:
    """The console entry point (``intentd`` and ``python -m intentd``)."""
    try:
        from .app import app
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in _CLI_EXTRA:
            raise
        sys.stderr.write(f"intentd: the command line needs {exc.name}: pip install 'intentd[cli]'\n")
        raise SystemExit(2) from None
    app()
