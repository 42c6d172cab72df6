"""Physical floors (issue 14): each operation's unavoidable work — its crypto, its parsing and
the least SQL that stores it — written with the same libraries as smartlic (cryptography, the
stdlib json, sqlite3 / psycopg) and no framework: no FastAPI, no SQLAlchemy, no services.

The benchmarks import this module and measure the floor of their operation in the same run,
on the same database (the schema the migrations made), so their tables can show
in-process / floor and HTTP / floor::

    db = FloorDb.connect(database_url)                 # sqlite:///... or postgresql://...
    reg = register_floor(db, signer, ca, token, requests)      # a Timing
    auth = authorize_floor(db, signer, envelopes)
    ing = ingest_floor(db, bodies)
    comp = compliance_floor(db, va_id, calls)
    db.close()

What each floor does (and what it leaves out) is in each function's docstring; every floor
runs on one thread with one connection. SQLite runs as smartlic's engine does (WAL,
``synchronous=NORMAL``, ``BEGIN IMMEDIATE``); PostgreSQL through psycopg 3, one transaction
per call (``COMMIT`` each time).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import NameOID

from smartlic.crypto import CertificateAuthority, Signer

__all__ = [
    "FloorDb",
    "Timing",
    "authorize_floor",
    "compliance_floor",
    "ingest_floor",
    "register_floor",
]

CERT_DAYS = 365


@dataclass
class Timing:
    """One timed floor run (one thread): throughput and CPU per call."""

    calls: int
    units: int  # what the rate counts: calls, or reports for ingest
    seconds: float
    cpu_seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.units / self.seconds

    def as_dict(self) -> dict[str, Any]:
        lat = sorted(self.latencies) or [float("nan")]
        return {
            "calls": self.calls,
            "units": self.units,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.rate, 1),
            "cpu_ms_per_unit": round(1000 * self.cpu_seconds / self.units, 4),
            "median_ms": round(1000 * lat[len(lat) // 2], 3),
            "p95_ms": round(1000 * lat[min(len(lat) - 1, int(0.95 * len(lat)))], 3),
        }


def timed(items: Sequence[Any], call: Callable[[Any], int]) -> Timing:
    """Run ``call`` on every item; ``call`` returns how many units the item was."""
    latencies, units = [], 0
    start, cpu = time.perf_counter(), time.process_time()
    for item in items:
        t0 = time.perf_counter()
        units += call(item)
        latencies.append(time.perf_counter() - t0)
    elapsed, cpu_used = time.perf_counter() - start, time.process_time() - cpu
    return Timing(len(items), units, elapsed, cpu_used, latencies)


# ---------------------------------------------------------------- the database, bare


class FloorDb:
    """One DB-API connection to the benchmark's database; SQL written with ``?`` placeholders."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self.conn, self.dialect = conn, dialect
        self.cur = conn.cursor()

    @classmethod
    def connect(cls, url: str) -> FloorDb:
        if url.startswith("sqlite"):
            conn = sqlite3.connect(url.split("///", 1)[1], isolation_level=None, timeout=30)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
                conn.execute(f"PRAGMA {pragma}")
            return cls(conn, "sqlite")
        import psycopg

        conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        return cls(conn, "postgresql")

    def begin(self) -> None:
        if self.dialect == "sqlite":
            self.cur.execute("BEGIN IMMEDIATE")  # psycopg opens its transaction by itself

    def commit(self) -> None:
        if self.dialect == "sqlite":
            self.cur.execute("COMMIT")
        else:
            self.conn.commit()

    def rollback(self) -> None:
        if self.dialect == "sqlite":
            self.cur.execute("ROLLBACK")
        else:
            self.conn.rollback()

    def sql(self, text: str) -> str:
        return text if self.dialect == "sqlite" else text.replace("?", "%s")

    def one(self, text: str, params: Sequence[Any] = ()) -> Any:
        self.cur.execute(self.sql(text), params)
        return self.cur.fetchone()

    def all(self, text: str, params: Sequence[Any] = ()) -> list[Any]:
        self.cur.execute(self.sql(text), params)
        return self.cur.fetchall()

    def run(self, text: str, params: Sequence[Any] = ()) -> int:
        self.cur.execute(self.sql(text), params)
        return int(self.cur.rowcount)

    def many(self, text: str, rows: Sequence[Sequence[Any]]) -> None:
        self.cur.executemany(self.sql(text), rows)

    def when(self, at: datetime) -> Any:
        """A UTC time as the column stores it (SQLite: SQLAlchemy's naive text form)."""
        if self.dialect == "sqlite":
            return at.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        return at

    def read_time(self, value: Any) -> datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        return datetime.fromisoformat(value).replace(tzinfo=UTC)

    def close(self) -> None:
        self.cur.close()
        self.conn.close()


