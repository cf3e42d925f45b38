"""The ``intentd`` command."""

from .main import app, main

__all__ = ["app", "main"]
