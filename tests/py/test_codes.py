"""One-code contract checks against a running demo server (TONGBAN_URL): issue a code as demo-citizen, verify it
with the demo venue device (X-Api-Key demo-verifier-key), replay, tampering, wrong scenario, unknown device,
garbage, the QR image and the codes trust list."""
import requests

from conftest import HTTP_TIMEOUT, api_login, bearer, id_check_char

VENUE_KEY = "demo-verifier-key"


def citizen_id():
    return "37010219900307123" + id_check_char("37010219900307123")


def issue(base, token, kind="identity"):
    r = requests.post(f"{base}/api/v1/codes", headers=bearer(token), json={"type": kind}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) >= {"payload", "expiresAt", "qr"} and "svgUrl" in body["qr"]
    return body


def verify(base, payload, scenario="venue", key=VENUE_KEY):
    headers = {"X-Api-Key": key} if key is not None else {}
    r = requests.post(f"{base}/api/v1/codes/verify", headers=headers, json={"payload": payload, "scenario": scenario},
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"valid", "reason", "attributes"}
    return body


def test_issue_verify_replay_and_disclosure(base_url):
    token = api_login(base_url, "demo-citizen")["accessToken"]
    code = issue(base_url, token)
    payload = code["payload"]
    assert citizen_id() not in payload
    svg = requests.get(base_url + code["qr"]["svgUrl"], timeout=HTTP_TIMEOUT)
    assert svg.status_code == 200 and "<svg" in svg.text
    first = verify(base_url, payload)
    assert first["valid"] is True
    assert set(first["attributes"]) == {"name", "idNumberMasked"}
    assert first["attributes"]["idNumberMasked"] != citizen_id() and "*" in first["attributes"]["idNumberMasked"]
    second = verify(base_url, payload)
    assert second["valid"] is False and second["reason"] == "replayed"
    scans = requests.get(f"{base_url}/api/v1/codes/scans", headers=bearer(token), timeout=HTTP_TIMEOUT)
    assert scans.status_code == 200 and len(scans.json()["items"]) >= 2


def test_tampered_wrong_scenario_unknown_device_and_garbage(base_url):
    token = api_login(base_url, "demo-citizen")["accessToken"]
    payload = issue(base_url, token)["payload"]
    for i in range(0, len(payload), max(1, len(payload) // 30)):
        c = payload[i]
        mutant = payload[:i] + ("A" if c != "A" else "B") + payload[i + 1:]
        assert verify(base_url, mutant)["valid"] is False, mutant
    assert verify(base_url, payload, scenario="transit")["reason"] == "wrong_scenario"
    assert verify(base_url, payload, key="no-such-key")["reason"] == "unknown_device"
    assert verify(base_url, payload, key=None)["reason"] == "unknown_device"
    for garbage in ["", "garbage", "a.b.c", "~", "x" * 5000]:
        answer = verify(base_url, garbage)
        assert answer["valid"] is False and answer["reason"], garbage
    transit = issue(base_url, token, "transit")["payload"]
    assert verify(base_url, transit)["reason"] == "wrong_scenario"
    assert verify(base_url, payload)["valid"] is True


def test_trust_list_and_bad_requests(base_url):
    trust = requests.get(f"{base_url}/.well-known/tongban-codes-trust-list.json", timeout=HTTP_TIMEOUT)
    assert trust.status_code == 200
    keys = trust.json()["keys"]
    assert keys and all(k["kty"] == "OKP" and k["crv"] == "Ed25519" and "d" not in k for k in keys)
    r = requests.post(f"{base_url}/api/v1/codes", json={"type": "identity"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    token = api_login(base_url, "demo-citizen")["accessToken"]
    r = requests.post(f"{base_url}/api/v1/codes", headers=bearer(token), json={"type": "nope"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 422
    r = requests.post(f"{base_url}/api/v1/codes/verify", headers={"X-Api-Key": VENUE_KEY, "Content-Type": "application/json"}, data="{bad",
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 400
