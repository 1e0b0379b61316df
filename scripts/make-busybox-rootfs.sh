#!/usr/bin/env bash
# Write a rootfs tar of Debian's busybox-static (a 2 MB userland) to $1, for `tbuild import`.
# $2: another busybox binary to ship (another architecture's); the applet links come from the host's.
set -euo pipefail
out=$1
bb=/bin/busybox
[ -x "$bb" ] || bb=/usr/bin/busybox
ship=${2:-$bb}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
mkdir -p "$tmp"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home,var,proc,sys,dev}
chmod 1777 "$tmp/tmp"
cp "$ship" "$tmp/bin/busybox"
for app in $("$bb" --list-full); do
  case "$app" in bin/busybox|linuxrc) continue ;; esac
  mkdir -p "$tmp/$(dirname "$app")"
  ln -sf /bin/busybox "$tmp/$app"
done
cat >"$tmp/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat >"$tmp/etc/group" <<'G'
root:x:0:
daemon:x:1:
bin:x:2:
wheel:x:10:root
nogroup:x:65534:
G
tar --numeric-owner --owner=0 --group=0 -C "$tmp" -cf "$out" .
