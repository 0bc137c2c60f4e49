"""Shared fixtures and helpers for Tongban's Python-side end-to-end checks.

The server is started outside pytest (scripts/test or .ci/run) with demo data; its base URL comes
from the environment variable TONGBAN_URL, e.g. ``TONGBAN_URL=http://127.0.0.1:8099``.

Helpers here are plain functions so that both test modules (and ad-hoc scripts) can use them:

* ``api_login(base_url, username)``        -> token JSON from POST /api/v1/auth/login
* ``form_login(base_url, username)``        -> (LoopbackSession, response) after the /login form
* ``page_login(page, base_url, username)``  -> logs a Playwright page in through the /login form
* ``random_id_number()`` / ``random_mobile()`` / ``unique_username()`` for registration tests
"""

from __future__ import annotations

import datetime as _dt
import html as _html
import os
import random
import re
import secrets
from urllib.parse import urljoin, urlsplit

import pytest
import requests

DEMO_PASSWORD = "Tongban-demo-2026"
DEMO_ACCOUNTS = ("demo-citizen", "demo-enterprise", "demo-clerk", "demo-approver", "demo-admin")

#: Seconds for every HTTP request the harness makes.
HTTP_TIMEOUT = float(os.environ.get("TONGBAN_HTTP_TIMEOUT", "15"))

PROBLEM_JSON = "application/problem+json"


# --------------------------------------------------------------------------------------------
# base URL
# --------------------------------------------------------------------------------------------

def _base_url_from_env() -> str:
    raw = os.environ.get("TONGBAN_URL", "").strip()
    if not raw:
        pytest.fail(
            "TONGBAN_URL is not set: start the server (e.g. `tongban serve --port 8099 --demo`) and "
            "run pytest with TONGBAN_URL=http://127.0.0.1:8099",
            pytrace=False,
        )
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        pytest.fail(f"TONGBAN_URL={raw!r} is not an http(s) URL such as http://127.0.0.1:8099", pytrace=False)
    return raw.rstrip("/")


