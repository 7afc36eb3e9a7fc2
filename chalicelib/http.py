"""How routes speak HTTP: JSON bodies in, the error envelope out, never a 500 for a caller.

Failures of DynamoDB or S3 that a retry can cure (throttling, timeouts, 5xx, connection
resets) become 503 with Retry-After; the client repeats the same request (submits are
idempotent by submission_id).
"""
import functools
import json
import logging

from botocore.exceptions import BotoCoreError, ClientError
from chalice import CORSConfig, Response
from pynamodb.exceptions import PynamoDBException

from .errors import ApiError, BadRequest, TooLarge, Unavailable
from .validation import MAX_BODY_BYTES, parse

# A child of chalice's app logger: chalice sets that one to ERROR, which dropped the warnings here.
log = logging.getLogger("cloud-annotator.http")
log.setLevel(logging.INFO)
# botocore logs every credential and endpoint lookup at INFO: noise in Lambda's logs and locally.
logging.getLogger("botocore").setLevel(logging.WARNING)

# Every route, core or blueprint, answers browsers on other origins (the static pages).
CORS = CORSConfig(allow_origin="*", allow_headers=["Authorization", "Content-Type"],
                  expose_headers=["Retry-After"], max_age=600)

RETRYABLE_CODES = {"ProvisionedThroughputExceededException", "ThrottlingException",
                   "RequestLimitExceeded", "InternalServerError", "ServiceUnavailable",
                   "TransactionConflict", "TransactionInProgressException", "SlowDown",
                   "InternalError", "RequestTimeout", "503", "500"}


def body(request, model):
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise TooLarge(f"The request body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}.",
                       code="body_too_large")
    try:
        data = json.loads(raw or b"null")
    except ValueError as exc:
        raise BadRequest(f"The body is not valid JSON ({exc}).", code="invalid_json") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", code="invalid_json")
    return parse(model, data)


def query_param(request, name: str, default=None):
    return (request.query_params or {}).get(name, default)


def int_param(request, name: str, default: int, low: int, high: int) -> int:
    raw = query_param(request, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}.",
                         code="invalid_parameter")
    return value


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, BotoCoreError):  # connection reset, timeout, endpoint unreachable
        return True
    if isinstance(exc, PynamoDBException):
        cause = exc.cause
        return cause is None or isinstance(cause, BotoCoreError) or \
            str(exc.cause_response_code) in RETRYABLE_CODES
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        return err.get("Code") in RETRYABLE_CODES or status.startswith("5")
    return False


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    return Response(body=payload, status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {})})


def api(view):
    """Wraps a route: dicts become JSON 200s, ApiErrors their envelope, retryable backend
    failures 503s; anything else is logged and answered as a plain 500."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            result = view(*args, **kwargs)
            return result if isinstance(result, Response) else json_response(result)
        except ApiError as err:
            return json_response(err.body(), err.status, err.headers)
        except Exception as exc:  # noqa: BLE001 -- the last line of defence of every route
            if _retryable(exc):
                log.warning("retryable backend failure: %r", exc)
                err = Unavailable()
                return json_response(err.body(), err.status, err.headers)
            log.exception("unhandled error")
            return json_response({"error": {"code": "internal", "message":
                                            "Something went wrong on our side; it was logged."}},
                                 500)
    return wrapper
