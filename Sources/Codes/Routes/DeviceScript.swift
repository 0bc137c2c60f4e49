/// The holder page's device script (`GET /codes/device.js`): the browser side of offline codes, the same protocol
/// as the Swift reference ``DeviceCodeSigner``. No libraries: WebCrypto and IndexedDB only.
///
/// 1. "Use offline codes on this device" generates an Ed25519 key pair with WebCrypto; the private key is created
///    non-extractable (script code can sign with it but never read it) and kept as a CryptoKey in IndexedDB.
/// 2. The public key (raw, base64url) is certified by `POST /codes/devices` (the page's session and CSRF token;
///    the same service as `POST /api/v1/codes/devices`); the device certificate is stored next to the key.
/// 3. Every 5 seconds — with or without network — the script signs a fresh code
///    `certificate ~ JWS(EdDSA, kid = certificate id, typ "tongban-device-code", canonical claims)` valid 60 s and
///    draws it as a QR code (`#device-qr`, by ``QRScript``'s `TongbanQR`, level M) above its text (`#device-code`,
///    attribute `data-payload`), which a verifier can also paste.
enum DeviceScript {
    static let source = #"""
(function () {
  "use strict";
  var root = document.getElementById("offline-code");
  if (!root) { return; }
  var out = document.getElementById("device-code");
  var picture = document.getElementById("device-qr");
  var status = document.getElementById("device-status");
  var button = document.getElementById("device-register");
  var enc = new TextEncoder();
  var type = root.getAttribute("data-type") || "identity";

  function b64u(bytes) {
    var view = new Uint8Array(bytes), text = "";
    for (var i = 0; i < view.length; i++) { text += String.fromCharCode(view[i]); }
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function unb64u(text) {
    var s = text.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    return atob(s);
  }
  function say(key) { status.textContent = root.getAttribute("data-msg-" + key) || key; }

  function store(mode, action) {
    return new Promise(function (resolve, reject) {
      var open = indexedDB.open("tongban-codes", 1);
      open.onupgradeneeded = function () { open.result.createObjectStore("device"); };
      open.onerror = function () { reject(open.error); };
      open.onsuccess = function () {
        var tx = open.result.transaction("device", mode);
        var request = action(tx.objectStore("device"));
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
      };
    });
  }
  function load() { return store("readonly", function (s) { return s.get("current"); }); }
  function save(record) { return store("readwrite", function (s) { return s.put(record, "current"); }); }

  async function register() {
    var pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    var raw = await crypto.subtle.exportKey("raw", pair.publicKey);
    var response = await fetch("/codes/devices", {
      method: "POST", credentials: "same-origin",
      headers: { "content-type": "application/json", "accept": "application/json" },
      body: JSON.stringify({ publicKey: b64u(raw), name: root.getAttribute("data-device-name") || "browser",
                             _csrf: root.getAttribute("data-csrf") })
    });
    if (!response.ok) { throw new Error("HTTP " + response.status); }
    var device = await response.json();
    var cert = JSON.parse(unb64u(device.certificate.split(".")[1]));
    var record = { id: device.id, privateKey: pair.privateKey, certificate: device.certificate,
                   sub: cert.sub, cid: cert.cid, exp: cert.exp };
    await save(record);
    return record;
  }

  async function sign(record) {
    var iat = Math.floor(Date.now() / 1000);
    var claims = '{"exp":' + (iat + 60) + ',"iat":' + iat + ',"jti":"' + b64u(crypto.getRandomValues(new Uint8Array(16))) +
      '","sub":"' + record.sub + '","typ":"' + type + '","v":1}';
    var header = '{"alg":"EdDSA","kid":"' + record.cid + '","typ":"tongban-device-code"}';
    var input = b64u(enc.encode(header)) + "." + b64u(enc.encode(claims));
    var signature = await crypto.subtle.sign({ name: "Ed25519" }, record.privateKey, enc.encode(input));
    return record.certificate + "~" + input + "." + b64u(signature);
  }

  var current = null, timer = null;
  async function show() {
    if (!current) { return; }
    if (current.exp * 1000 <= Date.now()) { say("expired"); out.textContent = ""; out.removeAttribute("data-payload");
      if (picture) { picture.innerHTML = ""; picture.hidden = true; } button.hidden = false; return; }
    var payload = await sign(current);
    if (picture && window.TongbanQR) {
      picture.innerHTML = window.TongbanQR.svg(payload, "M");
      picture.setAttribute("data-payload", payload);
      picture.hidden = false;
    }
    out.textContent = payload;
    out.setAttribute("data-payload", payload);
    out.setAttribute("data-signed-at", String(Date.now()));
    say(navigator.onLine ? "ready" : "offline");
  }
  function start(record) {
    current = record;
    button.hidden = true;
    show();
    if (timer) { clearInterval(timer); }
    timer = setInterval(show, 5000);
  }

  if (!window.crypto || !crypto.subtle || !window.indexedDB) { say("unsupported"); button.disabled = true; return; }
  button.addEventListener("click", function () {
    button.disabled = true;
    say("registering");
    register().then(start).catch(function () { say("failed"); }).finally(function () { button.disabled = false; });
  });
  window.addEventListener("online", show);
  window.addEventListener("offline", show);
  load().then(function (record) { if (record && record.privateKey) { start(record); } else { say("none"); } })
    .catch(function () { say("none"); });
})();
"""#
}
