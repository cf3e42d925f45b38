"""The parts of the dashboard that need no server: a task's form from its JSON Schema and the answer
read back from what is posted, and the API operations the pages follow."""

from __future__ import annotations

import pytest

from intentd.model import ValidationFailed
from intentd.server.dashboard.access import OPERATIONS
from intentd.server.dashboard.schema_form import data_from, form_of
from intentd.server.permissions import PERMISSIONS

SCHEMA = {
    "type": "object",
    "properties": {
        "amount": {"type": "integer", "title": "Amount"},
        "rate": {"type": "number"},
        "currency": {"enum": ["EUR", "USD", 7]},
        "urgent": {"type": "boolean"},
        "note": {"type": "string", "maxLength": 2000},
        "ref": {"type": "string"},
    },
    "required": ["amount"],
}


def test_a_simple_schema_is_one_input_per_property() -> None:
    form = form_of(SCHEMA)

    assert not form.raw
    assert [(f.name, f.kind, f.required) for f in form.fields] == [
        ("amount", "integer", True),
        ("rate", "number", False),
        ("currency", "enum", False),
        ("urgent", "boolean", False),
        ("note", "text", False),
        ("ref", "string", False),
    ]
    assert form.fields[0].label == "Amount" and form.fields[2].choices == ("EUR", "USD", 7)


def test_the_posted_fields_are_the_answers_data_with_their_types() -> None:
    posted = {"data.amount": "40", "data.rate": "0.5", "data.currency": "2", "data.ref": "", "other": "x"}

    assert data_from(form_of(SCHEMA), posted) == {"amount": 40, "rate": 0.5, "currency": 7, "urgent": False}
    assert data_from(form_of(SCHEMA), {"data.urgent": "on", "data.rate": "3"}) == {"urgent": True, "rate": 3}


@pytest.mark.parametrize(
    ("posted", "field"),
    [
        ({"data.amount": "forty"}, "data.amount"),
        ({"data.rate": "nan"}, "data.rate"),
        ({"data.currency": "9"}, "data.currency"),
        ({"data.currency": "-1"}, "data.currency"),  # not the last option
    ],
)
def test_a_value_not_of_its_type_is_named(posted: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        data_from(form_of(SCHEMA), posted)
    assert refused.value.details["field"] == field


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"items": {"type": "array"}}},
        {"type": "object", "properties": {"address": {"type": "object", "properties": {}}}},
        {"type": "array"},
        {"type": "object"},
    ],
)
def test_any_other_schema_is_answered_in_json(schema: dict[str, object]) -> None:
    form = form_of(schema)

    assert form.raw and form.fields == []
    assert data_from(form, {"data": '{"items": [1, 2]}'}) == {"items": [1, 2]}
    assert data_from(form, {"data": " "}) == {}
    for bad in ("[1]", "{nope"):
        with pytest.raises(ValidationFailed) as refused:
            data_from(form, {"data": bad})
        assert refused.value.details["field"] == "data"


def test_no_schema_is_no_form() -> None:
    assert form_of(None).empty and data_from(form_of(None), {"data.x": "1"}) == {}


def test_every_page_follows_an_operation_of_the_permission_matrix() -> None:
    # Renaming an API path must not leave a page following an entry that no longer exists (which
    # would make it admin-only without a word).
    assert set(OPERATIONS) <= set(PERMISSIONS)
