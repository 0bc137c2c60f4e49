"""Supervision task hub connectors against a running demo server (TONGBAN_URL): the demo inbound connector
`national-supervision` files a signed task (HMAC-SHA256 with `demo-connector-secret` over "<timestamp>.<body>"),
a repeat is idempotent, bad signatures and stale timestamps are refused, and the registry is for administrators."""
import hashlib
import hmac
import json
import time
import uuid

import requests

from conftest import HTTP_TIMEOUT, api_login, assert_problem, bearer

SECRET = b"demo-connector-secret"
TASKS = "/api/v1/cases/connectors/national-supervision/tasks"


def signed(method, url, body=b"", secret=SECRET, at=None):
    timestamp = str(int(at if at is not None else time.time()))
    signature = "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Tongban-Timestamp": timestamp, "X-Tongban-Signature": signature}
    return requests.request(method, url, data=body or None, headers=headers, timeout=HTTP_TIMEOUT)


def test_demo_connector_files_signed_tasks_idempotently(base_url):
    external = "E2E-" + uuid.uuid4().hex[:12]
    body = json.dumps({"externalId": external, "category": "environment", "title": "端到端督办",
                       "description": "国务院“互联网+督查”平台转来的线索", "department": "440604-STHJ"},
                      ensure_ascii=False).encode()
    first = signed("POST", base_url + TASKS, body)
    assert first.status_code == 201, first.text
    created = first.json()
    assert created["externalId"] == external and created["status"] == "dispatched"
    assert created["department"] == "440604-STHJ" and created["number"].startswith("DB-")
    again = signed("POST", base_url + TASKS, body)
    assert again.status_code == 200 and again.json()["id"] == created["id"]

    assert_problem(signed("POST", base_url + TASKS, body, secret=b"wrong"), 401)
    assert_problem(signed("POST", base_url + TASKS, body, at=time.time() - 600), 401)
    assert_problem(requests.post(base_url + TASKS, data=body, headers={"Content-Type": "application/json"},
                                 timeout=HTTP_TIMEOUT), 401)
    assert_problem(signed("POST", base_url + "/api/v1/cases/connectors/no-such-system/tasks", body), 404)

    status = signed("GET", f"{base_url}{TASKS}/{external}")
    assert status.status_code == 200, status.text
    assert [e["action"] for e in status.json()["timeline"]][:2] == ["create", "connector_filed"]

    admin = api_login(base_url, "demo-admin")["accessToken"]
    listed = requests.get(base_url + "/api/v1/cases/connectors", headers=bearer(admin), timeout=HTTP_TIMEOUT)
    assert listed.status_code == 200
    demo = next(c for c in listed.json()["items"] if c["code"] == "national-supervision")
    assert demo["direction"] == "inbound" and demo["taskSource"] == "national_system" and "secret" not in demo
    env = api_login(base_url, "demo-env")["accessToken"]
    assert_problem(requests.get(base_url + "/api/v1/cases/connectors", headers=bearer(env), timeout=HTTP_TIMEOUT), 403)
