RAW_MEASUREMENT = "sensor_readings"
HOURLY_MEASUREMENT = "sensor_readings_hourly"
FIELD = "value"
RETENTION_DAYS = 30
DEFAULT_WINDOW_HOURS = 24
MAX_WINDOW_HOURS = 24 * 7

COMMAND_FILTER = "retention/commands/#"
RUN_TOPIC = "retention/commands/run"
STATS_TOPIC = "retention/commands/stats"
COMPLETED_TOPIC = "retention/events/completed"
STATS_EVENT_TOPIC = "retention/events/stats"
