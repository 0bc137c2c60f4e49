"""Issue 3 over HTTP against a running demo server: the applications contract, attachments and bundles.

Environment: TONGBAN_URL (required). Uses the demo accounts (password Tongban-demo-2026).
"""

from __future__ import annotations

import hashlib

import pytest
import requests

from conftest import HTTP_TIMEOUT, api_login, assert_problem, bearer, id_check_char

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


def call(base_url, method, path, token=None, **kw):
    kw.setdefault("timeout", HTTP_TIMEOUT)
    headers = kw.pop("headers", {})
    if token:
        headers.update(bearer(token))
    return requests.request(method, base_url + path, headers=headers, **kw)


@pytest.fixture(scope="module")
def demo_service(base_url) -> str:
    items = call(base_url, "GET", "/api/v1/services", params={"q": "joint-approval-demo"}).json()["items"]
    assert items and items[0]["code"] == "joint-approval-demo"
    return items[0]["id"]


@pytest.fixture(scope="module")
def citizen(base_url) -> str:
    return api_login(base_url, "demo-citizen")["accessToken"]


def inbox_task(base_url, username, application):
    token = api_login(base_url, username)["accessToken"]
    tasks = call(base_url, "GET", "/api/v1/tasks", token, params={"limit": 100}).json()
    assert "nextCursor" in tasks
    return token, next((t["id"] for t in tasks["items"] if t.get("applicationId") == application), None)


def test_joint_approval_contract(base_url, demo_service, citizen):
    resp = call(base_url, "POST", "/api/v1/applications", citizen,
                json={"serviceId": demo_service, "form": {"projectName": "契约检查"}, "submit": True})
    assert resp.status_code == 201, resp.text[:300]
    created = resp.json()
    assert {"id", "number", "status"} <= created.keys() and created["status"] == "submitted"
    app_id = created["id"]
    # Approvers see nothing before acceptance; the clerk accepts through the tasks API.
    assert inbox_task(base_url, "demo-approver-1", app_id)[1] is None
    clerk, task = inbox_task(base_url, "demo-clerk", app_id)
    assert task
    accepted = call(base_url, "POST", f"/api/v1/tasks/{task}/actions", clerk, json={"action": "accept"})
    assert accepted.status_code == 200, accepted.text[:300]
    again = call(base_url, "POST", f"/api/v1/tasks/{task}/actions", clerk, json={"action": "accept"})
    assert_problem(again, 409)
    for index in (1, 2, 3):
        token, task = inbox_task(base_url, f"demo-approver-{index}", app_id)
        assert task, f"demo-approver-{index} has no task"
        ok = call(base_url, "POST", f"/api/v1/tasks/{task}/actions", token, json={"action": "approve", "comment": "同意"})
        assert ok.status_code == 200, ok.text[:300]
    final = call(base_url, "GET", f"/api/v1/applications/{app_id}", citizen).json()
    assert final["status"] == "approved"
    actions = [entry["action"] for entry in final["timeline"]]
    assert actions[0] == "created" and actions.count("approve") == 4


@pytest.mark.parametrize("body,field", [
    ({"form": {"projectName": "x"}, "submit": True}, "serviceId"),
    ({"serviceId": "00000000-0000-0000-0000-000000000000", "form": {}, "submit": True}, "serviceId"),
    ({"form": {"wrongField": "x"}, "submit": True}, "form.projectName"),
])
def test_create_application_bad_input(base_url, demo_service, citizen, body, field):
    if field.startswith("form"):
        body = {**body, "serviceId": demo_service}
    resp = call(base_url, "POST", "/api/v1/applications", citizen, json=body)
    problem = assert_problem(resp, 422)
    assert field in {e["field"] for e in problem.get("errors", [])}


def test_task_action_by_wrong_department_is_404(base_url, demo_service, citizen):
    created = call(base_url, "POST", "/api/v1/applications", citizen,
                   json={"serviceId": demo_service, "form": {"projectName": "跨部门"}, "submit": True}).json()
    _, task = inbox_task(base_url, "demo-clerk", created["id"])
    other = api_login(base_url, "demo-approver-2")["accessToken"]
    assert_problem(call(base_url, "POST", f"/api/v1/tasks/{task}/actions", other, json={"action": "accept"}), 404)
    clerk = api_login(base_url, "demo-clerk")["accessToken"]
    assert_problem(call(base_url, "POST", f"/api/v1/tasks/{task}/actions", clerk, json={"action": "fly"}), 422)


def test_attachment_upload_download_and_limits(base_url, demo_service, citizen):
    draft = call(base_url, "POST", "/api/v1/applications", citizen,
                 json={"serviceId": demo_service, "form": {"projectName": "附件"}}).json()
    path = f"/api/v1/applications/{draft['id']}/attachments"
    up = call(base_url, "POST", path, citizen, files={"file": ("方案.pdf", PDF, "application/pdf")})
    assert up.status_code == 201, up.text[:300]
    stored = up.json()
    assert stored["sha256"] == hashlib.sha256(PDF).hexdigest()
    down = call(base_url, "GET", stored["downloadUrl"], citizen)
    assert down.status_code == 200 and down.content == PDF
    stranger = api_login(base_url, "demo-enterprise")["accessToken"]
    assert_problem(call(base_url, "GET", stored["downloadUrl"], stranger), 404)
    assert_problem(call(base_url, "GET", stored["downloadUrl"]), 401)
    # A forbidden type by content, whatever the declared type; too large.
    assert_problem(call(base_url, "POST", path, citizen, files={"file": ("x.pdf", b"MZ\x90\x00", "application/pdf")}), 415)
    big = PDF + b" " * (10 * 1024 * 1024 + 100 * 1024)  # over the 10 MiB default, within the body limit
    assert_problem(call(base_url, "POST", path, citizen, files={"file": ("big.pdf", big, "application/pdf")}), 413)
    listed = call(base_url, "GET", path, citizen).json()["items"]
    assert [item["id"] for item in listed] == [stored["id"]]


def test_bundle_splits_into_parallel_parts(base_url, citizen):
    bundle = call(base_url, "GET", "/api/v1/bundles/home-transfer").json()
    assert len(bundle["services"]) == 4 and "buyerName" in bundle["sharedFields"]
    body17 = "37010219900307123"
    form = {
        "buyerName": "李明", "buyerIdNumber": body17 + id_check_char(body17), "sellerName": "张伟",
        "sellerIdNumber": "37010219700101001" + id_check_char("37010219700101001"),
        "unitNumber": "370102001001GB00001F00010001", "price": 120, "phone": "13800138000", "utilityTransfer": "yes",
        "waterAccount": "1234567890", "powerAccount": "0987654321", "gasAccount": "12345678",
    }
    bad = call(base_url, "POST", "/api/v1/bundles/home-transfer/applications", citizen,
               json={"form": {**form, "gasAccount": "1"}, "submit": True})
    assert "form.gasAccount" in {e["field"] for e in assert_problem(bad, 422)["errors"]}
    resp = call(base_url, "POST", "/api/v1/bundles/home-transfer/applications", citizen, json={"form": form, "submit": True})
    assert resp.status_code == 201, resp.text[:300]
    whole = resp.json()
    assert whole["status"] == "submitted" and len(whole["applications"]) == 4
    progress = call(base_url, "GET", "/api/v1/progress", params={"number": whole["number"], "idTail": form["buyerIdNumber"][-6:]})
    assert progress.status_code == 200 and len(progress.json()["parts"]) == 4
    assert_problem(call(base_url, "GET", "/api/v1/bundles/nope"), 404)
