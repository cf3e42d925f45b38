"""Test scaffolding, typed and checked (``mypy --strict tests/_support``).

conftest.py files only declare fixtures, each a thin call into a module here; test modules import
helpers and constants from here, never from a conftest.

- ``databases``: the SQLite and PostgreSQL databases the suite runs on (template, clone, drop).
- ``engine``: what engine-level tests share (an injectable clock, an agent, a submittable task).
- ``servers``: the one test API key, the in-process app behind an HTTP client, and real
  ``intentd serve`` subprocesses.
- ``http_api``: the HTTP API from the outside (request bodies, SSE, event logs).
- ``sdk``: both SDK clients behind ``AsyncClient``'s typed surface, and a failing network.
"""
