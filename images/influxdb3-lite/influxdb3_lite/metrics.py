"""`GET /metrics`: Prometheus text exposition, ended by `# EOF` (`handle_metrics`, http.rs).

The real server reports its whole metric registry; the stand-in reports the request counters and
catalog sizes a scraper or health check looks for. Names are the stand-in's own (see FIDELITY.md).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from influxdb3_lite.store import Catalog


@dataclass
class Metrics:
    requests: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, method: str, path: str) -> None:
        with self.lock:
            self.requests[(method, path)] += 1

    def render(self, catalog: Catalog) -> str:
        with self.lock:
            counts = sorted(self.requests.items())
        lines = [
            "# HELP http_requests_total Number of HTTP requests, by method and path.",
            "# TYPE http_requests_total counter",
            *(f'http_requests_total{{method="{m}",path="{p}"}} {n}' for (m, p), n in counts),
            "# HELP influxdb3_catalog_databases Databases in the catalog (deleted excluded).",
            "# TYPE influxdb3_catalog_databases gauge",
            f"influxdb3_catalog_databases {len(catalog.listing())}",
        ]
        return "\n".join(lines) + "\n# EOF\n"
