"""The FranceConnect peer: panva's oidc-provider configured like FranceConnect (tests/peers/fc-provider.mjs).

``fc_peer`` (one per test worker) starts it with node on 127.0.0.1 (the peer picks a free port and prints
its issuer) and waits for its discovery document. Without node or ``tests/peers/node_modules``
(``make test`` installs them), tests that use it are skipped locally and fail in CI.
``fc_knobs`` resets the peer's misbehaviour knobs around a test and returns the peer.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import require

PEERS = Path(__file__).resolve().parent.parent / "peers"
SCRIPT = PEERS / "fc-provider.mjs"
START_TIMEOUT = 30

#: The client the peer knows: our app, as the Flask test client sees it (http://localhost).
FC_CLIENT = {
    "client_id": "aidants-connect-test",
    "client_secret": "a-test-client-secret-of-forty-eight-characters-xx",
    "redirect_uris": ["http://localhost/franceconnect/retour"],
    "post_logout_redirect_uris": ["http://localhost/franceconnect/deconnexion"],
}

#: Fictitious people known to the peer, in FranceConnect's pivot format.
FC_ACCOUNTS: dict[str, dict[str, str]] = {
    "angela": {
        "given_name": "Angela Claire Louise", "family_name": "DUBOIS", "birthdate": "1962-08-24",
        "gender": "female", "birthplace": "75107", "birthcountry": "99100", "email": "angela@example.org",
        "preferred_username": "",
    },
    "karim": {
        "given_name": "Karim", "family_name": "BENSAÏD", "birthdate": "1980-00-00", "gender": "male",
        "birthplace": "", "birthcountry": "99350", "email": "karim@example.org", "preferred_username": "",
    },
    "marie": {
        "given_name": "Marie-Thérèse", "family_name": "MARTIN", "birthdate": "1948-03-00", "gender": "female",
        "birthplace": "2A004", "birthcountry": "99100", "email": "", "preferred_username": "LEROY",
    },
    "broken": {
        "given_name": "Nadia", "family_name": "ROUX", "birthdate": "1970-13-40", "gender": "female",
        "birthplace": "75107", "birthcountry": "99100", "email": "nadia@example.org", "preferred_username": "",
    },
}


def peers_installed() -> bool:
    modules = PEERS / "node_modules"
    return all((modules / name / "package.json").is_file()
               for name in ("oidc-provider", "jose", "openid-client", "openid-client-6"))


class FcPeer:
    """A running FranceConnect stand-in and its control endpoints."""

    def __init__(self, process: subprocess.Popen[str], issuer: str, port: int, kid: str) -> None:
        self.process, self.issuer, self.port, self.kid = process, issuer, port, kid
        self.base = f"http://127.0.0.1:{port}"

    def knobs(self, **knobs: Any) -> None:
        """Make the peer misbehave (see fc-provider.mjs); no argument resets it."""
        requests.post(f"{self.base}/__peer/knobs", json=knobs, timeout=10).raise_for_status()

    def rotate(self) -> str:
        """A new signing key from now on; its kid."""
        response = requests.post(f"{self.base}/__peer/rotate", timeout=10)
        response.raise_for_status()
        self.kid = response.json()["kid"]
        return self.kid

    def pairwise_sub(self, account: str, sector: str = "localhost") -> str:
        """The sub the peer gives ``account`` for our client."""
        response = requests.get(f"{self.base}/__peer/sub", params={"account": account, "sector": sector}, timeout=10)
        response.raise_for_status()
        return str(response.json()["sub"])


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The peer's first stdout line (its address), without blocking forever if it dies or hangs."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return process.stdout.readline()


@pytest.fixture(scope="session")
def fc_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FcPeer]:
    node = shutil.which("node")
    require(node is not None and peers_installed(),
            "node or tests/peers/node_modules missing (cd tests/peers && npm ci --ignore-scripts)")
    assert node is not None
    stderr_path = tmp_path_factory.mktemp("fc-peer") / "stderr.log"
    config = {"host": "127.0.0.1", "port": 0, "issuer_path": "/api/v2", "clients": [FC_CLIENT],
              "accounts": FC_ACCOUNTS}
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [node, str(SCRIPT), json.dumps(config)], cwd=PEERS, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=stderr, text=True, env={**os.environ, "NODE_ENV": "test"},
        )
    try:
        line = _first_line(process, START_TIMEOUT)
        if not line:
            process.kill()
            pytest.fail(f"the FranceConnect peer did not start: {stderr_path.read_text()[-2000:]}")
        started = json.loads(line)
        discovery = requests.get(started["issuer"] + "/.well-known/openid-configuration", timeout=10)
        assert discovery.status_code == 200, discovery.text
        assert discovery.json()["issuer"] == started["issuer"]
        yield FcPeer(process, started["issuer"], started["port"], started["kid"])
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def fc_knobs(fc_peer: FcPeer) -> Iterator[FcPeer]:
    fc_peer.knobs()
    yield fc_peer
    fc_peer.knobs()
