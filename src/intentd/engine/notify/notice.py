"""What a notification says: one :class:`Notice` per thing that happened to a human task, made by the
task core in the transaction of that change and kept, as JSON, in each outbox row it queues."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from intentd.model import JSON, Micros

# ``canceled``: the task was withdrawn (its intent was canceled, or asked something else instead).
NOTICE_KINDS = ("assigned", "reminder", "escalated", "decided", "timed_out", "canceled")
# Kinds sent while the task is still open: only these carry links to answer it.
OPEN_KINDS = frozenset({"assigned", "reminder", "escalated"})


@dataclass(frozen=True, slots=True)
class Notice:
    """A human task's news for the people it concerns.

    ``recipients`` are people (e-mail addresses or API key names), already resolved from roles by
    the core; e-mail goes to those that are addresses. ``details`` holds what the kind adds (the
    escalation level, the reminder's number; for ``decided``, the decision: its ``outcome``,
    ``decided_by`` and ``comment``, as the details themselves or under ``decision``). The last three
    fields say how the task
    may be answered: a task that needs form data or evidence cannot be answered by a link, and the
    confirmation page asks for a comment when one is required."""

    kind: str  # one of NOTICE_KINDS
    namespace: str
    task_id: str
    intent_id: str
    intent_type: str
    title: str
    description: str | None
    task_type: str
    outcomes: tuple[str, ...]
    recipients: tuple[str, ...]
    at: Micros
    details: JSON = field(default_factory=dict)
    required_comment: bool = False
    evidence_required: bool = False
    has_form: bool = False

    def __post_init__(self) -> None:
        if self.kind not in NOTICE_KINDS:
            raise ValueError(f"notice kind must be one of {', '.join(NOTICE_KINDS)}, not {self.kind!r}")

    @property
    def answerable_by_link(self) -> bool:
        """The task is open and an outcome (with a comment at most) answers it."""
        return self.kind in OPEN_KINDS and not (self.has_form or self.evidence_required)

    def to_json(self) -> JSON:
        data = asdict(self)
        data["outcomes"] = list(self.outcomes)
        data["recipients"] = list(self.recipients)
        return data

    @classmethod
    def from_json(cls, data: JSON) -> Notice:
        # Only the fields this version knows: a row queued by a newer replica still sends.
        known: dict[str, Any] = {k: v for k, v in data.items() if k in _FIELDS}
        known["outcomes"] = tuple(known.get("outcomes") or ())
        known["recipients"] = tuple(known.get("recipients") or ())
        return cls(**known)


_FIELDS = frozenset(f.name for f in fields(Notice))


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One outbox row on its way out. ``notification_id`` is the same on every attempt (receivers
    drop duplicates by it); ``links`` maps each outcome to a signed URL for ``recipient``, and is
    empty where no link may answer (another channel, a form, a closed task)."""

    notification_id: str
    attempt: int
    notice: Notice
    recipient: str
    links: Mapping[str, str] = field(default_factory=dict)
    links_expire_at: Micros | None = None
