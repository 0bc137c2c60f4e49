"""Decoding tests for the Swift QR encoder (TongbanCore/QR): images written by
`tongban qr` are read back with zxing-cpp and must give exactly the encoded bytes.

Runs the built binary (TONGBAN_BIN, default .build/debug/tongban); needs no server.
zxing-cpp and pillow come from tests/py/requirements.txt; qrcode and segno are
optional cross-checks (skipped when missing).
"""
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

zxingcpp = pytest.importorskip("zxingcpp")
Image = pytest.importorskip("PIL.Image")

sys.path.insert(0, str(Path(__file__).parent))
from penalty_reference import penalty  # noqa: E402

PACKAGE = Path(__file__).resolve().parents[2]  # the repository root
LEVELS = "LMQH"


@pytest.fixture(scope="session")
def qrgen():
    binary = os.environ.get("TONGBAN_BIN") or str(PACKAGE / ".build" / "debug" / "tongban")
    if not Path(binary).exists():
        pytest.skip(f"{binary} is not built")
    return [binary, "qr"]


@pytest.fixture(scope="session")
def capacities(qrgen):
    """capacities[level][version] from `tongban qr capacity` (index 0 unused)."""
    table = {level: [0] for level in LEVELS}
    for line in subprocess.run([*qrgen, "capacity"], check=True, capture_output=True, text=True).stdout.splitlines():
        version, *values = map(int, line.split())
        for level, value in zip(LEVELS, values):
            assert len(table[level]) == version
            table[level].append(value)
    return table


def decode(path):
    """The payload of the single QR code in the image at `path`."""
    image = Image.open(path)
    image.load()
    # Only QR codes: random module patterns occasionally pass for 1D barcodes.
    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(results) == 1, f"{path}: {len(results)} symbols found"
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode
    return results[0].bytes


