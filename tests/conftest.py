"""Shared fixtures. `stack` runs the real local stack once per session.

Tests under tests/integration/ are marked `integration` automatically, so
`pytest -m "not integration"` runs only the in-process unit tests.
"""
from pathlib import Path

import pytest

from devstack.processes import free_ports
from devstack.stack import LocalStack

INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items):
    for item in items:
        if INTEGRATION_DIR in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The local stack on free ports with a throwaway data dir.

    Yields the LocalStack: api_url, moto_url, site_url, tokens {"admin", "annotator"},
    mint_token(sub, roles=..., tasks=...), auth(token) -> headers, env (stage variables).
    Process logs are in the session's tmp dir (printed on failure by -ra).
    """
    root = tmp_path_factory.mktemp("stack")
    moto_port, api_port, site_port = free_ports(3)
    local = LocalStack(log_dir=root / "logs")
    local.start(moto_port=moto_port, api_port=api_port, site_port=site_port,
                data_dir=root / "data")
    yield local
    local.stop()
