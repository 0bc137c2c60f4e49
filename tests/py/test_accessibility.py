"""Accessibility checks of every public page with axe-core, in a real (Debian) Chromium.

Each page is checked in three renderings: standard (zh-CN), elderly mode (set with ?mode=elderly,
then the page is visited again without the parameter so the remembered cookie is what applies) and
English (?lang=en). A page fails on any axe violation of impact "serious" or "critical".

Environment: TONGBAN_URL (required), TONGBAN_CHROMIUM (default /usr/bin/chromium).
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from axe_playwright_python.sync_playwright import Axe

from conftest import id_check_char, HTTP_TIMEOUT, api_login, bearer, page_login

BLOCKING_IMPACTS = ("serious", "critical")

# (id, path template, who signs in first or None). {service_id}, {zone}, {demo_service},
# {draft}, {submitted}, {task}, {hall}, {hall_date}, {booking} … are filled in at run time.
PAGES = [
    ("home", "/", None),
    ("services", "/services", None),
    ("services-search", "/services?q=许可", None),
    ("services-zone", "/services?zone={zone}", None),
    ("service-guide", "/services/{service_id}", None),
    ("zones", "/zones", None),
    ("login", "/login", None),
    ("register", "/register", None),
    ("me", "/me", "demo-citizen"),
    ("about-accessibility", "/about/accessibility", None),
    ("apply-form", "/services/{demo_service}/apply", "demo-citizen"),
    ("my-applications", "/me/applications", "demo-citizen"),
    ("application-draft", "/me/applications/{draft}", "demo-citizen"),
    ("application-submitted", "/me/applications/{submitted}", "demo-citizen"),
    ("staff-inbox", "/staff/tasks", "demo-clerk"),
    ("staff-task", "/staff/tasks/{task}", "demo-clerk"),
    ("bundles", "/bundles", None),
    ("bundle-form", "/bundles/home-transfer", "demo-citizen"),
    ("bundle-application", "/me/bundles/{bundle_application}", "demo-citizen"),
    ("inspection-applicant", "/me/applications/{inspection_application}", "demo-enterprise"),
    ("inspection-staff", "/staff/tasks/{inspection_task}", "demo-inspector"),
    ("halls", "/halls", None),
    ("hall-slots", "/halls/{hall}?date={hall_date}", None),
    ("hall-slots-person", "/halls/{hall}?date={hall_date}", "demo-citizen"),
    ("hall-slots-staff", "/halls/{hall}?date={hall_date}", "demo-clerk"),
    ("my-appointments", "/me/appointments", "demo-citizen"),
    ("appointment-reschedule", "/me/appointments/{booking}/reschedule", "demo-citizen"),
    ("staff-hall-bookings", "/staff/halls/{hall}/bookings?date={hall_date}", "demo-clerk"),
    ("codes-holder", "/codes", "demo-citizen"),
    ("verify", "/verify", None),
    ("verify-valid", "/verify?p={licence_payload}", None),
    ("verify-tampered", "/verify?p={licence_payload}x", None),
    ("licence-print", "/licences/{licence_id}/print", "demo-citizen"),
    ("policy-editor", "/policy/editor", "demo-admin"),
    ("policy-editor-new", "/policy/editor/new", "demo-admin"),
    ("policy-checkup", "/policy/checkup", "demo-enterprise"),
    ("consent-scan", "/consents/scan/{consent_request}?c={consent_code}", "demo-citizen"),
    ("my-consents", "/consents/mine", "demo-citizen"),
    ("my-licences", "/me/licences", "demo-citizen"),
    ("case-report", "/cases/report", "demo-citizen"),
    ("case-inbox", "/staff/cases", "demo-env"),
    ("case-stats", "/staff/cases/stats", "demo-env"),
    ("case-detail-staff", "/cases/{case_open}", "demo-grid"),
    ("case-detail-reviewer", "/cases/{case_resolved}", "demo-community"),
    ("case-detail-reporter", "/cases/{case_closed}", "demo-citizen"),
    ("case-grids", "/staff/cases/grids", "demo-supervisor"),
    ("case-grid-members", "/staff/cases/grids/440604001001-G01", "demo-supervisor"),
    ("case-settings-admin", "/staff/cases/settings", "demo-admin"),
    ("case-settings-staff", "/staff/cases/settings", "demo-supervisor"),
]
MODES = ("standard", "elderly", "en")

_axe = Axe()


# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------

# `browser` (one Chromium for the whole session) lives in conftest.py: Playwright's sync API runs one event loop
# per process, so every module that drives a browser must share it.


@pytest.fixture
def context(browser):
    # locale zh-CN: Chromium would otherwise send Accept-Language en-US, and the server may honour it.
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture(scope="session")
def service_id(base_url) -> str:
    resp = requests.get(base_url + "/api/v1/services", params={"limit": 1}, timeout=HTTP_TIMEOUT)
    assert resp.status_code == 200, f"GET /api/v1/services -> {resp.status_code}: {resp.text[:200]}"
    items = resp.json().get("items") or []
    assert items, "GET /api/v1/services returned no items: is the server running with --demo?"
    return items[0]["id"]


_ZONE_LINK = re.compile(r"""href=["'][^"']*?/services\?(?:[^"'#]*?(?:&|&amp;))?zone=([^"'&#]+)""")


@pytest.fixture(scope="session")
def zone_code(base_url) -> str | None:
    """A zone code taken from a /services?zone=… link on /zones (None when the page has none)."""
    resp = requests.get(base_url + "/zones", timeout=HTTP_TIMEOUT)
    m = _ZONE_LINK.search(resp.text) if resp.ok else None
    return m.group(1) if m else None


@pytest.fixture(scope="session")
def application_pages(base_url) -> dict:
    """Ids for the application pages: the demo service, a draft, a submitted application and the
    clerk's acceptance task for it (made through the API as demo-citizen)."""
    resp = requests.get(base_url + "/api/v1/services", params={"q": "joint-approval-demo"}, timeout=HTTP_TIMEOUT)
    items = resp.json().get("items") or []
    assert items, "joint-approval-demo is missing from the demo data"
    demo_service = items[0]["id"]
    citizen = bearer(api_login(base_url, "demo-citizen"))
    draft = requests.post(base_url + "/api/v1/applications", headers=citizen, timeout=HTTP_TIMEOUT,
                          json={"serviceId": demo_service, "form": {"projectName": "无障碍检查草稿"}})
    assert draft.status_code == 201, draft.text[:300]
    submitted = requests.post(base_url + "/api/v1/applications", headers=citizen, timeout=HTTP_TIMEOUT,
                              json={"serviceId": demo_service, "form": {"projectName": "无障碍检查"}, "submit": True})
    assert submitted.status_code == 201, submitted.text[:300]
    application = submitted.json()["id"]
    clerk = bearer(api_login(base_url, "demo-clerk"))
    tasks = requests.get(base_url + "/api/v1/tasks", params={"limit": 100}, headers=clerk, timeout=HTTP_TIMEOUT).json()
    task = next((t["id"] for t in tasks["items"] if t.get("applicationId") == application), None)
    assert task, "the clerk has no acceptance task for the new application"
    bundle = requests.post(base_url + "/api/v1/bundles/home-transfer/applications", headers=citizen, timeout=HTTP_TIMEOUT,
                           json={"form": {"buyerName": "李明"}})
    assert bundle.status_code == 201, bundle.text[:300]
    inspection_application, inspection_task = _inspection_fixture(base_url)
    hall, hall_date, booking = _appointment_fixture(base_url)
    case_open, case_resolved, case_closed = _case_fixture(base_url)
    licence = requests.post(base_url + "/api/v1/licences", headers=clerk, timeout=HTTP_TIMEOUT, json={
        "typeCode": "demo-permit", "holder": {"idNumber": "37010219900307123" + id_check_char("37010219900307123")},
        "fields": {"name": "无障碍检查", "scope": "核验页面"}})
    assert licence.status_code == 201, licence.text[:300]
    employer = bearer(api_login(base_url, "demo-enterprise"))
    me = requests.get(base_url + "/api/v1/me", headers=employer, timeout=HTTP_TIMEOUT).json()
    consent = requests.post(base_url + "/api/v1/consents/requests", timeout=HTTP_TIMEOUT,
                            headers={**employer, "X-Acting-For": me["enterprises"][0]["id"]},
                            json={"scenario": "简历核验", "purpose": "核验应聘者学历", "durationDays": 30,
                                  "items": [{"resource": "education-degree", "fields": ["name", "degree"]}]})
    assert consent.status_code == 201, consent.text[:300]
    consent_code = consent.json()["qrPayload"].split("?c=", 1)[1]
    return {"consent_request": consent.json()["id"], "consent_code": consent_code,
            "licence_payload": licence.json()["qr"]["payload"], "licence_id": licence.json()["id"], "demo_service": demo_service, "draft": draft.json()["id"], "submitted": application, "task": task,
            "bundle_application": bundle.json()["id"], "inspection_application": inspection_application,
            "inspection_task": inspection_task, "hall": hall, "hall_date": hall_date, "booking": booking,
            "case_open": case_open, "case_resolved": case_resolved, "case_closed": case_closed}


def _case_fixture(base_url) -> tuple[str, str, str]:
    """Three grid events of demo-citizen in 升平社区 (made through the API): one just dispatched (the grid
    clerk sees accept, dispatch and escalate forms), one answered (the community approver sees close and
    return) and one closed (the reporter sees the evaluation form). Random points, so that no report is a
    duplicate of an earlier run's."""
    import random

    citizen = bearer(api_login(base_url, "demo-citizen"))
    grid = bearer(api_login(base_url, "demo-grid"))
    community = bearer(api_login(base_url, "demo-community"))
    ids = []
    for _ in range(3):
        resp = requests.post(base_url + "/api/v1/cases", headers=citizen, timeout=HTTP_TIMEOUT, json={
            "type": "grid_event", "category": "sanitation", "description": "无障碍检查：垃圾堆放",
            "location": {"lat": 23.0 + random.uniform(0.001, 0.059), "lon": 113.1 + random.uniform(0.001, 0.029)}})
        assert resp.status_code == 201, resp.text[:300]
        assert resp.json()["status"] == "dispatched", resp.text[:300]
        ids.append(resp.json()["id"])

    def act(token, case_id, action, **body):
        resp = requests.post(base_url + f"/api/v1/cases/{case_id}/actions", headers=token, timeout=HTTP_TIMEOUT,
                             json={"action": action, **body})
        assert resp.status_code == 200, f"{action}: {resp.text[:300]}"

    for case_id in ids[1:]:
        act(grid, case_id, "accept")
        act(grid, case_id, "feedback", comment="已清运")
    act(community, ids[2], "close", comment="核查属实")
    return ids[0], ids[1], ids[2]


def _appointment_fixture(base_url) -> tuple[str, str, str]:
    """The Jinan hall (whose staff include demo-clerk), a day with free slots there, and a booking of
    demo-citizen on that day (made through the API), for the hall, reschedule and staff pages."""
    import datetime

    halls = requests.get(base_url + "/api/v1/halls", params={"limit": 100}, timeout=HTTP_TIMEOUT).json()["items"]
    hall = next((h["id"] for h in halls if h["code"] == "370100-ZWFW"), None)
    assert hall, "the demo hall 370100-ZWFW is missing"
    citizen = bearer(api_login(base_url, "demo-citizen"))
    today = datetime.date.today()
    for offset in range(1, 22):
        day = (today + datetime.timedelta(days=offset)).isoformat()
        slots = requests.get(base_url + f"/api/v1/halls/{hall}/slots", params={"date": day, "limit": 100},
                             timeout=HTTP_TIMEOUT).json()["items"]
        for slot in reversed([s for s in slots if s["available"]]):
            resp = requests.post(base_url + "/api/v1/appointments", headers=citizen, timeout=HTTP_TIMEOUT,
                                 json={"slotId": slot["id"]})
            if resp.status_code == 201:
                return hall, day, resp.json()["id"]
            assert resp.status_code == 409, resp.text[:300]
    pytest.fail("no slot of the demo hall 370100-ZWFW could be booked on the next 21 days")


def _inspection_fixture(base_url) -> tuple[str, str]:
    """An accepted 户外招牌设置许可 application of the demo enterprise with a booked, signed inspection."""
    owner = bearer(api_login(base_url, "demo-enterprise"))
    enterprise = requests.get(base_url + "/api/v1/me", headers=owner, timeout=HTTP_TIMEOUT).json()["enterprises"][0]
    headers = {**owner, "X-Acting-For": enterprise["id"]}
    service = requests.get(base_url + "/api/v1/services", params={"q": "510106-01-0002"}, timeout=HTTP_TIMEOUT).json()["items"][0]
    form = {"companyName": enterprise["name"], "uscc": enterprise["creditCode"], "contactPhone": "13912345678",
            "signText": "泉城食品", "signWidth": 6, "signHeight": 1.2, "installAddress": "成都市武侯区科华北路 1 号"}
    draft = requests.post(base_url + "/api/v1/applications", headers=headers, timeout=HTTP_TIMEOUT,
                          json={"serviceId": service["id"], "form": form}).json()
    png = b"\x89PNG\r\n\x1a\n" + b"\x07" * 64
    photo = requests.post(base_url + f"/api/v1/applications/{draft['id']}/attachments", headers=headers, timeout=HTTP_TIMEOUT,
                          files={"file": ("site.png", png, "image/png")}).json()
    submitted = requests.post(base_url + f"/api/v1/applications/{draft['id']}/submit", headers=headers, timeout=HTTP_TIMEOUT,
                              json={"form": {**form, "sitePhotos": photo["id"]}})
    assert submitted.status_code == 200, submitted.text[:300]
    inspector = bearer(api_login(base_url, "demo-inspector"))
    def task_for():
        tasks = requests.get(base_url + "/api/v1/tasks", params={"limit": 100}, headers=inspector, timeout=HTTP_TIMEOUT).json()
        return next(t["id"] for t in tasks["items"] if t.get("applicationId") == draft["id"])
    accepted = requests.post(base_url + f"/api/v1/tasks/{task_for()}/actions", headers=inspector, timeout=HTTP_TIMEOUT,
                             json={"action": "accept"})
    assert accepted.status_code == 200, accepted.text[:300]
    slots = requests.get(base_url + f"/api/v1/applications/{draft['id']}/inspection/slots", headers=headers,
                         timeout=HTTP_TIMEOUT).json()["items"]
    booked = requests.post(base_url + f"/api/v1/applications/{draft['id']}/inspection", headers=headers, timeout=HTTP_TIMEOUT,
                           json={"at": slots[-1]})
    assert booked.status_code == 201, booked.text[:300]
    signed = requests.post(base_url + f"/api/v1/applications/{draft['id']}/inspection/commitment", headers=headers,
                           timeout=HTTP_TIMEOUT)
    assert signed.status_code == 200, signed.text[:300]
    return draft["id"], task_for()


def test_apply_form_errors_are_announced_and_linked(base_url, page, application_pages):
    """Submitting the form empty shows an error summary that takes focus-able links to each field,
    and the page still passes axe."""
    page_login(page, base_url, "demo-citizen")
    goto_ok(page, base_url + f"/services/{application_pages['demo_service']}/apply")
    page.locator("button[value='submit']").click()
    page.wait_for_load_state()
    summary = page.locator("#error-summary")
    assert summary.count() == 1, "no error summary after submitting an empty form"
    assert summary.get_attribute("role") == "alert"
    link = summary.locator("a").first
    target = (link.get_attribute("href") or "").lstrip("#")
    assert page.locator(f"#{target}").count() == 1, f"error link #{target} points at nothing"
    assert page.locator(f"#{target}").get_attribute("aria-invalid") == "true"
    bad = blocking_violations(page)
    assert not bad, "apply form with errors:\n" + format_violations(bad)


def test_policy_editor_errors_and_dry_run_are_accessible(base_url, page):
    """The rule editor: a syntax error gives a linked error summary on the conditions field; a dry run
    shows its counts; both pass axe."""
    page_login(page, base_url, "demo-admin")
    goto_ok(page, base_url + "/policy/editor/new")
    page.fill("#f-code", "A11Y-TEST")
    page.fill("#f-title", "无障碍测试补贴")
    page.fill("#f-conditions", "员工不少于 10 人 | profile.employees >=")
    page.locator("button[value='check']").click()
    page.wait_for_load_state()
    summary = page.locator("#error-summary")
    assert summary.count() == 1, "no error summary for a rule with a syntax error"
    target = (summary.locator("a").first.get_attribute("href") or "").lstrip("#")
    assert target == "f-conditions"
    assert page.locator("#f-conditions").get_attribute("aria-invalid") == "true"
    bad = blocking_violations(page)
    assert not bad, "policy editor with errors:\n" + format_violations(bad)
    page.fill("#f-conditions", "员工不少于 10 人 | profile.employees >= 10")
    page.locator("button[value='check']").click()
    page.wait_for_load_state()
    eligible = page.locator("#dry-eligible")
    assert eligible.count() == 1 and int(eligible.inner_text()) > 0, "no dry-run counts"
    bad = blocking_violations(page)
    assert not bad, "policy editor dry run:\n" + format_violations(bad)


def test_case_action_errors_are_announced_and_linked(base_url, page, application_pages):
    """Escalating a case from its page without a reason shows an error summary linking to the reason
    field (aria-invalid), changes nothing, and the page still passes axe."""
    page_login(page, base_url, "demo-grid")
    goto_ok(page, base_url + f"/cases/{application_pages['case_open']}")
    page.locator("form:has(input[name='action'][value='escalate']) button[type='submit']").click()
    page.wait_for_load_state()
    summary = page.locator("#error-summary")
    assert summary.count() == 1, "no error summary after escalating without a reason"
    target = (summary.locator("a").first.get_attribute("href") or "").lstrip("#")
    assert target == "f-escalate-comment", target
    assert page.locator(f"#{target}").get_attribute("aria-invalid") == "true"
    bad = blocking_violations(page)
    assert not bad, "case page with errors:\n" + format_violations(bad)


def test_staff_decision_is_keyboard_operable(base_url, page, application_pages):
    """The clerk reaches the decision radios and the comment with the keyboard alone."""
    page_login(page, base_url, "demo-clerk")
    goto_ok(page, base_url + f"/staff/tasks/{application_pages['task']}")
    radio = page.locator("input[name='action'][value='accept']")
    radio.focus()
    page.keyboard.press("Space")
    assert radio.is_checked(), "Space did not select the accept radio"
    page.locator("#decision-comment").focus()
    page.keyboard.type("键盘操作")
    assert page.locator("#decision-comment").input_value() == "键盘操作"


def test_book_an_appointment_with_the_keyboard(base_url, page, application_pages):
    """A person reaches a slot's book button with the keyboard, books with Enter and is shown the code
    on their appointments page, which still passes axe with the message on it."""
    page_login(page, base_url, "demo-enterprise")
    goto_ok(page, base_url + f"/halls/{application_pages['hall']}?date={application_pages['hall_date']}")
    button = page.locator("form[action$='/book'] button[type='submit']").first
    assert button.count() == 1, "no book button on the hall page for a signed-in person"
    button.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert urlsplit(page.url).path == "/me/appointments", f"booking ended on {page.url}"
    flash = page.locator(".flash.success")
    assert flash.count() == 1, "no success message after booking"
    assert re.search(r"预约码 [2-9A-HJKMNP-Z]{6}", flash.inner_text()), f"no booking code in {flash.inner_text()!r}"
    bad = blocking_violations(page)
    assert not bad, "my appointments with the booking message:\n" + format_violations(bad)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def with_query(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def resolve(template: str, service_id: str, zone_code: str | None, fixtures: dict | None = None) -> str:
    if "{zone}" in template:
        if not zone_code:
            pytest.skip("no /services?zone=CODE link found on /zones")
        return template.replace("{zone}", zone_code)
    for key, value in (fixtures or {}).items():
        template = template.replace("{" + key + "}", value)
    return template.replace("{service_id}", service_id)


def goto_ok(page, url: str):
    resp = page.goto(url)
    assert resp is not None, f"no response for {url}"
    assert resp.status < 400, f"GET {url} -> HTTP {resp.status}"
    return resp


def html_lang(page) -> str:
    return page.evaluate("() => document.documentElement.getAttribute('lang') || ''")


_MODE_PROBE = """() => {
  const els = [document.documentElement, document.body].filter(Boolean);
  const marker = els.some(e =>
      (e.dataset && (e.dataset.mode === 'elderly' || e.dataset.elderly !== undefined)) ||
      /elderly/i.test(typeof e.className === 'string' ? e.className : ''));
  return {marker, fontSize: parseFloat(getComputedStyle(document.body).fontSize)};
}"""


def mode_probe(page) -> dict:
    """{'marker': elderly marker on <html>/<body>, 'fontSize': body font size in px}.

    The elderly marker is any of: data-mode="elderly" or a data-elderly attribute on <html> or
    <body>, or a class name containing "elderly" on either.
    """
    return page.evaluate(_MODE_PROBE)


def format_violations(violations: list[dict], limit_nodes: int = 3) -> str:
    lines = []
    for v in violations:
        nodes = v.get("nodes") or []
        lines.append(f"- {v['id']} [{v.get('impact')}] {v.get('help', '')} ({len(nodes)} node(s))")
        for node in nodes[:limit_nodes]:
            target = " ".join(str(t) for t in node.get("target", []))
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    {target}: {summary[:200]}")
        if len(nodes) > limit_nodes:
            lines.append(f"    … and {len(nodes) - limit_nodes} more")
    return "\n".join(lines)


def blocking_violations(page) -> list[dict]:
    results = _axe.run(page)
    return [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]


# --------------------------------------------------------------------------------------------
# axe on every page × mode
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name,template,user", PAGES, ids=[p[0] for p in PAGES])
def test_axe_no_serious_violations(base_url, page, service_id, zone_code, application_pages, name, template, user, mode):
    path = resolve(template, service_id, zone_code, application_pages)
    url = base_url + path
    if user:
        page_login(page, base_url, user)

    if mode == "standard":
        goto_ok(page, url)
        assert html_lang(page) == "zh-CN", f"{path}: <html lang> is {html_lang(page)!r}, expected zh-CN"
    elif mode == "elderly":
        goto_ok(page, with_query(url, mode="elderly"))
        goto_ok(page, url)  # revisit: the remembered cookie should keep elderly mode on
        if not mode_probe(page)["marker"]:
            # Not remembered (test_elderly_mode_is_remembered_across_pages reports that): still check
            # the elderly rendering itself, asked for explicitly.
            goto_ok(page, with_query(url, mode="elderly"))
    else:
        goto_ok(page, with_query(url, lang="en"))
        lang = html_lang(page)
        assert lang == "en" or lang.startswith("en-"), f"{path}?lang=en: <html lang> is {lang!r}"

    if user:
        expected = urlsplit(path).path
        assert urlsplit(page.url).path == expected, f"{path}: ended on {page.url}, not {expected} (login lost?)"

    bad = blocking_violations(page)
    if bad:
        pytest.fail(f"{path} [{mode}]: {len(bad)} serious/critical axe violation(s):\n" + format_violations(bad),
                    pytrace=False)


# --------------------------------------------------------------------------------------------
# keyboard, elderly mode, language
# --------------------------------------------------------------------------------------------

SKIP_LINK_PAGES = ["/", "/services", "/services/{service_id}", "/zones", "/login", "/register",
                   "/about/accessibility"]

_FOCUS_PROBE = """() => {
  const a = document.activeElement;
  if (!a || a === document.body) return null;
  const href = a.getAttribute('href');
  const r = a.getBoundingClientRect();
  let target = null;
  if (href && href.startsWith('#') && href.length > 1) {
    target = document.getElementById(decodeURIComponent(href.slice(1)));
  }
  return {tag: a.tagName, href, text: (a.textContent || '').trim().slice(0, 60),
          width: r.width, height: r.height, targetExists: !!target};
}"""


@pytest.mark.parametrize("mode", ("standard", "elderly"))
@pytest.mark.parametrize("template", SKIP_LINK_PAGES)
def test_skip_link_is_first_focusable(base_url, page, service_id, template, mode):
    path = resolve(template, service_id, None)
    if mode == "elderly":
        goto_ok(page, base_url + "/?mode=elderly")
    goto_ok(page, base_url + path)
    page.keyboard.press("Tab")
    info = page.evaluate(_FOCUS_PROBE)
    assert info is not None, f"{path}: Tab focused nothing"
    href = info["href"] or ""
    assert href.startswith("#"), f"{path}: first Tab stop is <{info['tag']}> {info['text']!r} href={href!r}, not a skip link"
    assert info["targetExists"], f"{path}: skip link {href!r} points at no element with that id"
    assert info["width"] > 1 and info["height"] > 1, (
        f"{path}: focused skip link is not visible ({info['width']}x{info['height']} px)"
    )


def test_elderly_mode_is_remembered_across_pages(base_url, context, page):
    goto_ok(page, base_url + "/")
    standard = mode_probe(page)
    assert not standard["marker"], "/ shows the elderly marker in a fresh browser (default must be standard)"

    goto_ok(page, base_url + "/?mode=elderly")
    assert mode_probe(page)["marker"], "/?mode=elderly: no elderly marker on <html>/<body>"
    assert any(c["value"] == "elderly" for c in context.cookies()), (
        "?mode=elderly set no cookie remembering it; cookies: "
        + ", ".join(f"{c['name']}={c['value'][:20]}" for c in context.cookies())
    )

    for path in ("/services", "/zones", "/about/accessibility", "/login"):
        goto_ok(page, base_url + path)
        probe = mode_probe(page)
        assert probe["marker"], f"{path}: elderly mode was not remembered from the previous page"
        assert probe["fontSize"] > standard["fontSize"], (
            f"{path}: elderly body font size {probe['fontSize']}px is not larger than standard "
            f"{standard['fontSize']}px"
        )

    goto_ok(page, base_url + "/services?mode=standard")
    assert not mode_probe(page)["marker"], "/services?mode=standard still shows elderly mode"
    goto_ok(page, base_url + "/zones")
    assert not mode_probe(page)["marker"], "/zones: elderly mode came back after ?mode=standard"


@pytest.mark.parametrize("path", ["/", "/services", "/zones", "/login", "/about/accessibility"])
def test_html_lang_switches_to_english(base_url, page, path):
    goto_ok(page, base_url + path)
    assert html_lang(page) == "zh-CN", f"{path}: default <html lang> is {html_lang(page)!r}, expected zh-CN"
    goto_ok(page, with_query(base_url + path, lang="en"))
    lang = html_lang(page)
    assert lang == "en" or lang.startswith("en-"), f"{path}?lang=en: <html lang> is {lang!r}, expected en"
    goto_ok(page, with_query(base_url + path, lang="zh-CN"))
    assert html_lang(page) == "zh-CN", f"{path}?lang=zh-CN: <html lang> is {html_lang(page)!r}"


def test_me_redirects_to_login_in_browser(base_url, page):
    page.goto(base_url + "/me")
    assert urlsplit(page.url).path == "/login", f"/me without login ended on {page.url}, expected /login"


def test_login_form_keyboard_only(base_url, page):
    """A person using only the keyboard can sign in: every control is reachable with Tab."""
    goto_ok(page, base_url + "/login")
    page.locator("input[name='username']").focus()
    page.keyboard.type("demo-citizen")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement && document.activeElement.getAttribute('name')")
    assert focused == "password", f"Tab from the username field went to {focused!r}, not the password field"
    page.keyboard.type("Tongban-demo-2026")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert urlsplit(page.url).path != "/login", f"keyboard login stayed on {page.url}"
    goto_ok(page, base_url + "/me")
    assert urlsplit(page.url).path == "/me"
