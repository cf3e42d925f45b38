"""Expressions in a declared workflow step's ``input``: how a step refers to the run's payload, its
parameters and earlier steps' outputs. Pure: no I/O, no ``eval``.

Syntax
------
Inside any string value of the input (nested objects and lists included; keys are never templates),
``${<reference>}`` refers to a value of the run's scope. A reference is a root, then segments:

- roots: ``run`` (``run.payload.customer.id``, ``run.intent_id``, ``run.correlation_id``), ``steps``
  (``steps.draft.output.text``, ``steps.draft.status``) and ``parameters`` (``parameters.region``);
  any other root is an error;
- ``.name``, where a name matches ``[A-Za-z_][A-Za-z0-9_-]*``;
- ``["any name"]`` for a name with other characters, a JSON string (``\\"`` and ``\\\\`` inside);
- ``[0]``, a list index (digits only).

No spaces inside ``${...}``. A string that is exactly one ``${...}`` becomes the referenced JSON value
itself, whatever its type; any other string is interpolated: strings go in as they are, other values
as compact JSON (``null`` for null). Before a ``{``, ``$$`` stands for one ``$``: ``$${`` is a literal
``${`` and ``$$${x}`` is a ``$`` followed by the reference ``x``; a ``$`` elsewhere is just a ``$``.
A ``${`` without its ``}`` is an error, and so is an empty ``${}``.

A reference to something that is not there when the step runs (a step that has not completed, a
missing key, an index out of range, indexing something that is not a list) resolves to null (``None``).

:func:`references` finds every reference and every syntax error before anything runs, each with the JSON
path of its string (the prefix, then ``.key`` or ``[i]``; a key that is not a name is written ``["key"]``).
:func:`render` builds a new value (what it takes from the scope is copied) and leaves its input alone.

>>> scope = {
...     "run": {"payload": {"customer": {"id": 7}}},
...     "steps": {"search": {"status": "COMPLETED", "output": {"hits": [{"url": "https://a.example"}]}}},
...     "parameters": {"region": "eu"},
... }
>>> render({"customer": "${run.payload.customer.id}", "tags": ["${parameters.region}", 1]}, scope)
{'customer': 7, 'tags': ['eu', 1]}
>>> render("first: ${steps.search.output.hits[0].url} (${steps.search.output.hits[1]})", scope)
'first: https://a.example (null)'
>>> render('${steps["search"].output.hits}', scope)
[{'url': 'https://a.example'}]
>>> render("costs $${price} and $$${parameters.region}", scope)
'costs ${price} and $eu'
>>> refs, errors = references({"a": ["${steps.draft.output}", "${nope.x}"]}, "input")
>>> [(path, ref.step_id) for path, ref in refs]
[('input.a[0]', 'draft')]
>>> [error.path for error in errors]
['input.a[1]']
>>> errors[0].message
"unknown root 'nope' in ${nope.x}: a reference starts with run, steps or parameters"
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

ROOTS = ("run", "steps", "parameters")
_ROOTS_TEXT = "run, steps or parameters"

_OPENING = re.compile(r"(?P<dollars>\$+)\{")

_NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_-]*"
_NAME = re.compile(_NAME_PATTERN)
_SEGMENT = re.compile(
    rf"\.(?P<name>{_NAME_PATTERN})"  # .name
    r"|\[(?P<index>[0-9]+)\]"  # [0]
    r'|\[(?P<quoted>"(?:[^"\\]|\\.)*")\]'  # ["any name"], a JSON string
)


@dataclass(frozen=True)
class Reference:
    """One ``${...}``: ``text`` is what is between the braces, ``path`` the segments after the root."""

    text: str
    root: str
    path: tuple[str | int, ...]

    @property
    def step_id(self) -> str | None:
        """The step a ``steps`` reference reads (None for other roots or a bare ``steps``)."""
        if self.root != "steps" or not self.path:
            return None
        return str(self.path[0])

    def resolve(self, scope: Mapping[str, Any]) -> Any:
        """The referenced value in ``scope``, or None when any part of the path is not there."""
        value: Any = scope.get(self.root)
        for segment in self.path:
            value = _child(value, segment)
        return value


@dataclass(frozen=True)
class ExpressionError:
    path: str
    message: str


def references(template: Any, prefix: str) -> tuple[list[tuple[str, Reference]], list[ExpressionError]]:
    """Every reference in ``template`` and every syntax error, each with the JSON path of its string."""
    found: list[tuple[str, Reference]] = []
    errors: list[ExpressionError] = []
    for path, text in _strings(template, prefix):
        parts, problems = _scan(text)
        found.extend((path, part) for part in parts if isinstance(part, Reference))
        errors.extend(ExpressionError(path, problem) for problem in problems)
    return found, errors


def render(template: Any, scope: Mapping[str, Any]) -> Any:
    """A new JSON value: ``template`` with every expression replaced by its value in ``scope``."""
    if isinstance(template, str):
        return _render_string(template, scope)
    if isinstance(template, Mapping):
        return {key: render(value, scope) for key, value in template.items()}
    if isinstance(template, list | tuple):
        return [render(item, scope) for item in template]
    return template


# -- walking --------------------------------------------------------------------------------------


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, _key_path(path, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def _key_path(prefix: str, key: str) -> str:
    if not _NAME.fullmatch(key):
        return f"{prefix}[{orjson.dumps(key).decode()}]"
    return f"{prefix}.{key}" if prefix else key


def _child(value: Any, segment: str | int) -> Any:
    if isinstance(segment, int):
        return value[segment] if isinstance(value, list) and segment < len(value) else None
    return value.get(segment) if isinstance(value, Mapping) else None


# -- rendering ------------------------------------------------------------------------------------


def _render_string(text: str, scope: Mapping[str, Any]) -> Any:
    parts, problems = _scan(text)
    if problems:
        raise ValueError(f"invalid expression in {text!r}: {problems[0]}")
    if len(parts) == 1 and isinstance(parts[0], Reference):
        return copy.deepcopy(parts[0].resolve(scope))
    return "".join(part if isinstance(part, str) else _as_text(part.resolve(scope)) for part in parts)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


# -- scanning -------------------------------------------------------------------------------------


def _scan(text: str) -> tuple[list[str | Reference], list[str]]:
    """Split ``text`` into literal pieces and references, once; the second list holds the errors."""
    parts: list[str | Reference] = []
    problems: list[str] = []
    literal: list[str] = []
    pos = 0
    while (opening := _OPENING.search(text, pos)) is not None:
        dollars = len(opening.group("dollars"))
        literal.append(text[pos : opening.start()] + "$" * (dollars // 2))  # before a brace, $$ is one $
        pos = opening.end()
        if dollars % 2 == 0:
            literal.append("{")
            continue
        close = _closing_brace(text, pos)
        if close is None:
            problems.append(f"unclosed ${{ at character {pos - 2}: a reference ends with }}")
            return parts, problems
        _flush(literal, parts)
        parsed = _parse(text[pos:close])
        if isinstance(parsed, Reference):
            parts.append(parsed)
        else:
            problems.append(parsed)
        pos = close + 1
    literal.append(text[pos:])
    _flush(literal, parts)
    return parts, problems


def _flush(literal: list[str], parts: list[str | Reference]) -> None:
    if text := "".join(literal):
        parts.append(text)
    literal.clear()


def _closing_brace(text: str, start: int) -> int | None:
    """Where the ``}`` that ends a reference is, skipping braces inside quoted names."""
    quoted = False
    i = start
    while i < len(text):
        char = text[i]
        if quoted and char == "\\":
            i += 1
        elif char == '"':
            quoted = not quoted
        elif char == "}" and not quoted:
            return i
        i += 1
    return None


def _parse(body: str) -> Reference | str:
    """The reference ``body`` spells, or what is wrong with it."""
    if not body:
        return "empty ${}: a reference names a value, e.g. ${run.payload}"
    root = _NAME.match(body)
    if root is None:
        return f"bad reference ${{{body}}}: it starts with a root name ({_ROOTS_TEXT})"
    if root.group() not in ROOTS:
        return f"unknown root {root.group()!r} in ${{{body}}}: a reference starts with {_ROOTS_TEXT}"
    path: list[str | int] = []
    pos = root.end()
    while pos < len(body):
        match = _SEGMENT.match(body, pos)
        segment = _segment(match) if match else None
        if match is None or segment is None:
            return f'bad segment at {body[pos:]!r} in ${{{body}}}: expected .name, [0] or ["name"]'
        path.append(segment)
        pos = match.end()
    return Reference(body, root.group(), tuple(path))


def _segment(match: re.Match[str]) -> str | int | None:
    if match.group("name") is not None:
        return match.group("name")
    if match.group("index") is not None:
        return int(match.group("index"))
    try:
        name: str = orjson.loads(match.group("quoted"))  # the pattern admits JSON strings only
    except orjson.JSONDecodeError:
        return None  # an escape JSON does not know, such as \q
    return name
