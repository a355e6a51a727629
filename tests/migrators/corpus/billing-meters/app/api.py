from datetime import date

from flask import Flask, jsonify, request

from app import reports, usage
from app.influx import get_gateway
from app.invoices import InvoiceBuilder

app = Flask(__name__)


@app.get("/meters/<meter_id>/daily")
def daily(meter_id: str):
    start = date.fromisoformat(request.args["start"])
    end = date.fromisoformat(request.args["end"])
    return jsonify(usage.daily_usage(meter_id, start, end))


@app.get("/reports/top")
def top():
    return jsonify(reports.top_consumers(int(request.args.get("n", 10))))


@app.post("/meters/<meter_id>/readings")
def ingest(meter_id: str):
    body = request.get_json()
    get_gateway().write_line(f"meter_reading,meter_id={meter_id} kwh={float(body['kwh'])}")
    return "", 204


@app.get("/invoices/<meter_id>")
def invoice(meter_id: str):
    builder = InvoiceBuilder(get_gateway())
    line = builder.line(meter_id, date.fromisoformat(request.args["start"]), date.fromisoformat(request.args["end"]))
    return jsonify(line.__dict__)
