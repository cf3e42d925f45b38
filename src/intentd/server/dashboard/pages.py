"""The dashboard's pages: each module's ``router``, included in this order (``_install``)."""

from __future__ import annotations

from . import fleet, humans, intent, intents, login

PAGES = (login, intents, intent, humans, fleet)
