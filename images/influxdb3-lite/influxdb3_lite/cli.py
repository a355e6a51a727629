"""`influxdb3 serve ...` with the real binary's flags (specs § 1.1).

Flags the stand-in has no use for (object store tuning, WAL, telemetry, plugins) are accepted and
ignored with a warning, so the sandbox starts the official image and this one with one command.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time

START = time.monotonic()
LOG = logging.getLogger("influxdb3_lite")
ENV_DEFAULTS = {
    "node_id": "INFLUXDB3_NODE_IDENTIFIER_PREFIX",
    "http_bind": "INFLUXDB3_HTTP_BIND_ADDR",
    "object_store": "INFLUXDB3_OBJECT_STORE",
    "admin_token_file": "INFLUXDB3_ADMIN_TOKEN_FILE",
}
# Flags of the real server that take a value and change nothing here.
IGNORED_WITH_VALUE = (
    "--wal-flush-interval",
    "--data-dir",
    "--plugin-dir",
    "--log-filter",
    "--gen1-duration",
    "--exec-mem-pool-bytes",
    "--query-file-limit",
)
IGNORED_SWITCHES = ("--disable-telemetry-upload",)


class _NoPandas:
    """Makes `import pandas` fail in the server process. pyarrow and datafusion import pandas
    only to recognise pandas objects, which the server never handles; that costs ~35 MB resident
    on a host where pandas is installed, and the image has no pandas at all, so the host
    subprocess and the container now run the same code path."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.partition(".")[0] == "pandas":
            raise ModuleNotFoundError("pandas is not used by the influxdb3-lite server", name=name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="influxdb3", description=__doc__)
    parser.add_argument("--version", action="store_true")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument(
        "--node-id", "--host-id", dest="node_id", default=os.environ.get(ENV_DEFAULTS["node_id"])
    )
    serve.add_argument("--node-id-from-env", dest="node_id_from_env")
    serve.add_argument("--object-store", default=os.environ.get(ENV_DEFAULTS["object_store"], "file"))
    serve.add_argument("--http-bind", default=os.environ.get(ENV_DEFAULTS["http_bind"], "0.0.0.0:8181"))
    serve.add_argument(
        "--without-auth",
        action="store_true",
        default=os.environ.get("INFLUXDB3_START_WITHOUT_AUTH", "").lower() in ("1", "true"),
    )
    serve.add_argument("--admin-token-file", default=os.environ.get(ENV_DEFAULTS["admin_token_file"]))
    serve.add_argument(
        "--admin-token", action="append", default=[], help="stand-in only: accept this token (repeatable)"
    )
    serve.add_argument("--disable-authz", default=os.environ.get("INFLUXDB3_DISABLE_AUTHZ", ""))
    serve.add_argument("--max-http-request-size", type=int, default=10 * 1024 * 1024)
    serve.add_argument(
        "--legacy-error-texts",
        action="store_true",
        help="stand-in only: the <=3.9 `parsing failed for write_lp endpoint` text",
    )
    for flag in IGNORED_WITH_VALUE:
        serve.add_argument(flag, dest="ignored_" + flag.strip("-").replace("-", "_"))
    for flag in IGNORED_SWITCHES:
        serve.add_argument(flag, action="store_true", dest="ignored_" + flag.strip("-").replace("-", "_"))
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(levelname)s influxdb3_lite: %(message)s"
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0].startswith("-") and argv[0] != "--version":
        argv = ["serve", *argv]  # the official image's entrypoint does the same
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if args.version:
        print("influxdb3 3.11.1 (influxdb3-lite stand-in)")
        return 0
    if args.command != "serve":
        parser.print_help()
        return 2
    return serve(args, unknown)


SWITCH_INTERVAL_S = 0.0005


def serve(args: argparse.Namespace, unknown: list[str]) -> int:
    node_id = args.node_id or (os.environ.get(args.node_id_from_env) if args.node_id_from_env else None)
    if not node_id:
        print(
            "error: the following required arguments were not provided:\n"
            "  <--node-id <NODE_IDENTIFIER_PREFIX>|--node-id-from-env <NODE_ID_FROM_ENV>>",
            file=sys.stderr,
        )
        return 2
    for flag in unknown:
        if flag.startswith("-"):
            LOG.warning("ignoring flag %s: not used by the influxdb3-lite stand-in", flag)
    if args.object_store != "memory":
        LOG.warning("object store %s: the stand-in keeps all data in memory", args.object_store)
    host, _, port = args.http_bind.rpartition(":")
    tokens = list(args.admin_token)
    if args.admin_token_file:
        with open(args.admin_token_file, encoding="utf-8") as handle:
            tokens.append(json.load(handle)["token"])
    sys.meta_path.insert(0, _NoPandas())
    from influxdb3_lite.server import Options, Server  # heavy imports after argument errors

    options = Options(
        host=host or "0.0.0.0",
        port=int(port),
        without_auth=args.without_auth,
        tokens=tuple(tokens),
        max_request_size=args.max_http_request_size,
        legacy_error_texts=args.legacy_error_texts,
        exempt=frozenset(p for p in args.disable_authz.split(",") if p),
    )
    # A query releases the GIL at every Arrow/DataFusion call and waits to take it back behind
    # the writer threads' Python work; with Python's 5 ms switch interval each such wait could
    # last 5 ms. At 0.5 ms, loaded query p50 halved in the bench (20 writers, 4 readers).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    server = Server(options)
    signal.signal(signal.SIGTERM, lambda *_: server.shutdown())
    host, port = server.address
    bound = f"{host}:{port}"
    LOG.info("startup time: %dms address=%s node_id=%s", (time.monotonic() - START) * 1000, bound, node_id)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.shutdown()
    LOG.info("shutting down")
    logging.shutdown()
    os._exit(0)  # a gRPC server's graceful stop waits on clients; a throwaway server need not


if __name__ == "__main__":
    raise SystemExit(main())
