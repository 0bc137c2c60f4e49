"""Policy contract checks against a running demo server (TONGBAN_URL): CEL evaluation, matching a profile
and the demo enterprise by credit code, the published items, and hostile expressions."""
import time

import requests

from conftest import HTTP_TIMEOUT, api_login, assert_problem, bearer

EVALUATE = "/api/v1/policy/expressions/evaluate"
MATCH = "/api/v1/policy/match"


def post(base, path, token=None, headers=None, **kwargs):
    headers = {**(bearer(token) if token else {}), **(headers or {})}
    return requests.post(base + path, headers=headers, timeout=HTTP_TIMEOUT, **kwargs)


def test_evaluate_values_errors_and_syntax(base_url):
    admin = api_login(base_url, "demo-admin")
    ctx = {"profile": {"revenue": 6000000.0, "industry": "C", "rdSpend": 2000000.0, "employees": 120}}
    r = post(base_url, EVALUATE, admin, json={
        "expression": "profile.revenue >= 5000000.0 && profile.industry in ['C', 'I']", "context": ctx})
    assert r.status_code == 200, r.text
    assert r.json() == {"value": True}
    r = post(base_url, EVALUATE, admin, json={"expression": "min(0.1 * profile.rdSpend, 500000.0)", "context": ctx})
    assert r.status_code == 200 and r.json()["value"] == 200000.0
    r = post(base_url, EVALUATE, admin, json={"expression": "profile.employees + 1", "context": ctx})
    assert r.json()["value"] == 121 and isinstance(r.json()["value"], int)
    for expression in ("1 / 0", "profile.nosuch == 1", "9223372036854775807 + 1", "profile.employees * 0.5"):
        r = post(base_url, EVALUATE, admin, json={"expression": expression, "context": ctx})
        assert r.status_code == 200, (expression, r.text)
        body = r.json()
        assert isinstance(body.get("error"), str) and body["error"], (expression, body)
        assert "value" not in body
    r = post(base_url, EVALUATE, admin, json={"expression": "profile.revenue >=\n   && true", "context": ctx})
    body = assert_problem(r, 422)
    assert body["line"] == 2 and isinstance(body["column"], int) and body["column"] >= 1, body
    assert body["errors"] and {"line", "column", "field", "message"} <= set(body["errors"][0]), body


def test_endpoints_need_a_login(base_url):
    assert_problem(requests.post(base_url + EVALUATE, json={"expression": "1 + 1"}, timeout=HTTP_TIMEOUT), 401)
    assert_problem(requests.post(base_url + MATCH, json={"profile": {}}, timeout=HTTP_TIMEOUT), 401)


def test_match_profile_conditions_and_amounts(base_url):
    citizen = api_login(base_url, "demo-citizen")
    profile = {"region": "350206", "industry": "C", "revenue": 25000000.0, "rdSpend": 3000000.0,
               "creditRating": "A", "taxPaid": 1200000.0, "employees": 200, "qualifications": ["high_tech"],
               "newHires": 4, "tags": [], "registeredCapital": 10000000.0}
    r = post(base_url, MATCH, citizen, json={"profile": profile})
    assert r.status_code == 200, r.text
    matches = {m["code"]: m for m in r.json()["matches"]}
    for m in matches.values():
        assert {"itemId", "eligible", "amount", "conditions"} <= set(m), m
        for c in m["conditions"]:
            assert c["result"] in ("passed", "failed", "missing") and c["text"], c
    rd = matches["XM-RD-01"]
    assert rd["eligible"] is True and rd["amount"] == 300000.0
    assert matches["XM-HT-01"]["amount"] == 200000.0
    emp = matches["XM-EMP-01"]
    assert emp["eligible"] is False and [c["result"] for c in emp["conditions"]] == ["passed", "missing", "passed"]
    assert matches["CS-FR-01"]["conditions"][0]["result"] == "failed"


def test_match_by_uscc_for_the_enterprise_only(base_url):
    enterprise = api_login(base_url, "demo-enterprise")
    me = requests.get(base_url + "/api/v1/me", headers=bearer(enterprise), timeout=HTTP_TIMEOUT).json()
    uscc = me["enterprises"][0]["creditCode"]
    r = post(base_url, MATCH, enterprise, json={"uscc": uscc})
    assert r.status_code == 200, r.text
    matches = {m["code"]: m for m in r.json()["matches"]}
    assert matches["CN-SME-01"]["eligible"] is True and matches["CN-SME-01"]["amount"] == 210000.0
    assert [c["result"] for c in matches["CN-EMP-01"]["conditions"]] == ["passed", "missing"]
    citizen = api_login(base_url, "demo-citizen")
    assert_problem(post(base_url, MATCH, citizen, json={"uscc": uscc}), 404)


