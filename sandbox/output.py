"""How every command speaks: one exit-code table and one output helper (console or JSON).

Exit codes follow Ruff: 0 clean, 1 findings or failures, 2 usage or environment error; an
interrupted run exits 130 like any program stopped by Ctrl-C.

stdout carries only a command's result (its table, summary or JSON document), so `--json` output
is always parseable; progress, notes, warnings and errors go to stderr. On a terminal a run's
progress is a live per-service table (rich Live); elsewhere (CI logs, pipes) it is one timestamped
line per event. Image build output is kept whole in a log file; the console gets one line per
image built (all lines with -v).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table


class ExitCode(IntEnum):
    OK = 0  # all verified / clean
    FAILED = 1  # some service failed, a promotion was refused, a check found something
    USAGE = 2  # usage or environment error: the command could not do its work
    INTERRUPTED = 130  # Ctrl-C / SIGTERM; what the run created was removed


class Verbosity(IntEnum):
    QUIET = 0  # -q: results, warnings and errors only
    NORMAL = 1
    VERBOSE = 2  # -v: every image build line too


# CSI / OSC escape sequences and carriage returns: apt and pip progress bars in build output.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\r")
# Lines of an image build worth one console line: what is being built, and the slow steps.
_BUILD_HEADLINES = ("building ", "debootstrap ", "importing ")


def plain(text: str) -> str:
    """`text` without terminal escape codes."""
    return _ESCAPES.sub("", text)


@dataclass
class LiveTable:
    """The per-service progress table shown on a terminal while a run works."""

    rows: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    def update(self, service: str, stage: str, message: str) -> None:
        self.rows[service] = (stage, message[:80], f"{datetime.now():%H:%M:%S}")

    def render(self) -> Table:
        table = Table("service", "stage", "last event", "at", expand=False)
        for service, (stage, message, at) in self.rows.items():
            style = "red" if "fail" in message.lower() else "green" if "pass" in message.lower() else ""
            table.add_row(service, stage, escape(message), at, style=style)
        return table


@dataclass
class Output:
    """Console output of a command. Plain lines stay one per finding in pipes (soft_wrap)."""

    out: Console = field(default_factory=lambda: Console(stderr=False, soft_wrap=True))
    err: Console = field(default_factory=lambda: Console(stderr=True, soft_wrap=True))
    verbosity: Verbosity = Verbosity.NORMAL
    build_log: Path | None = None  # where image build output goes (default: a temp-free .sandbox path)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _live: Live | None = None
    _table: LiveTable | None = None
    _build_file: TextIO | None = None

    # --- results: stdout ---

    def line(self, text: str = "") -> None:
        """Text as is on stdout: no markup, no highlighting, no wrapping."""
        with self._lock:
            self.out.out(text, highlight=False)

    def json(self, document: Any) -> None:
        self.line(json.dumps(document, indent=2, default=str))

    def rich(self, renderable: Any) -> None:
        """A table or other rich renderable."""
        self.out.print(renderable)

    # --- diagnostics: stderr ---

    def error(self, message: str) -> None:
        self.err.print(f"[red]error:[/red] {escape(message)}", highlight=False)

    def warning(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/yellow] {escape(message)}", highlight=False)

    def note(self, message: str) -> None:
        """A line on stderr that is neither an error nor a warning (hidden by -q)."""
        if self.verbosity >= Verbosity.NORMAL:
            self.err.out(message, highlight=False)

    def progress(self, line: str) -> None:
        """One line of image build output: always into the build log; on stderr one line per image
        (every line with -v), without escape codes."""
        text = plain(line).rstrip()
        if not text:
            return
        with self._lock:
            path = self._write_build_log(text)
        if self.verbosity >= Verbosity.VERBOSE:
            self.err.out(f"  {text}", highlight=False)
        elif self.verbosity >= Verbosity.NORMAL and text.startswith(_BUILD_HEADLINES):
            self.err.out(f"[{datetime.now():%H:%M:%S}] images {text} (log: {path})", highlight=False)

    def _write_build_log(self, text: str) -> Path | None:
        if self.build_log is None:
            return None
        if self._build_file is None:
            self.build_log.parent.mkdir(parents=True, exist_ok=True)
            self._build_file = self.build_log.open("a", encoding="utf-8")
        self._build_file.write(text + "\n")
        self._build_file.flush()
        return self.build_log

    def event(self, service: str, stage: str, message: str) -> None:
        """One progress event of a run; called from the service worker threads."""
        if service == "images":
            self.progress(message)
            return
        if self.verbosity < Verbosity.NORMAL:
            return
        first = plain(message.splitlines()[0]) if message else ""
        with self._lock:
            if self._live is not None and self._table is not None:
                self._table.update(service, stage, first)
                self._live.update(self._table.render())
                return
        self.err.out(f"[{datetime.now():%H:%M:%S}] {service:<22} {stage:<9} {first}", highlight=False)

    @contextmanager
    def live(self) -> Iterator[None]:
        """While a run works: a live per-service table on a terminal, plain lines otherwise."""
        if not self.err.is_terminal or self.verbosity != Verbosity.NORMAL:
            yield
            return
        self._table = LiveTable()
        with Live(self._table.render(), console=self.err, refresh_per_second=4, transient=False) as live:
            self._live = live
            try:
                yield
            finally:
                with self._lock:
                    self._live = None

    def close(self) -> None:
        if self._build_file is not None:
            self._build_file.close()
            self._build_file = None
