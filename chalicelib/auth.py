"""Bearer tokens: HS256 JWTs with claims sub, email, roles, exp and optionally tasks.

Tokens are checked inside the routes, not by an API Gateway authorizer, so that 401/403
answers carry CORS headers and the browser can show "your link expired".
"""
import time
from dataclasses import dataclass, field

import jwt

from . import oidc, request_log, signing_keys
from .errors import Unauthorized

ALGORITHM = "HS256"
# Checks run on every decoded token's claims; each raises Unauthorized to refuse it.
# invites.py registers the one that refuses revoked invite tokens.
TOKEN_CHECKS: list = []
DEFAULT_TTL = 7 * 24 * 3600


@dataclass(frozen=True)
class Principal:
    sub: str
    email: str | None = None
    roles: tuple[str, ...] = ()
    # Task ids an invite token is limited to; None means not limited.
    tasks: tuple[str, ...] | None = None
    claims: dict = field(default_factory=dict, compare=False)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def names(self) -> set[str]:
        """The identifiers a task's annotator or owner list may name this user by."""
        return {n for n in (self.sub, self.email) if n}


def mint_token(sub: str, roles=(), email: str | None = None, tasks=None,
               ttl_seconds: int = DEFAULT_TTL, secret: str | None = None, **extra) -> str:
    """`secret` defaults to this stage's signing key; tools minting for a stage pass its key."""
    now = int(time.time())
    claims = {"sub": sub, "roles": list(roles), "iat": now, "exp": now + ttl_seconds, **extra}
    if email:
        claims["email"] = email
    if tasks is not None:
        claims["tasks"] = list(tasks)
    key = secret or signing_keys.signing_key()
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": signing_keys.kid(key)})


def decode_token(token: str) -> Principal:
    if oidc.accepts(token):  # signed by the configured identity provider, not by us
        return Principal(**oidc.identity(token))
    try:
        claims = jwt.decode(token, signing_keys.verification_key(token), algorithms=[ALGORITHM],
                            options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Your token has expired: ask the task owner for a new link.",
                           code="token_expired") from None
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"The token is not valid ({exc}): use the link or token you were given.",
                           code="invalid_token") from None
    roles, tasks = claims.get("roles") or [], claims.get("tasks")
    if not isinstance(claims["sub"], str) or not isinstance(roles, list) or \
            not (tasks is None or isinstance(tasks, list)):
        raise Unauthorized("The token's claims are malformed (sub must be a string, roles and "
                           "tasks lists).", code="invalid_token")
    for check in TOKEN_CHECKS:
        check(claims)
    return Principal(sub=claims["sub"], email=claims.get("email"),
                     roles=tuple(map(str, roles)),
                     tasks=None if tasks is None else tuple(map(str, tasks)), claims=claims)


def principal_from_request(request) -> Principal:
    header = (request.headers or {}).get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send 'Authorization: Bearer <token>'; open the link you were given "
                           "or log in again.", code="missing_token")
    principal = decode_token(token.strip())
    request_log.identify(principal.sub)
    return principal
