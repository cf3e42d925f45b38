"""Files the CLI reads before it sends anything (a ScenarioBundle, a policy, synthetic intents): JSON
or YAML. One that cannot be read or parsed ends the command with the line and the problem (exit 2, as
for a bad flag: nothing was sent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import yaml

from ._output import fail

EXIT_BAD_FILE = 2
YAML_SUFFIXES = {".yaml", ".yml"}


def read_object(path: Path, what: str) -> dict[str, Any]:
    """The JSON object in ``path`` (``.json``, ``.yaml`` or ``.yml``), ``what`` naming it in errors."""
    value = read_value(path, what)
    if not isinstance(value, dict):
        fail(f"{path}: {what} is an object, not {type(value).__name__}", EXIT_BAD_FILE)
    return value


def read_value(path: Path, what: str) -> Any:
    """The JSON value in ``path``, as JSON (YAML's dates become RFC 3339 text)."""
    if path.suffix.lower() not in YAML_SUFFIXES | {".json"}:
        fail(f"{path}: {what} file ends in .json, .yaml or .yml", EXIT_BAD_FILE)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {exc.strerror if isinstance(exc, OSError) else exc}", EXIT_BAD_FILE)
    value = _parse_yaml(path, text) if path.suffix.lower() in YAML_SUFFIXES else _parse_json(path, text)
    return _as_json(value, what)


def _parse_json(path: Path, text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        fail(f"{path}, line {exc.lineno}: not valid JSON: {exc.msg}", EXIT_BAD_FILE)


def _parse_yaml(path: Path, text: str) -> Any:
    try:
        return yaml.safe_load(text)  # safe: the file is data and must not build Python objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""  # the mark counts from 0
        problem = getattr(exc, "problem", None) or exc
        fail(f"{path}{where}: not valid YAML: {problem}", EXIT_BAD_FILE)


def _as_json(value: Any, what: str) -> Any:
    # YAML gives datetimes for unquoted times (deadline_at) and may give keys that are not text; a
    # round trip through orjson writes the first as RFC 3339 and the second as text, so the SDK can
    # send it as JSON.
    try:
        return orjson.loads(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))
    except orjson.JSONEncodeError as exc:
        fail(f"{what} cannot be sent as JSON: {exc}", EXIT_BAD_FILE)
