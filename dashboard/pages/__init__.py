"""The dashboard's pages, one module each (registered by :func:`dashboard.create_app`).

Each module has ``PATH``, ``KEY``, ``ORDER``, ``layout(ctx, lang)`` and
``register(app, ctx)``; the bodies of its callbacks are plain functions (``render*``)
that the tests call without a browser.
"""

from __future__ import annotations

from dashboard.pages import briefing, checkpoints, isolation, not_found_404, sandbox, tracing

__all__ = ["PAGE_MODULES", "sandbox", "tracing", "checkpoints", "isolation", "briefing", "not_found_404"]

PAGE_MODULES = (sandbox, tracing, checkpoints, isolation, briefing)
