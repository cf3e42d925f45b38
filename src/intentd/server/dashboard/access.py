"""What each dashboard page does, as the API operation whose roles it follows (``server/permissions.py``):
a page is shown, and an action offered and allowed, to the roles that may call that operation, so the
dashboard never lets a key do what its API calls could not."""

from __future__ import annotations

from dataclasses import dataclass

from intentd.engine import Principal
from intentd.model import RoleNotAllowed

from .. import permissions

Operation = tuple[str, str]

READ_INTENTS: Operation = ("GET", "/v1/intents")
READ_INTENT: Operation = ("GET", "/v1/intents/{intent_id}")
READ_JOURNAL: Operation = ("GET", "/v1/intents/{intent_id}/journal")
READ_TASKS: Operation = ("GET", "/v1/tasks")
MY_TASKS: Operation = ("GET", "/v1/me/tasks")
DECIDE: Operation = ("POST", "/v1/tasks/{task_id}/decision")
READ_FLEET: Operation = ("GET", "/v1/mesh/agents")
READ_POLICY: Operation = ("GET", "/v1/mesh/agents/{address_id:path}/policy")
KILL: Operation = ("POST", "/v1/mesh/agents/{address_id:path}/kill")
RESUME: Operation = ("POST", "/v1/mesh/agents/{address_id:path}/resume")
DRAIN: Operation = ("POST", "/v1/mesh/agents/{address_id:path}/drain")
ROUTE: Operation = ("PUT", "/v1/mesh/routes/{address_id:path}")
OPERATIONS = (
    READ_INTENTS, READ_INTENT, READ_JOURNAL, READ_TASKS, MY_TASKS, DECIDE,
    READ_FLEET, READ_POLICY, KILL, RESUME, DRAIN, ROUTE,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person at the dashboard: their key's principal and their session's CSRF token."""

    principal: Principal
    csrf_token: str
    session_id: str

    def may(self, operation: Operation) -> bool:
        return self.principal.role in permissions.allowed(*operation)

    def require(self, operation: Operation) -> None:
        """``RoleNotAllowed`` (403), as the API answers, unless the key's role may do ``operation``."""
        if not self.may(operation):
            named = f"{operation[0]} {operation[1]}"
            role = self.principal.role
            raise RoleNotAllowed(
                f"a {role} key may not call {named}", details={"operation": named, "role": role}
            )

    @property
    def pages(self) -> list[tuple[str, str]]:
        """The pages of the navigation this key may open: (path, label)."""
        shown = [
            ("/ui/intents", "Intents", READ_INTENTS),
            ("/ui/humans", "Humans", READ_TASKS),
            ("/ui/fleet", "Fleet", READ_FLEET),
        ]
        return [(path, label) for path, label, operation in shown if self.may(operation)]

    @property
    def home(self) -> str:
        pages = self.pages
        return pages[0][0] if pages else "/ui/intents"  # every role has a page; this one says why not
