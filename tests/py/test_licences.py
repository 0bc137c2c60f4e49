"""Licence contract checks against a running demo server (TONGBAN_URL): issue, verify, revoke, the trust
list, and the QR image decoded by zxing-cpp giving back exactly the signed payload."""
import io

import pytest
import requests

from conftest import HTTP_TIMEOUT, api_login, assert_problem, bearer, id_check_char

zxingcpp = pytest.importorskip("zxingcpp")
Image = pytest.importorskip("PIL.Image")


def citizen_id():
    return "37010219900307123" + id_check_char("37010219900307123")


def issue(base, clerk):
    r = requests.post(f"{base}/api/v1/licences", headers=bearer(clerk), json={
        "typeCode": "demo-permit", "holder": {"idNumber": citizen_id()},
        "fields": {"name": "演示许可", "scope": "端到端测试"}})
    assert r.status_code == 201, r.text
    return r.json()


def test_issue_verify_revoke_and_qr_round_trip(base_url):
    clerk = api_login(base_url, "demo-clerk")["accessToken"]
    created = issue(base_url, clerk)
    assert set(created) >= {"id", "number", "qr"}
    payload = created["qr"]["payload"]
    verified = requests.post(f"{base_url}/api/v1/licences/verify", json={"payload": payload}).json()
    assert verified["valid"] is True and verified["type"] == "demo-permit"
    assert set(verified) >= {"valid", "reason", "status", "type", "issuer", "holderMasked", "fields"}
    assert citizen_id() not in str(verified)
    # The PNG decodes to exactly the payload.
    png = requests.get(base_url + created["qr"]["pngUrl"], headers=bearer(clerk))
    assert png.status_code == 200 and png.headers["content-type"].startswith("image/png")
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)), formats=zxingcpp.BarcodeFormat.QRCode)
    # The code opens the verification page with exactly the payload in `p`.
    assert len(decoded) == 1 and decoded[0].text.endswith("/verify?p=" + payload), decoded[0].text if decoded else None
    page = requests.get(decoded[0].text.replace(decoded[0].text.split("/verify")[0], base_url), timeout=HTTP_TIMEOUT)
    assert page.status_code == 200 and "演示许可" in page.text
    svg = requests.get(base_url + created["qr"]["svgUrl"], headers=bearer(clerk))
    assert svg.status_code == 200 and "<svg" in svg.text and 'role="img"' in svg.text
    # Strangers get no image.
    assert requests.get(base_url + created["qr"]["pngUrl"]).status_code == 401
    # Tampered: one character changed anywhere never verifies; never a 500.
    for i in range(0, len(payload), max(1, len(payload) // 40)):
        c = payload[i]
        mutant = payload[:i] + ("A" if c != "A" else "B") + payload[i + 1:]
        r = requests.post(f"{base_url}/api/v1/licences/verify", json={"payload": mutant})
        assert r.status_code == 200 and r.json()["valid"] is False, mutant
    r = requests.post(f"{base_url}/api/v1/licences/{created['id']}/revoke",
                      headers=bearer(clerk), json={"reason": "测试注销"})
    assert r.status_code == 200
    after = requests.post(f"{base_url}/api/v1/licences/verify", json={"payload": payload}).json()
    assert after["valid"] is False and after["reason"] == "revoked"


def test_trust_list_and_bad_input(base_url):
    issue(base_url, api_login(base_url, "demo-clerk")["accessToken"])
    trust = requests.get(f"{base_url}/.well-known/tongban-trust-list.json")
    assert trust.status_code == 200
    keys = [k for issuer in trust.json()["issuers"] for k in issuer["keys"]]
    assert keys and all(k["kty"] in ("OKP", "EC") and "d" not in k for k in keys)
    for body in ({}, {"payload": 5}, {"payload": None}):
        assert_problem(requests.post(f"{base_url}/api/v1/licences/verify", json=body, timeout=HTTP_TIMEOUT), (400, 422))
    r = requests.post(f"{base_url}/api/v1/licences/verify", json={"payload": "x" * 10000})
    assert r.status_code in (200, 413)
    if r.status_code == 200:
        assert r.json()["valid"] is False


def test_vc_jwt_verifies_with_an_independent_jose_library(base_url):
    """The wallet download is a VC-JWT that joserfc verifies with the issuer's JWK from the trust list."""
    import base64
    import json
    import warnings

    from joserfc import jws
    from joserfc.jwk import ECKey, OKPKey

    created = issue(base_url, api_login(base_url, "demo-clerk")["accessToken"])
    citizen = api_login(base_url, "demo-citizen")["accessToken"]
    r = requests.get(f"{base_url}/api/v1/licences/{created['id']}/credential", headers=bearer(citizen), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vc+jwt")
    token = r.text
    head = token.split(".")[0]
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    assert header["typ"] == "vc+jwt" and header["cty"] == "vc"
    trust = requests.get(f"{base_url}/.well-known/tongban-trust-list.json", timeout=HTTP_TIMEOUT).json()
    jwk = next(k for issuer in trust["issuers"] for k in issuer["keys"] if k["kid"] == header["kid"])
    public = {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y", "kid")}
    key = OKPKey.import_key(public) if jwk["kty"] == "OKP" else ECKey.import_key(public)
    registry = jws.JWSRegistry(algorithms=[header["alg"]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc prefers the fully-specified "Ed25519" name (RFC 9864)
        verified = jws.deserialize_compact(token, key, algorithms=[header["alg"]], registry=registry)
        credential = json.loads(verified.payload)
        assert credential["@context"][0] == "https://www.w3.org/ns/credentials/v2"
        assert "VerifiableCredential" in credential["type"]
        assert credential["credentialSubject"]["licenceNumber"] == created["number"]
        assert citizen_id() not in verified.payload.decode()
        # One changed character in the payload part and the library refuses it.
        head, body, sig = token.split(".")
        tampered = ".".join([head, body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1], sig])
        with pytest.raises(Exception):
            jws.deserialize_compact(tampered, key, algorithms=[header["alg"]], registry=registry)
    # Only the holder gets it.
    clerk = api_login(base_url, "demo-clerk")["accessToken"]
    assert requests.get(f"{base_url}/api/v1/licences/{created['id']}/credential", headers=bearer(clerk),
                        timeout=HTTP_TIMEOUT).status_code == 404


def test_offline_cli_checks_signed_status_lists(base_url, tmp_path):
    """`tongban verify --trust-list T --status-list R --status-list S PAYLOAD` against downloaded files:
    valid before revocation, revoked after, and a tampered list is refused. The list is also decoded here
    independently (multibase base64url, gzip, most significant bit first)."""
    import base64
    import gzip
    import json
    import os
    import subprocess
    from pathlib import Path

    binary = Path(os.environ.get("TONGBAN_BIN", Path(__file__).resolve().parents[2] / ".build" / "debug" / "tongban"))
    if not binary.exists():
        pytest.skip(f"no tongban binary at {binary}")
    clerk = api_login(base_url, "demo-clerk")["accessToken"]
    licence = issue(base_url, clerk)
    payload = licence["qr"]["payload"]
    claims = json.loads(base64.urlsafe_b64decode(payload.split(".")[1] + "=="))
    index = claims["si"]

    def download():
        trust = tmp_path / "trust.json"
        trust.write_bytes(requests.get(f"{base_url}/.well-known/tongban-trust-list.json", timeout=HTTP_TIMEOUT).content)
        files = []
        for purpose in ("revocation", "suspension"):
            r = requests.get(f"{base_url}/api/v1/licences/status/370100-SCJG/{purpose}", timeout=HTTP_TIMEOUT)
            assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/statuslist+jwt")
            path = tmp_path / f"{purpose}.jwt"
            path.write_text(r.text)
            files.append(path)
        return trust, files

    def run(trust, files):
        args = [str(binary), "verify", "--trust-list", str(trust)]
        for f in files:
            args += ["--status-list", str(f)]
        return subprocess.run(args + [payload], capture_output=True, text=True, timeout=60)

    trust, files = download()
    ok = run(trust, files)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("valid:")

    r = requests.post(f"{base_url}/api/v1/licences/{licence['id']}/revoke", headers=bearer(clerk), json={"reason": "测试吊销"},
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    trust, files = download()
    body = json.loads(base64.urlsafe_b64decode(files[0].read_text().split(".")[1] + "=="))
    encoded = body["credentialSubject"]["encodedList"]
    assert encoded.startswith("u")
    bits = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert len(bits) * 8 >= 131072
    assert bits[index // 8] & (0x80 >> (index % 8))
    revoked = run(trust, files)
    assert revoked.returncode == 1
    assert "revoked" in revoked.stderr

    text = files[0].read_text()
    files[0].write_text(text[:-6] + ("A" if text[-6] != "A" else "B") + text[-5:])
    tampered = run(trust, files)
    assert tampered.returncode == 1
    assert "revocation.jwt" in tampered.stderr
