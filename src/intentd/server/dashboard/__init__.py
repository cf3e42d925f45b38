"""The web dashboard at ``/ui`` (docs/dashboard.md): server-rendered Jinja2 templates with htmx and its
SSE extension from this package's own static files, no build step and nothing fetched at run time.

Each page calls the same engine services as the API, with the principal of the session's key, and is
allowed to the roles of the API operation it stands for (``access.py``), so what a person sees and
may do follows their key. :func:`install` adds it to the app."""

from ._install import install

__all__ = ["install"]
