"""A human task's form at a terminal: the fields of its ``form_schema`` (JSON Schema) with the JSON type
each is read as, the text a person types (or gives with ``--data name=value``) read as that type, and
the prompt that asks until the text is a value of its field. No I/O but the prompt."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import click
import orjson
import typer

SKIPPED = object()  # an optional field left empty at its prompt
_YES = {"y", "yes", "true", "1"}
_NO = {"n", "no", "false", "0"}


@dataclass(frozen=True)
class FormField:
    """One property of a task's ``form_schema`` (JSON Schema): its name, the JSON type its text is
    read as (``integer``, ``number``, ``boolean``, ``string``, or ``json`` for arrays and objects),
    its ``enum`` choices and whether the schema requires it."""

    name: str
    kind: str
    choices: tuple[Any, ...] = ()
    required: bool = False
    description: str | None = None

    def parse(self, text: str) -> Any:
        """The value ``text`` stands for; ``click.BadParameter`` saying why when it stands for none."""
        if not text:
            if self.required:
                raise click.BadParameter(f"{self.name} is required")
            return SKIPPED
        if self.choices:
            return self._choice(text)
        try:
            return _READERS[self.kind](text)
        except ValueError:
            raise click.BadParameter(f"{self.name}: {text!r} is not {_A[self.kind]}") from None

    def _choice(self, text: str) -> Any:
        for choice in self.choices:
            if _shown(choice) == text:
                return choice
        listed = ", ".join(_shown(c) for c in self.choices)
        raise click.BadParameter(f"{self.name}: {text!r} is not one of {listed}")

    def type_text(self) -> str:
        return "/".join(_shown(c) for c in self.choices) if self.choices else _HINTS[self.kind]

    def hint(self) -> str:
        """What the prompt shows after the name: the choices or the type, and whether it may be empty."""
        return self.type_text() if self.required else f"{self.type_text()}, optional"

    def row(self) -> list[Any]:
        return [self.name, self.type_text(), self.required, self.description]


def _integer(text: str) -> int:
    return int(text.strip())


def _number(text: str) -> int | float:
    try:
        return int(text.strip())
    except ValueError:
        value = float(text)
    if not math.isfinite(value):  # JSON has no NaN or Infinity
        raise ValueError(text)
    return value


def _boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in _YES | _NO:
        return word in _YES
    raise ValueError(text)


def _json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ValueError(text) from None


_READERS: dict[str, Callable[[str], Any]] = {
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "string": str,
    "json": _json,
}
_HINTS = {"integer": "integer", "number": "number", "boolean": "y/n", "string": "text", "json": "JSON"}
_A = {"integer": "an integer", "number": "a number", "boolean": "yes or no", "string": "text", "json": "JSON"}


def _shown(choice: Any) -> str:
    return choice if isinstance(choice, str) else orjson.dumps(choice).decode()


def form_fields(schema: Any) -> list[FormField]:
    """The fields of a form, in the schema's order; none for a schema without ``properties``."""
    if not isinstance(schema, Mapping) or not isinstance(schema.get("properties"), Mapping):
        return []
    required = set(schema.get("required") or ())
    return [
        FormField(
            str(name),
            _kind(spec),
            tuple(spec.get("enum") or ()),
            name in required,
            spec.get("title") or spec.get("description"),
        )
        for name, spec in schema["properties"].items()
        if isinstance(spec, Mapping)
    ]


def _kind(spec: Mapping[str, Any]) -> str:
    declared = spec.get("type")
    types = [declared] if isinstance(declared, str) else list(declared or [])
    kind = next((t for t in types if t != "null"), "string")
    return kind if kind in _READERS else "json"  # arrays and objects are typed in as JSON


def typed(fields: list[FormField], pairs: Mapping[str, str]) -> dict[str, Any]:
    """``--data`` values read as their form field's type; a name the form lacks keeps its text. A value
    the type cannot read ends the command (exit 2)."""
    by_name = {f.name: f for f in fields}
    data: dict[str, Any] = {}
    for name, text in pairs.items():
        form_field = by_name.get(name)
        if form_field is None:
            data[name] = text
            continue
        try:
            value = form_field.parse(text)
        except click.BadParameter as exc:
            raise typer.BadParameter(exc.message, param_hint="--data") from None
        if value is not SKIPPED:
            data[name] = value
    return data


def missing_fields(fields: list[FormField], data: Mapping[str, Any]) -> list[FormField]:
    return [f for f in fields if f.name not in data]


def ask(field: FormField) -> Any:
    """Prompt until the text typed stands for a value of ``field`` (SKIPPED: an optional one left empty)."""
    label = f"{field.name} [{field.hint()}]"
    return click.prompt(label, default="", show_default=False, value_proc=field.parse)
