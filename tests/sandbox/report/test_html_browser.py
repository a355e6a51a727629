"""`sandbox report --html` rendered by a real headless Chromium (Debian's package, installed by
scripts/setup.sh): the DOM holds the fleet, and the screenshot shows it in its status colours."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.sandbox.report.test_history import SECOND, _sandbox, _two_nights

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
GREEN, RED = (0x2E, 0x7D, 0x32), (0xC6, 0x28, 0x28)


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium")
    if binary is None:  # never a skip: the set-up installs it
        pytest.fail(
            "chromium is not installed; run scripts/setup.sh (Debian package `chromium`)", pytrace=False
        )
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB/RGBA PNG, with the stdlib only."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour = header[:4]
    assert depth == 8 and colour in (2, 6), header
    channels = 3 if colour == 2 else 4
    raw, stride, rows, previous = zlib.decompress(idat), width * channels, [], bytes(width * channels)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up, corner = previous[x], previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[x] = (line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(bytes(line))
        previous = bytes(line)
    return width, height, [bytes(row) for row in rows]


def colour_counts(width: int, rows: list[bytes]) -> dict[tuple[int, int, int], int]:
    channels = len(rows[0]) // width
    counts: dict[tuple[int, int, int], int] = {}
    for row in rows:
        for x in range(0, len(row), channels):
            pixel = (row[x], row[x + 1], row[x + 2])
            counts[pixel] = counts.get(pixel, 0) + 1
    return counts


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("html-repo")
    _two_nights(repo)
    for service in ("rag-service", "websocket-ingestion", "weather-api", "data-retention"):
        folder = repo / ".sandbox" / "runs" / SECOND / service
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("migrate.log", "build.log", "test.log", "health.log", "diff.patch", "report.json"):
            (folder / name).write_text(f"{service} {name}\n")
    result = _sandbox(repo, "--html")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote .sandbox/runs/{SECOND}/report.html"
    return repo / ".sandbox" / "runs" / SECOND / "report.html"


def test_the_page_is_self_contained_with_relative_links(page: Path) -> None:
    html = page.read_text()
    assert "<script" not in html and "<link" not in html and " src=" not in html
    links = re.findall(r'href="([^"]+)"', html)
    assert links and all(not link.startswith(("/", "http", "file:")) for link in links)
    assert all((page.parent / link).is_file() for link in links), links


def test_the_browser_dom_holds_every_service_and_status(page: Path, tmp_path: Path) -> None:
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    for text in (
        "rag-service",
        "data-retention",
        "websocket-ingestion",
        "weather-api",
        "admin-api",
        "verified",
        "failed",
        "timeout",
        "not-run",
        "Trend of the last 2 run(s)",
        "Failed services",
    ):
        assert text in dom.stdout, text
    assert "rag-service — build" in dom.stdout and "next: run it: `sandbox verify admin-api`" in dom.stdout


def test_the_screenshot_shows_the_fleet_in_its_colours(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    done = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,900", page.as_uri())
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    assert shot.stat().st_size > 20_000
    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 900)
    counts = colour_counts(width, rows)
    assert len(counts) > 50  # text, tables and cells, not one flat colour
    assert counts.get(GREEN, 0) > 2000 and counts.get(RED, 0) > 2000  # verified and failed cells
    keep = Path(__file__).parents[3] / ".sandbox" / "report-screenshot.png"
    keep.parent.mkdir(exist_ok=True)
    shutil.copy(shot, keep)  # for a person to look at (the repo's .sandbox is git-ignored)


def test_a_page_elsewhere_links_back_to_the_run_and_only_to_files_that_exist(tmp_path: Path) -> None:
    _two_nights(tmp_path)
    folder = tmp_path / ".sandbox" / "runs" / SECOND / "weather-api"
    folder.mkdir(parents=True)
    (folder / "health.log").write_text("healthy\n")
    result = _sandbox(tmp_path, "--html", "-o", str(tmp_path / "site" / "index.html"), "--last", "1")
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "site" / "index.html").read_text()
    assert re.findall(r'href="([^"]+)"', html) == [f"../.sandbox/runs/{SECOND}/weather-api/health.log"]
    assert "Trend of the last 1 run(s)" in html
