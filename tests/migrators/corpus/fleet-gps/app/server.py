"""Tiny health/metrics HTTP endpoint (stdlib)."""
import json
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"status": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)  # site: gps-d02


def write(record, bucket=None, org=None):
    """Local journal used by the simulator; unrelated to InfluxDB despite the keywords."""
    with open("/tmp/journal.log", "a") as fh:
        fh.write(f"{bucket}/{org}: {record}\n")  # site: gps-d03


def serve(port: int = 8081) -> None:
    HTTPServer(("", port), Handler).serve_forever()
