"""Markdown written by users, rendered safely: CommonMark with raw HTML off (it shows as text) and markdown-it's
link check (no javascript:, vbscript:, file: or non-image data: URLs); links open without a referrer."""
from __future__ import annotations

import functools

from django.utils.safestring import SafeString, mark_safe


@functools.lru_cache(maxsize=1)
def _renderer():
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")

    def link_open(renderer, tokens, idx, options, env):
        tokens[idx].attrSet("rel", "nofollow noopener noreferrer")
        return renderer.renderToken(tokens, idx, options, env)

    md.add_render_rule("link_open", link_open)
    return md


def render_markdown(text: str) -> SafeString:
    return mark_safe(_renderer().render(text or ""))  # noqa: S308 - html is off: user HTML is escaped
