"""Agent addresses: ``agent://org/env/name``. The official SDK strips ``agent://`` before putting an
address in a URL path, and bare names circulate too, so every address is normalised to one form."""

from __future__ import annotations

import re

from ._errors import ValidationFailed

SCHEME = "agent://"
_SEGMENTS = r"[A-Za-z0-9][A-Za-z0-9._\-]*(/[A-Za-z0-9][A-Za-z0-9._@\-]*)*"
_PATH = re.compile(_SEGMENTS)
# What ``normalize_address`` accepts, as one pattern (published in the API schema).
ADDRESS_PATTERN = f"^({SCHEME})?/*{_SEGMENTS}/*$"
MAX_LENGTH = 383  # PROTOCOL.md §2.2


def normalize_address(address: str, field: str = "to_agent") -> str:
    """``acme/prod/writer`` and ``agent://acme/prod/writer`` are the same agent."""
    path = address[len(SCHEME) :] if address.startswith(SCHEME) else address
    path = path.strip("/")
    if not path or len(path) > MAX_LENGTH or not _PATH.fullmatch(path):
        raise ValidationFailed(
            f"{field} must look like agent://org/env/name (letters, digits, . _ - separated by /)",
            details={"field": field, "value": address[:100]},
        )
    return SCHEME + path


def base_address(address: str) -> str:
    """The address without its version: ``agent://acme/prod/writer@v2`` is a version of
    ``agent://acme/prod/writer`` (a kill or a route of the base covers every version)."""
    head, _, last = address.rpartition("/")
    return f"{head}/{last.split('@', 1)[0]}"
