"""A human task's form, from its ``form_schema`` (JSON Schema): an object whose properties are simple
(a string, number, integer or boolean, or an enum of such values) becomes one input per property; any
other schema is answered in one JSON textarea. What the person posts is turned back into the answer's
``data`` here, and checked against the schema by the engine, as an answer through the API is
(engine/humans/answers.py), so the form adds no rule of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from intentd.model import JSON, ValidationFailed

PREFIX = "data."  # a property's input name (no clash with outcome, comment, csrf_token)
RAW = "data"  # the JSON textarea's name
_SIMPLE = ("string", "number", "integer", "boolean")


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    kind: str  # string, text (a long string), number, integer, boolean or enum
    required: bool
    description: str | None = None
    choices: tuple[Any, ...] = ()  # an enum's values (the option's value is its index)
    default: Any = None

    @property
    def input_name(self) -> str:
        return PREFIX + self.name


@dataclass(frozen=True, slots=True)
class Form:
    fields: list[Field] = field(default_factory=list)
    raw: bool = False  # one JSON textarea for the whole of ``data``
    schema: JSON | None = None

    @property
    def empty(self) -> bool:
        return not self.fields and not self.raw


def form_of(schema: JSON | None) -> Form:
    if not schema:
        return Form()
    properties = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(properties, dict) or not properties:
        return Form(raw=True, schema=schema)
    required = set(schema.get("required") or ())
    fields = [_field(name, prop, name in required) for name, prop in properties.items()]
    if any(f is None for f in fields):
        return Form(raw=True, schema=schema)
    return Form([f for f in fields if f is not None], schema=schema)


def _field(name: str, prop: Any, required: bool) -> Field | None:
    if not isinstance(prop, dict):
        return None
    label = str(prop.get("title") or name.replace("_", " "))
    description = prop.get("description")
    if isinstance(prop.get("enum"), list) and all(_scalar(v) for v in prop["enum"]):
        return Field(name, label, "enum", required, description, tuple(prop["enum"]), prop.get("default"))
    kind = prop.get("type")
    if kind not in _SIMPLE:
        return None
    if kind == "string" and (prop.get("maxLength") or 0) > 200:
        kind = "text"
    return Field(name, label, kind, required, description, default=prop.get("default"))


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def data_from(form: Form, posted: dict[str, str]) -> JSON:
    """The answer's ``data`` from the posted fields; ``ValidationFailed`` names a value that is not
    of its field's type (``data.<name>``)."""
    if form.raw:
        return _raw(posted.get(RAW, "").strip())
    data: JSON = {}
    for f in form.fields:
        if f.kind == "boolean":
            data[f.name] = f.input_name in posted
            continue
        text = posted.get(f.input_name, "")
        if text == "":
            continue  # left empty: absent (the schema says whether it may be)
        data[f.name] = _value(f, text)
    return data


def _value(f: Field, text: str) -> Any:
    try:
        if f.kind == "integer":
            return int(text)
        if f.kind == "number":
            number = float(text)
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError(text)
            return int(number) if number.is_integer() and "." not in text else number
        if f.kind == "enum":  # the option's index: a choice may be any JSON value
            index = int(text)
            if not 0 <= index < len(f.choices):  # "-1" would pick the last
                raise IndexError(index)
            return f.choices[index]
    except (ValueError, IndexError):
        raise ValidationFailed(
            f"{f.label}: {text[:40]!r} is not a valid {f.kind}", details={"field": PREFIX + f.name}
        ) from None
    return text


def _raw(text: str) -> JSON:
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ValidationFailed("data is not valid JSON", details={"field": RAW}) from None
    if not isinstance(value, dict):
        raise ValidationFailed("data must be a JSON object", details={"field": RAW})
    return value
