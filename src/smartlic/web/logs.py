"""Server logs as text (uvicorn's default) or as one JSON object per line, for log shippers.

Usage::

    uvicorn.run(app, log_config=log_config("json"))   # {"time": ..., "level": ..., "message": ...}
"""

from __future__ import annotations

from typing import Any

from uvicorn.config import LOGGING_CONFIG

__all__ = ["log_config"]

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
    if fmt == "json":
        config["formatters"] = {name: dict(_JSON) for name in config["formatters"]}
    return config
