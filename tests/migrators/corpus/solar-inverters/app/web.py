"""aiohttp endpoints: CSV export streamed to the browser and the site registry (SQLAlchemy)."""
import csv
import io

from aiohttp import web

from app.production import fault_counts


class SiteRegistry:
    """Solar sites live in Postgres; nothing here touches InfluxDB."""

    def __init__(self, session_factory, model):
        self.session_factory = session_factory
        self.model = model

    def by_region(self, region: str):
        with self.session_factory() as session:
            return session.query(self.model).filter_by(region=region).all()  # site: sol-d01

    def write(self, site: dict, org: str, bucket: str | None = None) -> None:
        """Persist a site row (the `bucket` here is the S3 bucket holding its drone images)."""
        with self.session_factory() as session:
            session.add(self.model(org=org, image_bucket=bucket, **site))  # site: sol-d02
            session.commit()


async def export_faults(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/csv"})
    await resp.prepare(request)
    buf = io.StringIO()
    csv.writer(buf).writerows(sorted(fault_counts().items()))
    await resp.write(buf.getvalue().encode())  # site: sol-d03
    await resp.write_eof()
    return resp


def help_text() -> str:
    # site: sol-d04
    return "Raw data: open the Data Explorer and run from(bucket: \"solar\") |> range(start: -1h) yourself."
