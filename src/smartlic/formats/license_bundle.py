"""Several node-locked license files in one file: what ``license save flash:FILE`` writes and
``license install flash:FILE`` reads back (a single ``<licenseFile>`` installs too)::

    <licenseFiles>
      <licenseFile>...</licenseFile>      (each exactly as ``formats.license_file`` wrote it)
      <licenseFile>...</licenseFile>
    </licenseFiles>

Splitting checks only the shape; every file is then verified on its own
(``license_file.read_license_file``).
"""

from __future__ import annotations

from collections.abc import Sequence

from smartlic.errors import InvalidInput
from smartlic.formats.license_file import MAX_FILE_BYTES
from smartlic.formats.xmlsafe import element, parse_xml, to_bytes

__all__ = ["MAX_FILES", "split_bundle", "write_bundle"]

MAX_FILES = 64


def write_bundle(files: Sequence[bytes]) -> bytes:
    root = element("licenseFiles")
    for data in files:
        root.append(parse_xml(data, max_bytes=MAX_FILE_BYTES))
    return to_bytes(root) + b"\n"


def split_bundle(data: bytes) -> list[bytes]:
    """The license files of a bundle, or ``[data]`` for a single license file."""
    root = parse_xml(data, max_bytes=MAX_FILE_BYTES * MAX_FILES)
    if root.tag == "licenseFile":
        return [data]
    if root.tag != "licenseFiles":
        raise InvalidInput(f"not a license file (root <{root.tag}>)", code="bad-file")
    files = [to_bytes(child) + b"\n" for child in root if child.tag == "licenseFile"]
    if not files or len(files) > MAX_FILES or len(files) != len(root):
        raise InvalidInput(f"a license bundle holds 1-{MAX_FILES} <licenseFile>", code="bad-file")
    return files
