#!/bin/sh
# Build the root filesystem of the offline Python 3.11 base image from Debian's archive.
# usage: bootstrap.sh ROOTFS_DIR CA_BUNDLE MIRROR
# The caller (sandbox.engine.images) tars ROOTFS_DIR and `docker import`s it, so nothing here needs
# Docker Hub: debootstrap only talks to the Debian mirror the host's apt already uses.
set -eu
root=$1
ca_bundle=$2
mirror=$3

debootstrap --variant=minbase \
  --include=python3,python3-pip,python3-venv,python-is-python3,ca-certificates \
  bookworm "$root" "$mirror"

# python:3.11-slim lets root `pip install` into the system interpreter; Debian's PEP 668 marker
# would refuse with externally-managed-environment, so drop it (this image is a build base only).
rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED

# Trust the host's CA bundle (it may carry a TLS-intercepting proxy's CA). Split it into single
# certificates under /usr/local/share/ca-certificates so a service Dockerfile that runs
# update-ca-certificates keeps them, then regenerate the bundle inside the rootfs.
mkdir -p "$root"/usr/local/share/ca-certificates/sandbox-host
awk -v dir="$root/usr/local/share/ca-certificates/sandbox-host" '
  /-----BEGIN CERTIFICATE-----/ { n++; out = sprintf("%s/host-%04d.crt", dir, n) }
  out != "" { print > out }
  /-----END CERTIFICATE-----/ { close(out); out = "" }
' "$ca_bundle"
chroot "$root" update-ca-certificates --fresh >/dev/null

# Keep the image small: package lists and caches are rebuilt by `apt-get update` when needed.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