# ---------------------------------------------------------------- signing the answer


def _compact(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


class _Answer:
    """The authority's signed answer: compact JSON signed with its key, certificate attached
    (key id and certificate PEM computed once, as any server would)."""

    def __init__(self, signer: Signer) -> None:
        self.key = signer.key
        self.key_id = signer.key_id
        self.pem = signer.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def seal(self, body: dict[str, Any]) -> dict[str, Any]:

        text = _compact(body)
        value = base64.b64encode(self.key.sign(text.encode())).decode()
        return {
            "payload": text,
            "signature": {"alg": "Ed25519", "key_id": self.key_id, "value": value},
            "certificate": self.pem,
        }


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- registration


def _csr(pem: str) -> tuple[x509.CertificateSigningRequest, str, str]:
    """Load the CSR once: Ed25519 key, valid self-signature, CN and serialNumber."""
    csr = x509.load_pem_x509_csr(pem.encode())
    if not isinstance(csr.public_key(), Ed25519PublicKey) or not csr.is_signature_valid:
        raise ValueError("bad CSR")
    cn = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    sn = csr.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value
    return csr, str(cn), str(sn)


def _issue(ca: CertificateAuthority, csr: x509.CertificateSigningRequest, now: datetime) -> Any:
    return (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(csr.public_key())  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca.key, None)
    )


_TOKEN = (
    "SELECT t.id, t.virtual_account_id, t.expires_at, t.revoked_at, t.max_uses, t.uses,"
    " t.export_controlled_allowed, v.name, s.id, s.name FROM registration_tokens t"
    " JOIN virtual_accounts v ON v.id = t.virtual_account_id"
    " JOIN smart_accounts s ON s.id = v.smart_account_id WHERE t.token_hash = ?"
)
_INSTANCE = (
    "INSERT INTO product_instances (id, virtual_account_id, udi_pid, udi_sn, hostname,"
    " software_tag, registered_at, last_contact_at, status, cert_fingerprint, cert_pem,"
    " cert_expires_at, export_controlled_allowed, token_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_EVENT = (
    "INSERT INTO events (at, name, actor, smart_account_id, virtual_account, subject,"
    " properties) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_TAKE_USE = (
    "UPDATE registration_tokens SET uses = uses + 1 WHERE id = ? AND revoked_at IS NULL"
    " AND (max_uses IS NULL OR uses < max_uses)"
)


def register_floor(
    db: FloorDb, signer: Signer, ca: CertificateAuthority, requests: Sequence[dict[str, Any]]
) -> Timing:
    """Registration's floor: load and verify the CSR once (its UDI must be the request's),
    issue an Ed25519 X.509 certificate, one transaction (select the token with its accounts,
    insert the instance, insert the event, take one use of the token), sign the answer.
    Left out: the checks of the request's other fields and of an existing registration."""
    answer = _Answer(signer)
    ca_pem = ca.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def one(request: dict[str, Any]) -> int:
        now = datetime.now(UTC)
        csr, pid, sn = _csr(request["csr"])
        if (pid, sn) != (request["udi"]["pid"], request["udi"]["sn"]):
            raise ValueError("CSR names another device")
        cert = _issue(ca, csr, now)
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        fp = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
        iid = str(uuid.uuid4())
        db.begin()
        tok = db.one(_TOKEN, (hashlib.sha256(request["token"].encode()).hexdigest(),))
        if tok is None or tok[3] is not None or db.read_time(tok[2]) <= now:
            db.rollback()
            raise ValueError("token refused")
        expires = now + timedelta(days=CERT_DAYS)
        db.run(_INSTANCE, (
            iid, tok[1], pid, sn, request.get("hostname", ""), request.get("software_tag", ""),
            db.when(now), db.when(now), "In Compliance", fp, pem, db.when(expires), tok[6], tok[0],
        ))  # fmt: skip
        udi = f"PID:{pid},SN:{sn}"
        props = json.dumps({"token": tok[0], "force": False})
        db.run(_EVENT, (
            db.when(now), "instance.registered", f"device:{udi}", tok[8], tok[7], udi, props,
        ))  # fmt: skip
        if db.run(_TAKE_USE, (tok[0],)) != 1:
            db.rollback()
            raise ValueError("token used up")
        db.commit()
        answer.seal({
            "type": "registration", "instance_id": iid, "udi": request["udi"],
            "certificate": pem, "ca_certificate": ca_pem, "smart_account": tok[9],
            "virtual_account": tok[7], "export_controlled_allowed": bool(tok[6]),
            "registered_at": _iso(now), "certificate_expires": _iso(expires),
            "renew_after": _iso(expires - timedelta(days=185)),
            "timestamp": int(now.timestamp() * 1000), "nonce": uuid.uuid4().hex[:16],
            "request_nonce": request.get("nonce"),
        })  # fmt: skip
        return 1

    return timed(requests, one)


