"""The one exception tree of smartlic. Every error has a stable ``.code`` and an HTTP ``.status``.

::

    SmartlicError                     code=internal            500
    ├── InvalidInput                  code=invalid-input       422   (bad field, malformed document)
    │   └── UnknownTag                code=unknown-tag         422
    ├── NotFound                      code=not-found           404
    ├── Conflict                      code=conflict            409
    │   ├── AlreadyRegistered         code=already-registered  409   (re-register without force)
    │   ├── NotEmpty                  code=not-empty           409   (delete a non-empty virtual account)
    │   └── InsufficientLicenses      code=insufficient-licenses 409 (transfer more than is available)
    ├── AuthenticationFailed          code=unauthenticated     401   (missing/bad API key)
    ├── Forbidden                     code=forbidden           403   (tenant isolation, role)
    ├── TokenRejected                 code=token-*             403   (expired, revoked, unknown, used up)
    ├── SignatureInvalid              code=bad-signature       401   (signed request/response fails verification)
    ├── ReplayDetected                code=replay              409   (nonce seen, timestamp outside window)
    └── Unavailable                   code=unavailable         503   (authority unreachable, from a client)

The HTTP layer turns these into one problem+json body (``authority/api/problems.py``); the CLI
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
    "ReplayDetected",
    "SignatureInvalid",
    "SmartlicError",
    "TokenRejected",
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


class InsufficientLicenses(Conflict):
    code = "insufficient-licenses"
    title = "Insufficient licenses"


class AuthenticationFailed(SmartlicError):
    code = "unauthenticated"
    status = 401
    title = "Authentication required"


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


class Unavailable(SmartlicError):
    code = "unavailable"
    status = 503
    title = "Service unavailable"
