"""The holder page's device script in a real (Debian) Chromium: demo-citizen opens /codes, sets up offline codes
(WebCrypto Ed25519 key, non-extractable, certified through POST /codes/devices), the browser goes offline, the page
keeps signing fresh codes, and one of them verifies offline with `tongban verify-code --trust-list` (and online
with the demo venue device once). Environment: TONGBAN_URL, TONGBAN_CHROMIUM (default /usr/bin/chromium),
TONGBAN_BIN (default .build/debug/tongban)."""
from __future__ import annotations

import io
import os
import random
import re
import string
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests

from conftest import HTTP_TIMEOUT, form_login, page_login

zxingcpp = pytest.importorskip("zxingcpp")
Image = pytest.importorskip("PIL.Image")

BINARY = Path(os.environ.get("TONGBAN_BIN", Path(__file__).resolve().parents[2] / ".build" / "debug" / "tongban"))


def verify_offline(trust_list: str, payload: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BINARY), "verify-code", "--trust-list", trust_list, payload],
                          capture_output=True, text=True, timeout=60)


def test_device_script_registers_goes_offline_and_signs_codes_that_verify(base_url, browser):
    with tempfile.TemporaryDirectory() as tmp:
        trust_file = os.path.join(tmp, "trust.json")
        context = browser.new_context(locale="zh-CN")
        try:
            page = context.new_page()
            page_login(page, base_url, "demo-citizen")
            page.goto(base_url + "/codes?type=identity")
            script = requests.get(f"{base_url}/codes/device.js", timeout=HTTP_TIMEOUT)
            assert script.status_code == 200 and "javascript" in script.headers["content-type"]
            page.click("#device-register")
            page.wait_for_function("document.getElementById('device-code').getAttribute('data-payload')", timeout=15000)
            first = page.get_attribute("#device-code", "data-payload")
            assert first.count("~") == 1
            # The key is a non-extractable CryptoKey kept in IndexedDB.
            extractable = page.evaluate("""() => new Promise((resolve, reject) => {
                const open = indexedDB.open('tongban-codes', 1);
                open.onsuccess = () => {
                  const get = open.result.transaction('device').objectStore('device').get('current');
                  get.onsuccess = () => resolve([get.result.privateKey.extractable, get.result.privateKey.algorithm.name]);
                  get.onerror = () => reject(get.error);
                };
                open.onerror = () => reject(open.error);
            })""")
            assert extractable == [False, "Ed25519"]
            # The verifier's copy of the trust list, taken while online (the platform key exists by now).
            trust = requests.get(f"{base_url}/.well-known/tongban-codes-trust-list.json", timeout=HTTP_TIMEOUT)
            assert trust.status_code == 200
            Path(trust_file).write_text(trust.text, encoding="utf-8")

            # Offline: the page keeps signing fresh codes by itself.
            context.set_offline(True)
            page.wait_for_function(
                "(first) => { const p = document.getElementById('device-code').getAttribute('data-payload');"
                " return p && p !== first; }", arg=first, timeout=15000)
            assert page.evaluate("navigator.onLine") is False
            offline_payload = page.get_attribute("#device-code", "data-payload")
            assert offline_payload != first
            status = page.text_content("#device-status")
            assert status and ("无网络" in status or "No network" in status)

            # The page draws the code as a QR picture too: a scanner reads exactly the payload shown as text.
            for _ in range(3):
                shown = page.get_attribute("#device-qr", "data-payload")
                picture = page.locator("#device-qr svg").screenshot()
                if page.get_attribute("#device-qr", "data-payload") == shown:
                    break
            assert page.get_attribute("#device-qr", "role") == "img" and page.get_attribute("#device-qr", "aria-label")
            decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(picture)), formats=zxingcpp.BarcodeFormat.QRCode)
            assert decoded and decoded[0].text == shown and shown.count("~") == 1

            result = verify_offline(trust_file, offline_payload)
            assert result.returncode == 0, result.stdout + result.stderr
            tampered = offline_payload[:-2] + ("A" if offline_payload[-2] != "A" else "B") + offline_payload[-1]
            assert verify_offline(trust_file, tampered).returncode == 1
            context.set_offline(False)
        finally:
            context.close()

    # Online, the demo venue device accepts the device-signed code once.
    r = requests.post(f"{base_url}/api/v1/codes/verify", headers={"X-Api-Key": "demo-verifier-key"},
                      json={"payload": offline_payload, "scenario": "venue"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.json()["valid"] is True, r.text
    again = requests.post(f"{base_url}/api/v1/codes/verify", headers={"X-Api-Key": "demo-verifier-key"},
                          json={"payload": offline_payload, "scenario": "venue"}, timeout=HTTP_TIMEOUT)
    assert again.status_code == 200
    assert again.json()["valid"] is False and again.json()["reason"] == "replayed"


def test_device_registration_page_endpoint_needs_session_and_csrf(base_url):
    json_headers = {"accept": "application/json"}
    anonymous = requests.post(f"{base_url}/codes/devices", json={"publicKey": "x"}, headers=json_headers,
                              timeout=HTTP_TIMEOUT, allow_redirects=False)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    session, _ = form_login(base_url, "demo-citizen")
    page = session.get(f"{base_url}/codes", timeout=HTTP_TIMEOUT)
    assert page.status_code == 200 and 'id="offline-code"' in page.text and "/codes/device.js" in page.text
    token = re.search(r'data-csrf="([^"]+)"', page.text).group(1)
    no_token = session.post(f"{base_url}/codes/devices", json={"publicKey": "x"}, headers=json_headers, timeout=HTTP_TIMEOUT)
    assert no_token.status_code == 403
    bad_key = session.post(f"{base_url}/codes/devices", json={"publicKey": "x", "_csrf": token}, headers=json_headers,
                           timeout=HTTP_TIMEOUT)
    assert bad_key.status_code == 422
    assert bad_key.headers["content-type"].startswith("application/problem+json")
    assert any(e["field"] == "publicKey" for e in bad_key.json()["errors"])


def test_browser_qr_encoder_round_trips_through_zxing(base_url, browser):
    """`TongbanQR` (served at the top of /codes/device.js) at every level, from 1 byte to version 40's capacity,
    decoded from a Chromium screenshot by zxing-cpp; text beyond version 40 is refused."""
    script = requests.get(f"{base_url}/codes/device.js", timeout=HTTP_TIMEOUT).text
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content("<html><body style='margin:0;background:#fff'><div id='q' style='width:900px'></div></body></html>")
        page.add_script_tag(content=script)
        rnd = random.Random(18004)
        cases = [(1, "M"), (14, "M"), (15, "M"), (300, "L"), (300, "M"), (300, "Q"), (300, "H"), (650, "M"),
                 (2331, "M"), (2953, "L"), (1273, "H")]
        for size, level in cases:
            text = "".join(rnd.choice(string.ascii_letters + string.digits + "-_.~") for _ in range(size))
            version = page.evaluate(
                "([t, l]) => { document.getElementById('q').innerHTML = TongbanQR.svg(t, l); return TongbanQR.encode(t, l).version; }",
                [text, level])
            assert 1 <= version <= 40
            png = page.locator("#q svg").screenshot()
            decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode)
            assert decoded, f"{size} bytes at {level} (version {version}) did not decode"
            assert decoded[0].text == text and decoded[0].ec_level == level
        # The smallest versions as ISO/IEC 18004 sizes them: 14 bytes fit version 1-M, 15 need version 2.
        assert page.evaluate("TongbanQR.encode('a'.repeat(14), 'M').version") == 1
        assert page.evaluate("TongbanQR.encode('a'.repeat(15), 'M').version") == 2
        # UTF-8 text (Chinese) round-trips; one byte beyond version 40-M is refused.
        chinese = "通办离线身份码" * 4
        page.evaluate("t => { document.getElementById('q').innerHTML = TongbanQR.svg(t, 'M'); }", chinese)
        decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(page.locator("#q svg").screenshot())))
        assert decoded and decoded[0].text == chinese
        refused = page.evaluate("() => { try { TongbanQR.encode('a'.repeat(2332), 'M'); return null; } catch (e) { return e.message; } }")
        assert refused and "too long" in refused
    finally:
        context.close()