# ---------------------------------------------------------------- authorization

_SIGNER = (
    "SELECT i.id, i.virtual_account_id, i.udi_pid, i.udi_sn, i.cert_pem, i.cert_expires_at,"
    " i.export_controlled_allowed, v.name, s.id, s.name FROM product_instances i"
    " JOIN virtual_accounts v ON v.id = i.virtual_account_id"
    " JOIN smart_accounts s ON s.id = v.smart_account_id WHERE i.cert_fingerprint = ?"
)
_NONCE = (
    "INSERT INTO seen_nonces (key_id, nonce, at) VALUES (?, ?, ?)"
    " ON CONFLICT DO NOTHING RETURNING nonce"
)
_LICENSES = "SELECT id, tag FROM licenses WHERE tag = ?"
_USAGE = "SELECT license_id, count FROM instance_usage WHERE instance_id = ?"
_BUMP = (
    "UPDATE pool_counters SET in_use = in_use + ? WHERE virtual_account_id = ?"
    " AND license_id = ? RETURNING in_use, reserved"
)
_COUNTER = (
    "INSERT INTO pool_counters (virtual_account_id, license_id, in_use, reserved)"
    " VALUES (?, ?, 0, 0) ON CONFLICT DO NOTHING"
)
_HOLDINGS = (
    "SELECT quantity, starts_at, ends_at FROM holdings"
    " WHERE virtual_account_id = ? AND license_id = ?"
)
_SET_USAGE = (
    "UPDATE instance_usage SET count = ?, status = ? WHERE instance_id = ? AND license_id = ?"
)
_ADD_USAGE = (
    "INSERT INTO instance_usage (instance_id, license_id, count, status) VALUES (?, ?, ?, ?)"
)
_TOUCH = "UPDATE product_instances SET hostname = ?, status = ?, last_contact_at = ? WHERE id = ?"


def _bought(db: FloorDb, rows: list[Any], now: datetime) -> int:
    total = 0
    for quantity, starts, ends in rows:
        if (starts is None or db.read_time(starts) <= now) and (
            ends is None or now < db.read_time(ends)
        ):
            total += quantity
    return total


def authorize_floor(db: FloorDb, signer: Signer, envelopes: Sequence[dict[str, Any]]) -> Timing:
    """Authorization's floor for one tag: find the signer's instance (and accounts) by key id,
    verify the Ed25519 signature (keys parsed once per device, kept in a dict), parse the
    payload, claim its nonce, then for the tag: its license, the instance's usage, bump the
    pool counter, read the holdings, store the usage; touch the instance, insert the event,
    commit, sign the answer. Left out: the request's field checks beyond what this uses."""

    answer = _Answer(signer)
    keys: dict[str, Ed25519PublicKey] = {}

    def one(env: dict[str, Any]) -> int:
        now = datetime.now(UTC)
        key_id = env["signature"]["key_id"]
        db.begin()
        row = db.one(_SIGNER, (key_id,))
        key = keys.get(key_id)
        if key is None:
            key = keys[key_id] = x509.load_pem_x509_certificate(row[4].encode()).public_key()
        key.verify(base64.b64decode(env["signature"]["value"]), env["payload"].encode())
        payload = json.loads(env["payload"])
        if db.read_time(row[5]) < now or payload["udi"]["sn"] != row[3]:
            raise ValueError("refused")
        if db.one(_NONCE, (key_id, payload["nonce"], db.when(now))) is None:
            raise ValueError("replay")
        (wanted,) = payload["entitlements"]
        lic_id = db.one(_LICENSES, (wanted["tag"],))[0]
        held = dict(db.all(_USAGE, (row[0],)))
        bump = (wanted["count"] - held.get(lic_id, 0), row[1], lic_id)
        counted = db.one(_BUMP, bump)
        if counted is None:  # the virtual account's first use of this license
            db.run(_COUNTER, (row[1], lic_id))
            counted = db.one(_BUMP, bump)
        in_use, reserved = counted
        ok = in_use + reserved <= _bought(db, db.all(_HOLDINGS, (row[1], lic_id)), now)
        status = "AUTHORIZED" if ok else "OUT_OF_COMPLIANCE"
        if lic_id in held:
            db.run(_SET_USAGE, (wanted["count"], status, row[0], lic_id))
        else:
            db.run(_ADD_USAGE, (row[0], lic_id, wanted["count"], status))
        state = "In Compliance" if ok else "Out of Compliance"
        db.run(_TOUCH, (payload.get("hostname", "")[:255], state, db.when(now), row[0]))
        udi = f"PID:{row[2]},SN:{row[3]}"
        props = json.dumps({"entitlements": {wanted["tag"]: wanted["count"]}})
        db.run(_EVENT, (
            db.when(now), "instance.authorization.succeeded", f"device:{udi}", row[8], row[7],
            udi, props,
        ))  # fmt: skip
        db.commit()
        answer.seal({
            "type": "authorization", "udi": payload["udi"], "status": status,
            "entitlements": [{**wanted, "status": status}], "smart_account": row[9],
            "virtual_account": row[7], "export_controlled_allowed": bool(row[6]),
            "authorized_at": _iso(now), "next_communication": _iso(now + timedelta(days=30)),
            "deadline": _iso(now + timedelta(days=90)),
            "timestamp": int(now.timestamp() * 1000), "nonce": uuid.uuid4().hex[:16],
            "request_nonce": payload["nonce"],
        })  # fmt: skip
        return 1

    return timed(envelopes, one)


