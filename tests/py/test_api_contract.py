"""HTTP contract checks (requests only, no browser) against a running Tongban with demo data.

Covers the API conventions in shared/API.md: auth, profile masking, registration and validation,
service catalogue, problem+json errors (400/401/404/413/422), operations endpoints, OpenAPI, and
that pages never echo user input unescaped. Environment: TONGBAN_URL (required).
"""

from __future__ import annotations

import html
import http.client
import json
import re
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from conftest import (
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    HTTP_TIMEOUT,
    STRONG_PASSWORD,
    api_login,
    assert_logged_in,
    assert_problem,
    bearer,
    extract_csrf,
    form_login,
    new_session,
    id_check_char,
    mask_id,
    mask_phone,
    problem_fields,
    register_payload,
    unique_username,
)

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MASKED_ID_RE = re.compile(r"^\d{6}\*{8}\d{3}[\dX]$")
MASKED_PHONE_RE = re.compile(r"^\d{3}\*{4}\d{4}$")
# An unmasked 18-character resident ID or 11-digit mobile number anywhere in a page.
FULL_ID_IN_TEXT = re.compile(r"(?<![\d*])\d{17}[\dXx](?![\d*])")
FULL_PHONE_IN_TEXT = re.compile(r"(?<![\d*])1[3-9]\d{9}(?![\d*])")
HTML_LANG_RE = re.compile(r"""<html\b[^>]*\blang\s*=\s*["']?([A-Za-z-]+)""", re.IGNORECASE)

XSS = "<script>alert(1)</script>"
XSS_ATTR = '"><img src=x onerror=alert(1)>'


def get(base_url, path, **kw):
    kw.setdefault("timeout", HTTP_TIMEOUT)
    return requests.get(base_url + path, **kw)


def post(base_url, path, **kw):
    kw.setdefault("timeout", HTTP_TIMEOUT)
    return requests.post(base_url + path, **kw)


def media_type(resp) -> str:
    return resp.headers.get("Content-Type", "").split(";")[0].strip().lower()


@pytest.fixture(scope="session")
def services(base_url) -> list[dict]:
    resp = get(base_url, "/api/v1/services")
    assert resp.status_code == 200, f"GET /api/v1/services -> {resp.status_code}: {resp.text[:200]}"
    items = resp.json()["items"]
    assert items, "no published services: is the server running with --demo?"
    return items


@pytest.fixture(scope="session")
def registered(base_url) -> dict:
    """A freshly registered citizen (its payload), shared by the tests that need one."""
    payload = register_payload()
    resp = post(base_url, "/api/v1/auth/register", json=payload)
    assert resp.status_code == 201, f"register -> {resp.status_code}: {resp.text[:300]}"
    return payload


# --------------------------------------------------------------------------------------------
# operations
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints(base_url, path):
    resp = get(base_url, path)
    assert resp.status_code == 200, f"{path} -> {resp.status_code}: {resp.text[:200]}"


def test_metrics_is_prometheus_text(base_url):
    get(base_url, "/api/v1/services")  # make sure at least one request was counted
    resp = get(base_url, "/metrics")
    assert resp.status_code == 200
    assert media_type(resp) == "text/plain", f"/metrics Content-Type {resp.headers.get('Content-Type')!r}"
    lines = [ln for ln in resp.text.splitlines() if ln and not ln.startswith("#")]
    assert lines, "/metrics has no samples"
    sample = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?\s+[-+0-9.eEInfNa]+(\s+\d+)?$")
    bad = [ln for ln in lines if not sample.match(ln)]
    assert not bad, f"/metrics lines not in Prometheus text format: {bad[:5]}"
    assert "# TYPE" in resp.text, "/metrics declares no # TYPE"