def batch(qrgen, tmp_path, level, sizes, *options, fmt="png"):
    """Runs `tongban qr batch`; yields (size, version, mask, image path, payload)."""
    out = subprocess.run(
        [*qrgen, "batch", "--level", level, "--sizes", ",".join(map(str, sizes)), "--format", fmt, *options,
         str(tmp_path)], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        size, version, mask, path = line.split()
        payload = Path(path).with_suffix(".bin").read_bytes()
        assert len(payload) == int(size)
        yield int(size), int(version), int(mask), path, payload


def smallest_version(capacities, level, size):
    return next(v for v in range(1, 41) if capacities[level][v] >= size)


def check_batch(qrgen, tmp_path, capacities, level, sizes, *options):
    versions = set()
    for size, version, mask, path, payload in batch(qrgen, tmp_path, level, sizes, *options):
        assert version == smallest_version(capacities, level, size), f"size {size}"
        assert 0 <= mask <= 7
        assert decode(path) == payload, f"level {level} size {size} version {version} mask {mask}"
        versions.add(version)
    return versions


def test_capacity_table(capacities):
    assert [capacities[level][1] for level in LEVELS] == [17, 14, 11, 7]
    assert capacities["M"][10] == 213
    assert [capacities[level][40] for level in LEVELS] == [2953, 2331, 1663, 1273]


def test_capacity_table_matches_segno(capacities):
    consts = pytest.importorskip("segno.consts")
    ids = {"L": consts.ERROR_LEVEL_L, "M": consts.ERROR_LEVEL_M, "Q": consts.ERROR_LEVEL_Q, "H": consts.ERROR_LEVEL_H}
    for level in LEVELS:
        for version in range(1, 41):
            bits = consts.SYMBOL_CAPACITY[version][ids[level]]
            assert capacities[level][version] == (bits - 4 - (8 if version < 10 else 16)) // 8


@pytest.mark.parametrize("level", LEVELS)
def test_fixed_sizes(qrgen, tmp_path, capacities, level):
    check_batch(qrgen, tmp_path, capacities, level, [1, 2, 14, 17, 100, 300, 1000])


@pytest.mark.parametrize("level", LEVELS)
def test_version_boundaries(qrgen, tmp_path, capacities, level):
    """capacity(v) bytes still fit version v; one byte more needs v + 1."""
    sizes = []
    for version in [1, 2, 3, 6, 7, 9, 10, 11, 14, 20, 21, 26, 27, 28, 34, 35, 39, 40]:
        sizes.append(capacities[level][version])
        if version < 40:
            sizes.append(capacities[level][version] + 1)
    check_batch(qrgen, tmp_path, capacities, level, sizes, "--scale", "3")


@pytest.mark.parametrize("level", LEVELS)
def test_random_sizes(qrgen, tmp_path, capacities, level):
    rng = random.Random(f"sizes-{level}")
    sizes = sorted(rng.randint(1, capacities[level][40]) for _ in range(12))
    check_batch(qrgen, tmp_path, capacities, level, sizes, "--scale", "3", "--seed", "77")


def test_level_m_every_version(qrgen, tmp_path, capacities):
    """Level M from 1 byte to 2331 (stride 10, which includes 2331 itself),
    plus both sides of every version boundary: all 40 versions decode."""
    sizes = set(range(1, 2332, 10))
    assert 2331 in sizes
    for version in range(1, 41):
        sizes.add(capacities["M"][version])
        if version < 40:
            sizes.add(capacities["M"][version] + 1)
    versions = check_batch(qrgen, tmp_path, capacities, "M", sorted(sizes), "--scale", "3", "--border", "4")
    assert versions == set(range(1, 41))


@pytest.mark.parametrize("scale,border", [(1, 4), (2, 1), (6, 2)])
def test_png_scale_and_border(qrgen, tmp_path, scale, border):
    payload = random.Random(scale).randbytes(77)
    source = tmp_path / "payload.bin"
    source.write_bytes(payload)
    out = tmp_path / "code.png"
    subprocess.run([*qrgen, "png", "--input", str(source), "--level", "Q", "--scale", str(scale),
                    "--border", str(border), str(out)], check=True, capture_output=True)
    rows = matrix(qrgen, "--input", str(source), "--level", "Q")[1]
    image = Image.open(out)
    assert image.mode == "1"  # 1-bit greyscale
    n = len(rows)
    extent = (n + 2 * border) * scale
    assert image.size == (extent, extent)
    pixels = image.load()
    for y in range(extent):
        for x in range(extent):
            mx, my = x // scale - border, y // scale - border
            dark = 0 <= mx < n and 0 <= my < n and rows[my][mx] == 1
            assert (pixels[x, y] == 0) == dark, (x, y)
    if scale >= 2:
        assert decode(out) == payload


def test_payload_too_large(qrgen, tmp_path, capacities):
    for level in LEVELS:
        maximum = capacities[level][40]
        result = subprocess.run([*qrgen, "png", "--level", level, "--size", str(maximum + 1), str(tmp_path / "x.png")],
                                capture_output=True, text=True)
        # The CLI convention: exit 1 with one readable line on stderr.
        assert result.returncode == 1
        assert len(result.stderr.strip().splitlines()) == 1
        assert f"{maximum + 1} bytes exceeds the {maximum}-byte capacity" in result.stderr
        assert not (tmp_path / "x.png").exists()


def test_text_payload(qrgen, tmp_path):
    text = "https://tongban.example/permits/2024-000123 — 统一社会信用代码 ✓"
    out = tmp_path / "text.png"
    subprocess.run([*qrgen, "png", "--text", text, "--level", "H", str(out)], check=True, capture_output=True)
    assert decode(out) == text.encode()
    result = zxingcpp.read_barcodes(Image.open(out), formats=zxingcpp.BarcodeFormat.QRCode)[0]
    assert result.text == text


def rasterise_svg(svg, scale=1):
    """Draws our SVG (background rect + one path of 'M x y h w v1 h-w z'
    rectangles in viewBox units) into a PIL image."""
    view_box = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    assert view_box and view_box.group(1) == view_box.group(2)
    extent = int(view_box.group(1))
    assert re.search(r'width="(\d+)"', svg).group(1) == str(extent * 4)
    assert 'shape-rendering="crispEdges"' in svg and 'role="img"' in svg
    image = Image.new("L", (extent * scale, extent * scale), 255)
    path = re.search(r'<path fill="#000" d="([^"]*)"', svg).group(1)
    rectangles = re.findall(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z", path)
    assert "".join(f"M{x} {y}h{w}v1h-{w2}z" for x, y, w, w2 in rectangles) == path
    for x, y, w, w2 in rectangles:
        assert w == w2
        x, y, w = int(x), int(y), int(w)
        image.paste(0, (x * scale, y * scale, (x + w) * scale, (y + 1) * scale))
    return image


@pytest.mark.parametrize("level", LEVELS)
def test_svg_decodes(qrgen, tmp_path, capacities, level):
    sizes = [1, 50, 300, capacities[level][40]]
    for size, version, mask, path, payload in batch(qrgen, tmp_path, level, sizes, fmt="svg"):
        svg = Path(path).read_text()
        image = rasterise_svg(svg, scale=3)
        image.save(tmp_path / "svg.png")
        assert decode(tmp_path / "svg.png") == payload, f"size {size}"


def test_svg_title_is_escaped(qrgen, tmp_path):
    out = tmp_path / "t.svg"
    subprocess.run([*qrgen, "svg", "--text", "x", "--title", 'Permit <A&B> "1"', str(out)], check=True,
                   capture_output=True)
    svg = out.read_text()
    assert "<title>Permit &lt;A&amp;B&gt; &quot;1&quot;</title>" in svg
    import xml.dom.minidom
    xml.dom.minidom.parseString(svg)  # well-formed


def matrix(qrgen, *arguments):
    """(header fields, rows of 0/1 ints) from `tongban qr matrix`."""
    lines = subprocess.run([*qrgen, "matrix", *arguments], check=True, capture_output=True,
                           text=True).stdout.splitlines()
    words = lines[0].split()
    header = dict(zip(words[0::2], words[1::2]))
    return header, [[int(c) for c in line] for line in lines[1:] if line]


@pytest.mark.parametrize("level", LEVELS)
def test_matches_python_qrcode_package(qrgen, tmp_path, level):
    """Byte-for-byte the same symbols as the independent `qrcode` package, for every mask."""
    qrcode = pytest.importorskip("qrcode")
    import qrcode.util
    ids = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
           "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}
    rng = random.Random(f"qrcode-{level}")
    for size in [1, 13, 60, 200, 500, 1200]:
        payload = bytes(rng.randrange(256) for _ in range(size))
        source = tmp_path / "payload.bin"
        source.write_bytes(payload)
        for mask in range(8):
            header, rows = matrix(qrgen, "--input", str(source), "--level", level, "--mask", str(mask))
            reference = qrcode.QRCode(version=int(header["version"]), error_correction=ids[level], border=0,
                                      mask_pattern=mask)
            reference.add_data(qrcode.util.QRData(payload, mode=qrcode.util.MODE_8BIT_BYTE))
            reference.make(fit=False)
            expected = [[1 if m else 0 for m in row] for row in reference.get_matrix()]
            assert rows == expected, f"level {level} size {size} mask {mask}"


@pytest.mark.parametrize("size,level", [(1, "M"), (40, "H"), (150, "L"), (400, "Q"), (1500, "L")])
def test_mask_choice_has_lowest_penalty(qrgen, size, level):
    """Each forced-mask symbol's score equals a plain Python evaluation, and
    the automatic choice is the first mask with the lowest score."""
    header, rows = matrix(qrgen, "--size", str(size), "--seed", "5", "--level", level)
    scores = []
    for mask in range(8):
        forced_header, forced_rows = matrix(qrgen, "--size", str(size), "--seed", "5", "--level", level,
                                            "--mask", str(mask))
        scores.append(penalty(forced_rows))
        assert int(forced_header["penalty"]) == scores[-1], f"mask {mask}"
    assert int(header["mask"]) == scores.index(min(scores))
    assert penalty(rows) == min(scores)
