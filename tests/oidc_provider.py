"""A minimal OpenID Connect provider for tests, over HTTP on 127.0.0.1: RSA keys made here, its
discovery document and JWKS, and ID tokens signed the way a real provider signs them.

For the pages' sign-in it also plays the authorization code flow with PKCE for one public
client (AUDIENCE): the authorize endpoint signs in `Provider.user` at once (no login form) and
redirects back with a one-time code; the token endpoint redeems the code only for the verifier
whose S256 digest was the challenge, at the same redirect URI; the sign-out endpoint ends the
"session" and redirects back. Every refusal is an OAuth error (RFC 6749 section 5.2)."""
import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

AUDIENCE = "annotator-app"


class Provider:
    def __init__(self):
        self.private = {}    # kid -> private key
        self.published = []  # kids in the served JWKS
        self.jwks_requests = 0
        self.user = {"sub": "alice"}  # who the authorize endpoint signs in (claims)
        self.codes = {}      # code -> what it was issued for
        self.token_requests = []  # (form, status) of each call to the token endpoint
        self.sign_outs = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                provider._get(self)

            def do_POST(self):
                provider._post(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}/realm"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    # --- documents ------------------------------------------------------------------------------

    def discovery(self):
        return {"issuer": self.issuer, "jwks_uri": f"{self.issuer}/jwks",
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "end_session_endpoint": f"{self.issuer}/logout",
                "response_types_supported": ["code"], "code_challenge_methods_supported": ["S256"],
                "id_token_signing_alg_values_supported": ["RS256"]}

    def jwks(self):
        self.jwks_requests += 1
        return {"keys": [{**jwt.algorithms.RSAAlgorithm.to_jwk(self.private[kid].public_key(), as_dict=True),
                          "kid": kid, "alg": "RS256", "use": "sig"} for kid in self.published]}

    # --- keys and tokens ------------------------------------------------------------------------

    def add_key(self, kid, publish=True):
        self.private[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if publish:
            self.published.append(kid)
        return kid

    def public_pem(self, kid):
        from cryptography.hazmat.primitives import serialization
        return self.private[kid].public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def claims(self, sub="alice", audience=AUDIENCE, issuer=None, ttl=300, **extra):
        now = int(time.time())
        return {"iss": issuer or self.issuer, "aud": audience, "sub": sub, "iat": now,
                "exp": now + ttl, **extra}

    def token(self, kid=None, **claims):
        kid = kid or self.published[0]
        return jwt.encode(self.claims(**claims), self.private[kid], algorithm="RS256",
                          headers={"kid": kid})

    # --- the authorization code flow ------------------------------------------------------------

    def authorize(self, query):
        """The code's redirect, or an OAuth error for a request no real provider would take."""
        q = {k: v[0] for k, v in parse_qs(query).items()}
        problem = ("client_id is not this provider's client" if q.get("client_id") != AUDIENCE else
                   "response_type must be code" if q.get("response_type") != "code" else
                   "PKCE is required: code_challenge with code_challenge_method S256"
                   if q.get("code_challenge_method") != "S256" or not q.get("code_challenge") else
                   "redirect_uri, state and nonce are required"
                   if not all(q.get(k) for k in ("redirect_uri", "state", "nonce")) else None)
        if problem:
            return 400, {"error": "invalid_request", "error_description": problem}
        code = secrets.token_urlsafe(24)
        self.codes[code] = {"redirect_uri": q["redirect_uri"], "challenge": q["code_challenge"],
                            "nonce": q["nonce"], "user": dict(self.user)}
        return 302, f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"

    def redeem(self, form):
        """The token endpoint: ID and access tokens for a code, its verifier and redirect URI."""
        grant = self.codes.pop(form.get("code", ""), None)  # a code works once
        digest = base64.urlsafe_b64encode(
            hashlib.sha256(form.get("code_verifier", "").encode()).digest()).rstrip(b"=").decode()
        problem = ("unknown or already used code" if grant is None else
                   "client_id is not this provider's client" if form.get("client_id") != AUDIENCE else
                   "redirect_uri differs from the authorization request"
                   if form.get("redirect_uri") != grant["redirect_uri"] else
                   "PKCE verification failed: code_verifier does not match the code_challenge"
                   if digest != grant["challenge"] else None)
        if form.get("grant_type") != "authorization_code":
            problem = "grant_type must be authorization_code"
        if problem:
            return 400, {"error": "invalid_grant", "error_description": problem}
        user = dict(grant["user"])
        return 200, {"token_type": "Bearer", "expires_in": 300,
                     "id_token": self.token(sub=user.pop("sub"), nonce=grant["nonce"], **user),
                     "access_token": secrets.token_urlsafe(24)}

    # --- HTTP -----------------------------------------------------------------------------------

    def _get(self, handler):
        path, _, query = handler.path.partition("?")
        if path == "/realm/authorize":
            status, answer = self.authorize(query)
            return self._redirect(handler, answer) if status == 302 else self._json(handler, status, answer)
        if path == "/realm/logout":
            self.sign_outs += 1
            back = parse_qs(query).get("post_logout_redirect_uri", [""])[0]
            return self._redirect(handler, back)
        documents = {"/realm/.well-known/openid-configuration": self.discovery,
                     "/realm/jwks": self.jwks}
        if path not in documents:
            return handler.send_error(404)
        self._json(handler, 200, documents[path]())

    def _post(self, handler):
        if urlsplit(handler.path).path != "/realm/token":
            return handler.send_error(404)
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0)).decode()
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        status, answer = self.redeem(form)
        self.token_requests.append((form, status))
        self._json(handler, status, answer)

    @staticmethod
    def _json(handler, status, answer):
        body = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        # Pages on other origins read the discovery document and call the token endpoint.
        handler.send_header("Access-Control-Allow-Origin", "*")
        handler.send_header("Cache-Control", "no-store")
        handler.end_headers()
        handler.wfile.write(body)

    @staticmethod
    def _redirect(handler, location):
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
