"""The one archive reader (formats/archive.py): the vendor's nested bulk layout, tar, zip,
and every cap refused with a clear reason, on real archives built with the standard library."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartlic.errors import InvalidInput, PayloadTooLarge
from smartlic.formats.archive import ArchiveLimits, is_archive, read_members, tar_gz
from tests.attacks import MiB, gzip_bomb


def _tar(files: list[tuple[str, bytes]], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(files: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files:
            zf.writestr(name, data)
    return buf.getvalue()


def test_the_vendor_bulk_layout_is_read_member_by_member() -> None:
    inner = tar_gz([("dev_A.txt", b"<a/>"), ("dev_B.txt", b"<b/>")])
    outer = tar_gz([("manifest.mf", b"Smart-Account: x"), ("UD_VA_1.tar.gz", inner)])
    assert is_archive(outer)
    assert list(read_members(outer)) == [("dev_A.txt", b"<a/>"), ("dev_B.txt", b"<b/>")]


@pytest.mark.parametrize("build", [_tar, _zip, lambda f: _tar(f, "w:gz")])
def test_tar_zip_and_tar_gz_are_read(build) -> None:  # type: ignore[no-untyped-def]
    data = build([("one.xml", b"<one/>"), ("dir/two.xml", b"<two/>")])
    assert is_archive(data)
    assert dict(read_members(data)) == {"one.xml": b"<one/>", "dir/two.xml": b"<two/>"}


def test_a_usage_file_is_not_an_archive() -> None:
    assert not is_archive(b"<smartLicense><RUMReport>{}</RUMReport></smartLicense>")


def _refused(data: bytes, limits: ArchiveLimits = ArchiveLimits()) -> PayloadTooLarge:
    with pytest.raises(PayloadTooLarge) as caught:
        list(read_members(data, limits))
    assert caught.value.status == 413 and caught.value.code == "archive-too-large"
    return caught.value


def test_a_compression_bomb_is_refused_after_its_first_mib() -> None:
    assert "100 times" in _refused(gzip_bomb(12 * MiB)).detail  # the member itself is allowed
    assert "larger than" in _refused(gzip_bomb(64 * MiB)).detail  # announced too large


def test_a_zip_bomb_is_refused_as_it_decompresses() -> None:
    assert "100 times" in _refused(_zip([("UD.xml", bytes(12 * MiB))])).detail


def test_member_count_member_size_and_total_are_capped() -> None:
    many = _tar([(f"f{i}.xml", b"<x/>") for i in range(11)])
    assert "more than 10 files" in _refused(many, ArchiveLimits(max_members=10)).detail
    zipped = _zip([(f"f{i}.xml", b"<x/>") for i in range(11)])
    assert "more than 10 files" in _refused(zipped, ArchiveLimits(max_members=10)).detail
    big = _tar([("a.xml", bytes(5000))])
    assert "larger than 4096" in _refused(big, ArchiveLimits(max_member_bytes=4096)).detail
    total = _tar([("a.xml", bytes(3000)), ("b.xml", bytes(3000))])
    assert "expands to more than" in _refused(total, ArchiveLimits(max_total_bytes=5000)).detail


def _bad(data: bytes) -> str:
    with pytest.raises(InvalidInput) as caught:
        list(read_members(data))
    assert caught.value.code == "bad-archive"
    return caught.value.detail


def test_links_nesting_and_corruption_are_refused() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        link = tarfile.TarInfo("evil")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    assert "not a plain file" in _bad(buf.getvalue())
    three_deep = tar_gz([("b.tar.gz", tar_gz([("c.tar.gz", tar_gz([("d.xml", b"<d/>")]))]))])
    assert "nested too deep" in _bad(three_deep)
    assert "corrupt" in _bad(tar_gz([("a.xml", bytes(10_000))])[:-40])


def test_a_huge_pax_header_is_refused_before_tarfile_reads_it() -> None:
    header = tarfile.TarInfo("././@PaxHeader")
    header.type, header.size = tarfile.XHDTYPE, 512 * MiB
    data = header.tobuf(format=tarfile.USTAR_FORMAT) + bytes(1024)
    assert "extended tar header" in _bad(data)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2048), st.sampled_from([b"", b"\x1f\x8b", b"PK\x03\x04"]))
def test_any_bytes_are_read_or_refused_cleanly(data: bytes, magic: bytes) -> None:
    try:
        for name, content in read_members(magic + data):
            assert isinstance(name, str) and isinstance(content, bytes)
    except (InvalidInput, PayloadTooLarge):
        pass
