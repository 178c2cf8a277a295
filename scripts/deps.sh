#!/bin/sh
# Install, idempotently, the Debian packages vpnd needs to build and test.
# Only what is missing, and without recommends (wireguard-tools recommends a
# kernel image). systemd for systemd-analyze (install.sh verifies the units),
# man-db and groff-base to render the man page. Safe to run as often as you like; a no-op when all is there.
# `deps.sh bench` adds what only `make bench` and `make bench-flood` use: the
# other VPNs vpnd is measured against (fastd, tinc 1.0) and perf for profiles.
# jq reads iperf3's JSON and ip's counters (flood.sh, bench_flood.sh, bench.sh).
set -e
PKGS="build-essential pkg-config libsodium-dev libmnl-dev libcmocka-dev libb2-dev libcap-ng-dev
      clang libclang-rt-14-dev libseccomp-dev liburing-dev
      iproute2 iputils-ping iperf3 wireguard-tools wireguard-go nftables ncat
      procps python3 python3-cryptography bc jq libqrencode-dev zbar-tools openresolv
      systemd man-db groff-base"
if [ "${1:-}" = bench ]; then
    PKGS="$PKGS fastd tinc linux-perf"
fi
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
