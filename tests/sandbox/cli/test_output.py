"""The output helper (pure logic, consoles on buffers): stdout carries only results; progress is a
live table on a terminal and timestamped lines elsewhere; image build output goes whole into its log
file without escape codes and reaches the console as one line per image."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from rich.console import Console

from sandbox.output import Output, Verbosity


def _output(terminal: bool = False, verbosity: Verbosity = Verbosity.NORMAL, log: Path | None = None):
    out, err = io.StringIO(), io.StringIO()
    output = Output(
        out=Console(file=out, force_terminal=terminal, soft_wrap=True, width=120),
        err=Console(file=err, force_terminal=terminal, soft_wrap=True, width=120),
        verbosity=verbosity,
        build_log=log,
    )
    return output, out, err


def test_json_stays_pure_while_events_flow() -> None:
    output, out, err = _output()
    output.event("svc", "build", "building the image\nsecond line")
    output.json({"ok": True})
    assert json.loads(out.getvalue()) == {"ok": True}
    assert re.fullmatch(r"\[\d\d:\d\d:\d\d\] svc +build +building the image\n", err.getvalue())


def test_quiet_hides_progress_but_not_errors() -> None:
    output, out, err = _output(verbosity=Verbosity.QUIET)
    output.event("svc", "test", "running")
    output.note("a note")
    output.error("broken")
    assert out.getvalue() == "" and "broken" in err.getvalue() and "running" not in err.getvalue()


def test_build_output_goes_to_its_log_and_one_line_per_image(tmp_path: Path) -> None:
    log = tmp_path / "images.log"
    output, out, err = _output(log=log)
    output.event("images", "resolve", "building sandbox/base:local-abc")
    for index in range(300):
        output.event("images", "resolve", f"\x1b[1mGet:{index} http://deb.debian.org\x1b[0m\r")
    output.close()
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and "building sandbox/base:local-abc" in lines[0] and str(log) in lines[0]
    kept = log.read_text().splitlines()
    assert len(kept) == 301 and kept[1] == "Get:0 http://deb.debian.org"
    assert "\x1b" not in log.read_text()


def test_verbose_shows_every_build_line_without_escapes() -> None:
    output, _, err = _output(verbosity=Verbosity.VERBOSE)
    output.progress("\x1b[31mStep 1/4\x1b[0m")
    assert err.getvalue() == "  Step 1/4\n"


def test_live_table_on_a_terminal() -> None:
    output, out, err = _output(terminal=True)
    with output.live():
        output.event("alpha", "build", "building")
        output.event("beta", "test", "passed (3.1s)")
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", err.getvalue())
    assert "alpha" in text and "beta" in text and "passed (3.1s)" in text and "stage" in text
    assert out.getvalue() == ""
