"""Cases contract checks against a running demo server (TONGBAN_URL): filing and routing, the action
state machine with its timeline, statistics, and the Open311 GeoReport v2 endpoints."""
import requests

from conftest import HTTP_TIMEOUT, api_login, assert_problem, bearer


def file_case(base, token, **body):
    payload = {"type": "grid_event", "category": "sanitation", "description": "端到端测试：垃圾堆放",
               "location": {"lat": 23.005, "lon": 113.105}}
    payload.update(body)
    r = requests.post(f"{base}/api/v1/cases", headers=bearer(token), json=payload, timeout=HTTP_TIMEOUT)
    assert r.status_code == 201, r.text
    created = r.json()
    assert set(created) >= {"id", "number", "status", "grid", "department"}
    return created


def act(base, token, case_id, action, **body):
    return requests.post(f"{base}/api/v1/cases/{case_id}/actions", headers=bearer(token),
                         json={"action": action, **body}, timeout=HTTP_TIMEOUT)


def test_file_route_and_handle_a_grid_event(base_url):
    citizen = api_login(base_url, "demo-citizen")["accessToken"]
    # A fresh spot each run so that earlier runs' reports are not duplicates.
    import random
    lat = 23.0 + random.uniform(0.001, 0.059)
    created = file_case(base_url, citizen, location={"lat": lat, "lon": 113.1 + random.uniform(0.001, 0.029)})
    # (inside 升平社区: latitude 23.00–23.06, longitude 113.10–113.13)
    assert created["status"] == "dispatched"
    assert created["grid"] and created["grid"]["code"].startswith("440604")
    env = file_case(base_url, citizen, category="environment", location={"lat": lat, "lon": 113.19})
    assert env["department"]["code"] == "440604-STHJ" and "环境" in env["department"]["name"]
    outside = file_case(base_url, citizen, category="road", location={"lat": 22.5, "lon": 113.5})
    assert outside["grid"] is None and outside["outsideGrid"] is True

    assert created["department"]["code"] == "440604001001-GZZ" and created["level"] == "community"
    staff = api_login(base_url, "demo-district")["accessToken"]
    assert_problem(act(base_url, citizen, created["id"], "accept"), 403)
    # Four levels: community → street → district → city, then nothing above.
    assert_problem(act(base_url, api_login(base_url, "demo-grid")["accessToken"], created["id"], "escalate"), 422)
    levels = []
    for user in ("demo-grid", "demo-street", "demo-district"):
        r = act(base_url, api_login(base_url, user)["accessToken"], created["id"], "escalate", comment="需要上级协调")
        assert r.status_code == 200, r.text
        levels.append(r.json()["level"])
    assert levels == ["street", "district", "city"]
    city = api_login(base_url, "demo-city")["accessToken"]
    assert_problem(act(base_url, city, created["id"], "escalate", comment="无上级"), 409)
    assert_problem(act(base_url, city, created["id"], "feedback", comment="未受理先反馈"), 409)
    assert act(base_url, city, created["id"], "accept").status_code == 200
    assert act(base_url, city, created["id"], "feedback", comment="已处理").json()["status"] == "resolved"
    case = requests.get(f"{base_url}/api/v1/cases/{created['id']}", headers=bearer(citizen), timeout=HTTP_TIMEOUT).json()
    assert case["timeline"][0]["action"] == "create"
    assert [e["action"] for e in case["timeline"]].count("escalate") == 3
    stats = requests.get(f"{base_url}/api/v1/cases/stats", headers=bearer(staff), timeout=HTTP_TIMEOUT)
    assert stats.status_code == 200 and stats.json()["total"] >= 3
    csv = requests.get(f"{base_url}/api/v1/cases/stats.csv", headers=bearer(staff), timeout=HTTP_TIMEOUT)
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.startswith("dimension,key,label,count")


def test_bad_input_is_a_clear_problem(base_url):
    citizen = api_login(base_url, "demo-citizen")["accessToken"]
    for body, field in [
        ({"category": "unicorns"}, "category"),
        ({"location": {"lat": 91, "lon": 113.1}}, "location.lat"),
        ({"location": {"lat": 23.0, "lon": 181}}, "location.lon"),
        ({"type": "ufo"}, "type"),
    ]:
        payload = {"type": "grid_event", "category": "road", "description": "x", "location": {"lat": 23.01, "lon": 113.11}}
        payload.update(body)
        r = requests.post(f"{base_url}/api/v1/cases", headers=bearer(citizen), json=payload, timeout=HTTP_TIMEOUT)
        problem = assert_problem(r, 422)
        assert field in [e["field"] for e in problem.get("errors", [])], problem
    assert_problem(requests.post(f"{base_url}/api/v1/cases", json={"type": "appeal"}, timeout=HTTP_TIMEOUT), 401)
    import random
    # A fresh spot each run: a repeated run's report would be a duplicate (409 before the role check).
    created = file_case(base_url, citizen, category="neighbourhood",
                        location={"lat": 23.061 + random.uniform(0, 0.038), "lon": 113.161 + random.uniform(0, 0.038)})
    assert_problem(act(base_url, citizen, created["id"], "close"), 403)


