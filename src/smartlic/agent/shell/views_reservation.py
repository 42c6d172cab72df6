"""License reservation (SLR / PLR) as devices print it: ``show license reservation``, the
``Reservation Info`` block of ``show license all`` / ``tech support``, and the reservation lines
of ``show license authorization`` after an upgrade to Smart Licensing Using Policy.

Shapes (domain-notes 1.6, tech support ``Reservation Info``)::

    License reservation: ENABLED

    Overall status:
      Active: PID:C9300-24UX,SN:FCW2134L0RN
          Reservation status: SPECIFIC INSTALLED on Mar 01 12:00:00 2026 UTC
          Request code: <none>
          Last return code: <none>
          Last Confirmation code: 17488c1f
          Reservation authorization code: <specificPLR>...</specificPLR>

    Specified license reservations:
      network-advantage (C9300 Network Advantage):
        Description: C9300 Network Advantage
        Total reserved count: 2
        Term information:
          Active: PID:C9300-24UX,SN:FCW2134L0RN
            Authorization type: SPECIFIC INSTALLED on Mar 01 12:00:00 2026 UTC
            License type: PERPETUAL
              Term Count: 2
"""

from __future__ import annotations

from smartlic.agent._reservation import ReservationStatus
from smartlic.agent._status import Status
from smartlic.agent.shell.fmt import ios_time
from smartlic.domain.products import DEFAULT_PROFILE, ProductProfile

__all__ = [
    "authorization_member",
    "enabled_line",
    "reservation_info",
    "specified_reservations",
]

NOT_INSTALLED = ReservationStatus(enabled=False, status="NOT INSTALLED")


def _of(status: Status) -> ReservationStatus:
    return status.reservation or NOT_INSTALLED


def enabled_line(status: Status) -> str:
    return f"License reservation: {'ENABLED' if _of(status).enabled else 'DISABLED'}"


def _status_word(r: ReservationStatus) -> str:
    if r.installed_at is None:
        return r.status
    return f"{r.status} on {ios_time(r.installed_at)}"


def _member(r: ReservationStatus, active: bool) -> list[str]:
    if not active:
        return ["    Reservation status: NOT INSTALLED"]
    return [
        f"    Reservation status: {_status_word(r)}",
        f"    Request code: {r.request_code or '<none>'}",
        f"    Last return code: {r.last_return_code or '<none>'}",
        f"    Last Confirmation code: {r.confirmation_code or '<none>'}",
        f"    Reservation authorization code: {r.authorization_code or '<none>'}",
    ]


def specified_reservations(status: Status, profile: ProductProfile) -> list[str]:
    """``Specified license reservations:`` with one entry per reserved license (SLR), or
    the universal line (PLR)."""
    r, lines = _of(status), ["Specified license reservations:"]
    if r.reservation_type == "UNIVERSAL":
        return [*lines, "  Universal license reservation: all licenses"]
    specs = {s.tag: s for s in profile.licenses}
    for tag, count in r.licenses:
        spec = specs.get(tag)
        name, display = (spec.name, spec.display_name) if spec else (tag, tag)
        lines += [
            f"  {name} ({display}):",
            f"    Description: {display}",
            f"    Total reserved count: {count}",
            "    Term information:",
            f"      Active: {status.udi}",
            f"        Authorization type: {_status_word(r)}",
            "        License type: PERPETUAL",
            f"          Term Count: {count}",
        ]
    return lines


def reservation_info(
    status: Status,
    profile: ProductProfile = DEFAULT_PROFILE,
    members: list[tuple[str, str]] | None = None,
) -> list[str]:
    """``show license reservation`` and the ``Reservation Info`` block: per member its
    reservation status; the active member holds the codes."""
    r = _of(status)
    lines = [enabled_line(status), ""]
    if status.policy is not None:
        lines[1:1] = ["Last Data Push: <none>", "Last File Export: <none>"]
    lines += ["Overall status:"]
    for role, udi in members or [("Active", str(status.udi))]:
        lines += [f"  {role}: {udi}", *_member(r, role == "Active")]
    lines += ["", *specified_reservations(status, profile), ""]
    return [*lines, "Purchased Licenses:", "  No Purchase Information Available", ""]


def authorization_member(status: Status) -> list[str] | None:
    """The ``Status:`` lines of the active member in ``show license authorization`` when an
    SLR/PLR code is installed (policy mode keeps it), else ``None``."""
    r = _of(status)
    if r.installed_at is None:
        return None
    lines = [f"      Status: {_status_word(r)}"]
    if r.last_return_code:
        lines.append(f"      Last return code: {r.last_return_code}")
    return [*lines, f"      Last Confirmation code: {r.confirmation_code}"]
