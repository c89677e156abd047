"""The web page's own head: Chinese `lang`, Chinese Gradio strings whatever the browser's language, and link previews
(`og:` / `twitter:` tags) that name the product instead of Gradio's defaults, with no image on an outside host.

Gradio's index template hard-codes `lang="en"` and its own preview tags; `IndexPage` rewrites that one HTML response
(the page at the mount root) on its way out. Everything else passes through untouched.
"""
from __future__ import annotations

import html
import re

TITLE = "政策通 · 人工智能产业补助政策助手"
DESCRIPTION = ("查询厦门、思明、泉州、安徽人工智能产业补助政策：能申请哪些、最高多少、依据哪一条、什么时候截止、要交什么材料。"
               "金额由确定性计算器按政策原文测算，均为政策上限。")

# Gradio picks its interface language from navigator.language; the product is Chinese for everyone.
FORCE_CHINESE = ("<script>(function(){try{var l=['zh-CN','zh'];"
                 "Object.defineProperty(navigator,'language',{get:function(){return 'zh-CN';},configurable:true});"
                 "Object.defineProperty(navigator,'languages',{get:function(){return l;},configurable:true});"
                 "}catch(e){}})();</script>")

_PREVIEW_TAG = re.compile(r'<meta\s+(?:property="og:[^"]*"|name="twitter:[^"]*")[^>]*?/?>\s*', re.S)
_HTML_LANG = re.compile(r'(<html\b[^>]*?\blang=")[^"]*(")', re.S)
_HEAD = re.compile(r"<head\b[^>]*>", re.I)


def preview_tags(title: str = TITLE, description: str = DESCRIPTION) -> str:
    t, d = html.escape(title, quote=True), html.escape(description, quote=True)
    return (f'<meta property="og:type" content="website" /><meta property="og:site_name" content="政策通" />'
            f'<meta property="og:title" content="{t}" /><meta property="og:description" content="{d}" />'
            f'<meta property="og:locale" content="zh_CN" /><meta name="description" content="{d}" />'
            f'<meta name="twitter:card" content="summary" /><meta name="twitter:title" content="{t}" />'
            f'<meta name="twitter:description" content="{d}" />')


def localize_index_html(page: str, *, title: str = TITLE, description: str = DESCRIPTION) -> str:
    """Gradio's index page with lang="zh-CN", its preview tags replaced by ours and Chinese forced first in <head>."""
    page = _HTML_LANG.sub(r"\1zh-CN\2", page, count=1)
    page = _PREVIEW_TAG.sub("", page)
    return _HEAD.sub(lambda m: m.group(0) + FORCE_CHINESE + preview_tags(title, description), page, count=1)


class IndexPage:
    """ASGI middleware: rewrites the HTML page served at `path` (GET), nothing else.

    The request is passed on without Accept-Encoding so the page arrives uncompressed and can be edited."""

    def __init__(self, app, path: str = "/"):
        self.app = app
        self.path = path

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path") not in (self.path, ""):
            await self.app(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"accept-encoding"]
        scope = {**scope, "headers": headers}
        start: dict = {}
        body: list[bytes] = []

        async def capture(message):
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            content_type = dict(start.get("headers", [])).get(b"content-type", b"")
            if not content_type.startswith(b"text/html"):
                if start:
                    await send(dict(start))
                    start.clear()
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            text = localize_index_html(b"".join(body).decode("utf-8"))
            data = text.encode("utf-8")
            out_headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            out_headers.append((b"content-length", str(len(data)).encode()))
            await send({**start, "headers": out_headers})
            await send({"type": "http.response.body", "body": data})

        await self.app(scope, receive, capture)