# ---------------------------------------------------------------- usage ingest

_DEVICE = "SELECT id FROM product_instances WHERE udi_pid = ? AND udi_sn = ?"
_REPORT = (
    "INSERT INTO rum_reports (instance_id, report_id, license_id, entitlement_tag, start_time,"
    " end_time, last_value, max_value, measurements, received_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def ingest_floor(db: FloorDb, bodies: Sequence[dict[str, Any]]) -> Timing:
    """Usage ingest's floor, per ``reportusage`` body (one device's reports): for each report
    verify its Ed25519 signature (the key it carries parsed once per body) and parse its JSON
    payload; then one transaction: find the instance, insert every report with one
    executemany, commit. Rates count reports. Left out: the nonce, duplicate detection, usage
    and pool counters, the ACK poll task, the event."""

    lics = dict(db.all("SELECT tag, id FROM licenses"))

    def one(body: dict[str, Any]) -> int:
        now = datetime.now(UTC)
        count = 0
        for device in body["data"]["reports"]:
            envs = device["usage"]
            pub = envs[0]["signature"]["public_key"]
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(pub))
            rows = []
            for env in envs:
                key.verify(base64.b64decode(env["signature"]["value"]), env["payload"].encode())
                rows.append(_report_row(json.loads(env["payload"]), lics, db.when(now)))
            db.begin()
            inst = db.one(_DEVICE, (device["sudi"]["udi_pid"], device["sudi"]["udi_serial_number"]))
            db.many(_REPORT, [(inst[0], *r) for r in rows])
            db.commit()
            count += len(rows)
        return count

    return timed(bodies, one)


def _report_row(payload: dict[str, Any], lics: dict[str, str], at: Any) -> tuple[Any, ...]:
    ms = payload["measurements"]
    tag = payload["meta"]["entitlement_tag"]
    values = [int(m["value"]["value"]) for m in ms]
    return (
        payload["asset_identification"]["report_id"],
        lics.get(tag),
        tag,
        min((m["start_time"] for m in ms), default=0),
        max((m["end_time"] for m in ms), default=0),
        values[-1] if values else 0,
        max(values, default=0),
        json.dumps(ms),
        at,
    )


# ---------------------------------------------------------------- compliance

_COUNTERS = (
    "SELECT c.license_id, l.tag, c.in_use, c.reserved FROM pool_counters c"
    " JOIN licenses l ON l.id = c.license_id WHERE c.virtual_account_id = ?"
)
_ALL_HOLDINGS = (
    "SELECT license_id, quantity, starts_at, ends_at FROM holdings WHERE virtual_account_id = ?"
)
_CONCERNED = (
    "SELECT u.instance_id FROM instance_usage u JOIN product_instances i ON i.id = u.instance_id"
    " WHERE i.virtual_account_id = ? AND u.license_id = ? AND u.count > 0"
    " ORDER BY u.instance_id LIMIT 20"
)


def compliance_floor(db: FloorDb, va_id: str, calls: int) -> Timing:
    """Compliance's floor: the virtual account's pool counters (with tags) and holdings, the
    purchased quantity per license, and for each license short the first 20 instances
    concerned (the queries smartlic's compliance runs, bare). Read-only, one transaction."""

    def one(_: int) -> int:
        now = datetime.now(UTC)
        db.begin()
        counters = db.all(_COUNTERS, (va_id,))
        holdings: dict[str, list[Any]] = {}
        for lid, *terms in db.all(_ALL_HOLDINGS, (va_id,)):
            holdings.setdefault(lid, []).append(terms)
        for lid, _tag, in_use, reserved in counters:
            if in_use + reserved > _bought(db, holdings.get(lid, []), now):
                db.all(_CONCERNED, (va_id, lid))
        db.commit()
        return 1

    return timed(range(calls), one)
