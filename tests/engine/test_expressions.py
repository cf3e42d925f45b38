"""Expressions in a declared workflow step's input: parsing, rendering, errors with their paths."""

from __future__ import annotations

import copy
import doctest
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intentd.engine.workflows import expressions
from intentd.engine.workflows.expressions import ExpressionError, Reference, references, render

PREFIX = "workflow.steps[2].input"

SCOPE: dict[str, Any] = {
    "run": {
        "intent_id": "int_1",
        "correlation_id": "corr_1",
        "payload": {"customer": {"id": 42, "name": "Ada", "vip": True, "tags": ["a", "b"], "note": None}},
    },
    "steps": {
        "draft": {"status": "completed", "output": {"text": "hello", "score": 0.5}},
        "search": {
            "status": "completed",
            "output": {"hits": [{"url": "u0"}, {"url": "u1"}], "grid": [[1, 2]]},
        },
        "my step": {"status": "completed", "output": "spaced"},
        "a}b": {"status": "completed", "output": "braced"},
        'say "hi"': {"status": "completed", "output": "quoted"},
        'q"}': {"status": "completed", "output": "escaped"},
    },
    "parameters": {"region": "eu", "limit": 3},
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _refs(template: Any) -> list[tuple[str, Reference]]:
    found, errors = references(template, PREFIX)
    assert errors == []
    return found


def _errors(template: Any) -> list[ExpressionError]:
    return references(template, PREFIX)[1]


def test_the_module_docstring_examples_hold() -> None:
    result = doctest.testmod(expressions)
    assert result.attempted > 0
    assert result.failed == 0


# -- whole-value replacement and interpolation ----------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("${run.payload.customer}", SCOPE["run"]["payload"]["customer"]),
        ("${run.payload.customer.tags}", ["a", "b"]),
        ("${run.payload.customer.id}", 42),
        ("${steps.draft.output.score}", 0.5),
        ("${run.payload.customer.vip}", True),
        ("${run.payload.customer.note}", None),
        ("${steps.draft.output.text}", "hello"),
        ("${run.intent_id}", "int_1"),
        ("${steps.draft.status}", "completed"),
    ],
)
def test_a_lone_reference_becomes_the_value_itself(template: str, expected: Any) -> None:
    result = render(template, SCOPE)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Dear ${run.payload.customer.name}!", "Dear Ada!"),
        ("id=${run.payload.customer.id}", "id=42"),
        ("vip=${run.payload.customer.vip}", "vip=true"),
        ("note=${run.payload.customer.note}", "note=null"),
        ("tags=${run.payload.customer.tags}", 'tags=["a","b"]'),
        ("${steps.draft.output}", {"text": "hello", "score": 0.5}),
        (" ${steps.draft.output}", ' {"text":"hello","score":0.5}'),
        ("${parameters.region}-${parameters.limit}", "eu-3"),
        ("${parameters.region}${parameters.region}", "eueu"),
        ("${run.correlation_id}/${steps.draft.status}", "corr_1/completed"),
    ],
)
def test_text_around_or_several_references_interpolate(template: str, expected: Any) -> None:
    assert render(template, SCOPE) == expected


def test_nested_objects_and_lists_are_rendered_everywhere_but_keys() -> None:
    template = {
        "${parameters.region}": "key stays",
        "outer": {"list": ["${parameters.limit}", {"deep": "at ${parameters.region}"}, 7, None, False]},
    }
    assert render(template, SCOPE) == {
        "${parameters.region}": "key stays",
        "outer": {"list": [3, {"deep": "at eu"}, 7, None, False]},
    }


@pytest.mark.parametrize("scalar", [5, 1.5, True, False, None])
def test_non_string_scalars_pass_through(scalar: Any) -> None:
    assert render(scalar, SCOPE) is scalar


# -- escapes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$${run.intent_id}", "${run.intent_id}"),
        ("costs $${price}", "costs ${price}"),
        ("$$${parameters.region}", "$eu"),
        ("$$$${x}", "$${x}"),
        ("$5 and $$ and $x", "$5 and $$ and $x"),
        ("{braces} and } alone", "{braces} and } alone"),
        ("ends with $", "ends with $"),
        ("$${", "${"),
    ],
)
def test_escapes(template: str, expected: str) -> None:
    assert render(template, SCOPE) == expected


