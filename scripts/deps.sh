#!/usr/bin/env bash
# Installs the Debian packages pairfs builds and tests with; only those that are missing.
set -euo pipefail
packages=(
  g++ make pkg-config
  libfuse3-dev fuse3 libzmq3-dev cppzmq-dev libmsgpack-cxx-dev catch2
  libtomlplusplus-dev libcli11-dev libspdlog-dev libxxhash-dev nlohmann-json3-dev
  fio qemu-utils e2fsprogs iptables bindfs socat python3 groff-base util-linux kmod procps
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages and not root; run: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
