#!/bin/bash
# The layering check must fail on a planted bad include: each numbered case
# copies the tree's sources to a scratch directory, plants one include that
# crosses a wall (or closes a circle), and expects scripts/check-layers.sh to
# fail naming it. The untouched copy must pass. No namespaces, no daemons.
set -e
HERE=$(cd "$(dirname "$0")/../.." && pwd)
CHECK="$HERE/scripts/check-layers.sh"
SCRATCH=$(mktemp -d /tmp/vpnd-layers.XXXXXX)
cleanup() { rm -rf "$SCRATCH"; }
trap cleanup EXIT
pass=0; fail=0

fresh() {
	rm -rf "$SCRATCH/tree"; mkdir -p "$SCRATCH/tree"
	(cd "$HERE" && cp -r crypto tun handshake vpnd "$SCRATCH/tree/")
}

# case NO FILE INCLUDE WHAT
plant() {
	local no=$1 file=$2 inc=$3 what=$4
	fresh
	printf '#include "%s"\n' "$inc" >> "$SCRATCH/tree/$file"
	if "$CHECK" "$SCRATCH/tree" > "$SCRATCH/out" 2>&1; then
		fail=$((fail + 1)); echo "FAIL - case $no: $what passed the check"
	elif grep -q "$inc" "$SCRATCH/out"; then
		pass=$((pass + 1)); echo "ok   - case $no: $what refused"
	else
		fail=$((fail + 1)); echo "FAIL - case $no: refused without naming '$inc'"
		cat "$SCRATCH/out"
	fi
}

fresh
if "$CHECK" "$SCRATCH/tree" > /dev/null; then
	pass=$((pass + 1)); echo "ok   - case 0: the tree as it is passes"
else
	fail=$((fail + 1)); echo "FAIL - case 0: the tree as it is fails"
fi
plant 1 crypto/crypto.c vpnd/common/net.h "crypto reaching up into vpnd"
plant 2 handshake/noise.c tun/tun.h "handshake reaching across into tun"
plant 3 tun/tun.c handshake/wire.h "tun knowing about the protocol"
plant 4 vpnd/datapath/send.c vpnd/control/config.h "the data path including the config parser"
plant 5 vpnd/datapath/receive.c vpnd/cli/show.h "the data path including the CLI"
plant 6 vpnd/control/uapi.c vpnd/daemon/daemon.h "the control plane including the daemon"
plant 7 vpnd/common/net.h vpnd/datapath/device.h "common including the data path"
plant 8 vpnd/datapath/index.h vpnd/datapath/device.h "a header circle (device.h -> index.h -> device.h)"
plant 9 vpnd/control/uapi.c vpnd/control/config_parser.h "a private header outside its files"
echo "layers: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
