"""One structured log line per request, and the request's identity on every other line.

`LOG_FORMAT=json` (deployed stages, set by infra/deploy.py) makes every line a JSON object with
`request_id`, `user` and `task` (the token's verified `sub` and the URL's task id) next to the
message; locally lines stay plain text. The access line adds method, route, status and
milliseconds. Tokens, query strings and bodies are never logged.
"""
import contextvars
import json
import logging
import os
import time
import uuid

APP_LOGGER = "cloud-annotator"
# A child of chalice's app logger, which chalice sets to ERROR (not in debug) and gives its own
# stdout handler: records of this one reach that handler whatever the parent's level.
log = logging.getLogger(f"{APP_LOGGER}.requests")
log.setLevel(logging.INFO)
_request = contextvars.ContextVar("request", default=None)


def identify(user: str) -> None:
    """auth.py calls this once the caller's token is verified."""
    context = _request.get()
    if context is not None:
        context["user"] = user


class RequestContext(logging.Filter):
    def filter(self, record):
        context = _request.get() or {}
        record.request_id, record.user, record.task = (
            context.get("request_id"), context.get("user"), context.get("task"))
        return True


class JsonFormatter(logging.Formatter):
    FIELDS = ("request_id", "user", "task", "method", "route", "status", "ms")

    def format(self, record):
        line = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
                "logger": record.name, "message": record.getMessage(),
                **{f: getattr(record, f) for f in self.FIELDS if hasattr(record, f)}}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def install(app) -> None:
    """The access line on every route (blueprints' too); the request context (and, with
    LOG_FORMAT=json, the JSON format) on the handlers of the root logger and of chalice's app
    logger, which does not propagate. Call after creating the Chalice app (it adds its handler)."""
    app.register_middleware(access_log, "http")
    for logger in (logging.getLogger(), logging.getLogger(APP_LOGGER)):
        for handler in logger.handlers:
            handler.addFilter(RequestContext())
            if os.environ.get("LOG_FORMAT") == "json":
                handler.setFormatter(JsonFormatter())


def access_log(event, get_response):
    """chalice http middleware: the request's context, then its access line."""
    started = time.monotonic()
    token = _request.set({"request_id": (event.context or {}).get("requestId") or uuid.uuid4().hex,
                          "task": (event.uri_params or {}).get("task_id")})
    try:
        response = get_response(event)
        log.info("request", extra={
            "method": event.method, "route": (event.context or {}).get("resourcePath"),
            "status": response.status_code, "ms": round((time.monotonic() - started) * 1000)})
        return response
    finally:
        _request.reset(token)