def test_openapi_document(base_url):
    resp = get(base_url, "/openapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    assert str(doc.get("openapi", "")).startswith("3.1"), f"openapi = {doc.get('openapi')!r}, expected 3.1.x"
    paths = doc.get("paths") or {}
    assert "/api/v1/services" in paths, f"/api/v1/services missing from paths: {sorted(paths)[:30]}"
    for expected in ("/api/v1/auth/login", "/api/v1/auth/register", "/api/v1/me"):
        assert expected in paths, f"{expected} missing from /openapi.json paths"
    assert any(re.fullmatch(r"/api/v1/services/\{[^}]+\}", p) for p in paths), (
        "/api/v1/services/{id} missing from /openapi.json paths"
    )


# --------------------------------------------------------------------------------------------
# authentication and profile
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("username", DEMO_ACCOUNTS)
def test_demo_accounts_log_in(base_url, username):
    tokens = api_login(base_url, username)
    assert tokens["tokenType"] == "Bearer"
    assert isinstance(tokens["expiresIn"], int) and tokens["expiresIn"] > 0, tokens
    assert isinstance(tokens.get("refreshToken"), str) and tokens["refreshToken"], tokens
    me = get(base_url, "/api/v1/me", headers=bearer(tokens))
    assert me.status_code == 200, f"/api/v1/me as {username} -> {me.status_code}: {me.text[:200]}"
    assert media_type(me) == "application/json"
    body = me.json()
    assert body.get("username") == username, body
    if body.get("idNumber"):
        assert MASKED_ID_RE.match(body["idNumber"]), f"idNumber not masked: {body['idNumber']!r}"
    if body.get("phone"):
        assert MASKED_PHONE_RE.match(body["phone"]), f"phone not masked: {body['phone']!r}"


def test_citizen_profile_is_masked(base_url):
    body = get(base_url, "/api/v1/me", headers=bearer(api_login(base_url, "demo-citizen"))).json()
    assert MASKED_ID_RE.match(body.get("idNumber") or ""), f"demo-citizen idNumber {body.get('idNumber')!r}"
    assert MASKED_PHONE_RE.match(body.get("phone") or ""), f"demo-citizen phone {body.get('phone')!r}"
    raw = json.dumps(body)
    assert not FULL_ID_IN_TEXT.search(raw) and not FULL_PHONE_IN_TEXT.search(raw), f"unmasked value in {raw}"


def test_me_without_token_is_401_problem(base_url):
    assert_problem(get(base_url, "/api/v1/me"), 401)


def test_me_with_bad_token_is_401_problem(base_url):
    assert_problem(get(base_url, "/api/v1/me", headers=bearer("not-a-real-token")), 401)
    tampered = api_login(base_url, "demo-citizen")["accessToken"][:-4] + "AAAA"
    assert_problem(get(base_url, "/api/v1/me", headers=bearer(tampered)), 401)


def test_wrong_password_is_401_problem(base_url, registered):
    resp = post(base_url, "/api/v1/auth/login", json={"username": registered["username"], "password": "wrong-" + STRONG_PASSWORD})
    body = assert_problem(resp, 401)
    assert "accessToken" not in body
    assert STRONG_PASSWORD not in resp.text


def test_unknown_user_is_401_like_wrong_password(base_url):
    resp = post(base_url, "/api/v1/auth/login", json={"username": unique_username("nobody"), "password": DEMO_PASSWORD})
    assert_problem(resp, 401)


# --------------------------------------------------------------------------------------------
# registration
# --------------------------------------------------------------------------------------------

def test_register_then_login_and_masked_profile(base_url, registered):
    tokens = api_login(base_url, registered["username"], registered["password"])
    body = get(base_url, "/api/v1/me", headers=bearer(tokens)).json()
    assert body.get("username") == registered["username"]
    assert body.get("name") in (registered["name"], registered["name"][0] + "*" * (len(registered["name"]) - 1)), (
        f"name {body.get('name')!r}, expected {registered['name']!r} (or masked)"
    )
    assert body.get("idNumber") == mask_id(registered["idNumber"]), (body.get("idNumber"), registered["idNumber"])
    assert body.get("phone") == mask_phone(registered["phone"]), (body.get("phone"), registered["phone"])


def test_register_sample_values_from_docs(base_url):
    """The documented sample ID 11010519491231002X and mobile 13812345678 are accepted (or already taken)."""
    payload = register_payload(idNumber="11010519491231002X", phone="13812345678")
    resp = post(base_url, "/api/v1/auth/register", json=payload)
    if resp.status_code == 409:  # the sample ID is already registered (e.g. by an earlier run)
        assert_problem(resp, 409)
        return
    assert resp.status_code == 201, f"register -> {resp.status_code}: {resp.text[:300]}"
    body = get(base_url, "/api/v1/me", headers=bearer(api_login(base_url, payload["username"], payload["password"]))).json()
    assert body.get("idNumber") == "110105********002X"
    assert body.get("phone") == "138****5678"


def _bad_check_char(idn: str) -> str:
    good = id_check_char(idn[:17])
    return idn[:17] + ("0" if good != "0" else "1")


@pytest.mark.parametrize(
    "make_id",
    [
        pytest.param(lambda p: _bad_check_char(p["idNumber"]), id="bad-check-char"),
        pytest.param(lambda p: p["idNumber"][:10], id="too-short"),
        pytest.param(lambda p: "ABCDEFGHIJKLMNOPQR", id="letters"),
        pytest.param(lambda p: (lambda b: b + id_check_char(b))("11010519491332002"), id="impossible-date"),
        pytest.param(lambda p: (lambda b: b + id_check_char(b))("99010519491231002"), id="unknown-province"),
        pytest.param(lambda p: "", id="empty"),
    ],
)
def test_register_invalid_id_number_is_422(base_url, make_id):
    payload = register_payload()
    payload["idNumber"] = make_id(payload)
    resp = post(base_url, "/api/v1/auth/register", json=payload)
    body = assert_problem(resp, 422)
    assert "idNumber" in problem_fields(body), f"errors[] does not name idNumber: {body.get('errors')}"
    if len(payload["idNumber"]) == 18 and payload["idNumber"][:17].isdigit():
        assert payload["idNumber"] not in json.dumps(body), "the problem echoes the full ID number"


def test_register_invalid_phone_is_422(base_url):
    resp = post(base_url, "/api/v1/auth/register", json=register_payload(phone="12345"))
    body = assert_problem(resp, 422)
    assert "phone" in problem_fields(body), f"errors[] does not name phone: {body.get('errors')}"


def test_register_missing_fields_is_4xx_problem(base_url):
    resp = post(base_url, "/api/v1/auth/register", json={"username": unique_username()})
    assert_problem(resp, (400, 422))


def test_register_duplicate_username_is_rejected(base_url, registered):
    resp = post(base_url, "/api/v1/auth/register", json=register_payload(username=registered["username"]))
    assert_problem(resp, (409, 422))


# --------------------------------------------------------------------------------------------
# malformed input, unknown routes, size limit
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/auth/register"])
def test_malformed_json_is_400_problem(base_url, path):
    resp = post(base_url, path, data=b'{"username": "demo-citizen", "password": ', headers={"Content-Type": "application/json"})
    assert_problem(resp, 400)


@pytest.mark.parametrize(
    "body",
    [b"[]", b'"just a string"', b'{"username": 1, "password": ["x"]}', b"null"],
    ids=["array", "string", "wrong-types", "null"],
)
def test_wrong_shape_json_is_4xx_problem(base_url, body):
    resp = post(base_url, "/api/v1/auth/login", data=body, headers={"Content-Type": "application/json"})
    assert_problem(resp, (400, 422))


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/v1/no-such-route"),
    ("GET", "/api/v1/services/x/y/z"),
    ("POST", "/api/v1/no-such-route"),
    ("GET", "/api/v2/services"),
])
def test_unknown_api_route_is_404_problem(base_url, method, path):
    resp = requests.request(method, base_url + path, json={} if method == "POST" else None, timeout=HTTP_TIMEOUT)
    assert_problem(resp, 404)


