#!/usr/bin/env bash
# Install what tbuild needs, idempotently: Debian packages (runc, busybox-static, …), npm packages
# from the committed lockfile, and a compiled dist/. Safe to run any number of times.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

# Debian packages: runc is the low-level runtime; busybox-static makes the demo base image;
# skopeo checks our archives in tests; xz/bzip2/zstd decompress contexts and layers; attr gives
# python3 (os.setxattr, os.mknod for whiteouts); iproute2 brings up loopback in network=none containers; util-linux mounts;
# netavark, aardvark-dns and iptables plumb container networks (bridge, NAT, published ports, DNS).
# faketime moves the clock of a build in the reproducibility test.
# docker-registry (distribution 2.8), apache2-utils (htpasswd) and openssl run the registries the registry tests push to and pull from.
# qemu-user-static (with binfmt-support) runs other CPUs' RUN steps: FROM --platform=linux/arm64.
PKGS=(runc busybox-static git skopeo faketime xz-utils bzip2 zstd python3 iproute2 util-linux procps golang-github-containers-common tini docker-registry apache2-utils openssl netavark aardvark-dns iptables chromium qemu-user-static binfmt-support)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian packages: ${missing[*]} (run as root, or install them)"; exit 1
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# qemu-user-static's binfmt_misc handlers (with the F flag, so a container needs no qemu of its
# own), registered as the package does at boot on a systemd machine; without them a build for
# another CPU fails with TB_PLATFORM_EMULATION, naming what to install.
if [ "$(id -u)" -eq 0 ] && command -v update-binfmts >/dev/null; then
  binfmt=/proc/sys/fs/binfmt_misc
  [ -f "$binfmt/status" ] || mount -t binfmt_misc binfmt_misc "$binfmt" 2>/dev/null || log "cannot mount binfmt_misc: builds for other CPUs will fail"
  if [ -f "$binfmt/status" ] && [ ! -f "$binfmt/qemu-aarch64" ]; then
    log "registering qemu-user-static's binfmt_misc handlers"
    update-binfmts --enable >/dev/null 2>&1 || log "update-binfmts --enable failed: builds for other CPUs will fail"
  fi
fi

# The clients the BuildKit-API tests drive tbuild with: the Docker CLI and its buildx plugin, as
# Debian trixie packages them (CLI 26, buildx 0.13), unpacked privately so nothing on the host changes.
CLIENTS=${TBUILD_CLIENTS_DIR:-/opt/tbuild-clients}
if [ ! -x "$CLIENTS/usr/bin/docker" ] || [ ! -x "$CLIENTS/usr/libexec/docker/cli-plugins/docker-buildx" ]; then
  if [ -x /opt/peer-docker26/usr/bin/docker ] && [ -x /opt/peer-docker26/usr/libexec/docker/cli-plugins/docker-buildx ]; then
    CLIENTS=/opt/peer-docker26
  elif [ "$(id -u)" -eq 0 ]; then
    log "downloading docker-cli and docker-buildx (Debian trixie) into $CLIENTS"
    apt_dir=$(mktemp -d)
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/debs" "$CLIENTS"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >"$apt_dir/sources.list"
    apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir")
    apt-get "${apt_opts[@]}" update -qq >/dev/null
    (cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download docker-cli/trixie docker-buildx/trixie >/dev/null 2>&1)
    for deb in "$apt_dir"/debs/*.deb; do dpkg -x "$deb" "$CLIENTS"; done
    rm -rf "$apt_dir"
  else
    log "the Docker CLI with buildx is missing from $CLIENTS (run as root to fetch it)"
  fi
fi

# npm packages from the lockfile; re-run npm ci only when the lockfile changed.
stamp=node_modules/.tbuild-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$want" >"$stamp"
fi

# Compile: tsc for the library (dist/index.js and types), then a bundled dist/cli.js, because
# every CLI call would otherwise resolve and load ~200 modules (about 80 ms per command). What
# only some commands need (the build, the daemon, BuildKit's API, OpenTelemetry) is split off
# into dist/chunks/ and loaded on first use: a bundle in one file loads every package it uses at
# start (~0.4 s for gRPC, protobuf and the OpenTelemetry SDK), even for `tbuild --version`.
npm run --silent build
chmod +x dist/cli.js
