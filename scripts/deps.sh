#!/usr/bin/env bash
# Installs the Debian packages pairfs builds and tests with; only those that are missing.
#   scripts/deps.sh         build, test and bench tools (make deps)
#   scripts/deps.sh bench   only the extra packages of the benchmark's comparison targets
#                           (GlusterFS server and client); scripts/bench.sh calls it
#   scripts/deps.sh dev     optional developer tools, never needed to build or test:
#                           clang-format (`make format`)
set -euo pipefail
case ${1:-} in
  "")
    packages=(
      g++ make pkg-config
      libfuse3-dev fuse3 libzmq3-dev cppzmq-dev libmsgpack-cxx-dev catch2
      libtomlplusplus-dev libcli11-dev libspdlog-dev libxxhash-dev nlohmann-json3-dev
      fio qemu-utils e2fsprogs iptables bindfs socat python3 groff-base util-linux kmod procps
      # ops (issue 15): ocf-tester and xmllint for tests/integration/ocf_agent.sh
      resource-agents libxml2-utils
      # metrics (issue 15): the /metrics HTTP server, and the strict exposition-format parser of
      # tests/integration/metrics.sh (with curl)
      libcpp-httplib-dev python3-prometheus-client curl
    )
    ;;
  bench) packages=(glusterfs-server glusterfs-client) ;;
  dev) packages=(clang-format) ;;
  *) echo "usage: $0 [bench|dev]" >&2; exit 2 ;;
esac
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
# bench: the glusterfs-server package must not start a glusterd by itself (bench.sh starts its own
# and stops it by PID): a policy-rc.d saying 101 for the install, unless one exists (the admin's)
policy=/usr/sbin/policy-rc.d made_policy=""
if [ "${1:-}" = bench ] && [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 0755 "$policy" && made_policy=1
  trap '[ -n "$made_policy" ] && rm -f "$policy"' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}"