def test_oversize_body_is_413_problem(base_url):
    """A body over 1 MB gets a 413 problem. Sent with http.client so that a server that answers
    early and stops reading (a broken pipe on our side) still has its answer read."""
    big = json.dumps({"username": "x" * 1_100_000, "password": "y"}).encode()
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=HTTP_TIMEOUT)
    try:
        try:
            conn.request("POST", "/api/v1/auth/login", body=big, headers={"Content-Type": "application/json"})
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            resp = conn.getresponse()
        except (ConnectionError, http.client.HTTPException) as exc:
            pytest.fail(f"no answer to a 1.1 MB body (connection dropped instead of a 413): {exc!r}")
        status, ctype, raw = resp.status, resp.getheader("Content-Type", ""), resp.read()
    finally:
        conn.close()
    assert status == 413, f"1.1 MB body -> {status}: {raw[:200]!r}"
    assert ctype.split(";")[0].strip().lower() == "application/problem+json", f"413 Content-Type {ctype!r}"
    body = json.loads(raw)
    assert body.get("status") == 413 and {"type", "title", "detail", "instance"} <= body.keys(), body


def test_body_under_limit_is_not_413(base_url):
    body = json.dumps({"username": "x" * 900_000, "password": "y"}).encode()
    resp = post(base_url, "/api/v1/auth/login", data=body, headers={"Content-Type": "application/json"})
    assert resp.status_code != 413, "a 900 kB body was refused as too large (limit is 1 MB)"
    assert resp.status_code < 500, f"-> {resp.status_code}: {resp.text[:200]}"


