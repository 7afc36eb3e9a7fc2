"""Routes for pages that sign people in through the identity provider (anyone, no token)."""
from .. import oidc
from ..http import router
from . import Routes

blueprint = Routes(__name__)

route = router(blueprint)


@route("/auth/config", methods=["GET"])
def auth_config():
    return oidc.public_config()
