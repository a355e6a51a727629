"""Home Assistant `state_changed` events to a flat, typed StateChange."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

UNAVAILABLE = {"unavailable", "unknown", ""}
KEPT_ATTRIBUTES = ("unit_of_measurement", "device_class", "friendly_name")


class InvalidEvent(ValueError):
    """An event this service cannot ingest."""


@dataclass(frozen=True)
class StateChange:
    entity_id: str
    domain: str
    object_id: str
    state: str
    previous: str | None
    value: float | None
    time: datetime
    attributes: dict[str, Any] = field(default_factory=dict)

    def as_message(self) -> dict[str, Any]:
        return {"entity_id": self.entity_id, "domain": self.domain, "state": self.state,
                "previous": self.previous, "value": self.value, "time": self.time.isoformat(),
                "attributes": self.attributes}


def _parse_time(raw: Any) -> datetime:
    if not raw:
        return datetime.now(timezone.utc)
    try:
        when = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidEvent(f"bad time {raw!r}") from exc
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _numeric(state: str) -> float | None:
    try:
        value = float(state)
    except (TypeError, ValueError):
        return None
    return value if value == value and abs(value) != float("inf") else None


def normalize(event: dict[str, Any]) -> StateChange:
    if event.get("event_type", "state_changed") != "state_changed":
        raise InvalidEvent(f"unsupported event type {event.get('event_type')!r}")
    data = event.get("data") or {}
    entity_id = data.get("entity_id", "")
    if entity_id.count(".") != 1 or not all(entity_id.split(".")):
        raise InvalidEvent(f"bad entity_id {entity_id!r}")
    new_state = data.get("new_state")
    if not new_state or "state" not in new_state:
        raise InvalidEvent(f"{entity_id}: no new_state (entity removed?)")
    old_state = data.get("old_state") or {}
    domain, object_id = entity_id.split(".")
    state = str(new_state["state"])
    attributes = {k: v for k, v in (new_state.get("attributes") or {}).items() if k in KEPT_ATTRIBUTES}
    return StateChange(
        entity_id=entity_id, domain=domain, object_id=object_id, state=state,
        previous=str(old_state["state"]) if "state" in old_state else None,
        value=None if state in UNAVAILABLE else _numeric(state),
        time=_parse_time(new_state.get("last_changed") or event.get("time_fired")),
        attributes=attributes,
    )


def topic_for(change: StateChange) -> str:
    return f"homeassistant/state/{change.domain}/{change.object_id}"
