"""RS256 ID tokens from a configured identity provider (chalicelib/oidc.py), against a provider
stand-in serving its discovery document and JWKS over HTTP (tests/oidc_provider.py)."""
import base64
import hashlib
import hmac
import json

import pytest

from chalicelib import oidc
from chalicelib.auth import decode_token
from chalicelib.errors import Unauthorized, Unavailable
from tests.oidc_provider import AUDIENCE, Provider


@pytest.fixture
def provider(monkeypatch):
    idp = Provider()
    idp.add_key("k1")
    monkeypatch.setenv("OIDC_ISSUER", idp.issuer)
    monkeypatch.setenv("OIDC_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("OIDC_GROUPS_CLAIM", "cognito:groups")
    monkeypatch.setenv("OIDC_ADMIN_GROUPS", "lab-admins, it")
    monkeypatch.setattr(oidc, "_jwks_clients", {})
    monkeypatch.setattr(oidc, "_jwks_urls", {})
    yield idp
    idp.stop()


def refused(token, code="invalid_token"):
    with pytest.raises(Unauthorized) as caught:
        decode_token(token)
    assert caught.value.code == code
    return str(caught.value)


def test_valid_token_names_the_user_and_maps_admin_groups(provider):
    who = decode_token(provider.token(sub="u-1", email="alice@lab.org", email_verified=True,
                                      **{"cognito:groups": ["lab-admins", "x"]}))
    # A verified email is the user id: the same person as an invite to that email.
    assert (who.sub, who.email, who.is_admin, who.tasks) == ("alice@lab.org", "alice@lab.org", True, None)
    assert who.names() == {"alice@lab.org"}
    plain = decode_token(provider.token(sub="u-2", **{"cognito:groups": ["students"]}))
    assert (plain.sub, plain.is_admin, plain.email) == (f"{provider.issuer}#u-2", False, None)
    assert provider.jwks_requests == 1  # the key set is cached


def test_unverified_email_does_not_name_the_user(provider):
    for verified in (False, "false", None):
        extra = {} if verified is None else {"email_verified": verified}
        who = decode_token(provider.token(sub="u-3", email="boss@lab.org", **extra))
        assert (who.sub, who.email) == (f"{provider.issuer}#u-3", None)


def test_a_sub_can_never_pass_for_an_email_or_a_local_name(provider, monkeypatch):
    """Invite tokens are named by their email and the service's own tokens by any sub: a
    provider's sub is prefixed by its issuer, so it names neither."""
    for sub in ("ann@lab.org", "admin"):
        who = decode_token(provider.token(sub=sub))
        assert who.names() == {f"{provider.issuer}#{sub}"}
    monkeypatch.setenv("OIDC_ISSUER", provider.issuer + "/" + "x" * 250)
    monkeypatch.setenv("OIDC_JWKS_URL", f"{provider.issuer}/jwks")
    refused(provider.token(issuer=provider.issuer + "/" + "x" * 250))  # too long a name: 401


def test_expired_wrong_audience_and_wrong_issuer_are_refused(provider):
    refused(provider.token(ttl=-120), code="token_expired")
    assert "audience" in refused(provider.token(audience="another-app")).lower()
    # Another issuer's token is not the provider's: it is checked as one of ours, and fails.
    refused(provider.token(issuer="https://evil.example/realm"))


def test_a_key_published_later_is_fetched_once_and_an_unknown_kid_is_refused(provider, monkeypatch):
    monkeypatch.setattr(oidc, "JWKS_COOLDOWN_SECONDS", 0)
    decode_token(provider.token())
    provider.add_key("k2")  # the provider rotates
    assert decode_token(provider.token(kid="k2", sub="bob")).sub == f"{provider.issuer}#bob"
    assert provider.jwks_requests == 2
    provider.add_key("never-published", publish=False)
    refused(provider.token(kid="never-published"))


def _hs256(header, claims, secret: bytes) -> str:
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def test_hs256_signed_with_the_public_key_and_unsigned_tokens_are_refused(provider):
    claims = provider.claims(sub="mallory", **{"cognito:groups": ["lab-admins"]})
    confused = _hs256({"alg": "HS256", "typ": "JWT", "kid": "k1"}, claims, provider.public_pem("k1"))
    refused(confused)
    unsigned = _hs256({"alg": "none", "typ": "JWT", "kid": "k1"}, claims, b"").rpartition(".")[0] + "."
    refused(unsigned)


def test_unreachable_provider_is_a_retryable_503(provider):
    token = provider.token()
    provider.stop()
    with pytest.raises(Unavailable) as caught:
        decode_token(token)
    assert caught.value.code == "identity_provider_unavailable"


def test_provider_users_through_the_api(provider, api):
    """Admins by group create tasks; others may not; a verified email on a task's list opens it."""
    admin = provider.token(sub="u-admin", **{"cognito:groups": ["it"]})
    member = provider.token(sub="u-7", email="ann@lab.org", email_verified=True)
    stranger = provider.token(sub="u-8", email="eve@lab.org", email_verified=True)
    api.ok("POST", "/tasks", 201, user=None, token=admin,
           body={"id": "idp", "name": "idp", "annotators": ["ann@lab.org"]})
    status, data = api.call("POST", "/tasks", user=None, token=member, body={"id": "x", "name": "x"})
    assert status == 403
    api.ok("POST", "/tasks/idp/samples", 201, user=None, token=admin,
           body={"samples": [{"id": "s0", "files": {"image.png": "uploads/idp/s0/image.png"}}]})
    claimed = api.ok("POST", "/tasks/idp/claim", user=None, token=member)
    assert claimed["sample"]["id"] == "s0"
    status, data = api.call("POST", "/tasks/idp/claim", user=None, token=stranger)
    assert status in (403, 404) and data["error"]["code"]


def test_an_invited_email_and_the_same_verified_email_signed_in_are_one_annotator(provider, api):
    api.make_task("same", n_samples=3, annotators=[])
    [invite] = api.ok("POST", "/tasks/same/invites", 201, body={"emails": ["ann@lab.org"]})["invites"]
    by_link = api.ok("POST", "/tasks/same/claim", user=None, token=invite["token"])
    signed_in = provider.token(sub="u-9", email="ann@lab.org", email_verified=True)
    again = api.ok("POST", "/tasks/same/claim", user=None, token=signed_in)
    assert again["lease"] == by_link["lease"]  # her lease, not a second sample


def test_auth_config_tells_anyone_the_provider_and_nothing_when_off(provider, api, monkeypatch):
    assert api.ok("GET", "/auth/config", user=None, token="") == {
        "issuer": provider.issuer, "client_id": AUDIENCE, "scopes": "openid email profile"}
    monkeypatch.setenv("OIDC_SCOPES", "openid email")
    assert api.ok("GET", "/auth/config", user=None, token="")["scopes"] == "openid email"
    monkeypatch.delenv("OIDC_ISSUER")
    assert api.ok("GET", "/auth/config", user=None, token="") == {"issuer": None}
