"""data-retention: hourly downsampling of raw sensor data, retention stats, expiry of raw points."""
