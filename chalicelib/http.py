"""How routes speak HTTP: JSON bodies in, the error envelope out, never a 500 for a caller.

Failures of DynamoDB or S3 that a retry can cure (throttling, timeouts, 5xx, connection
resets) become 503 with Retry-After; the client repeats the same request (submits are
idempotent by submission_id).
"""
import functools
import json
import logging
import re

from botocore.exceptions import BotoCoreError, ClientError
from chalice import CORSConfig, Response
from pynamodb.exceptions import PynamoDBException

from .errors import ApiError, BadRequest, TooLarge, Unavailable
from .schemas import MAX_BODY_BYTES, MAX_JSON_DEPTH, parse

# A child of chalice's app logger: chalice sets that one to ERROR, which dropped the warnings here.
log = logging.getLogger("cloud-annotator.http")
log.setLevel(logging.INFO)
# botocore logs every credential and endpoint lookup at INFO: noise in Lambda's logs and locally.
logging.getLogger("botocore").setLevel(logging.WARNING)

# Every route, core or blueprint, answers browsers on other origins (the static pages), and
# reads its body as JSON whatever Content-Type was sent (curl -d sends form-urlencoded; a claim
# has no body at all): a caller's Content-Type is never a reason to refuse.
CORS = CORSConfig(allow_origin="*", allow_headers=["Authorization", "Content-Type"],
                  expose_headers=["Retry-After"], max_age=600)
ROUTE_OPTIONS = {"cors": CORS, "content_types": ["*/*"]}

RETRYABLE_CODES = {"ProvisionedThroughputExceededException", "ThrottlingException",
                   "RequestLimitExceeded", "InternalServerError", "ServiceUnavailable",
                   "TransactionConflict", "TransactionInProgressException", "SlowDown",
                   "InternalError", "RequestTimeout", "503", "500"}


def body(request, model):
    return parse(model, json_object(request))


def json_object(request, empty=None) -> dict:
    """The request body as a JSON object; `empty` (if given) stands for an empty body."""
    raw = request.raw_body or b""
    if not raw and empty is not None:
        return empty
    if len(raw) > MAX_BODY_BYTES:
        raise TooLarge(f"The request body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}.",
                       code="body_too_large")
    try:
        data = json.loads(raw or b"null")
    except RecursionError:
        _too_deep()
    except ValueError as exc:
        raise BadRequest(f"The body is not valid JSON ({exc}).", code="invalid_json") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", code="invalid_json")
    if _depth(data) > MAX_JSON_DEPTH:
        _too_deep()
    return data


def _too_deep():
    raise BadRequest(f"The body nests objects and arrays more than {MAX_JSON_DEPTH} levels deep; "
                     "flatten it.", code="invalid_json")


def _depth(value) -> int:
    """Nesting depth, without recursion (a deep body must not exhaust the stack here either)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if level <= MAX_JSON_DEPTH:
                stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


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


def _error_code(exc: Exception) -> str | None:
    """The AWS error code; PynamoDB's own property fails on causes without a response (a
    read timeout), so read it here."""
    cause = exc.cause if isinstance(exc, PynamoDBException) else exc
    response = getattr(cause, "response", None) or {}
    return response.get("Error", {}).get("Code")


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, BotoCoreError):  # connection reset, timeout, endpoint unreachable
        return True
    if isinstance(exc, PynamoDBException):
        cause = exc.cause
        return cause is None or isinstance(cause, BotoCoreError) or \
            str(_error_code(exc)) in RETRYABLE_CODES
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        return err.get("Code") in RETRYABLE_CODES or status.startswith("5")
    return False


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    return Response(body=payload, status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {})})


def answering(success, failure):
    """A route wrapper for one protocol's envelope: `success(result)` is the body of a 200,
    `failure(err)` the body of an ApiError's status; retryable backend failures become 503s;
    anything else is logged and answered as a 500 in the same envelope."""
    def wrap(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            try:
                result = view(*args, **kwargs)
                return result if isinstance(result, Response) else json_response(success(result))
            except ApiError as err:
                return json_response(failure(err), err.status, err.headers)
            except Exception as exc:  # noqa: BLE001 -- the last line of defence of every route
                if _error_code(exc) == "ValidationException":
                    # The database refused a value no retry will change (a key too long, say).
                    log.warning("value refused by the database: %r", exc)
                    answer = BadRequest("A value in this request cannot be stored (too long, empty "
                                        "or malformed): check ids and names.", code="invalid_value")
                elif _retryable(exc):
                    log.warning("retryable backend failure: %r", exc)
                    answer = Unavailable()
                else:
                    log.exception("unhandled error")
                    answer = ApiError("Something went wrong on our side; it was logged.",
                                      code="internal", status=500)
                return json_response(failure(answer), answer.status, answer.headers)
        return wrapper
    return wrap


# The native API: dicts become JSON 200s, errors {"error": {"code", "message"}}.
native_envelope = answering(lambda result: result, ApiError.body)


def router(target, wrap=None):
    """`route(path, methods=[...])` for an app or a blueprint: every route answers browsers on
    other origins, reads any Content-Type, and answers through `wrap` (default: `native_envelope`)."""
    def route(path, **kwargs):
        def register(view):
            return target.route(path, **ROUTE_OPTIONS, **kwargs)((wrap or native_envelope)(view))
        return register
    return route


def framework_envelope(event, get_response):
    """HTTP middleware: the answers Chalice gives itself (405 for a method a path lacks, say)
    use the error envelope too: {"Code": "MethodNotAllowedError", ...} -> "method_not_allowed"."""
    response = get_response(event)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        code = re.sub(r"(?<!^)(?=[A-Z])", "_", body["Code"].removesuffix("Error")).lower()
        response.body = {"error": {"code": code, "message": body.get("Message") or code}}
    return response
