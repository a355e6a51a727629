#!/bin/sh
# As the official image's entrypoint: arguments starting with '-' are flags for `influxdb3 serve`.
case "${1:-}" in
  -*) exec influxdb3 serve "$@" ;;
  serve) exec influxdb3 "$@" ;;
  *) exec "$@" ;;
esac
