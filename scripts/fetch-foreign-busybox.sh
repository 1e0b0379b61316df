#!/usr/bin/env bash
# Write Debian's busybox-static for another architecture ($1, a Debian arch such as arm64) to $2:
# the same package as the host's, fetched with apt into private directories (the archive's
# signatures checked as for any install), so nothing on the host changes.
set -euo pipefail
arch=$1
out=$2
version=$(dpkg-query -W -f='${Version}' busybox-static)
apt_dir=$(mktemp -d)
trap 'rm -rf "$apt_dir"' EXIT
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/debs" "$apt_dir/x"
for suite in bookworm bookworm-updates; do
  echo "deb [arch=$arch signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main"
done >"$apt_dir/sources.list"
echo "deb [arch=$arch signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main" >>"$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir" -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update -qq >/dev/null
(cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download "busybox-static:$arch=$version" >/dev/null 2>&1 ||
  apt-get "${apt_opts[@]}" download "busybox-static:$arch" >/dev/null)
dpkg -x "$apt_dir"/debs/*.deb "$apt_dir/x"
install -m 0755 "$apt_dir/x/bin/busybox" "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
