"""Python client for the annotation API: one method per route an administrator uses.

    from annotator_cli import Client
    client = Client("http://127.0.0.1:8000", token)
    client.create_task({"id": "nuclei", "name": "Nuclei", "labels": ["nucleus"]})
    print(client.progress("nuclei"))

Errors come back as `ApiError` carrying the API's envelope (status, code, message); 429/503
answers and dropped connections are retried with the server's Retry-After, since every route
used here is safe to repeat.
"""
import os
import time

import requests


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{message} [{status} {code}]")
        self.status, self.code, self.message = status, code, message


class Client:
    RETRIES = 5

    def __init__(self, api_url: str, token: str | None, timeout: float | None = None):
        self.api_url = api_url.rstrip("/")
        # Seconds per request; ANNOTATE_TIMEOUT raises it for slow links (and busy test machines).
        self.timeout = timeout or float(os.environ.get("ANNOTATE_TIMEOUT", "60"))
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, json=None, params=None):
        for attempt in range(self.RETRIES):
            try:
                response = self.session.request(method, self.api_url + path, json=json,
                                                params=params, timeout=self.timeout)
            except requests.ConnectionError as exc:
                if attempt == self.RETRIES - 1:
                    raise ApiError(0, "unreachable", f"Cannot reach the API at {self.api_url} "
                                   f"({exc.__class__.__name__}): is it running? check --api.") from None
                time.sleep(2 ** attempt * 0.2)
                continue
            if response.status_code in (429, 503) and attempt < self.RETRIES - 1:
                time.sleep(float(response.headers.get("Retry-After", 1)))
                continue
            return self._answer(response)

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
