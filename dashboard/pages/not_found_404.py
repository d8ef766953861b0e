"""Any unknown path: a short bilingual message and a way back."""

from __future__ import annotations

from dash import dcc, html

from dashboard.app import AppContext
from dashboard.components import shell
from dashboard.i18n import t

__all__ = ["layout"]


def layout(ctx: AppContext, lang: str) -> html.Div:
    body = [html.Div([html.H2(t("notfound.title", lang), className="st-page-title"),
                      dcc.Link(t("notfound.back", lang), href="/" if lang == ctx.lang else f"/?lang={lang}")],
                     className="st-empty")]
    return shell(page="404", lang=lang, default_lang=ctx.lang, wall=ctx.wall, viewer_role=ctx.viewer.role, body=body)
