"""The seeds' results export (`sandbox report --format seeds`): the JSON their orchestrator wrote,
`{service: {name, priority, migrations: {migration: bool}, overall_success}}`, so tools that read it
keep working. Unlike theirs, a migration is true only when the service was built, tested and
health-checked; a service that stopped early, or never ran, is false for every migration."""

from __future__ import annotations

from typing import Any


def seeds_results(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    results = {}
    for name, service in report["services"].items():
        verified = service["status"] == "verified"
        results[name] = {
            "name": name,
            "priority": service["priority"],
            "migrations": {migration: verified for migration in service["migrations"]},
            "overall_success": verified,
        }
    return results
