"""The error envelope every route answers with: {"error": {"code", "message"}}."""


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, code: str | None = None, status: int | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status = status or self.status
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class TooLarge(ApiError):
    status, code = 413, "too_large"


class TooMany(ApiError):
    """A documented rate limit was hit: the caller may repeat after `Retry-After` seconds."""
    status, code = 429, "too_many_requests"

    def __init__(self, message: str, code: str | None = None, retry_after: int = 60):
        super().__init__(message, code, headers={"Retry-After": str(max(1, retry_after))})


class Unavailable(ApiError):
    """Retryable: the caller should repeat the same request after `Retry-After` seconds."""
    status, code = 503, "unavailable"

    def __init__(self, message: str = "The service is busy; retry the same request in a moment.",
                 code: str | None = None, retry_after: int = 1):
        super().__init__(message, code, headers={"Retry-After": str(retry_after)})


def lease_lost(sample_id: str) -> Conflict:
    return Conflict(
        f"Your lease on sample '{sample_id}' is no longer valid (it expired and was taken, "
        "or was ended). Download your drawing if you need it, then claim a new sample.",
        code="lease_lost")
