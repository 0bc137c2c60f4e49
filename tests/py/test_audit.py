"""Audit log: the public checkpoint and proofs (verified here independently with hashlib), bad input,
entries for auditors only, and kill -9 durability of acknowledged appends (spawning the built binary)."""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests

from conftest import HTTP_TIMEOUT, api_login, bearer

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("TONGBAN_BIN", ROOT / ".build" / "debug" / "tongban"))


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2."""
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        assert sn != 0, "proof too long"
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    assert sn == 0, "proof too short"
    return r


def get(base_url: str, path: str, **kwargs) -> requests.Response:
    return requests.get(base_url + path, timeout=HTTP_TIMEOUT, **kwargs)


def test_checkpoint_and_inclusion_proofs_verify(base_url):
    # Staff logins are audited: make sure the log has a few entries.
    for _ in range(3):
        api_login(base_url, "demo-clerk")
    cp = get(base_url, "/api/v1/audit/checkpoint")
    assert cp.status_code == 200, cp.text
    body = cp.json()
    size, root = body["treeSize"], base64.b64decode(body["rootHash"])
    assert size >= 3
    lines = body["checkpoint"].split("\n")
    assert lines[1] == str(size) and lines[2] == body["rootHash"]
    key = get(base_url, "/api/v1/audit/key").json()
    assert key["key"].startswith(lines[0] + "+")
    token = api_login(base_url, "demo-admin")
    for index in sorted({0, size // 2, size - 1}):
        proof = get(base_url, f"/api/v1/audit/proofs/inclusion?index={index}&treeSize={size}")
        assert proof.status_code == 200, proof.text
        p = proof.json()
        leaf = base64.b64decode(p["leafHash"])
        hashes = [base64.b64decode(h) for h in p["hashes"]]
        assert root_from_inclusion(leaf, index, size, hashes) == root
        entry = get(base_url, f"/api/v1/audit/entries/{index}", headers=bearer(token))
        assert entry.status_code == 200, entry.text
        assert hashlib.sha256(b"\x00" + entry.json()["entry"].encode()).digest() == leaf
    cons = get(base_url, f"/api/v1/audit/proofs/consistency?first=1&second={size}")
    assert cons.status_code == 200 and isinstance(cons.json()["hashes"], list)


@pytest.mark.parametrize(
    "query",
    [
        "inclusion?index=0&treeSize=999999999",
        "inclusion?index=5&treeSize=5",
        "inclusion?index=-1&treeSize=1",
        "inclusion?index=abc&treeSize=1",
        "inclusion?index=0",
        "consistency?first=2&second=1",
        "consistency?first=0&second=999999999",
        "consistency?first=-3&second=1",
        "consistency?first=one&second=2",
    ],
)
def test_bad_proof_requests_are_4xx_problems(base_url, query):
    resp = get(base_url, "/api/v1/audit/proofs/" + query)
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")


def test_entries_need_the_auditor_role(base_url):
    assert get(base_url, "/api/v1/audit/entries/0").status_code == 401
    citizen = api_login(base_url, "demo-citizen")
    assert get(base_url, "/api/v1/audit/entries/0", headers=bearer(citizen)).status_code == 403
    admin = api_login(base_url, "demo-admin")
    assert get(base_url, "/api/v1/audit/entries/0", headers=bearer(admin)).status_code == 200
    assert get(base_url, "/api/v1/audit/entries/999999999", headers=bearer(admin)).status_code == 404


@pytest.mark.skipif(not BINARY.exists(), reason=f"{BINARY} not built")
def test_acknowledged_appends_survive_kill_9():
    with tempfile.TemporaryDirectory(prefix="tongban-kill9-") as tmp:
        db = f"sqlite://{tmp}/audit.sqlite"
        env = dict(os.environ, TONGBAN_LOG_FORMAT="text", LOG_LEVEL="error", TONGBAN_DATA_DIR=tmp)
        subprocess.run([str(BINARY), "migrate", "--database", db], check=True, env=env, capture_output=True, timeout=120)
        proc = subprocess.Popen(
            [str(BINARY), "audit", "append", "--count", "10000000", "--concurrency", "64", "--database", db],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )
        acknowledged: list[int] = []
        try:
            assert proc.stdout is not None
            while len(acknowledged) < 5000:
                line = proc.stdout.readline()
                assert line, "the appender stopped early"
                acknowledged.append(int(line))
        finally:
            proc.send_signal(signal.SIGKILL)
            rest, _ = proc.communicate(timeout=30)
        # Lines already written before the kill were acknowledged too.
        acknowledged += [int(x) for x in rest.split()]
        assert proc.returncode == -signal.SIGKILL
        with sqlite3.connect(f"{tmp}/audit.sqlite") as conn:
            stored = {row[0] for row in conn.execute("SELECT idx FROM audit_entries")}
        missing = [i for i in acknowledged if i not in stored]
        assert not missing, f"{len(missing)} acknowledged entries lost, e.g. {missing[:5]}"
        assert stored == set(range(len(stored))), "the stored indices are consecutive"
        verify = subprocess.run(
            [str(BINARY), "audit", "verify", "--database", db], env=env, capture_output=True, text=True, timeout=300
        )
        assert verify.returncode == 0, verify.stderr
        assert verify.stdout.startswith(f"OK: {len(stored)} entries"), verify.stdout
