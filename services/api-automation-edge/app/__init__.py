"""api-automation-edge: triggers Home Assistant automations downstream, with retries and metrics."""
