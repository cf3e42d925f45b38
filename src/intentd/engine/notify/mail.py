"""The mail a person gets about a human task: what is asked (title, description, the possible answers)
and how to answer. A task an outcome alone can answer gets one signed link per outcome, for this
recipient only; a task that needs form data or evidence is answered elsewhere, and the mail says where.
Plain text first, with an HTML alternative that shows the same links as buttons (no scripts, no
images, no remote content)."""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate
from html import escape

from intentd.model import to_rfc3339

from .notice import OPEN_KINDS, Notice, Outgoing

_SUBJECT = {
    "assigned": "Your answer is needed: {title}",
    "reminder": "Reminder: {title}",
    "escalated": "Escalated to you: {title}",
    "decided": "Decided: {title}",
    "timed_out": "Timed out: {title}",
    "canceled": "Withdrawn: {title}",
}


def compose(message: Outgoing, *, sender: str) -> EmailMessage:
    notice = message.notice
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.recipient
    mail["Subject"] = _SUBJECT.get(notice.kind, "{title}").format(title=_one_line(notice.title))
    mail["Date"] = formatdate(notice.at / 1_000_000, usegmt=True)
    # The same id on every attempt: a duplicate (a crash after the server took the mail and before
    # the outbox marked it sent) is recognisable.
    mail["Message-ID"] = f"<{message.notification_id}@intentd>"
    mail["X-Intentd-Notification-Id"] = message.notification_id
    mail["X-Intentd-Task-Id"] = notice.task_id
    lines = text_lines(notice, message.links, message.links_expire_at)
    mail.set_content("\n".join(lines) + "\n")
    mail.add_alternative(html_body(notice, message.links, message.links_expire_at), subtype="html")
    return mail


def text_lines(notice: Notice, links: Mapping[str, str], expires_at: int | None) -> list[str]:
    lines = [_headline(notice), "", notice.title]
    if notice.description:
        lines += ["", notice.description]
    lines += ["", f"Possible answers: {', '.join(notice.outcomes)}"]
    lines += _news(notice)
    if links:
        lines += ["", f"Answer with one of these links (each works once, until {to_rfc3339(expires_at)}):"]
        lines += [f"  {outcome}: {url}" for outcome, url in links.items()]
        lines += ["Each opens a page where you confirm your answer; nothing is decided by opening it."]
    elif notice.kind in OPEN_KINDS:
        lines += ["", _elsewhere(notice)]
    lines += ["", f"Task {notice.task_id}, intent {notice.intent_id} ({notice.intent_type})."]
    return lines


def html_body(notice: Notice, links: Mapping[str, str], expires_at: int | None) -> str:
    parts = [f"<p>{escape(_headline(notice))}</p>", f"<h2>{escape(notice.title)}</h2>"]
    if notice.description:
        parts.append(f'<p style="white-space:pre-wrap">{escape(notice.description)}</p>')
    parts.append(f"<p>Possible answers: {escape(', '.join(notice.outcomes))}</p>")
    parts += [f"<p>{escape(line)}</p>" for line in _news(notice) if line]
    if links:
        buttons = " ".join(
            f'<a href="{escape(url)}" style="display:inline-block;padding:8px 16px;margin:4px;'
            f'border:1px solid #444;border-radius:4px;text-decoration:none">{escape(outcome)}</a>'
            for outcome, url in links.items()
        )
        parts.append(f"<p>{buttons}</p>")
        parts.append(
            f"<p><small>Each link works once, until {escape(str(to_rfc3339(expires_at)))}, and opens a page "
            "where you confirm your answer.</small></p>"
        )
    elif notice.kind in OPEN_KINDS:
        parts.append(f"<p>{escape(_elsewhere(notice))}</p>")
    parts.append(
        f"<p><small>Task {escape(notice.task_id)}, intent {escape(notice.intent_id)} "
        f"({escape(notice.intent_type)}).</small></p>"
    )
    return "<!doctype html><html><body>" + "".join(parts) + "</body></html>\n"


def _headline(notice: Notice) -> str:
    kind = notice.kind
    if kind == "assigned":
        return f"You are asked for a {notice.task_type.replace('_', ' ')}."
    if kind == "reminder":
        number = notice.details.get("reminder")
        return f"Reminder{f' {number}' if number else ''}: this still waits for an answer."
    if kind == "escalated":
        level = notice.details.get("level")
        return f"This was escalated to you{f' (level {level})' if level else ''}: nobody answered in time."
    if kind == "decided":
        return "This task was decided."
    if kind == "canceled":
        return "This task was withdrawn: it no longer needs an answer."
    return "This task timed out without an answer."


def _news(notice: Notice) -> list[str]:
    """What a closed task's notice adds: the decision, or what happened at the timeout."""
    details = notice.details
    decision = details.get("decision", details if "outcome" in details else None)
    if notice.kind == "decided" and isinstance(decision, dict):
        by = f" by {decision['decided_by']}" if decision.get("decided_by") else ""
        comment = f" ({decision['comment']})" if decision.get("comment") else ""
        return ["", f"Answer: {decision.get('outcome')}{by}{comment}"]
    if notice.kind == "timed_out" and notice.details.get("on_timeout"):
        return ["", f"On timeout: {notice.details['on_timeout']}"]
    return []


def _elsewhere(notice: Notice) -> str:
    needs = [
        what
        for what, needed in (("form data", notice.has_form), ("evidence", notice.evidence_required))
        if needed
    ]
    why = f"This task needs {' and '.join(needs)}, so it cannot be answered from a link. " if needs else ""
    return (
        f"{why}Answer it with `intentd tasks submit {notice.task_id}` or in your application "
        f"(POST /v1/tasks/{notice.task_id}/decision)."
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]
