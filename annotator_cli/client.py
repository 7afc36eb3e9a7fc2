"""Python client for the annotation API: one method per route an administrator uses.

    from annotator_cli import Client
    client = Client("http://127.0.0.1:8000", token)
    client.create_task({"id": "nuclei", "name": "Nuclei", "labels": ["nucleus"]})
    print(client.progress("nuclei"))

Errors come back as `ApiError` carrying the API's envelope (status, code, message).

`Http` underneath is the one retry rule every Python caller of the API shares (this CLI, the
tests, the benchmarks): a 429 or 503 is repeated after the server's Retry-After, a dropped
connection after a short back-off. Use it directly for raw answers (status codes included):

    http = Http(api_url, token, timeout=240, attempts=20, max_wait=0.2)
    response = http.call("POST", "/tasks/nuclei/claim")   # a requests.Response
"""
import os
import random
import time

import requests

# Answers that say "the same request may succeed later": rate limited (429), busy (503).
RETRY_STATUSES = (429, 503)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{message} [{status} {code}]")
        self.status, self.code, self.message = status, code, message


class Http:
    """A session to one API: bearer token, per-request time-out and the retry rule.

    A request answered with one of `statuses` is sent again after the server's Retry-After
    (capped at `max_wait` seconds when given; a little jitter added so that contending callers
    do not come back in step), at most `attempts` times in all; the last answer is returned as
    it came. A dropped connection is retried likewise after a short back-off, then raised as
    ApiError(0, "unreachable"). Only routes that are safe to repeat belong behind it: every
    route of this API is (submits carry a submission id). `retried` counts the repeats.
    """

    def __init__(self, api_url: str, token: str | None = None, timeout: float | None = None,
                 attempts: int = 5, statuses=RETRY_STATUSES, max_wait: float | None = None):
        self.api_url = api_url.rstrip("/")
        # Seconds per request; ANNOTATE_TIMEOUT raises it for slow links (and busy test machines).
        self.timeout = timeout or float(os.environ.get("ANNOTATE_TIMEOUT", "60"))
        self.attempts, self.statuses, self.max_wait = attempts, tuple(statuses), max_wait
        self.retried = 0
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, attempts: int | None = None,
             timeout: float | None = None, **kw) -> requests.Response:
        """`requests`' keywords (json, params, data, headers); retried as the class says.
        `attempts` and `timeout` override the instance's for this call (attempts=1: once)."""
        kw["timeout"] = timeout or self.timeout
        for attempt in range((attempts or self.attempts) - 1):
            try:
                response = self._once(method, path, kw)
            except requests.ConnectionError:
                self._pause(0.2 * 2 ** attempt)
                continue
            if response.status_code not in self.statuses:
                return response
            self._pause(float(response.headers.get("Retry-After", 1)))
        try:
            return self._once(method, path, kw)
        except requests.ConnectionError as exc:
            raise ApiError(0, "unreachable", f"Cannot reach the API at {self.api_url} "
                           f"({exc.__class__.__name__}): is it running? check --api.") from None

    def _once(self, method: str, path: str, kw: dict) -> requests.Response:
        return self.session.request(method, self.api_url + path, **kw)

    def _pause(self, seconds: float) -> None:
        self.retried += 1
        wait = min(seconds, self.max_wait) if self.max_wait is not None else seconds
        time.sleep(wait + random.uniform(0, wait / 2))


