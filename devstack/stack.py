"""The whole local stack as one object: moto server, bootstrap, `chalice local`, site.

    with LocalStack() as stack:
        stack.start(moto_port=..., api_port=..., site_port=..., data_dir=...)
        requests.get(stack.api_url + "/tasks", headers=stack.auth(stack.admin_token()))

The API runs exactly as deployed code does, configured by the `local` stage of
.chalice/config.json plus AWS_ENDPOINT_URL pointing at moto: no code path knows it is local.
"""
import json
import os
import sys
from pathlib import Path
from unittest import mock

from .processes import ProcessFailed, log_hint, spawn, stop_group, wait_http

ROOT = Path(__file__).resolve().parents[1]
STAGE = "local"
TOKEN_TTL = 7 * 24 * 3600  # a dev session's links should outlive a working week
# Seconds a process gets between SIGTERM and SIGKILL; moto writes its last snapshot then.
STOP_TIMEOUT = {"moto": 30, "api": 5, "worker": 5, "site": 5}


def stage_env(stage=STAGE):
    """The environment chalice gives the app for this stage (top level, then stage values)."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return {**config.get("environment_variables", {}),
            **config["stages"][stage].get("environment_variables", {})}


def site_dir():
    """The built frontend if there is one, else its sources."""
    built = ROOT / "frontend" / "dist"
    return built if built.is_dir() else ROOT / "frontend"


class LocalStack:
    def __init__(self, log_dir=None, moto_args=()):
        self.log_dir = log_dir
        self.moto_args = list(moto_args)  # e.g. ["--unpatched-moto"] (devstack.moto_server)
        self.procs = {}
        self.env = stage_env()
        self.moto_url = self.api_url = self.site_url = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, moto_port, api_port, site_port=None, data_dir=None):
        try:
            self._start_moto(moto_port, data_dir)
            self._bootstrap()
            self._start_api(api_port)
            self._start_worker()
            if site_port is not None:
                self._start_site(site_port)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Stop in reverse start order: the API goes before moto takes its last snapshot."""
        for name in reversed(list(self.procs)):
            stop_group(self.procs.pop(name), STOP_TIMEOUT[name])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def process_groups(self):
        """Process-group ids of what is running (each child leads its own group)."""
        return {name: proc.pid for name, proc in self.procs.items()}

    # -- parts --------------------------------------------------------------------------

    def _child_env(self):
        return {**os.environ, **self.env, "AWS_ENDPOINT_URL": self.moto_url,
                "PYTHONUNBUFFERED": "1"}

    def _start_moto(self, port, data_dir):
        self.moto_url = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "devstack.moto_server", "--port", str(port),
                "--region", self.env["AWS_DEFAULT_REGION"], *self.moto_args]
        if data_dir is not None:
            argv += ["--data-dir", str(data_dir)]
        self.procs["moto"] = spawn("moto", argv, self._child_env(), ROOT, self.log_dir)
        wait_http(f"{self.moto_url}/_devstack/health", self.procs["moto"], timeout=60)

    def _bootstrap(self):
        """Create tables and bucket if the restored snapshot did not bring them."""
        proc = spawn("bootstrap", [sys.executable, "-m", "chalicelib.bootstrap"],
                     self._child_env(), ROOT, self.log_dir)
        if proc.wait(timeout=60) != 0:
            raise ProcessFailed(f"chalicelib.bootstrap failed with {proc.returncode}"
                                + log_hint(proc))

    def _start_api(self, port):
        self.api_url = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "devstack.api_server", "--stage", STAGE,
                "--host", "127.0.0.1", "--port", str(port)]
        self.procs["api"] = spawn("api", argv, self._child_env(), ROOT, self.log_dir)
        wait_http(f"{self.api_url}/health", self.procs["api"], timeout=60)

    def _start_worker(self):
        """The export queue's consumer (chalice local runs none): devstack/export_worker.py."""
        self.procs["worker"] = spawn("worker", [sys.executable, "-m", "devstack.export_worker"],
                                     self._child_env(), ROOT, self.log_dir)

    def _start_site(self, port):
        served = site_dir()
        served.mkdir(exist_ok=True)
        # The page learns where the API is from this file (git-ignored, rewritten each start).
        (served / "config.json").write_text(json.dumps({"apiUrl": self.api_url}) + "\n")
        self.site_url = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                "--directory", str(served)]
        self.procs["site"] = spawn("site", argv, self._child_env(), ROOT, self.log_dir)
        wait_http(f"{self.site_url}/config.json", self.procs["site"], timeout=30)

    # -- tokens -------------------------------------------------------------------------

    def mint_token(self, sub, **claims):
        """A token the local API accepts: signed with the stage's JWT_SECRET."""
        from chalicelib.auth import mint_token  # the app's own minting, not a copy of it
        with mock.patch.dict(os.environ, {"JWT_SECRET": self.env["JWT_SECRET"]}):
            return mint_token(sub, ttl_seconds=TOKEN_TTL, **claims)

    def admin_token(self, sub="admin"):
        return self.mint_token(sub, roles=["admin"])

    def annotator_token(self, sub="annotator-1"):
        return self.mint_token(sub)

    @property
    def tokens(self):
        return {"admin": self.admin_token(), "annotator": self.annotator_token()}

    @staticmethod
    def auth(token):
        return {"Authorization": f"Bearer {token}"}
