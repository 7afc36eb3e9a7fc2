"""Bearer tokens: HS256 JWTs with claims sub, email, roles, exp and optionally tasks.

Tokens are checked inside the routes, not by an API Gateway authorizer, so that 401/403
answers carry CORS headers and the browser can show "your link expired".
"""
from dataclasses import dataclass, field

import jwt

from . import clock, oidc, request_log, signing_keys
from .errors import Unauthorized
from .ids import USER_ID

ALGORITHM = "HS256"
# Checks run on every decoded token's claims; each raises Unauthorized to refuse it.
# invites.py registers the one that refuses revoked invite tokens.
TOKEN_CHECKS: list = []
DEFAULT_TTL = 7 * 24 * 3600
MAX_SCOPED_TASKS = 100


@dataclass(frozen=True)
class Principal:
    sub: str
    email: str | None = None
    roles: tuple[str, ...] = ()
    # Task ids the token is limited to, on every route; None means not limited.
    tasks: tuple[str, ...] | None = None
    # The invite record an invite token stands for: such a token only ever annotates.
    invite: str | None = None
    claims: dict = field(default_factory=dict, compare=False)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles and self.invite is None

    def in_scope(self, task_id: str) -> bool:
        return self.tasks is None or task_id in self.tasks

    def names(self) -> set[str]:
        """The identifiers a task's annotator or owner list may name this user by."""
        return {n for n in (self.sub, self.email) if n}


def mint_token(sub: str, roles=(), email: str | None = None, tasks=None,
               ttl_seconds: int = DEFAULT_TTL, secret: str | None = None, **extra) -> str:
    """`secret` defaults to this stage's signing key; tools minting for a stage pass its key."""
    now = clock.now()
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
        # Times are checked against clock.now() below, not PyJWT's own clock.
        claims = jwt.decode(token, signing_keys.verification_key(token), algorithms=[ALGORITHM],
                            options={"require": ["sub", "exp"], "verify_exp": False,
                                     "verify_iat": False, "verify_nbf": False})
        _check_times(claims)
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Your token has expired: ask the task owner for a new link.",
                           code="token_expired") from None
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"The token is not valid ({exc}): use the link or token you were given.",
                           code="invalid_token") from None
    _check_claims(claims)
    for check in TOKEN_CHECKS:
        check(claims)
    tasks = claims.get("tasks")
    return Principal(sub=claims["sub"], email=claims.get("email"),
                     roles=tuple(claims.get("roles") or ()),
                     tasks=None if tasks is None else tuple(tasks), invite=claims.get("inv"),
                     claims=claims)


def _check_times(claims: dict) -> None:
    """PyJWT's checks of exp, iat and nbf (same errors), at the service's clock."""
    now = clock.now()
    try:
        exp, iat, nbf = (int(claims.get(name, default))
                         for name, default in (("exp", now + 1), ("iat", now), ("nbf", now)))
    except (ValueError, TypeError, OverflowError):
        raise jwt.DecodeError("exp, iat and nbf must be integers") from None
    if exp <= now:
        raise jwt.ExpiredSignatureError("Signature has expired")
    if iat > now or nbf > now:
        raise jwt.ImmatureSignatureError("The token is not yet valid (iat or nbf)")


def _strings(value, most: int) -> bool:
    return isinstance(value, list) and len(value) <= most and \
        all(isinstance(v, str) and USER_ID.match(v) for v in value)


def _check_claims(claims: dict) -> None:
    """A correctly signed token can still carry claims of the wrong shape: refuse it whole."""
    inv, tasks, email = claims.get("inv"), claims.get("tasks"), claims.get("email")
    problems = [
        not isinstance(claims["sub"], str) or not USER_ID.match(claims["sub"]),
        email is not None and not (isinstance(email, str) and USER_ID.match(email)),
        not _strings(claims.get("roles") or [], 20),
        tasks is not None and not _strings(tasks, MAX_SCOPED_TASKS),
        # An invite stands for exactly one task.
        inv is not None and not (isinstance(inv, str) and USER_ID.match(inv) and
                                 isinstance(tasks, list) and len(tasks) == 1),
    ]
    if any(problems):
        raise Unauthorized("The token's claims are malformed (sub: 1-256 printable characters; "
                           "email a string; roles and tasks lists of strings; an invite names "
                           "one task): ask for a new link.", code="invalid_token")


def principal_from_request(request) -> Principal:
    header = (request.headers or {}).get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send 'Authorization: Bearer <token>'; open the link you were given "
                           "or log in again.", code="missing_token")
    principal = decode_token(token.strip())
    request_log.identify(principal.sub)
    return principal