def test_open311_services_and_requests(base_url):
    services = requests.get(f"{base_url}/open311/v2/services.json", timeout=HTTP_TIMEOUT).json()
    codes = {s["service_code"] for s in services}
    assert "environment" in codes and len(codes) >= 11
    assert set(services[0]) >= {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
    r = requests.post(f"{base_url}/open311/v2/requests.json", data={
        "api_key": "demo-open311-key", "service_code": "environment", "lat": "23.0612", "long": "113.1823",
        "address_string": "季华路 1 号", "description": "A large sinkhole is destroying the street",
        "first_name": "john", "last_name": "smith", "email": "smit222@sfgov.edu"}, timeout=HTTP_TIMEOUT)
    assert r.status_code in (200, 201), r.text
    request_id = r.json()[0]["service_request_id"]
    one = requests.get(f"{base_url}/open311/v2/requests/{request_id}.json", timeout=HTTP_TIMEOUT).json()[0]
    assert one["status"] == "open" and one["service_code"] == "environment"
    assert set(one) >= {"service_request_id", "status", "service_name", "description", "agency_responsible",
                        "requested_datetime", "updated_datetime", "address", "lat", "long"}
    xml = requests.get(f"{base_url}/open311/v2/requests/{request_id}.xml", timeout=HTTP_TIMEOUT)
    assert xml.headers["content-type"].startswith("text/xml") and "<service_request_id>" in xml.text
    bad = requests.post(f"{base_url}/open311/v2/requests.json", data={"api_key": "nope", "service_code": "road"},
                        timeout=HTTP_TIMEOUT)
    assert bad.status_code == 403 and bad.json()[0]["code"] == 403


def test_evidence_notifications_grid_members_and_settings(base_url):
    import hashlib
    import random

    citizen = api_login(base_url, "demo-citizen")["accessToken"]
    created = file_case(base_url, citizen, location={"lat": 23.0 + random.uniform(0.001, 0.059),
                                                     "lon": 113.1 + random.uniform(0.001, 0.029)})
    # A photo as evidence: multipart, SHA-256 recorded, downloadable by the reporter, in the timeline.
    png = b"\x89PNG\r\n\x1a\n" + b"\x07" * 64
    r = requests.post(f"{base_url}/api/v1/cases/{created['id']}/attachments", headers=bearer(citizen),
                      files={"file": ("现场.png", png, "image/png")}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 201, r.text
    assert r.json()["sha256"] == hashlib.sha256(png).hexdigest()
    got = requests.get(base_url + r.json()["downloadUrl"], headers=bearer(citizen), timeout=HTTP_TIMEOUT)
    assert got.status_code == 200 and got.content == png
    assert_problem(requests.post(f"{base_url}/api/v1/cases/{created['id']}/attachments", headers=bearer(citizen),
                                 files={"file": ("a.txt", b"hello", "text/plain")}, timeout=HTTP_TIMEOUT), 415)
    # Accepting tells the reporter (in-app notification).
    grid = api_login(base_url, "demo-grid")["accessToken"]
    assert act(base_url, grid, created["id"], "accept").status_code == 200
    inbox = requests.get(f"{base_url}/api/v1/notifications", headers=bearer(citizen), timeout=HTTP_TIMEOUT).json()["items"]
    assert any(n["template"] == "case.accepted" and created["number"] in n["title"] for n in inbox), inbox[:3]
    # Grid members and the SLA table: administrators and staff only.
    supervisor = api_login(base_url, "demo-supervisor")["accessToken"]
    members = requests.get(f"{base_url}/api/v1/cases/grids/440604001001-G01/members", headers=bearer(supervisor),
                           timeout=HTTP_TIMEOUT)
    assert members.status_code == 200 and "demo-grid" in [m["username"] for m in members.json()]
    assert_problem(requests.get(f"{base_url}/api/v1/cases/grids/440604001001-G01/members", headers=bearer(grid),
                                timeout=HTTP_TIMEOUT), 403)
    sla = requests.get(f"{base_url}/api/v1/cases/settings/sla", headers=bearer(supervisor), timeout=HTTP_TIMEOUT)
    assert sla.status_code == 200 and len(sla.json()["items"]) == 6
    assert_problem(requests.put(f"{base_url}/api/v1/cases/settings/sla", headers=bearer(supervisor),
                                json={"hotlineResponse": {"value": 10, "unit": "minutes"}}, timeout=HTTP_TIMEOUT), 403)
    assert_problem(requests.get(f"{base_url}/api/v1/cases/settings/sla", headers=bearer(citizen), timeout=HTTP_TIMEOUT), 403)


def test_media_url_to_a_private_address_is_not_fetched(base_url):
    """A mediaUrl (Open311 media_url) is fetched by a background job; a loopback or private address is refused
    before any connection (unless the server allows it) and the refusal is on the case's timeline."""
    import random
    import time
    citizen = api_login(base_url, "demo-citizen")["accessToken"]
    created = file_case(base_url, citizen, category="environment",
                        location={"lat": 23.0 + random.uniform(0.062, 0.099), "lon": 113.1 + random.uniform(0.001, 0.099)},
                        mediaUrl="http://127.0.0.1:9/photo.png")
    events = []
    for _ in range(40):
        case = requests.get(f"{base_url}/api/v1/cases/{created['id']}", headers=bearer(citizen), timeout=HTTP_TIMEOUT)
        assert case.status_code == 200, case.text
        events = [e for e in case.json()["timeline"] if e["action"].startswith("media_")]
        if events:
            break
        time.sleep(0.5)
    assert [e["action"] for e in events] == ["media_failed"], events
    assert "private or special address" in events[0]["comment"]
    files = requests.get(f"{base_url}/api/v1/cases/{created['id']}/attachments", headers=bearer(citizen), timeout=HTTP_TIMEOUT)
    assert files.status_code == 200
    assert all(item.get("url") for item in files.json()["items"])
