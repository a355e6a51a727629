from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any


@dataclass(frozen=True, order=True)
class Event:
    time: datetime
    entity_id: str
    state: str

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> "Event":
        when = raw["time"]
        if isinstance(when, str):
            when = datetime.fromisoformat(when.replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        entity_id = str(raw["entity_id"])
        if "." not in entity_id:
            raise ValueError(f"bad entity_id {entity_id!r}")
        return cls(when, entity_id, str(raw["state"]))

    @property
    def key(self) -> str:
        return f"{self.entity_id}={self.state}"
