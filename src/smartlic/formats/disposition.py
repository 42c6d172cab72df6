"""The ``Content-Disposition`` header of a file download (RFC 6266), for any file name.

HTTP header values are ISO-8859-1 on the wire, so a name like ``licenses-Прод✓.csv`` cannot be
sent as it is (the server failed with a 500: issue 8, finding 10). RFC 6266 section 4.3: send
an ASCII ``filename`` for old clients and the exact name as ``filename*`` in the RFC 5987
encoding (``UTF-8''`` + percent-encoded bytes); clients that know ``filename*`` prefer it.

Usage::

    headers = {"Content-Disposition": attachment_header("licenses-Прод✓.csv")}
    # attachment; filename="licenses-_.csv"; filename*=UTF-8''licenses-%D0%9F...%9C%93.csv
"""

from __future__ import annotations

import re
from urllib.parse import quote

__all__ = ["attachment_header"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def attachment_header(name: str) -> str:
    """``attachment`` with an ASCII fallback ``filename`` and the exact UTF-8 ``filename*``."""
    ascii_name = _UNSAFE.sub("_", name).strip("._") or "download"
    # errors="replace": a lone surrogate (never in our names, but names come from users)
    # becomes "?" rather than an exception
    exact = quote(name.encode("utf-8", errors="replace"), safe="")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{exact}"