# --------------------------------------------------------------------------------------------
# service catalogue
# --------------------------------------------------------------------------------------------

def test_service_list_shape(base_url, services):
    resp = get(base_url, "/api/v1/services")
    body = resp.json()
    assert media_type(resp) == "application/json"
    assert "nextCursor" in body, f"list lacks nextCursor: {list(body)}"
    assert len(body["items"]) <= 20, "default page size is 20"
    for item in body["items"]:
        for key in ("id", "code", "name"):
            assert item.get(key), f"service item lacks {key}: {item}"
        assert UUID_RE.match(item["id"]), f"service id is not a UUID: {item['id']!r}"


def test_service_list_pagination(base_url):
    seen: list[str] = []
    cursor = None
    for _ in range(4):
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        resp = get(base_url, "/api/v1/services", params=params)
        assert resp.status_code == 200, resp.text[:200]
        body = resp.json()
        assert len(body["items"]) <= 2
        seen += [i["id"] for i in body["items"]]
        cursor = body.get("nextCursor")
        if not cursor:
            break
    assert len(seen) == len(set(seen)), f"pages repeat items: {seen}"
    assert len(seen) >= 3, f"demo data should have more than 2 published services (got {len(seen)})"


@pytest.mark.parametrize("params,field", [({"limit": 1000}, "limit"), ({"limit": 0}, "limit"),
                                          ({"cursor": "not-a-cursor!"}, "cursor")])
def test_service_list_bad_paging_is_422(base_url, params, field):
    body = assert_problem(get(base_url, "/api/v1/services", params=params), 422)
    assert field in problem_fields(body), body


def test_service_by_id(base_url, services):
    first = services[0]
    resp = get(base_url, f"/api/v1/services/{first['id']}")
    assert resp.status_code == 200, resp.text[:200]
    body = resp.json()
    assert body["id"] == first["id"] and body["code"] == first["code"] and body["name"] == first["name"]


@pytest.mark.parametrize("sid", [str(uuid.uuid4()), "not-a-uuid"])
def test_unknown_service_is_404_problem(base_url, sid):
    assert_problem(get(base_url, f"/api/v1/services/{sid}"), (404,) if UUID_RE.match(sid) else (400, 404))


def test_service_search_finds_by_name(base_url, services):
    target = services[0]
    resp = get(base_url, "/api/v1/services", params={"q": target["name"], "limit": 100})
    assert resp.status_code == 200, resp.text[:200]
    ids = [i["id"] for i in resp.json()["items"]]
    assert target["id"] in ids, f"searching the exact name {target['name']!r} did not find it"


@pytest.mark.parametrize("q", ["许可", "licence", XSS, "%", "'; DROP TABLE services; --", "a" * 100])
def test_service_search_any_query_is_200(base_url, q):
    resp = get(base_url, "/api/v1/services", params={"q": q})
    assert resp.status_code == 200, f"q={q[:40]!r} -> {resp.status_code}: {resp.text[:200]}"
    assert isinstance(resp.json()["items"], list)


# --------------------------------------------------------------------------------------------
# pages
# --------------------------------------------------------------------------------------------

PUBLIC_PAGES = ["/", "/services", "/services?q=许可", "/zones", "/login", "/register", "/about/accessibility"]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_render(base_url, path):
    resp = get(base_url, path)
    assert resp.status_code == 200, f"{path} -> {resp.status_code}"
    assert media_type(resp) == "text/html"
    assert HTML_LANG_RE.search(resp.text) and HTML_LANG_RE.search(resp.text).group(1) == "zh-CN", (
        f"{path}: <html lang> is not zh-CN"
    )
    en = get(base_url, path + ("&" if "?" in path else "?") + "lang=en")
    m = HTML_LANG_RE.search(en.text)
    assert m and re.fullmatch(r"en(-[A-Za-z]+)?", m.group(1)), f"{path}?lang=en: <html lang> is {m and m.group(1)!r}"


def test_service_guide_page(base_url, services):
    first = services[0]
    resp = get(base_url, f"/services/{first['id']}")
    assert resp.status_code == 200, resp.status_code
    assert html.unescape(resp.text).find(first["name"]) >= 0, f"service guide does not show {first['name']!r}"


def test_unknown_service_page_is_404_html(base_url):
    resp = get(base_url, f"/services/{uuid.uuid4()}")
    assert resp.status_code == 404
    assert media_type(resp) == "text/html"


