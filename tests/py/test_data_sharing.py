"""Data sharing contract (issue 6): consent requests with four clarities, approval with a signed receipt
(verified here with joserfc against the published keys), scoped fetches, revocation; sharing requests for
not-shareable resources; the catalogue."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import requests
from joserfc import jws
from joserfc.jwk import OKPKey

from conftest import HTTP_TIMEOUT, api_login, assert_problem, bearer


def _token(base_url: str, username: str) -> str:
    return api_login(base_url, username)["accessToken"]


def _enterprise(base_url: str, token: str) -> str:
    me = requests.get(f"{base_url}/api/v1/me", headers=bearer(token), timeout=HTTP_TIMEOUT).json()
    return me["enterprises"][0]["id"]


def _ask(base_url: str):
    employer = _token(base_url, "demo-enterprise")
    headers = {**bearer(employer), "X-Acting-For": _enterprise(base_url, employer)}
    resp = requests.post(f"{base_url}/api/v1/consents/requests", headers=headers, timeout=HTTP_TIMEOUT, json={
        "scenario": "简历核验", "purpose": "核验应聘者的学历信息，用于招聘录用决定", "durationDays": 30,
        "items": [{"resource": "education-degree", "fields": ["name", "degree", "school"], "full": ["degree"]}],
    })
    assert resp.status_code == 201, resp.text
    return headers, resp.json()


def test_catalogue_lists_at_least_forty_resources_with_sensitivity_levels(base_url):
    resp = requests.get(f"{base_url}/api/v1/data/resources", timeout=HTTP_TIMEOUT)
    assert resp.status_code == 200
    resources = resp.json()
    assert len(resources) >= 40
    for resource in resources:
        assert resource["sharingType"] in ("unconditional", "conditional", "not_shareable")
        assert all(1 <= field["sensitivity"] <= 4 for field in resource["fields"])


def test_consent_request_approve_fetch_revoke(base_url):
    headers, created = _ask(base_url)
    assert set(created) >= {"id", "qrPayload"}
    code = parse_qs(urlsplit(created["qrPayload"]).query)["c"][0]
    citizen = _token(base_url, "demo-citizen")
    clarity = requests.get(f"{base_url}/api/v1/consents/requests/{created['id']}", params={"c": code},
                           headers=bearer(citizen), timeout=HTTP_TIMEOUT).json()
    assert clarity["scenario"] == "简历核验" and clarity["durationDays"] == 30
    resp = requests.post(f"{base_url}/api/v1/consents/requests/{created['id']}/approve", headers=bearer(citizen),
                         json={"code": code, "password": "Tongban-demo-2026"}, timeout=HTTP_TIMEOUT)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert set(body) >= {"consentId", "receipt"}
    receipt = body["receipt"]
    # The receipt's JWS verifies with the published key and its payload is the record itself.
    keys = requests.get(f"{base_url}/api/v1/consents/keys", timeout=HTTP_TIMEOUT).json()["keys"]
    key = next(k for k in keys if k["kid"] == receipt["signature"]["kid"])
    verified = jws.deserialize_compact(receipt["signature"]["jws"], OKPKey.import_key(key), algorithms=["EdDSA"])
    signed = json.loads(verified.payload)
    assert signed["recordId"] == receipt["recordId"] and signed["items"] == receipt["items"]
    consent = body["consentId"]
    data = requests.get(f"{base_url}/api/v1/consents/{consent}/data", headers=headers, timeout=HTTP_TIMEOUT)
    assert data.status_code == 200, data.text
    degree = data.json()["items"]["education-degree"]
    assert degree["name"].endswith("*")  # masked: not granted in full
    assert "*" not in degree["degree"]   # granted in full
    out = requests.get(f"{base_url}/api/v1/consents/{consent}/data", params={"items": "person-basic.id_number"},
                       headers=headers, timeout=HTTP_TIMEOUT)
    assert assert_problem(out, 403)["type"] == "/problems/out-of-scope"
    revoked = requests.delete(f"{base_url}/api/v1/consents/{consent}", headers=bearer(citizen), timeout=HTTP_TIMEOUT)
    assert revoked.status_code == 200
    after = requests.get(f"{base_url}/api/v1/consents/{consent}/data", headers=headers, timeout=HTTP_TIMEOUT)
    assert assert_problem(after, 403)["type"] == "/problems/consent-revoked"


def test_not_shareable_resource_is_a_clear_4xx(base_url):
    clerk = _token(base_url, "demo-clerk")
    resp = requests.post(f"{base_url}/api/v1/data/sharing-requests", headers=bearer(clerk), timeout=HTTP_TIMEOUT, json={
        "resource": "criminal-record-check", "fields": ["name"], "purpose": "招聘核验",
        "legalBasis": "无", "durationDays": 10,
    })
    assert assert_problem(resp, 422)["type"] == "/problems/not-shareable"


def test_garbage_consent_requests_are_4xx(base_url):
    employer = _token(base_url, "demo-enterprise")
    headers = {**bearer(employer), "X-Acting-For": _enterprise(base_url, employer)}
    for body in ({}, {"items": "nope"}, {"scenario": "x", "purpose": "y", "durationDays": 9999, "items": []}):
        resp = requests.post(f"{base_url}/api/v1/consents/requests", headers=headers, json=body, timeout=HTTP_TIMEOUT)
        assert_problem(resp, (400, 422))
    missing = requests.post(f"{base_url}/api/v1/consents/requests/00000000-0000-0000-0000-000000000000/approve",
                            headers=bearer(_token(base_url, "demo-citizen")), json={"code": "x", "password": "y"},
                            timeout=HTTP_TIMEOUT)
    assert_problem(missing, 404)
