"""influxdb3-lite: an InfluxDB 3 Core stand-in on pyarrow.flight and Apache DataFusion."""
