"""Keeping secrets out of what we print: URLs are shown with their passwords masked."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][\w+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]*)@")


def mask_url(url: str) -> str:
    """``postgresql://bob:secret@db/x`` -> ``postgresql://bob:***@db/x``; other text unchanged."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)
