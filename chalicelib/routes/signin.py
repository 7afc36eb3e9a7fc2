"""Routes for pages that sign people in through the identity provider (anyone, no token)."""
from chalice import Blueprint

from .. import oidc
from ..http import router

bp = Blueprint(__name__)
route = router(bp)


@route("/auth/config", methods=["GET"])
def auth_config():
    return oidc.public_config()
