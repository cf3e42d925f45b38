"""The base of every response model: frozen, tolerant of fields a newer server adds, and holding the
JSON it was parsed from in ``.raw`` (so such a field is still reachable)."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ModelWrapValidatorHandler, PrivateAttr, model_validator

JSON = dict[str, Any]


class WireModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    _raw: JSON = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_raw(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        model = handler(data)
        if isinstance(data, dict):
            model._raw = data  # nested models keep theirs too: each is validated through here
        return model

    @property
    def raw(self) -> JSON:
        """The JSON object this was parsed from, as the server sent it."""
        return self._raw

    @classmethod
    def from_wire(cls, data: JSON) -> Self:
        return cls.model_validate(data)

    def __eq__(self, other: object) -> bool:
        # Equal when the fields are: ``.raw`` may differ in fields this version ignores.
        return type(other) is type(self) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # holds dicts: not hashable
