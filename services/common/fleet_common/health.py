"""A small health report: each dependency check is ok or not, and the overall verdict follows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class HealthReport:
    service: str
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks[name] = {"ok": bool(ok), "detail": detail}

    @property
    def healthy(self) -> bool:
        return all(check["ok"] for check in self.checks.values())

    @property
    def status_code(self) -> int:
        return 200 if self.healthy else 503

    def body(self) -> dict[str, Any]:
        return {"service": self.service, "status": "ok" if self.healthy else "unavailable",
                "checks": self.checks}
