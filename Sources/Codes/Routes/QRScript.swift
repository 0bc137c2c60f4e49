/// A QR encoder for the browser (`window.TongbanQR`), served at the top of `GET /codes/device.js` so that a holder's
/// phone draws its offline code as a scannable picture with no network. The same standard as the Swift encoder in
/// TongbanCore (ISO/IEC 18004: byte mode, levels L/M/Q/H, versions 1–40, Reed–Solomon over GF(256) with 0x11D,
/// the eight masks chosen by penalty score N1–N4); the tables are copied from `QRTables`. No libraries.
///
/// `TongbanQR.encode(text, level)` → `{version, size, modules}` (rows of booleans, dark = true) or throws when the
/// UTF-8 bytes exceed version 40; `TongbanQR.svg(text, level)` → an SVG string (4-module quiet zone, one path).
/// tests/py/test_codes_device.py renders it in Chromium and decodes the picture with zxing-cpp.
enum QRScript {
    static let source = #"""
(function () {
  "use strict";
  var EC = [
    [0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28, 28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
    [0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28],
    [0, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30, 28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
    [0, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28, 30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30]
  ];
  var BLOCKS = [
    [0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25],
    [0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49],
    [0, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20, 23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68],
    [0, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25, 25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81]
  ];
  var ALIGN = [[], [], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34], [6, 22, 38], [6, 24, 42], [6, 26, 46], [6, 28, 50],
    [6, 30, 54], [6, 32, 58], [6, 34, 62], [6, 26, 46, 66], [6, 26, 48, 70], [6, 26, 50, 74], [6, 30, 54, 78],
    [6, 30, 56, 82], [6, 30, 58, 86], [6, 34, 62, 90], [6, 28, 50, 72, 94], [6, 26, 50, 74, 98], [6, 30, 54, 78, 102],
    [6, 28, 54, 80, 106], [6, 32, 58, 84, 110], [6, 30, 58, 86, 114], [6, 34, 62, 90, 118], [6, 26, 50, 74, 98, 122],
    [6, 30, 54, 78, 102, 126], [6, 26, 52, 78, 104, 130], [6, 30, 56, 82, 108, 134], [6, 34, 60, 86, 112, 138],
    [6, 30, 58, 86, 114, 142], [6, 34, 62, 90, 118, 146], [6, 30, 54, 78, 102, 126, 150], [6, 24, 50, 76, 102, 128, 154],
    [6, 28, 54, 80, 106, 132, 158], [6, 32, 58, 84, 110, 136, 162], [6, 26, 54, 82, 110, 138, 166], [6, 30, 58, 86, 114, 142, 170]];
  var LEVELS = { L: 0, M: 1, Q: 2, H: 3 };
  var FORMAT_LEVEL = [1, 0, 3, 2];

  var EXP = [], LOG = [];
  (function () {
    var x = 1;
    for (var i = 0; i < 255; i++) { EXP[i] = x; LOG[x] = i; x <<= 1; if (x & 0x100) { x ^= 0x11D; } }
    for (i = 255; i < 512; i++) { EXP[i] = EXP[i - 255]; }
  })();
  function mul(a, b) { return a === 0 || b === 0 ? 0 : EXP[LOG[a] + LOG[b]]; }
  function generator(degree) {
    var g = [1];
    for (var i = 0; i < degree; i++) {
      var next = [];
      for (var k = 0; k <= g.length; k++) { next.push(0); }
      for (var j = 0; j < g.length; j++) { next[j] ^= g[j]; next[j + 1] ^= mul(g[j], EXP[i]); }
      g = next;
    }
    return g;
  }
  function remainder(data, gen) {
    var degree = gen.length - 1, r = [];
    for (var k = 0; k < degree; k++) { r.push(0); }
    for (var i = 0; i < data.length; i++) {
      var factor = data[i] ^ r.shift();
      r.push(0);
      for (var j = 0; j < degree; j++) { r[j] ^= mul(gen[j + 1], factor); }
    }
    return r;
  }
  function rawModules(v) {
    var result = (16 * v + 128) * v + 64;
    if (v >= 2) {
      var n = Math.floor(v / 7) + 2;
      result -= (25 * n - 10) * n - 55;
      if (v >= 7) { result -= 36; }
    }
    return result;
  }
  function dataCodewords(v, l) { return Math.floor(rawModules(v) / 8) - EC[l][v] * BLOCKS[l][v]; }
  function bit(value, i) { return ((value >>> i) & 1) !== 0; }

  function codewords(bytes, v, l) {
    var bits = [];
    function put(value, n) { for (var i = n - 1; i >= 0; i--) { bits.push((value >>> i) & 1); } }
    put(4, 4);
    put(bytes.length, v <= 9 ? 8 : 16);
    for (var i = 0; i < bytes.length; i++) { put(bytes[i], 8); }
    var capacity = dataCodewords(v, l) * 8;
    put(0, Math.min(4, capacity - bits.length));
    put(0, (8 - bits.length % 8) % 8);
    for (var pad = 0xEC; bits.length < capacity; pad ^= 0xEC ^ 0x11) { put(pad, 8); }
    var data = [];
    for (i = 0; i < bits.length; i += 8) {
      var b = 0;
      for (var k = 0; k < 8; k++) { b = (b << 1) | bits[i + k]; }
      data.push(b);
    }
    var blockCount = BLOCKS[l][v], ecLength = EC[l][v], total = Math.floor(rawModules(v) / 8);
    var shortCount = blockCount - total % blockCount, shortLength = Math.floor(total / blockCount);
    var gen = generator(ecLength), blocks = [], ecs = [], offset = 0;
    for (i = 0; i < blockCount; i++) {
      var length = shortLength - ecLength + (i < shortCount ? 0 : 1);
      var block = data.slice(offset, offset + length);
      offset += length;
      blocks.push(block);
      ecs.push(remainder(block, gen));
    }
    var out = [];
    for (i = 0; i <= shortLength - ecLength; i++) {
      for (var j = 0; j < blockCount; j++) { if (i < blocks[j].length) { out.push(blocks[j][i]); } }
    }
    for (i = 0; i < ecLength; i++) { for (j = 0; j < blockCount; j++) { out.push(ecs[j][i]); } }
    return out;
  }

  function Symbol(v, l) {
    var size = v * 4 + 17, modules = [], fixed = [];
    for (var i = 0; i < size; i++) {
      var row = [], frow = [];
      for (var j = 0; j < size; j++) { row.push(false); frow.push(false); }
      modules.push(row); fixed.push(frow);
    }
    this.version = v; this.level = l; this.size = size; this.modules = modules; this.fixed = fixed;
  }
  Symbol.prototype.set = function (x, y, dark) { this.modules[y][x] = dark; this.fixed[y][x] = true; };
  Symbol.prototype.functionPatterns = function () {
    var size = this.size, self = this, i, j, dx, dy;
    for (i = 0; i < size; i++) { this.set(6, i, i % 2 === 0); this.set(i, 6, i % 2 === 0); }
    function finder(cx, cy) {
      for (dy = -4; dy <= 4; dy++) {
        for (dx = -4; dx <= 4; dx++) {
          var d = Math.max(Math.abs(dx), Math.abs(dy)), x = cx + dx, y = cy + dy;
          if (x >= 0 && x < size && y >= 0 && y < size) { self.set(x, y, d !== 2 && d !== 4); }
        }
      }
    }
    finder(3, 3); finder(size - 4, 3); finder(3, size - 4);
    var pos = ALIGN[this.version], n = pos.length;
    for (i = 0; i < n; i++) {
      for (j = 0; j < n; j++) {
        if ((i === 0 && j === 0) || (i === 0 && j === n - 1) || (i === n - 1 && j === 0)) { continue; }
        for (dy = -2; dy <= 2; dy++) {
          for (dx = -2; dx <= 2; dx++) { this.set(pos[i] + dx, pos[j] + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1); }
        }
      }
    }
    this.format(0);
    if (this.version >= 7) {
      var rem = this.version;
      for (i = 0; i < 12; i++) { rem = (rem << 1) ^ ((rem >>> 11) * 0x1F25); }
      var bits = (this.version << 12) | rem;
      for (i = 0; i < 18; i++) {
        var a = size - 11 + i % 3, b = Math.floor(i / 3);
        this.set(a, b, bit(bits, i)); this.set(b, a, bit(bits, i));
      }
    }
  };
  Symbol.prototype.format = function (mask) {
    var data = (FORMAT_LEVEL[this.level] << 3) | mask, rem = data, i, size = this.size;
    for (i = 0; i < 10; i++) { rem = (rem << 1) ^ ((rem >>> 9) * 0x537); }
    var bits = ((data << 10) | rem) ^ 0x5412;
    for (i = 0; i <= 5; i++) { this.set(8, i, bit(bits, i)); }
    this.set(8, 7, bit(bits, 6)); this.set(8, 8, bit(bits, 7)); this.set(7, 8, bit(bits, 8));
    for (i = 9; i < 15; i++) { this.set(14 - i, 8, bit(bits, i)); }
    for (i = 0; i < 8; i++) { this.set(size - 1 - i, 8, bit(bits, i)); }
    for (i = 8; i < 15; i++) { this.set(8, size - 15 + i, bit(bits, i)); }
    this.set(8, size - 8, true);
  };
  Symbol.prototype.place = function (data) {
    var i = 0, size = this.size;
    for (var right = size - 1; right >= 1; right -= 2) {
      if (right === 6) { right = 5; }
      for (var vert = 0; vert < size; vert++) {
        for (var j = 0; j < 2; j++) {
          var x = right - j, upward = ((right + 1) & 2) === 0, y = upward ? size - 1 - vert : vert;
          if (!this.fixed[y][x] && i < data.length * 8) {
            this.modules[y][x] = bit(data[i >>> 3], 7 - (i & 7));
            i++;
          }
        }
      }
    }
  };
  function masked(mask, x, y) {
    switch (mask) {
      case 0: return (x + y) % 2 === 0;
      case 1: return y % 2 === 0;
      case 2: return x % 3 === 0;
      case 3: return (x + y) % 3 === 0;
      case 4: return (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0;
      case 5: return (x * y) % 2 + (x * y) % 3 === 0;
      case 6: return ((x * y) % 2 + (x * y) % 3) % 2 === 0;
      default: return ((x + y) % 2 + (x * y) % 3) % 2 === 0;
    }
  }
  Symbol.prototype.applyMask = function (mask) {
    for (var y = 0; y < this.size; y++) {
      for (var x = 0; x < this.size; x++) {
        if (!this.fixed[y][x] && masked(mask, x, y)) { this.modules[y][x] = !this.modules[y][x]; }
      }
    }
  };
  // ISO/IEC 18004 §7.8.3: N1 runs of five or more, N2 2×2 blocks, N3 finder-like 1:1:3:1:1 runs with four light
  // modules on one side, N4 the dark share's distance from 50 %.
  Symbol.prototype.penalty = function () {
    var size = this.size, m = this.modules, score = 0, dark = 0, x, y;
    function line(get) {
      var result = 0, run = 1, previous = get(0), pattern = 0;
      for (var i = 1; i < size; i++) {
        var value = get(i);
        if (value === previous) { run++; } else { if (run >= 5) { result += run - 2; } run = 1; previous = value; }
      }
      if (run >= 5) { result += run - 2; }
      for (i = 0; i < size + 4; i++) {
        pattern = ((pattern << 1) | (i < size && get(i) ? 1 : 0)) & 0x7FF;
        if (i >= 10 && (pattern === 0x5D || pattern === 0x5D0)) { result += 40; }
      }
      return result;
    }
    for (y = 0; y < size; y++) { score += line(function (i) { return m[y][i]; }); }
    for (x = 0; x < size; x++) { score += line(function (i) { return m[i][x]; }); }
    for (y = 0; y < size - 1; y++) {
      for (x = 0; x < size - 1; x++) {
        var c = m[y][x];
        if (c === m[y][x + 1] && c === m[y + 1][x] && c === m[y + 1][x + 1]) { score += 3; }
      }
    }
    for (y = 0; y < size; y++) { for (x = 0; x < size; x++) { if (m[y][x]) { dark++; } } }
    var total = size * size;
    score += Math.floor(Math.abs(dark * 20 - total * 10) / total) * 10;
    return score;
  };

  function encode(text, levelName) {
    var bytes = Array.prototype.slice.call(new TextEncoder().encode(String(text)));
    var l = LEVELS[levelName || "M"];
    if (l === undefined) { throw new Error("unknown error correction level"); }
    var v = 1;
    while (v <= 40 && 4 + (v <= 9 ? 8 : 16) + bytes.length * 8 > dataCodewords(v, l) * 8) { v++; }
    if (v > 40) { throw new Error("too long for a QR code"); }
    var data = codewords(bytes, v, l), best = null, bestScore = Infinity;
    for (var mask = 0; mask < 8; mask++) {
      var symbol = new Symbol(v, l);
      symbol.functionPatterns();
      symbol.place(data);
      symbol.applyMask(mask);
      symbol.format(mask);
      var score = symbol.penalty();
      if (score < bestScore) { best = symbol; bestScore = score; best.mask = mask; }
    }
    return { version: v, size: best.size, mask: best.mask, modules: best.modules };
  }

  function svg(text, levelName) {
    var code = encode(text, levelName), border = 4, full = code.size + 2 * border, path = "";
    for (var y = 0; y < code.size; y++) {
      for (var x = 0; x < code.size; x++) {
        if (code.modules[y][x]) { path += "M" + (x + border) + " " + (y + border) + "h1v1h-1z"; }
      }
    }
    return '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ' + full + " " + full + '" shape-rendering="crispEdges"' +
      ' width="100%" style="max-width:' + (full * 4) + 'px;display:block" aria-hidden="true" focusable="false">' +
      '<rect width="' + full + '" height="' + full + '" fill="#fff"/><path fill="#000" d="' + path + '"/></svg>';
  }

  window.TongbanQR = { encode: encode, svg: svg };
})();
"""#
}
