"""Text people type, made safe to put in a Slack mrkdwn message.

Pure (no I/O): the workflows build their posts with it, the Slack app its answers. Slack reads
``<…>`` as a mention (``<!channel>``, ``<@U1>``) or a link, and ``&`` as the start of an
entity (https://api.slack.com/reference/surfaces/formatting#escaping); only the text a person
provides is escaped, never the markup the app writes itself (its ``<@U…>`` mentions of owners,
``<!date^…>`` dates, ``<url|text>`` links).
"""

from __future__ import annotations

import re

_BARE_AMPERSAND = re.compile(r"&(?!(?:amp|lt|gt);)")
"""An ``&`` that does not already start one of the three entities: text escaped once (a
thread reply as Slack delivers it, or text passed through here twice) stays as it was
instead of turning into ``&amp;lt;``."""
_ENTITY = re.compile(r"&(amp|lt|gt);")
_PLAIN = {"amp": "&", "lt": "<", "gt": ">"}


def escape(text: str) -> str:
    """``text`` with Slack's three control characters escaped, so it never pings or links."""
    return _BARE_AMPERSAND.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")


def _plain(match: re.Match[str]) -> str:
    return _PLAIN[match.group(1)]


def unescape(text: str) -> str:
    """What a person reads: the entities ``escape`` writes made characters again (for the
    Web UI's summaries, which Slack does not render)."""
    return _ENTITY.sub(_plain, text) if "&" in text else text
