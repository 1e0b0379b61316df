#!/usr/bin/env bash
# README command 1: set up what is missing, make the busybox base image from Debian's
# busybox-static, build the multi-stage demo in testdata/demo/ and run it. No daemon needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
tbuild() { node dist/cli.js "$@"; }

if [ -z "$(tbuild images -q busybox:latest 2>/dev/null)" ]; then
  rootfs=$(mktemp --suffix=.tar)
  trap 'rm -f "$rootfs"' EXIT
  bash scripts/make-busybox-rootfs.sh "$rootfs"
  tbuild import "$rootfs" busybox:latest --change 'CMD ["/bin/sh"]'
fi
tbuild run --rm busybox echo "busybox base image ready"
tbuild build --progress plain -t tbuild-demo:latest testdata/demo
tbuild run --rm tbuild-demo:latest
