"""Shared by the integrations' tests: the frameworks' telemetry off (docs/frameworks.md, "Offline and
quiet"), set before any framework is imported so that worker subprocesses inherit it too."""

from __future__ import annotations

import os

os.environ.setdefault("LANGSMITH_TRACING", "false")
os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")