def test_an_escaped_opening_is_no_reference() -> None:
    assert references({"a": "$${run.x} $${nope"}, PREFIX) == ([], [])


# -- references: roots, names, brackets, indexes --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "root", "path", "step_id"),
    [
        ("run.payload.customer.id", "run", ("payload", "customer", "id"), None),
        ("run.intent_id", "run", ("intent_id",), None),
        ("steps.draft.output.text", "steps", ("draft", "output", "text"), "draft"),
        ("steps.search.output.hits[0].url", "steps", ("search", "output", "hits", 0, "url"), "search"),
        ('steps["my step"].output', "steps", ("my step", "output"), "my step"),
        ('steps["a}b"].output', "steps", ("a}b", "output"), "a}b"),
        ('steps["say \\"hi\\""]', "steps", ('say "hi"',), 'say "hi"'),
        ('steps["q\\"}"].output', "steps", ('q"}', "output"), 'q"}'),
        ("steps.my-step_2.status", "steps", ("my-step_2", "status"), "my-step_2"),
        ("steps.grid[12][0]", "steps", ("grid", 12, 0), "grid"),
        ("parameters.region", "parameters", ("region",), None),
        ("steps", "steps", (), None),
    ],
)
def test_references_are_parsed(
    text: str, root: str, path: tuple[str | int, ...], step_id: str | None
) -> None:
    assert _refs({"x": f"${{{text}}}"}) == [(f"{PREFIX}.x", Reference(text, root, path))]
    assert Reference(text, root, path).step_id == step_id


def test_every_reference_is_reported_with_its_path() -> None:
    template = {
        "summary": "${steps.draft.output.text} by ${run.payload.customer.name}",
        "items": [1, "${parameters.region}", ["${steps.search.output.hits[1]}"]],
        "my key": {"inner": "${run.intent_id}"},
        "plain": "no references",
    }
    assert [(path, ref.text) for path, ref in _refs(template)] == [
        (f"{PREFIX}.summary", "steps.draft.output.text"),
        (f"{PREFIX}.summary", "run.payload.customer.name"),
        (f"{PREFIX}.items[1]", "parameters.region"),
        (f"{PREFIX}.items[2][0]", "steps.search.output.hits[1]"),
        (f'{PREFIX}["my key"].inner', "run.intent_id"),
    ]


def test_bracketed_names_and_indexes_resolve() -> None:
    assert render('${steps["my step"].output}', SCOPE) == "spaced"
    assert render('${steps["a}b"].output}', SCOPE) == "braced"
    assert render('${steps["say \\"hi\\""].output}!', SCOPE) == "quoted!"
    assert render('${steps["q\\"}"].output}!', SCOPE) == "escaped!"
    assert render("${steps.search.output.hits[1].url}", SCOPE) == "u1"
    assert render("${steps.search.output.grid[0][1]}", SCOPE) == 2
    assert render('${run["payload"]["customer"].id}', SCOPE) == 42


# -- what is not there is null --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "steps.review.output",  # a step that has not completed
        "steps.review.status",
        "run.payload.customer.missing",
        "parameters.nothing.deeper",
        "steps.search.output.hits[2]",  # out of range
        "steps.search.output.hits[2].url",
        "steps.draft.output[0]",  # indexing an object
        "steps.draft.output.text[0]",  # indexing a string
        "steps.search.output.hits.url",  # a key of a list
        "run.payload.customer.id.more",  # a key of a number
        "run.payload.customer.note.more",  # a key of null
    ],
)
def test_a_missing_value_is_null(text: str) -> None:
    assert render(f"${{{text}}}", SCOPE) is None
    assert render(f"<${{{text}}}>", SCOPE) == "<null>"


