"""The resource limits both servers share, as settings: each server's settings class extends
``LimitSettings`` and so reads them under its own prefix (``SMARTLIC_AUTHORITY_MAX_BODY_BYTES``,
``SMARTLIC_COLLECTOR_MAX_BODY_BYTES``). docs/security.md ("Limits") explains each one.

Usage::

    class AuthoritySettings(LimitSettings): ...
    settings.archive_limits()        # -> formats.archive.ArchiveLimits
    settings.json_limits()           # -> formats.jsonsafe.JsonLimits
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from smartlic.formats.archive import ArchiveLimits
from smartlic.formats.jsonsafe import JsonLimits

__all__ = ["LimitSettings"]

MiB = 1024 * 1024


class LimitSettings(BaseSettings):
    """Request bodies, JSON documents, archives and slow clients, bounded (issue 8)."""

    max_body_bytes: int = Field(
        default=1 * MiB,
        ge=1024,
        description="Largest request body on a route without a limit of its own (device "
        "protocol requests, polls, trust, the management and REST APIs); a larger one is "
        "refused with 413 while it streams in.",
    )
    max_report_bytes: int = Field(
        default=8 * MiB,
        ge=1024,
        description="Largest `reportusage` body (a device's or a collector's batch of RUM "
        "reports).",
    )
    max_upload_bytes: int = Field(
        default=64 * MiB,
        ge=1024,
        description="Largest file upload (usage data files and archives, authorization request "
        "files, the collector's `/api/v1/import`).",
    )
    max_json_depth: int = Field(
        default=64, ge=2, description="Deepest nesting of arrays and objects in a JSON body."
    )
    max_json_containers: int = Field(
        default=200_000,
        ge=10,
        description="Most arrays and objects in one JSON body (each costs memory once parsed).",
    )
    max_archive_members: int = Field(
        default=10_000, ge=1, description="Most files in an uploaded or imported archive."
    )
    max_archive_member_bytes: int = Field(
        default=16 * MiB, ge=1024, description="Largest file inside an archive, uncompressed."
    )
    max_archive_bytes: int = Field(
        default=256 * MiB,
        ge=1024,
        description="Most bytes an archive may expand to, nested archives included.",
    )
    max_archive_ratio: int = Field(
        default=100,
        ge=2,
        description="Most an archive may expand (uncompressed / compressed bytes), judged past "
        "its first MiB: compression bombs are refused.",
    )
    read_timeout_s: float = Field(
        default=20.0,
        gt=0,
        description="A client must send its request line and headers, and then each part of "
        "its body, within this many seconds, or the connection is closed (408 once the "
        "request has started).",
    )
    keep_alive_s: int = Field(
        default=5,
        ge=1,
        description="Seconds an idle keep-alive connection stays open between two requests.",
    )

    def archive_limits(self) -> ArchiveLimits:
        return ArchiveLimits(
            max_members=self.max_archive_members,
            max_member_bytes=self.max_archive_member_bytes,
            max_total_bytes=self.max_archive_bytes,
            max_ratio=self.max_archive_ratio,
        )

    def json_limits(self) -> JsonLimits:
        return JsonLimits(max_depth=self.max_json_depth, max_containers=self.max_json_containers)
