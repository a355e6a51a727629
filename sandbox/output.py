"""How every command speaks: one exit-code table and one output helper (console or JSON).

Exit codes follow Ruff: 0 clean, 1 findings or failures, 2 usage or environment error; an
interrupted run exits 130 like any program stopped by Ctrl-C.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any

from rich.console import Console
from rich.markup import escape


class ExitCode(IntEnum):
    OK = 0  # all verified / clean
    FAILED = 1  # some service failed, a promotion was refused, a check found something
    USAGE = 2  # usage or environment error: the command could not do its work
    INTERRUPTED = 130  # Ctrl-C / SIGTERM; what the run created was removed


@dataclass
class Output:
    """Console output of a command. Plain lines stay one per finding in pipes (soft_wrap)."""

    out: Console = field(default_factory=lambda: Console(stderr=False, soft_wrap=True))
    err: Console = field(default_factory=lambda: Console(stderr=True, soft_wrap=True))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def line(self, text: str = "") -> None:
        """Text as is: no markup, no highlighting, no wrapping."""
        with self._lock:
            self.out.out(text, highlight=False)

    def json(self, document: Any) -> None:
        self.line(json.dumps(document, indent=2, default=str))

    def rich(self, renderable: Any) -> None:
        """A table or other rich renderable."""
        self.out.print(renderable)

    def error(self, message: str) -> None:
        self.err.print(f"[red]error:[/red] {escape(message)}", highlight=False)

    def warning(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/yellow] {escape(message)}", highlight=False)

    def note(self, message: str) -> None:
        """A line on stderr that is neither an error nor a warning."""
        self.err.out(message, highlight=False)

    def progress(self, line: str) -> None:
        """Image build progress: plain lines when not a terminal (CI logs), a dimmed stream otherwise."""
        if self.out.is_terminal:
            self.out.print(f"[dim]{escape(line)}[/dim]", highlight=False)
        else:
            self.line(line)

    def event(self, service: str, stage: str, message: str) -> None:
        """One progress line of a run; called from the service worker threads."""
        first = message.splitlines()[0] if message else ""
        self.line(f"[{datetime.now():%H:%M:%S}] {service:<22} {stage:<9} {first}")
