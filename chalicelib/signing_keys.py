"""The keys that sign and verify bearer tokens, and where they come from.

Configuration alone picks the source:
- `JWT_SECRET`: one key in the environment (the `local` stage, unit tests);
- `JWT_SECRET_PARAMETER`: the name of an SSM SecureString holding a key set (deployed stages), read
  at run time and cached per container, so no secret is in the Lambda's configuration.

A key set is `{"keys": [newest, ..., oldest]}`. Tokens are signed with the newest key and name it
in their `kid` header (a fingerprint of the key, so the same secret has the same id wherever it
is held); every key in the set verifies. Rotating (infra/rotate_keys.py) puts a new key first and
keeps the old one until the tokens it signed have expired.
"""
import hashlib
import json
import os
import secrets
import threading
import time

import jwt

from . import config

# A rotation reaches every warm container within this many seconds (or at once for a token
# that names a key the cached set does not have: see verification_key).
CACHE_SECONDS = 300
# An unknown kid refetches the set at most this often, so forged kids cannot flood SSM.
REFETCH_SECONDS = 30


def kid(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def new_key() -> str:
    return secrets.token_urlsafe(48)


def parse_key_set(text: str) -> list[str]:
    keys = json.loads(text)["keys"]
    if not keys or not all(isinstance(k, str) and len(k) >= 32 for k in keys):
        raise ValueError("a key set needs at least one key, each of at least 32 characters")
    return keys


def dump_key_set(keys: list[str]) -> str:
    return json.dumps({"keys": keys})


class _ParameterCache:
    """The parameter's key set, read at most once per CACHE_SECONDS per container."""

    def __init__(self):
        self.lock = threading.Lock()
        self.name = self.keys = None
        self.read_at = float("-inf")

    def get(self, name: str, max_age: float) -> list[str]:
        with self.lock:
            if name != self.name or time.monotonic() - self.read_at > max_age:
                import boto3  # only deployed stages read SSM
                value = boto3.client("ssm", region_name=config.REGION).get_parameter(
                    Name=name, WithDecryption=True)["Parameter"]["Value"]
                self.name, self.keys, self.read_at = name, parse_key_set(value), time.monotonic()
            return self.keys


_cache = _ParameterCache()


def _keys(max_age: float = CACHE_SECONDS) -> list[str]:
    # Read per call: chalice.test.Client swaps the environment per request.
    secret, parameter = os.environ.get("JWT_SECRET"), os.environ.get("JWT_SECRET_PARAMETER")
    if secret:
        return [secret]
    if parameter:
        return _cache.get(parameter, max_age)
    raise RuntimeError("Set JWT_SECRET or JWT_SECRET_PARAMETER for this stage")


def signing_key() -> str:
    return _keys()[0]


def verification_key(token: str) -> str:
    """The key that signed `token`, by its `kid` (a token without one, minted before kids
    existed, is checked against the newest key). Raises jwt.InvalidTokenError for a retired key."""
    wanted = jwt.get_unverified_header(token).get("kid")
    keys = _keys()
    if wanted is None:
        return keys[0]
    for attempt in (keys, _keys(max_age=REFETCH_SECONDS)):
        for key in attempt:
            if kid(key) == wanted:
                return key
    raise jwt.InvalidTokenError("signed with a key this service no longer uses")