def test_published_items_listed(base_url):
    r = requests.get(base_url + "/api/v1/policy/items?limit=100", timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    items = r.json()["items"]
    assert len(items) >= 20 and all(i["status"] == "published" for i in items)
    assert any(i.get("amountExpression") == "min(0.1 * profile.rdSpend, 500000.0)" for i in items)


def test_hostile_expressions_answer_fast(base_url):
    admin = api_login(base_url, "demo-admin")
    start = time.monotonic()
    r = post(base_url, EVALUATE, admin, json={"expression": "'" + "a" * 3000 + "!'.matches('(a+)+$')"})
    assert r.status_code == 200 and r.json() == {"value": False}, r.text
    assert_problem(post(base_url, EVALUATE, admin, json={"expression": "(" * 3000 + "1" + ")" * 3000}), 422)
    assert_problem(post(base_url, EVALUATE, admin, json={"expression": "1 + " * 6000 + "1"}), 422)
    assert_problem(post(base_url, EVALUATE, admin, json={"expression": "'a' + 1"}), 422)
    ten = "[1,2,3,4,5,6,7,8,9,10]"
    nested = f"{ten}.map(a, {ten}.map(b, {ten}.map(c, {ten}.map(d, {ten}.map(e, a * b * c * d * e)))))"
    r = post(base_url, EVALUATE, admin, json={"expression": nested})
    assert r.status_code == 200 and "error" in r.json(), r.text
    assert_problem(post(base_url, EVALUATE, admin, data="{not json", headers={"content-type": "application/json"}), 400)
    assert time.monotonic() - start < 15
    # The server is still there.
    assert requests.get(base_url + "/healthz", timeout=HTTP_TIMEOUT).status_code == 200


# --------------------------------------------------------------------------------------------
# profiles, versioned items, batch matching and notices
# --------------------------------------------------------------------------------------------

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def uscc(serial):
    """A valid unified social credit code (GB 32100) with a unique serial."""
    body = "91350203MA" + f"{serial:07d}"[-7:]
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(body, USCC_WEIGHTS))
    check = (31 - total % 31) % 31
    return body + USCC_CHARS[check]


def test_import_publish_match_notify(base_url):
    admin = api_login(base_url, "demo-admin")
    serial = int(time.time() * 1000) % 9_000_000
    good, other = uscc(serial), uscc(serial + 1)
    # Every error of every row at once; nothing stored.
    r = post(base_url, "/api/v1/policy/profiles/import", admin, json=[
        {"creditCode": good, "name": "契约测试甲", "employees": "many"}, {"creditCode": "123", "name": "乙"}])
    body = assert_problem(r, 422)
    fields = {e["field"] for e in body["errors"]}
    assert {"[0].employees", "[1].creditCode"} <= fields, body
    # CSV import.
    csv = f"creditCode,name,industry,employees,revenue\n{good},契约测试甲,C,321,77000000\n{other},契约测试乙,F,3,100000\n"
    r = post(base_url, "/api/v1/policy/profiles/import", admin, headers={"Content-Type": "text/csv"}, data=csv.encode())
    assert r.status_code == 200, r.text
    assert r.json()["created"] + r.json()["updated"] == 2
    # A new item for exactly the first profile; a rule with a syntax error is refused with its position.
    code = f"CT-{serial}"
    item = {"code": code, "title": "契约测试奖励", "mode": "apply",
            "conditions": [{"text": "员工恰为 321 人", "expression": "profile.employees == 321"}], "amountExpression": "12345.0"}
    bad = dict(item, conditions=[{"text": "坏", "expression": "profile.employees =="}])
    assert_problem(post(base_url, "/api/v1/policy/items", admin, json=bad), 422)
    r = post(base_url, "/api/v1/policy/items", admin, json=item)
    assert r.status_code == 201, r.text
    item_id = r.json()["id"]
    r = post(base_url, f"/api/v1/policy/items/{item_id}/dry-run", admin)
    assert r.status_code == 200 and r.json()["eligible"] >= 1, r.text
    assert post(base_url, f"/api/v1/policy/items/{item_id}/publish", admin).json()["version"] == 1
    r = post(base_url, "/api/v1/policy/matching/run", admin, json={"mode": "incremental"})
    assert r.status_code == 200, r.text
    r = requests.get(base_url + f"/api/v1/policy/items/{item_id}/matches", headers=bearer(admin), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    matched = {m["creditCode"]: m for m in r.json()["items"]}
    assert good in matched and other not in matched, r.json()
    assert matched[good]["amount"] == 12345.0
    # A new version: the live rules change only when it is published.
    r = requests.put(base_url + f"/api/v1/policy/items/{item_id}", headers=bearer(admin), timeout=HTTP_TIMEOUT,
                     json={"amountExpression": "20000.0"})
    assert r.status_code == 200 and r.json()["version"] == 1 and r.json()["pendingRevision"]["amountExpression"] == "20000.0"
    assert post(base_url, f"/api/v1/policy/items/{item_id}/publish", admin).json()["version"] == 2
    post(base_url, "/api/v1/policy/matching/run", admin, json={})
    r = requests.get(base_url + f"/api/v1/policy/items/{item_id}/versions", timeout=HTTP_TIMEOUT)
    assert [v["version"] for v in r.json()] == [2, 1]
    r = requests.get(base_url + f"/api/v1/policy/items/{item_id}/matches", headers=bearer(admin), timeout=HTTP_TIMEOUT)
    assert {m["creditCode"]: m["amount"] for m in r.json()["items"]}.get(good) == 20000.0
    # Bad inputs.
    assert_problem(post(base_url, "/api/v1/policy/matching/run", admin, json={"mode": "sometimes"}), 422)
    assert_problem(post(base_url, "/api/v1/policy/matching/run", api_login(base_url, "demo-citizen"), json={}), 403)
    r = requests.put(base_url + "/api/v1/policy/subscriptions", headers=bearer(admin), timeout=HTTP_TIMEOUT, json={"tags": ["nonsense"]})
    assert_problem(r, 422)
