"""Sign-in through an OpenID Connect provider (Cognito, Auth0, Keycloak, Google), next to the
service's own HS256 tokens (auth.py hands over any token whose `iss` is the configured issuer).

Configured by the environment; without OIDC_ISSUER it is off:
  OIDC_ISSUER        the provider's issuer URL, exactly as its tokens' `iss` spells it
  OIDC_AUDIENCE      the app client id its ID tokens must be issued to (`aud`)
  OIDC_JWKS_URL      optional; by default the `jwks_uri` of the issuer's discovery document
  OIDC_GROUPS_CLAIM  the claim listing the user's groups (default `groups`; Cognito:
                     `cognito:groups`)
  OIDC_ADMIN_GROUPS  comma-separated groups whose members get the admin role
  OIDC_SCOPES        what the pages ask for when they sign people in (GET /auth/config)

Only RS256 with the provider's published keys is accepted (no HS256 "signed" with a public key,
no `none`). The key set is cached and fetched again when a token names a key not in it, at most
every JWKS_COOLDOWN_SECONDS.

Who the user is (user_id): their email when the provider says it verified it (`email_verified`),
so a person invited by email (invite tokens are named by the email) who later signs in is the
same annotator, with the same leases, drafts and counts; otherwise `<issuer>#<sub>`, so a
provider's `sub` can never pass for an invite's email or a name the service's own tokens use.
"""
import json
import os
import threading
import urllib.error
import urllib.request
from typing import Any

import jwt

from .errors import Unauthorized, Unavailable
from .ids import USER_ID

ALGORITHMS = ["RS256"]
JWKS_COOLDOWN_SECONDS = 30
# One bound for every call to the provider, well inside the Lambda's 30 s.
FETCH_TIMEOUT_SECONDS = 10
# What the pages ask the provider for unless OIDC_SCOPES says otherwise.
DEFAULT_SCOPES = "openid email profile"

_lock = threading.Lock()
_jwks_clients: dict[str, jwt.PyJWKClient] = {}
_jwks_urls: dict[str, str] = {}


def issuer() -> str | None:
    return os.environ.get("OIDC_ISSUER") or None


def public_config() -> dict[str, Any]:
    """What a page needs to offer "Sign in" (authorization code + PKCE: no secret). The API
    checks the tokens, so the pages learn from it where to send people."""
    iss = issuer()
    if not iss:
        return {"issuer": None}
    return {"issuer": iss, "client_id": os.environ.get("OIDC_AUDIENCE"),
            "scopes": os.environ.get("OIDC_SCOPES") or DEFAULT_SCOPES}


def user_id(iss: str, sub: str, verified_email: str | None) -> str:
    """The name leases, versions and counts record (see the module's docstring)."""
    return verified_email or f"{iss}#{sub}"


def accepts(token: str) -> bool:
    """Whether `token` claims to come from the configured provider (not yet verified)."""
    configured = issuer()
    if not configured:
        return False
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return False
    return claims.get("iss") == configured


def _jwks_url(iss: str) -> str:
    explicit = os.environ.get("OIDC_JWKS_URL")
    if explicit:
        return explicit
    with _lock:
        if iss not in _jwks_urls:
            discovery = f"{iss.rstrip('/')}/.well-known/openid-configuration"
            try:
                with urllib.request.urlopen(discovery, timeout=FETCH_TIMEOUT_SECONDS) as answer:
                    _jwks_urls[iss] = json.load(answer)["jwks_uri"]
            except urllib.error.HTTPError as exc:  # a wrong OIDC_ISSUER: no retry will help
                raise RuntimeError(f"{discovery} answered {exc.code}: check OIDC_ISSUER") from None
        return _jwks_urls[iss]


def _jwks_client(url: str) -> jwt.PyJWKClient:
    with _lock:
        if url not in _jwks_clients:
            _jwks_clients[url] = jwt.PyJWKClient(url, timeout=FETCH_TIMEOUT_SECONDS,
                                                 cooldown_duration=JWKS_COOLDOWN_SECONDS)
        return _jwks_clients[url]


def identity(token: str) -> dict:
    """The verified user as auth.Principal's fields; Unauthorized for a token to refuse."""
    iss, audience = issuer(), os.environ.get("OIDC_AUDIENCE")
    if not iss:
        raise RuntimeError("identity() needs OIDC_ISSUER (accepts() checks it first)")
    if not audience:
        raise RuntimeError("OIDC_ISSUER is set without OIDC_AUDIENCE (the app client id)")
    try:
        key = _jwks_client(_jwks_url(iss)).get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=ALGORITHMS, audience=audience, issuer=iss,
                            options={"require": ["sub", "exp", "iss", "aud"]})
    except (jwt.PyJWKClientConnectionError, urllib.error.URLError, TimeoutError):
        raise Unavailable("The identity provider cannot be reached to check your sign-in; "
                          "retry in a moment.", code="identity_provider_unavailable",
                          retry_after=5) from None
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Your sign-in has expired: sign in again.", code="token_expired") from None
    except (jwt.InvalidTokenError, jwt.PyJWKClientError) as exc:
        raise Unauthorized(f"The sign-in token is not valid ({exc}): sign in again.",
                           code="invalid_token") from None
    verified = claims.get("email_verified") in (True, "true")
    email = claims.get("email") if verified and isinstance(claims.get("email"), str) and \
        USER_ID.match(claims["email"]) else None
    name = user_id(iss, claims["sub"], email) if isinstance(claims["sub"], str) else ""
    if not USER_ID.match(name):
        raise Unauthorized("The sign-in token's issuer and sub together must be 1-256 printable "
                           "characters: ask the service's admin.", code="invalid_token")
    groups = claims.get(os.environ.get("OIDC_GROUPS_CLAIM") or "groups")
    admin_groups = {g.strip() for g in os.environ.get("OIDC_ADMIN_GROUPS", "").split(",") if g.strip()}
    is_admin = isinstance(groups, list) and bool(admin_groups.intersection(map(str, groups)))
    return {"sub": name, "email": email, "roles": ("admin",) if is_admin else (),
            "tasks": None, "claims": claims}