def pytest_sessionstart(session):
    """Stop at once, with one clear line and a non-zero exit, when TONGBAN_URL is missing."""
    if not os.environ.get("TONGBAN_URL", "").strip() and not session.config.option.collectonly:
        pytest.exit(
            "TONGBAN_URL is not set: start the server (e.g. `tongban serve --port 8099 --demo`) and "
            "run pytest with TONGBAN_URL=http://127.0.0.1:8099",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


@pytest.fixture(scope="session")
def base_url() -> str:
    """The server under test, from TONGBAN_URL (no trailing slash). Fails, never skips, when unset."""
    url = _base_url_from_env()
    try:
        requests.get(url + "/healthz", timeout=HTTP_TIMEOUT)
    except requests.RequestException as exc:  # pragma: no cover - depends on the environment
        pytest.fail(f"TONGBAN_URL={url} does not answer GET /healthz: {exc}", pytrace=False)
    return url


# --------------------------------------------------------------------------------------------
# HTTP helpers
# --------------------------------------------------------------------------------------------

class LoopbackSession(requests.Session):
    """A requests session that behaves like a browser on http://127.0.0.1.

    Browsers keep and send ``Secure`` cookies to loopback origins over plain http; Python's cookiejar
    does not. The server may mark its session and CSRF cookies Secure, so this session clears the
    flag on every cookie it receives and follows redirects itself (so that a cookie set on a 303 is
    sent on the next hop).
    """

    max_hops = 10

    def _desecure(self) -> None:
        for cookie in self.cookies:
            cookie.secure = False

    def request(self, method, url, allow_redirects=True, **kwargs):
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        resp = super().request(method, url, allow_redirects=False, **kwargs)
        self._desecure()
        history = []
        while allow_redirects and resp.is_redirect and len(history) < self.max_hops:
            history.append(resp)
            target = urljoin(resp.url, resp.headers["Location"])
            if resp.status_code in (307, 308):
                hop_kwargs = {k: v for k, v in kwargs.items() if k != "params"}
                resp = super().request(method, target, allow_redirects=False, **hop_kwargs)
            else:
                get_kwargs = {k: v for k, v in kwargs.items() if k not in ("data", "json", "files", "params")}
                resp = super().request("GET", target, allow_redirects=False, **get_kwargs)
            self._desecure()
        if history:
            resp.history = history
        return resp


def new_session() -> LoopbackSession:
    """A fresh cookie-keeping session (no login)."""
    return LoopbackSession()


def api_login(base_url: str, username: str, password: str = DEMO_PASSWORD) -> dict:
    """Logs in through POST /api/v1/auth/login and returns the token JSON; fails the test otherwise."""
    resp = requests.post(
        base_url + "/api/v1/auth/login",
        json={"username": username, "password": password},
        timeout=HTTP_TIMEOUT,
    )
    assert resp.status_code == 200, f"API login as {username} -> {resp.status_code}: {resp.text[:300]}"
    body = resp.json()
    assert body.get("accessToken"), f"API login as {username}: no accessToken in {body}"
    return body


def bearer(token: str | dict) -> dict:
    """Authorization header for a token string or a login response."""
    if isinstance(token, dict):
        token = token["accessToken"]
    return {"Authorization": f"Bearer {token}"}


_CSRF_RE = re.compile(
    r"""<input\b(?=[^>]*\bname\s*=\s*["']?_csrf["'\s>])[^>]*\bvalue\s*=\s*["']([^"']*)["']""",
    re.IGNORECASE,
)
_CSRF_RE_VALUE_FIRST = re.compile(
    r"""<input\b(?=[^>]*\bvalue\s*=\s*["']([^"']*)["'])[^>]*\bname\s*=\s*["']?_csrf\b""",
    re.IGNORECASE,
)


def extract_csrf(page_html: str) -> str | None:
    """The value of the hidden ``_csrf`` input of a rendered form, or None."""
    m = _CSRF_RE.search(page_html) or _CSRF_RE_VALUE_FIRST.search(page_html)
    return _html.unescape(m.group(1)) if m else None


def form_login(base_url: str, username: str, password: str = DEMO_PASSWORD,
               session: LoopbackSession | None = None) -> tuple[LoopbackSession, requests.Response]:
    """Logs in through the /login page form (GET for the CSRF token, then POST).

    Returns the session and the final response after redirects. Does not assert success; use
    ``assert_logged_in`` for that.
    """
    s = session or new_session()
    page = s.get(base_url + "/login")
    assert page.status_code == 200, f"GET /login -> {page.status_code}"
    token = extract_csrf(page.text)
    assert token, "GET /login: no hidden _csrf input in the form"
    resp = s.post(base_url + "/login", data={"username": username, "password": password, "_csrf": token})
    return s, resp


def assert_logged_in(session: requests.Session, base_url: str) -> requests.Response:
    """GET /me without following redirects must answer 200 for a logged-in session."""
    resp = session.get(base_url + "/me", allow_redirects=False)
    assert resp.status_code == 200, (
        f"GET /me after login -> {resp.status_code} (Location: {resp.headers.get('Location')})"
    )
    return resp


def page_login(page, base_url: str, username: str, password: str = DEMO_PASSWORD) -> None:
    """Logs a Playwright page in through the /login form, as a person would, and checks it worked."""
    page.goto(base_url + "/login")
    form = page.locator("form:has(input[name='password'])").first
    form.locator("input[name='username']").fill(username)
    form.locator("input[name='password']").fill(password)
    submit = form.locator("button[type='submit'], input[type='submit'], button:not([type])").first
    with page.expect_navigation():
        submit.click()
    path = urlsplit(page.url).path
    assert path.rstrip("/") != "/login", f"form login as {username} stayed on {page.url}"


# --------------------------------------------------------------------------------------------
# problem+json
# --------------------------------------------------------------------------------------------

def assert_problem(resp: requests.Response, status: int | tuple[int, ...]) -> dict:
    """Checks an RFC 9457 problem response (status, media type, members) and returns its body."""
    statuses = (status,) if isinstance(status, int) else tuple(status)
    assert resp.status_code in statuses, (
        f"{resp.request.method} {resp.request.path_url} -> {resp.status_code}, expected {statuses}: "
        f"{resp.text[:300]}"
    )
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip().lower() == PROBLEM_JSON, (
        f"{resp.request.method} {resp.request.path_url}: Content-Type {ctype!r}, expected {PROBLEM_JSON}"
    )
    body = resp.json()
    missing = [k for k in ("type", "title", "status", "detail", "instance") if k not in body]
    assert not missing, f"problem body lacks {missing}: {body}"
    assert body["status"] == resp.status_code, f"problem status {body['status']} != HTTP {resp.status_code}"
    return body


def problem_fields(body: dict) -> set[str]:
    return {e.get("field") for e in body.get("errors") or [] if isinstance(e, dict)}


# --------------------------------------------------------------------------------------------
# test data
# --------------------------------------------------------------------------------------------

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def id_check_char(body17: str) -> str:
    return ID_CHECK[sum(int(d) * w for d, w in zip(body17, ID_WEIGHTS)) % 11]


def random_id_number(region: str = "110105") -> str:
    """A valid GB 11643 resident ID number (random birth date 1950-1999 and sequence)."""
    start = _dt.date(1950, 1, 1)
    birth = start + _dt.timedelta(days=random.randrange(365 * 50))
    body = f"{region}{birth:%Y%m%d}{random.randrange(1000):03d}"
    return body + id_check_char(body)


def random_mobile() -> str:
    return "138" + f"{random.randrange(10**8):08d}"


def mask_id(value: str) -> str:
    return value[:6] + "*" * 8 + value[14:]


def mask_phone(value: str) -> str:
    return value[:3] + "****" + value[7:]


def unique_username(prefix: str = "pyt") -> str:
    return f"{prefix}-{secrets.token_hex(5)}"


STRONG_PASSWORD = "Py-Test-Passw0rd-2026"


def register_payload(**overrides) -> dict:
    payload = {
        "username": unique_username(),
        "password": STRONG_PASSWORD,
        "name": "测试用户",
        "idNumber": random_id_number(),
        "phone": random_mobile(),
    }
    payload.update(overrides)
    return payload


assert id_check_char("11010519491231002") == "X"  # the documented sample


#: The Chromium that browser tests drive (Debian's package by default).
CHROMIUM = os.environ.get("TONGBAN_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session. Playwright's sync API runs one event loop per process, so
    every module that needs a browser takes this fixture instead of starting its own."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: apt-get install -y chromium (or set TONGBAN_CHROMIUM)", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()