def test_me_page_redirects_to_login(base_url):
    resp = get(base_url, "/me", allow_redirects=False)
    assert resp.status_code in (302, 303, 307), f"/me without login -> {resp.status_code}"
    assert "/login" in resp.headers.get("Location", ""), resp.headers.get("Location")


def test_login_form_has_fields(base_url):
    text = get(base_url, "/login").text
    for name in ("username", "password"):
        assert re.search(rf"""<input[^>]*\bname\s*=\s*["']?{name}["'\s/>]""", text), f"/login has no input name={name}"
    assert re.search(r"""<input[^>]*\btype\s*=\s*["']?password["'\s/>]""", text), "/login has no type=password input"
    assert extract_csrf(text), "/login has no hidden _csrf value"


def test_form_login_and_me_page(base_url):
    session, resp = form_login(base_url, "demo-citizen")
    assert resp.history and resp.history[0].status_code in (301, 302, 303), (
        f"POST /login did not redirect (status {resp.status_code})"
    )
    me = assert_logged_in(session, base_url)
    assert "demo-citizen" in me.text
    assert not FULL_ID_IN_TEXT.search(me.text), "an unmasked ID number appears on /me"
    assert not FULL_PHONE_IN_TEXT.search(me.text), "an unmasked mobile number appears on /me"


def test_form_login_wrong_password_stays_out(base_url, registered):
    session, resp = form_login(base_url, registered["username"], "wrong-" + STRONG_PASSWORD)
    assert resp.status_code < 500
    me = session.get(base_url + "/me", allow_redirects=False)
    assert me.status_code in (302, 303, 307), f"/me after a failed login -> {me.status_code}"


def test_form_login_without_csrf_is_refused(base_url):
    s = new_session()
    s.get(base_url + "/login")
    resp = s.post(base_url + "/login", data={"username": "demo-citizen", "password": DEMO_PASSWORD}, allow_redirects=False)
    assert resp.status_code in (400, 403, 422) or "/login" in resp.headers.get("Location", ""), (
        f"POST /login without _csrf -> {resp.status_code} {resp.headers.get('Location')}"
    )
    me = s.get(base_url + "/me", allow_redirects=False)
    assert me.status_code in (302, 303, 307), "a login without the CSRF token succeeded"


# --------------------------------------------------------------------------------------------
# appointments (halls, slots, bookings)
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def halls(base_url) -> list[dict]:
    resp = get(base_url, "/api/v1/halls", params={"limit": 100})
    assert resp.status_code == 200, f"GET /api/v1/halls -> {resp.status_code}: {resp.text[:200]}"
    body = resp.json()
    assert "nextCursor" in body, f"list lacks nextCursor: {list(body)}"
    assert body["items"], "no service halls: is the server running with --demo?"
    return body["items"]


def _available_slot(base_url, halls) -> dict:
    """The first slot with a free place on the next 21 days (the demo opens 10 working days)."""
    import datetime

    today = datetime.date.today()
    for offset in range(21):
        day = (today + datetime.timedelta(days=offset)).isoformat()
        for hall in halls:
            resp = get(base_url, f"/api/v1/halls/{hall['id']}/slots", params={"date": day, "limit": 100})
            assert resp.status_code == 200, resp.text[:200]
            free = [s for s in resp.json()["items"] if s["available"]]
            if free:
                return free[0]
    pytest.fail("no available slot in the demo halls on the next 21 days")


def test_halls_are_public_with_windows_and_hours(halls):
    for hall in halls:
        assert UUID_RE.match(hall["id"]), hall
        for key in ("code", "name", "nameEn", "address"):
            assert hall.get(key), f"hall lacks {key}: {hall}"
        assert hall["openingHours"] and all({"start", "end"} <= p.keys() for p in hall["openingHours"]), hall
        assert hall["windows"], f"hall {hall['code']} has no windows"


def test_hall_slots_are_public_with_remaining_places(base_url, halls):
    slot = _available_slot(base_url, halls)
    assert UUID_RE.match(slot["id"])
    assert re.match(r"^\d{4}-\d{2}-\d{2}$", slot["date"]) and re.match(r"^\d{2}:\d{2}$", slot["startTime"]), slot
    assert slot["remaining"] == slot["capacity"] - slot["booked"] and slot["remaining"] > 0, slot


