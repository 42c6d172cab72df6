"""The one exception tree of smartlic. Every error has a stable ``.code`` and an HTTP ``.status``.

::

    SmartlicError              internal               500
    ├── InvalidInput           invalid-input          422  bad field, malformed document
    │   └── UnknownTag         unknown-tag            422
    ├── NotFound               not-found              404
    ├── Conflict               conflict               409
    │   ├── AlreadyRegistered  already-registered     409  re-register without force
    │   ├── NotEmpty           not-empty              409  delete a non-empty virtual account
    │   ├── OwnershipNotProven ownership-not-proven   409  take over a device another holds
    │   └── InsufficientLicenses  insufficient-licenses  409  transfer more than available
    ├── AuthenticationFailed   unauthenticated        401  missing or bad API key
    │   └── TooManyAttempts    too-many-attempts      429  log-ins throttled (.retry_after)
    ├── Forbidden              forbidden              403  tenant isolation, role
    ├── TokenRejected          token-*                403  expired, revoked, unknown, used up
    ├── SignatureInvalid       bad-signature          401  signature fails verification
    ├── ReplayDetected         replay                 409  nonce seen, timestamp off window
    ├── PayloadTooLarge        payload-too-large      413  body or archive over a limit
    ├── RequestTimeout         request-timeout        408  a client too slow sending its request
    └── Unavailable            unavailable            503  authority unreachable (clients)

The HTTP layer turns these into one problem+json body (``web/problems.py``); the CLI
prints ``Error [code]: detail`` and exits non-zero; the device shell prints IOS-style messages.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AlreadyRegistered",
    "AuthenticationFailed",
    "Conflict",
    "Forbidden",
    "InsufficientLicenses",
    "InvalidInput",
    "NotEmpty",
    "NotFound",
    "OwnershipNotProven",
    "PayloadTooLarge",
    "ReplayDetected",
    "RequestTimeout",
    "SignatureInvalid",
    "SmartlicError",
    "TokenRejected",
    "TooManyAttempts",
    "Unavailable",
    "UnknownTag",
]


class SmartlicError(Exception):
    """Base of every smartlic error: ``code`` is stable, ``detail`` is for people.

    ``pointer`` is an optional JSON pointer (RFC 6901) to the offending request field.
    """

    code: ClassVar[str] = "internal"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, *, pointer: str | None = None, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.pointer = pointer
        if code is not None:
            self.code = code  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, detail={self.detail!r})"


class InvalidInput(SmartlicError):
    code = "invalid-input"
    status = 422
    title = "Invalid input"


class UnknownTag(InvalidInput):
    code = "unknown-tag"
    title = "Unknown entitlement tag"


class NotFound(SmartlicError):
    code = "not-found"
    status = 404
    title = "Not found"


class Conflict(SmartlicError):
    code = "conflict"
    status = 409
    title = "Conflict"


class AlreadyRegistered(Conflict):
    code = "already-registered"
    title = "Already registered"


class NotEmpty(Conflict):
    code = "not-empty"
    title = "Not empty"


class OwnershipNotProven(Conflict):
    """A device (UDI) held by a smart account, claimed without proof that the caller owns it:
    no request signed by its current identity or trust key, and no token of the account
    holding it (docs/security.md, "Device ownership"). ``holder`` is the holding account's
    domain, so the refusal can be logged where the owner sees it; it is never sent back."""

    code = "ownership-not-proven"
    title = "Ownership not proven"

    def __init__(
        self, detail: str, *, holder: str | None = None, claimant: str | None = None
    ) -> None:
        super().__init__(detail)
        self.holder = holder
        self.claimant = claimant


class InsufficientLicenses(Conflict):
    code = "insufficient-licenses"
    title = "Insufficient licenses"


class AuthenticationFailed(SmartlicError):
    code = "unauthenticated"
    status = 401
    title = "Authentication required"


class TooManyAttempts(AuthenticationFailed):
    """Too many failed log-ins: refused before the password is even checked.
    ``retry_after`` is the number of seconds until the next attempt is allowed."""

    code = "too-many-attempts"
    status = 429
    title = "Too many attempts"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Forbidden(SmartlicError):
    code = "forbidden"
    status = 403
    title = "Forbidden"


class TokenRejected(SmartlicError):
    """A registration token that cannot be used. ``code`` is one of ``token-unknown``,
    ``token-expired``, ``token-revoked``, ``token-used-up``, ``token-export-not-allowed``."""

    code = "token-rejected"
    status = 403
    title = "Registration token rejected"


class SignatureInvalid(SmartlicError):
    code = "bad-signature"
    status = 401
    title = "Signature verification failed"


class ReplayDetected(SmartlicError):
    code = "replay"
    status = 409
    title = "Replayed or stale request"


class PayloadTooLarge(SmartlicError):
    """A request body, upload, archive or JSON document over one of the limits of
    docs/security.md ("Limits"); ``code`` says which (``payload-too-large``, ``too-large``,
    ``archive-too-large``, ``json-too-deep`` ...)."""

    code = "payload-too-large"
    status = 413
    title = "Payload too large"


class RequestTimeout(SmartlicError):
    code = "request-timeout"
    status = 408
    title = "Request timeout"


class Unavailable(SmartlicError):
    code = "unavailable"
    status = 503
    title = "Service unavailable"
