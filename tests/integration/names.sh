#!/bin/bash
# Interface names (issue 10, point 4): the config file's name becomes the
# interface name, and %i pastes it into a root shell. Names outside
# wg-quick's ^[a-zA-Z0-9_=+.-]{1,15}$ are refused at every entry, longer ones
# are refused rather than cut (two 16-character names sharing their first 15
# would be one interface).
#
#   [ns n]  nothing but lo; every `vpnd up` below runs here
#     ./x$(id>&2):.conf      PreUp = echo %i       -> refused, `id` never runs
#     officeber-TOKEN-a.conf (16 characters)       -> refused, nothing created
#     officeber-TOKEN-b.conf (16 characters)       -> refused, nothing created
#     officeb-TOKEN-ok.conf  (15 characters)       -> up, hook sees the name, down
#     also: down, reload, show, showconf, strip, daemon, peer --iface with a
#     bad name: refused
set -e
. "$(dirname "$0")/lib.sh"
ns_new n
keypair k

LONG_A="officeber-$TOKEN-a" LONG_B="officeber-$TOKEN-b"	# 16 characters
OK15="officeb-$TOKEN-ok"				# 15 characters
INJECT='x$(id>&2):'

write_conf() {	# FILE: a config whose hooks print %i and leave a mark
	cat > "$1" <<EOC
[Interface]
PrivateKey = $k_priv
Address = 198.18.40.1/24
PreUp = echo %i
PreUp = echo "hook:%i" >> $WORK/hooks.out
EOC
	chmod 600 "$1"
}

cd "$WORK"
write_conf "$WORK/$INJECT.conf"
write_conf "$WORK/$LONG_A.conf"
write_conf "$WORK/$LONG_B.conf"
write_conf "$WORK/$OK15.conf"

# Refused: non-zero exit, an 'invalid interface name' message, no 'uid='
# from an executed id (on stderr or in the daemon's log), no hook ran.
refused() {	# LABEL CMD...
	local out="$WORK/refused.$1.out"; shift
	if VPND_LOG="$WORK/daemon.log" ip netns exec "$n" "$@" > "$out" 2>&1; then
		echo "accepted: $*"; cat "$out"; return 1
	fi
	cat "$out"
	grep -q "invalid interface name" "$out" || { echo "no 'invalid interface name'"; return 1; }
	! grep -q "uid=" "$out" "$WORK/daemon.log" 2>/dev/null || { echo "id ran"; return 1; }
	[ ! -s "$WORK/hooks.out" ] || { echo "a hook ran:"; cat "$WORK/hooks.out"; return 1; }
}

no_links() {	# only lo in the namespace
	local links
	links=$(ip -n "$n" -o link show | awk -F': ' '{print $2}' | grep -v '^lo$' || true)
	[ -z "$links" ] || { echo "links left: $links"; return 1; }
}

check "up './x\$(id>&2):.conf' with PreUp = echo %i is refused, id never runs" \
	refused inject "$VPND" up "./$INJECT.conf"
check "nothing created by the injection" no_links
check "up of a 16-character name (…-a) is refused, not cut" refused long_a "$VPND" up "$LONG_A.conf"
check "up of a 16-character name (…-b) is refused, not cut" refused long_b "$VPND" up "$LONG_B.conf"
check "nothing created by the long names" no_links
check "down of a 16-character name is refused" refused down "$VPND" down "$LONG_A"
check "reload of the injection name is refused" refused reload "$VPND" reload "./$INJECT.conf"
check "daemon with a 16-character name is refused" refused daemon "$VPND" daemon "$LONG_B"
check "daemon with a shell name is refused" refused daemon2 "$VPND" daemon "$INJECT"
check "peer list --iface with a 16-character name is refused" \
	refused peer env VPND_CONFIG_DIR="$WORK" "$VPND" peer list --iface "$LONG_A"
check "show of a shell name is refused" refused show "$VPND" show "$INJECT"
check "showconf of a shell name is refused" refused showconf "$VPND" showconf "$INJECT"
check "strip of the injection file is refused" refused strip "$VPND" strip "./$INJECT.conf"
check "nothing created at all" no_links
check "no socket or pid file for any refused name" \
	bash -c "! ls /var/run/wireguard/ /var/run/vpnd/ 2>/dev/null | grep -e 'officeber-$TOKEN' -e 'x\\$'"

# The longest valid name works end to end, and its hook gets the full name.
check "up of a 15-character name works" vpnd_up "$n" "$WORK/$OK15.conf"
check "the interface has the whole 15-character name" ip -n "$n" link show "$OK15"
check "the hook saw the whole name" grep -qx "hook:$OK15" "$WORK/hooks.out"
check "down of the 15-character name works" ip netns exec "$n" "$VPND" down "$OK15"
check "nothing left after down" no_links
finish
