"""A stand-in OpenID Connect provider for tests: RSA keys made here, its discovery document and
JWKS served over HTTP on 127.0.0.1, and ID tokens signed the way a real provider signs them."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

AUDIENCE = "annotator-app"


class Provider:
    def __init__(self):
        self.private = {}    # kid -> private key
        self.published = []  # kids in the served JWKS
        self.jwks_requests = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                documents = {"/realm/.well-known/openid-configuration": provider.discovery,
                             "/realm/jwks": provider.jwks}
                if self.path not in documents:
                    self.send_error(404)
                    return
                body = json.dumps(documents[self.path]()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}/realm"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def discovery(self):
        return {"issuer": self.issuer, "jwks_uri": f"{self.issuer}/jwks"}

    def jwks(self):
        self.jwks_requests += 1
        return {"keys": [{**jwt.algorithms.RSAAlgorithm.to_jwk(self.private[kid].public_key(), as_dict=True),
                          "kid": kid, "alg": "RS256", "use": "sig"} for kid in self.published]}

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

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
