"""Domain errors. The web edge turns each into an application/problem+json response."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DomainError(Exception):
    """Base of every error the services raise on purpose."""

    status = 400
    title = "Bad request"
    type_slug = "bad-request"

    def __init__(self, detail: str, *, errors: Mapping[str, Sequence[str]] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = dict(errors or {})


class InvalidInput(DomainError):
    status = 422
    title = "Invalid input"
    type_slug = "invalid-input"


class ChecksFailed(InvalidInput):
    """A translation failed quality checks (matchers.qa_checks) and the translator did not
    confirm them; nothing was stored. `checks`: the failed checks as records."""

    title = "Quality checks failed"
    type_slug = "qa-checks-failed"

    def __init__(
        self,
        detail: str,
        *,
        checks: Sequence[Mapping[str, str]],
        errors: Mapping[str, Sequence[str]] | None = None,
    ):
        super().__init__(detail, errors=errors)
        self.checks = [dict(check) for check in checks]
        self.extensions = {"checks": self.checks}


class NotFound(DomainError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class Unauthorized(DomainError):
    status = 401
    title = "Authentication required"
    type_slug = "unauthorized"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class Conflict(DomainError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class PreconditionFailed(DomainError):
    """A write based on a stale version (If-Match did not match the current ETag)."""

    status = 412
    title = "Precondition failed"
    type_slug = "precondition-failed"


class ImportRejected(DomainError):
    """An import refused as a whole; nothing of it was stored."""

    status = 422
    title = "Import rejected"
    type_slug = "import-rejected"


class QuotaExceeded(DomainError):
    status = 429
    title = "Quota exceeded"
    type_slug = "quota-exceeded"


class ServiceUnavailable(DomainError):
    status = 503
    title = "Service unavailable"
    type_slug = "service-unavailable"
