"""Routes about the service itself, for anyone: health and its OpenAPI description."""
from .. import openapi
from ..http import router
from . import Routes

blueprint = Routes(__name__)

route = router(blueprint)


@route("/health", methods=["GET"])
def health():
    return {"status": "ok"}


@route("/openapi.json", methods=["GET"])
def openapi_document():
    return openapi.document()
