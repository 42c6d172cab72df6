"""Server logs as text (uvicorn's default) or as one JSON object per line, for log shippers.

The access log (one line per request, at level info) stays on by default. As text, its
lines are uvicorn's, made by ``AccessFormatter`` without uvicorn's two copies of every log
record (about a third of the line's CPU, docs/benchmarks.md "The HTTP layer's tax").

Usage::

    uvicorn.run(app, log_config=log_config("json"))   # {"time": ..., "level": ..., "message": ...}
"""

from __future__ import annotations

import functools
import http
import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter as UvicornAccessFormatter

__all__ = ["AccessFormatter", "log_config"]


@functools.cache
def _status(code: int) -> str:
    try:
        return f"{code} {http.HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} "  # uvicorn's text for a code without a phrase


class AccessFormatter(UvicornAccessFormatter):
    """uvicorn's access line, the same text, built from the record's fields at once; in
    colour (a terminal) or with another format style, uvicorn's own way."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        if self.use_colors or not isinstance(self._style, logging.PercentStyle):
            return super().formatMessage(record)
        client_addr, method, full_path, http_version, status = record.args  # type: ignore[misc]
        values = dict(record.__dict__)
        values["levelprefix"] = record.levelname + ":" + " " * (8 - len(record.levelname))
        values["client_addr"] = client_addr
        values["request_line"] = f"{method} {full_path} HTTP/{http_version}"
        values["status_code"] = _status(int(status))  # type: ignore[arg-type]
        return str(self._style._fmt) % values


_JSON = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
    "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
    "timestamp": False,
}


def log_config(fmt: str) -> dict[str, Any]:
    """uvicorn's logging configuration, with every formatter JSON when ``fmt`` is ``json``.

    Access lines keep uvicorn's fields (client address, request line, status) in ``message``.
    """
    config: dict[str, Any] = {**LOGGING_CONFIG, "formatters": dict(LOGGING_CONFIG["formatters"])}
    access = {**config["formatters"]["access"], "()": f"{__name__}.AccessFormatter"}
    config["formatters"]["access"] = access
    if fmt == "json":
        config["formatters"] = {name: dict(_JSON) for name in config["formatters"]}
    return config
