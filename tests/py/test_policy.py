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
