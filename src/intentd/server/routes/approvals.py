"""AXP approvals (PROTOCOL.md §2.4, §9.2): ``POST /v1/approvals/{approval_id}/decision``.

The approval id of a WAITING intent is that intent's id: ``approve`` resumes it, ``reject`` fails it,
in the transaction that records the decision. Any other id is recorded and answered 200 (the AXP
conformance suite decides an id it never created). One decision per id: the same decision again
answers the recorded one, a different one 409 ``approval_decided``. See docs/axp-compat.md.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from intentd.engine.inbox import Approval, Decide
from intentd.model import JSON, to_rfc3339
from intentd.wire import Approval as ApprovalAnswer
from intentd.wire import DecisionBody
from intentd.wire.limits import NO_NUL

from .._responses import FastJSONResponse, answer
from ..auth import Caller, EngineDep
from ._params import v1_router

router = v1_router("/v1/approvals", "approvals")


@router.post(
    "/{approval_id}/decision",
    summary="Approve or reject (resumes or fails a WAITING intent whose id this is)",
    response_model=ApprovalAnswer,
)
async def decide(
    approval_id: Annotated[str, Path(min_length=1, max_length=255, pattern=NO_NUL)],
    body: DecisionBody,
    caller: Caller,
    engine: EngineDep,
) -> FastJSONResponse:
    approval = await engine.inbox.decide(
        caller,
        Decide(
            approval_id=approval_id,
            decision=body.decision,
            comment=body.comment if body.comment is not None else body.reason,
        ),
    )
    return answer(
        {
            "ok": True,
            "approval": approval_wire(approval),
            "replayed": approval.replayed,
            "intent": approval.intent.to_wire() if approval.intent else None,
        }
    )


def approval_wire(approval: Approval) -> JSON:
    return {
        "approval_id": approval.approval_id,
        "decision": approval.decision,
        "comment": approval.comment,
        "decided_at": to_rfc3339(approval.decided_at),
        "decided_by": approval.decided_by,
        "intent_id": approval.intent_id,
    }
