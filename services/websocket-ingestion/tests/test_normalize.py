from datetime import datetime, timezone

import pytest

from app.normalize import InvalidEvent, normalize, topic_for
from app.writer import to_point
from tests.conftest import state_event


def test_numeric_state():
    change = normalize(state_event(unit_of_measurement="°C", friendly_name="Kitchen", icon="mdi:x"))
    assert change.entity_id == "sensor.kitchen_temperature"
    assert (change.domain, change.object_id) == ("sensor", "kitchen_temperature")
    assert change.value == 21.5 and change.previous == "21.0"
    assert change.time == datetime(2024, 5, 1, 10, tzinfo=timezone.utc)
    assert change.attributes == {"unit_of_measurement": "°C", "friendly_name": "Kitchen"}


def test_text_state_has_no_value():
    change = normalize(state_event("light.hall", state="on", old="off"))
    assert change.value is None and change.state == "on"


@pytest.mark.parametrize("state", ["unavailable", "unknown", "nan", "inf"])
def test_unusable_numbers_have_no_value(state):
    assert normalize(state_event(state=state)).value is None


def test_new_entity_has_no_previous_state():
    assert normalize(state_event(old=None)).previous is None


def test_naive_time_is_utc():
    change = normalize(state_event(when="2024-05-01T10:00:00"))
    assert change.time.tzinfo == timezone.utc


@pytest.mark.parametrize("event", [
    {"event_type": "call_service", "data": {}},
    {"data": {"entity_id": "nodot", "new_state": {"state": "1"}}},
    {"data": {"entity_id": "sensor.x", "new_state": None}},
    state_event(when="yesterday"),
])
def test_invalid_events(event):
    with pytest.raises(InvalidEvent):
        normalize(event)


def test_topic():
    assert topic_for(normalize(state_event("switch.pump"))) == "homeassistant/state/switch/pump"


def test_point_for_numeric_state():
    line = to_point(normalize(state_event(unit_of_measurement="W"))).to_line_protocol()
    assert line.startswith("home_events,domain=sensor,entity_id=sensor.kitchen_temperature ")
    assert 'state="21.5"' in line and "value=21.5" in line and 'unit="W"' in line
    assert line.endswith(" 1714557600000")


def test_point_for_text_state_has_no_value_field():
    line = to_point(normalize(state_event("light.hall", state="on"))).to_line_protocol()
    assert 'state="on"' in line and "value=" not in line