class Client(Http):
    """The API's routes as methods returning the decoded JSON (None for 204)."""

    def request(self, method: str, path: str, json=None, params=None):
        return self._answer(self.call(method, path, json=json, params=params))

    @staticmethod
    def _answer(response):
        if response.status_code == 204:
            return None
        try:
            data = response.json()
        except ValueError:
            raise ApiError(response.status_code, "not_json",
                           f"The API answered HTTP {response.status_code} without JSON: is --api "
                           "the API's URL (not the web site's)?") from None
        if response.status_code >= 400:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            raise ApiError(response.status_code, error.get("code", "error"),
                           error.get("message", str(data)))
        return data

    # --- tasks -------------------------------------------------------------------------------
    def list_tasks(self) -> list[dict]:
        return self.request("GET", "/tasks")["tasks"]

    def get_task(self, task_id: str) -> dict:
        return self.request("GET", f"/tasks/{task_id}")

    def create_task(self, fields: dict) -> dict:
        return self.request("POST", "/tasks", json=fields)

    def update_task(self, task_id: str, fields: dict) -> dict:
        return self.request("PATCH", f"/tasks/{task_id}", json=fields)

    def delete_task(self, task_id: str) -> dict:
        return self.request("DELETE", f"/tasks/{task_id}", params={"confirm": task_id})

    def progress(self, task_id: str) -> dict:
        return self.request("GET", f"/tasks/{task_id}/progress")

    # --- samples -----------------------------------------------------------------------------
    def list_samples(self, task_id: str, status: str | None = None, limit: int = 100,
                     cursor: str | None = None) -> dict:
        params = {"limit": limit, **({"status": status} if status else {}),
                  **({"cursor": cursor} if cursor else {})}
        return self.request("GET", f"/tasks/{task_id}/samples", params=params)

    def get_sample(self, task_id: str, sample_id: str) -> dict:
        return self.request("GET", f"/tasks/{task_id}/samples/{sample_id}")

    def plan_uploads(self, task_id: str, files: list[dict]) -> list[dict]:
        """files: [{"sample_id", "name", "size", "sha256"}] -> presigned PUTs or "exists"."""
        return self.request("POST", f"/tasks/{task_id}/uploads", json={"files": files})["uploads"]

    def import_samples(self, task_id: str, samples: list[dict]) -> dict:
        """Ingest (browser-ready copies, label masks) and register; existing ids are skipped."""
        return self.request("POST", f"/tasks/{task_id}/imports", json={"samples": samples},
                            params={"exist_ok": "1"})

    def list_source(self, task_id: str, uri: str, cursor: str | None = None) -> dict:
        return self.request("GET", f"/tasks/{task_id}/sources",
                            params={"uri": uri, **({"cursor": cursor} if cursor else {})})

    # --- invites -----------------------------------------------------------------------------
    def invite(self, task_id: str, emails: list[str], expires_in: int) -> list[dict]:
        return self.request("POST", f"/tasks/{task_id}/invites",
                            json={"emails": emails, "expires_in": expires_in})["invites"]

    def list_invites(self, task_id: str) -> list[dict]:
        return self.request("GET", f"/tasks/{task_id}/invites")["invites"]

    def revoke_invite(self, task_id: str, invite_id: str) -> dict:
        return self.request("DELETE", f"/tasks/{task_id}/invites/{invite_id}")["invite"]

    # --- exports -----------------------------------------------------------------------------
    def start_export(self, task_id: str, options: dict) -> dict:
        """Queue an export: {format, versions, status, labels, images} -> {"export_id"}."""
        return self.request("POST", f"/tasks/{task_id}/exports", json=options)

    def get_export(self, task_id: str, export_id: str) -> dict:
        return self.request("GET", f"/tasks/{task_id}/exports/{export_id}")

    def list_exports(self, task_id: str) -> list[dict]:
        return self.request("GET", f"/tasks/{task_id}/exports")["exports"]

    def export(self, task_id: str, format: str = "all", dest=".", versions: str = "latest",
               status: str = "completed", labels: list[str] | None = None, images: bool = True,
               on_build=None, on_download=None):
        """Build, download and unpack an export into `dest`; returns export.Result (what was
        written, or `unchanged` when `dest` already holds the same content).

            result = client.export("nuclei", format="masks", dest="out/")
        """
        from .export import fetch
        options = {"format": format, "versions": versions, "status": status,
                   "labels": labels, "images": images}
        return fetch(self, task_id, options, dest, on_build, on_download)