def test_an_empty_scope_makes_everything_null() -> None:
    assert render(["${run.intent_id}", "${steps.a.output}", "${parameters}"], {}) == [None, None, None]


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("${nope.x}", "unknown root 'nope'"),
        ("${payload}", "unknown root 'payload'"),
        ("${Run.x}", "unknown root 'Run'"),
        ("${}", "empty ${}"),
        ("before ${run.x", "unclosed ${ at character 7"),
        ("${", "unclosed ${ at character 0"),
        ('${steps["open}', "unclosed ${ at character 0"),
        ("${.x}", "bad reference ${.x}"),
        ("${ run.x}", "bad reference ${ run.x}"),
        ("${run..x}", "bad segment at '..x' in ${run..x}"),
        ("${run.x }", "bad segment at ' ' in ${run.x }"),
        ("${run.1x}", "bad segment at '.1x'"),
        ("${run.x[}", "bad segment at '['"),
        ("${run.x[-1]}", "bad segment at '[-1]'"),
        ("${run.x[a]}", "bad segment at '[a]'"),
        ("${run.x['a']}", "bad segment at \"['a']\""),
        ('${run["bad\\q"]}', "bad segment at '[\"bad\\\\q\"]'"),
        ("${run.x.}", "bad segment at '.'"),
        ("${run.a b}", "bad segment at ' b'"),
        ("${run.a$b}", "bad segment at '$b'"),
    ],
)
def test_each_syntax_error_is_reported_at_its_path(text: str, start: str) -> None:
    errors = _errors({"summary": text})
    assert [error.path for error in errors] == [f"{PREFIX}.summary"]
    assert errors[0].message.startswith(start), errors[0].message
    with pytest.raises(ValueError, match="invalid expression"):
        render({"summary": text}, SCOPE)


def test_error_paths_follow_lists_objects_and_odd_keys() -> None:
    template = {
        "items": ["fine", "${}", {"deep": ["${bad.root}"]}],
        "my key": "${run.x",
        "a.b": {"ok-key_1": "${run..x}"},
    }
    assert [error.path for error in _errors(template)] == [
        f"{PREFIX}.items[1]",
        f"{PREFIX}.items[2].deep[0]",
        f'{PREFIX}["my key"]',
        f'{PREFIX}["a.b"].ok-key_1',
    ]


def test_paths_without_a_prefix() -> None:
    assert [error.path for error in references({"a": ["${}"], "b c": "${}"}, "")[1]] == ["a[0]", '["b c"]']
    assert [error.path for error in references("${}", "input")[1]] == ["input"]


def test_every_error_of_a_string_is_reported_and_valid_references_still_found() -> None:
    found, errors = references({"s": "${nope} ${run.intent_id} ${} ${run.x[y]}"}, PREFIX)
    assert [ref.text for _, ref in found] == ["run.intent_id"]
    assert [error.message.split(" ")[0] for error in errors] == ["unknown", "empty", "bad"]
    assert {error.path for error in errors} == {f"{PREFIX}.s"}


# -- purity ---------------------------------------------------------------------------------------


def test_render_mutates_neither_template_nor_scope_and_shares_nothing_with_them() -> None:
    template = {"a": ["${steps.draft.output}", {"b": "x ${parameters.region}"}], "c": "${run.payload}"}
    scope = copy.deepcopy(SCOPE)
    template_before, scope_before = copy.deepcopy(template), copy.deepcopy(scope)
    result = render(template, scope)
    assert template == template_before
    assert scope == scope_before
    result["a"][0]["text"] = "changed"
    result["c"]["customer"]["id"] = 0
    assert scope == scope_before
    assert result["a"] is not template["a"]


@given(json_values.filter(lambda value: "${" not in repr(value)))
def test_a_template_without_expressions_renders_to_an_equal_value(template: Any) -> None:
    before = copy.deepcopy(template)
    assert render(template, SCOPE) == template
    assert template == before
    assert references(template, PREFIX) == ([], [])


@given(json_values)
def test_a_lone_reference_returns_any_json_value_as_is(value: Any) -> None:
    assert render("${parameters.value}", {"parameters": {"value": value}}) == value
