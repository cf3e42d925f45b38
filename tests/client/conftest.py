"""The ``sdk`` fixture (one test body, run with ``AsyncClient`` and with the generated ``Client``
against the real app on both backends) for every module here. It lives in test_client.py with the
transports it needs; importing it here registers it for the whole directory."""

from tests.client.test_client import sdk

__all__ = ["sdk"]