@pytest.mark.parametrize("params,field", [({}, "date"), ({"date": "2026-02-30"}, "date"),
                                          ({"date": "2026-12-01", "service": "nope"}, "service"),
                                          ({"date": "2026-12-01", "limit": 1000}, "limit")])
def test_hall_slots_bad_query_is_422(base_url, halls, params, field):
    body = assert_problem(get(base_url, f"/api/v1/halls/{halls[0]['id']}/slots", params=params), 422)
    assert field in problem_fields(body), body


def test_unknown_hall_is_404_problem(base_url):
    assert_problem(get(base_url, f"/api/v1/halls/{uuid.uuid4()}/slots", params={"date": "2026-12-01"}), 404)


def test_booking_without_auth_is_401_problem(base_url, halls):
    slot = _available_slot(base_url, halls)
    assert_problem(post(base_url, "/api/v1/appointments", json={"slotId": slot["id"]}), 401)
    assert_problem(get(base_url, "/api/v1/appointments"), 401)


@pytest.mark.parametrize("body", [{}, {"slotId": "not-a-uuid"}, {"slotId": str(uuid.uuid4())}],
                         ids=["missing", "malformed", "unknown"])
def test_booking_bad_body_is_422(base_url, body):
    token = api_login(base_url, "demo-citizen")
    resp = post(base_url, "/api/v1/appointments", json=body, headers=bearer(token))
    assert "slotId" in problem_fields(assert_problem(resp, 422))


def test_book_then_cancel_frees_the_place(base_url, halls):
    payload = register_payload()
    assert post(base_url, "/api/v1/auth/register", json=payload).status_code == 201
    headers = bearer(api_login(base_url, payload["username"], payload["password"]))
    slot = _available_slot(base_url, halls)
    resp = post(base_url, "/api/v1/appointments", json={"slotId": slot["id"]}, headers=headers)
    assert resp.status_code == 201, resp.text[:300]
    booking = resp.json()
    assert booking["status"] == "booked" and re.match(r"^[2-9A-HJKMNP-Z]{6}$", booking["code"]), booking
    again = post(base_url, "/api/v1/appointments", json={"slotId": slot["id"]}, headers=headers)
    assert assert_problem(again, 409)["type"] == "/problems/appointment-overlap"
    mine = get(base_url, "/api/v1/appointments", headers=headers).json()
    assert [b["id"] for b in mine["items"]] == [booking["id"]] and mine["nextCursor"] is None
    cancelled = post(base_url, f"/api/v1/appointments/{booking['id']}/cancel", json={}, headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text[:300]
    assert_problem(post(base_url, f"/api/v1/appointments/{booking['id']}/cancel", json={}, headers=headers), 409)


# --------------------------------------------------------------------------------------------
# output escaping
# --------------------------------------------------------------------------------------------

def _assert_not_reflected(text: str, where: str):
    for raw in (XSS, "<img src=x onerror=alert(1)>"):
        assert raw not in text, f"{where}: raw {raw!r} appears unescaped in the HTML"


def test_search_query_is_escaped(base_url):
    resp = get(base_url, "/services", params={"q": XSS})
    assert resp.status_code == 200, resp.status_code
    _assert_not_reflected(resp.text, "/services?q=<script>")


def test_search_query_is_echoed_escaped(base_url):
    """The search box keeps the query, escaped (so escaping, not dropping, is what protects it)."""
    text = get(base_url, "/services", params={"q": XSS}).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text, "the query is not echoed back (escaped) on the page"


@pytest.mark.parametrize("param", ["q", "zone", "lang", "mode"])
@pytest.mark.parametrize("payload", [XSS, XSS_ATTR], ids=["script", "attr-break"])
def test_query_parameters_never_reflected_raw(base_url, param, payload):
    for path in ("/", "/services", "/login"):
        resp = get(base_url, path, params={param: payload})
        assert resp.status_code < 500, f"{path}?{param}=… -> {resp.status_code}"
        _assert_not_reflected(resp.text, f"{path}?{param}=")


def test_stored_name_is_escaped_on_me_page(base_url):
    payload = register_payload(name=XSS)
    resp = post(base_url, "/api/v1/auth/register", json=payload)
    if resp.status_code == 422:  # the name was refused: nothing stored, nothing to echo
        assert "name" in problem_fields(assert_problem(resp, 422))
        return
    assert resp.status_code == 201, resp.text[:300]
    session, _ = form_login(base_url, payload["username"], payload["password"])
    me = assert_logged_in(session, base_url)
    _assert_not_reflected(me.text, "/me with a <script> name")
