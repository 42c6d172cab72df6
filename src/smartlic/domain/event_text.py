"""The event log written for a license administrator: one sentence per event.

The log keeps events as a name (``instance.transferred``), an actor, a virtual account, a
subject and a few properties. People read sentences ("UDI_PID:C9300; UDI_SN:FOC1 transferred
from Sales to Lab by alice"), short identifiers instead of UUIDs and license names instead of
full ISO 19770-2 tags. Pure: the portal, the CLI and mail bodies all call :func:`describe`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["CATEGORIES", "category_prefixes", "describe", "details", "short"]

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_TAG = re.compile(r"^regid\.\d{4}-\d{2}\.[^,]+?\.(?P<name>[^.,]+)(?:,.*)?$")

# What the portal's "Type" filter offers: a label and the event-name prefixes it covers.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "Product instances": ("instance.",),
    "Licenses": ("license.",),
    "Registration tokens": ("token.",),
    "Usage reporting": ("usage.",),
    "Virtual accounts": ("virtual_account.", "account."),
    "Users": ("user.",),
    "Reports and notifications": ("report.", "notification.", "webhook."),
    "Policies and trust": ("policy.", "trust."),
}

_SENTENCES: dict[str, str] = {
    "account.created": "Smart account {subject} created",
    "virtual_account.created": "Virtual account {subject} created",
    "virtual_account.renamed": "Virtual account {from} renamed to {subject}",
    "virtual_account.deleted": "Virtual account {subject} deleted",
    "instance.registered": "{subject} registered in {va}",
    "instance.registration.refused": "Registration of {subject} refused",
    "instance.deregistered": "{subject} deregistered from {va}",
    "instance.deregistration.refused": "Deregistration of {subject} refused",
    "instance.converted": "{subject} converted its traditional licenses in {va}",
    "instance.transferred": "{subject} transferred from {va} to {target}",
    "instance.moved_away": "{subject} moved away from {va}",
    "instance.removed": "{subject} removed from {va}; its licenses are free again",
    "instance.identity.renewed": "{subject} renewed its identity certificate",
    "instance.identity.refused": "Identity renewal of {subject} refused",
    "instance.authorization.succeeded": "{subject} renewed its license authorization",
    "instance.authorization.refused": "License authorization of {subject} refused",
    "instance.authorization.out_of_compliance": "{subject} is out of compliance",
    "instance.authorization.expired": "The authorization of {subject} expired",
    "instance.not_reporting": "{subject} has not reported for too long",
    "instance.trust.established": "Trust established with {subject}",
    "instance.trust.refused": "Trust request of {subject} refused",
    "token.created": "Registration token {subject} created in {va}",
    "token.revoked": "Registration token {subject} revoked",
    "token.expiring": "Registration token {subject} expires soon",
    "license.defined": "License {subject} defined",
    "license.added": "{quantity} {subject} license(s) added to {va}",
    "license.transferred": "{quantity} {subject} license(s) transferred from {va} to {target}",
    "license.expiring": "{subject} licenses in {va} expire soon",
    "license.authorization.issued": "Authorization code issued for {subject}",
    "license.authorization.returned": "Authorization code of {subject} returned",
    "license.authorization.return_refused": "Return of an authorization code of {subject} refused",
    "license.authorization.refused": "Authorization code request of {subject} refused",
    "usage.report.acknowledged": "Usage of {subject} acknowledged ({reports} report(s))",
    "usage.report.rejected": "A usage report of {subject} was rejected",
    "usage.report.refused": "A usage report of {subject} was refused",
    "usage.file.refused": "Usage data file {subject} refused",
    "usage.ack.overdue": "No acknowledgement imported by {subject} in time",
    "usage.rollup": "Daily usage figures computed",
    "policy.installed": "Policy {subject} installed",
    "user.created": "User {subject} created",
    "user.granted": "User {subject} given a role",
    "user.revoked": "A role of user {subject} removed",
    "user.enabled": "User {subject} enabled",
    "user.disabled": "User {subject} disabled",
    "user.logged-in": "User {subject} logged in",
    "user.password-changed": "User {subject} changed their password",
    "report.generated": "Report {subject} generated",
    "report.schedule.created": "Report schedule {subject} created",
    "notification.subscribed": "{subject} subscribed to notifications",
    "notification.unsubscribed": "{subject} unsubscribed from notifications",
    "webhook.created": "Webhook {subject} created",
    "webhook.deleted": "Webhook {subject} deleted",
    "webhook.delivery.replayed": "Webhook delivery {subject} replayed",
}

# Properties whose value explains a refusal, in the order they are looked for.
_REASONS = ("reason", "detail", "code", "error")


def short(value: object) -> str:
    """An identifier as a person reads it: a UUID's first 8 characters, a tag's name part."""
    text = "" if value is None else str(value)
    if _UUID.match(text):
        return text[:8]
    m = _TAG.match(text)
    return m.group("name") if m else text


def describe(
    name: str,
    *,
    actor: str = "",
    virtual_account: str | None = None,
    subject: str | None = None,
    properties: Mapping[str, Any] | None = None,
) -> str:
    """One sentence for an event of the log (a readable fallback for names not listed)."""
    props = dict(properties or {})
    fields = _Fields({k: short(v) for k, v in props.items()})
    fields.update(subject=short(subject) or "-", va=virtual_account or "the account")
    template = _SENTENCES.get(name)
    text = template.format_map(fields) if template else _fallback(name, fields["subject"])
    reason = next((str(props[k]) for k in _REASONS if props.get(k)), None)
    if reason and name.endswith(("refused", "rejected")):
        text += f": {reason}"
    if name == "instance.transferred" and props.get("out_of_compliance"):
        text += f" (puts {fields['target']} out of compliance)"
    if actor and not actor.startswith("device:") and actor != "system":
        text += f" by {actor.removeprefix('user:')}"
    return text + "."


def details(properties: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """The properties as ``Label: value`` pairs (labels from the keys, values shortened)."""
    out = []
    for key, value in sorted((properties or {}).items()):
        if value in (None, "", [], {}):
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, list | tuple):
            value = ", ".join(short(v) for v in value)
        out.append((key.replace("_", " ").capitalize(), short(value)))
    return tuple(out)


def category_prefixes(label: str) -> tuple[str, ...]:
    """The event-name prefixes of a "Type" filter label (none for an unknown label)."""
    return CATEGORIES.get(label, ())


def _fallback(name: str, subject: str) -> str:
    words = name.replace(".", " ").replace("_", " ").replace("-", " ").strip()
    return f"{words.capitalize()}: {subject}"


class _Fields(dict[str, str]):
    """Format fields; a property an event lacks reads as a dash, never a KeyError."""

    def __missing__(self, key: str) -> str:
        return "-"
