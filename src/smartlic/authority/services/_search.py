"""The device search: which product instances a search text names.

A text is a case-insensitive substring of the hostname, the PID or the serial number (the
``search`` of ``GET .../devices``, the portal's and the CLI's; docs/deploy.md, "Search"). Two
things keep it cheap on a large database:

* a UDI as people type it (``PID:SN`` or ``PID:..,SN:..``, read by ``Udi.parse``, the one rule
  of every typed UDI) is looked up exactly first, by the unique index of ``(udi_pid, udi_sn)``
  (as typed, then upper-cased); only when no device has that UDI does it fall back to the
  substring match (which it would fail: no field holds a colon).
* On PostgreSQL the substring is matched through the ``pg_trgm`` indexes of migration 0010, but
  the index is asked about the *rarest part* of the text only, and each candidate row is then
  checked for the whole text (``strpos``). A GIN trigram scan costs what its most common
  trigrams cost: in ``SC000123456`` the trigrams ``sc0``, ``c00``, ``000`` are in nearly every
  serial number, and intersecting their posting lists took 9 ms per 100,000 rows, where the
  tail ``092089`` alone took 0.1 ms. Which trigrams are common is read from the planner's own
  sample of each column (``pg_stats`` of the index expressions, refreshed by ``ANALYZE``); a
  column without statistics (never analysed, or hidden from a database user that does not own
  the table) is probed with the whole text, as before.

The result is the same set of rows either way; only the work to find it changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, bindparam, func, or_, text
from sqlalchemy.orm import Session

from smartlic.crypto import Udi
from smartlic.errors import InvalidInput
from smartlic.storage.models import ProductInstance

# trigram indexes of the search (0010_scale), by column
TRGM_INDEXES = {
    "hostname": "ixpg_product_instances_hostname_trgm",
    "udi_sn": "ixpg_product_instances_udi_sn_trgm",
    "udi_pid": "ixpg_product_instances_udi_pid_trgm",
}
COLUMNS = {
    "hostname": ProductInstance.hostname,
    "udi_sn": ProductInstance.udi_sn,
    "udi_pid": ProductInstance.udi_pid,
}
# Choosing the probe: a GIN scan decodes the posting list of each trigram it is given (one in
# 10% of a million serials cost 9 ms, unseen ones 0.1 ms), then every row it returns is read
# and checked, which costs about as much as RECHECK posting-list items. A run of at most
# MAX_RUN trigrams is enough: four uncommon ones leave a handful of candidates.
RECHECK = 5000
MAX_RUN = 8
_SAMPLE_SQL = text(
    "SELECT tablename, most_common_vals::text::text[], most_common_freqs, "
    "histogram_bounds::text::text[] FROM pg_stats "
    "WHERE tablename IN :names AND attname = 'lower'"
).bindparams(bindparam("names", expanding=True))


@dataclass(frozen=True)
class Sample:
    """The planner's sample of one column's (lowered) values."""

    common: list[tuple[str, float]]  # most common values and their share of the rows
    spread: list[str]  # histogram bounds: an even sample of the other values

    def share(self, trigram: str) -> float:
        """The estimated share of rows whose value contains ``trigram``."""
        rest = 1.0 - sum(freq for _v, freq in self.common)
        share = sum(freq for value, freq in self.common if trigram in value)
        if self.spread:
            share += rest * sum(trigram in v for v in self.spread) / len(self.spread)
        return share


def typed_udi(search: str) -> Udi | None:
    """The UDI ``search`` is written as (``Udi.parse``, the one rule), or None: a substring."""
    try:
        return Udi.parse(search)
    except InvalidInput:
        return None


def exact_udi(udi: Udi) -> ColumnElement[bool]:
    """The instance(s) with this UDI, as typed or upper-cased (unique index)."""
    pid, sn = udi.pid, udi.sn
    forms = dict.fromkeys([(pid, sn), (pid.upper(), sn.upper())])
    return or_(*(and_(ProductInstance.udi_pid == p, ProductInstance.udi_sn == n) for p, n in forms))


def substring(s: Session, search: str) -> ColumnElement[bool]:
    """Rows whose hostname, PID or serial number contains ``search`` (any case)."""
    needle = search.lower()
    if s.get_bind().dialect.name != "postgresql" or len(needle) < 3:
        return or_(*(func.lower(c).contains(needle, autoescape=True) for c in COLUMNS.values()))
    samples = _samples(s)
    arms = []
    for name, column in COLUMNS.items():
        probe = rarest_window(needle, samples.get(name))
        lowered = func.lower(column)
        arm = lowered.contains(probe, autoescape=True)
        if probe != needle:  # the index found rows containing part of it: check the whole
            arm = and_(arm, func.strpos(lowered, needle) > 0)
        arms.append(arm)
    return or_(*arms)


def rarest_window(needle: str, sample: Sample | None) -> str:
    """The run of ``needle`` that is cheapest to look for in ``sample``'s column: its
    trigrams' posting lists (the sum of their shares of the rows) plus the rows it would
    return (the product of the shares, each such row read and checked); the whole needle
    without a sample or without a trigram of letters and digits.

    Only letters and digits count: ``pg_trgm`` splits text into words at anything else and
    pads each word's ends, so a probe crossing ``-`` or ``.`` would bring in the padded
    trigrams of a word start (``"  0"``, in every ``sw-0...`` hostname)."""
    if sample is None:
        return needle
    floor = 0.5 / len(sample.spread) if sample.spread else 0.001  # a trigram not sampled
    shares = [
        max(sample.share(tri), floor) if tri.isalnum() else None
        for tri in (needle[i : i + 3] for i in range(len(needle) - 2))
    ]
    best, best_cost = None, float("inf")
    for i in range(len(shares)):
        total, product = 0.0, 1.0
        for j in range(i, min(i + MAX_RUN, len(shares))):
            share = shares[j]
            if share is None:
                break
            total, product = total + share, product * share
            cost = total + RECHECK * product
            if cost <= best_cost:  # ties: the later, longer run (serials end distinctly)
                best, best_cost = (i, j), cost
    if best is None:
        return needle
    return needle[best[0] : best[1] + 3]


def _samples(s: Session) -> dict[str, Sample]:
    names = {index: column for column, index in TRGM_INDEXES.items()}
    rows = s.execute(_SAMPLE_SQL, {"names": tuple(names)}).all()
    out = {}
    for index, common, freqs, spread in rows:
        pairs = list(zip(common or [], freqs or [], strict=False))
        out[names[index]] = Sample([(str(v), float(f)) for v, f in pairs], list(spread or []))
    return out
