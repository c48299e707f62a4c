"""report.html: the Markdown report as one self-contained page (markdown-it-py), every
figure embedded as a base64 data URI, its style inline, no script and no outside link."""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Iterable

from markdown_it import MarkdownIt
from markdown_it.token import Token

MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; }
th { background: #f2f2f2; }
code { background: #f5f5f5; padding: 0 0.2rem; }
img { max-width: 100%; }
"""


def report_html(markdown: str, title: str, image: Callable[[str], bytes | None]) -> str:
    """The page for `markdown`; `image(name)` gives a figure's bytes (None if it has none).
    An image that is not a local figure becomes a line of text saying so."""
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = parser.parse(markdown)
    for token in _inline_children(tokens):
        if token.type == "image":
            _embed(token, image)
    body = parser.renderer.render(tokens, parser.options, {})
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}</body>\n</html>\n"
    )


def _inline_children(tokens: Iterable[Token]) -> Iterable[Token]:
    for token in tokens:
        if token.children:
            yield from token.children


def _embed(token: Token, image: Callable[[str], bytes | None]) -> None:
    """Point an image token at its figure's data URI, or turn it into text."""
    src = str(token.attrGet("src") or "")
    suffix = src[src.rfind(".") :].lower() if "." in src else ""
    local = src and "/" not in src and "\\" not in src and ":" not in src and suffix in MIME
    data = image(src) if local else None
    if data is None:
        token.type, token.tag, token.children, token.attrs = "text", "", None, {}
        token.content = f"[figure {src} is not part of this report]"
        return
    token.attrSet("src", f"data:{MIME[suffix]};base64,{base64.b64encode(data).decode('ascii')}")
