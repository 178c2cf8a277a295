#!/bin/bash
# AllowedIPs never take the host's own routes (issue 10, point 3): routes
# are added with NLM_F_EXCL, and a prefix the host already routes elsewhere
# (its LAN's connected route, a static route via a gateway, either family)
# is a refusal that names the prefix and the route in the way.
#
#   [ns h] "the host"                                  [ns g] the gateway
#     lan0 198.18.70.1/24, 2001:db8:70::1/64 ------------ lan0 198.18.70.254/24, 2001:db8:70::fe/64
#     198.18.72.0/24     via 198.18.70.254  (static)
#     2001:db8:72::/64   via 2001:db8:70::fe (static)
#     tunnels (one at a time, no underlay needed):
#       hrc4: AllowedIPs 198.18.70.0/24   -> up refused (connected route)
#       hrs4: AllowedIPs 198.18.72.0/24   -> up refused (static via gateway)
#       hrc6: AllowedIPs 2001:db8:70::/64 -> up refused
#       hrs6: AllowedIPs 2001:db8:72::/64 -> up refused
#       hrok: Address 198.18.73.1/24, AllowedIPs 198.18.74.0/24 -> up;
#             reload adding 198.18.70.0/24 or 2001:db8:72::/64 -> refused, nothing changed;
#             down
# `ip route show` (both families) compared byte for byte: before == after
# every refusal and after down; during == after every refused reload.
set -e
. "$(dirname "$0")/lib.sh"
ns_new h; ns_new g
veth "$h" 198.18.70.1/24 "$g" 198.18.70.254/24 lan0 lan0
ip -n "$h" addr add 2001:db8:70::1/64 dev lan0 nodad
ip -n "$g" addr add 2001:db8:70::fe/64 dev lan0 nodad
ip -n "$h" route add 198.18.72.0/24 via 198.18.70.254
ip -n "$h" -6 route add 2001:db8:72::/64 via 2001:db8:70::fe
keypair kh; keypair kp; keypair kq

routes() { ip -n "$h" -4 route show; echo ---; ip -n "$h" -6 route show; }
BEFORE=$(routes)

conf() {	# NAME ALLOWEDIPS [ADDRESS]
	(umask 077; cat > "$WORK/$1.conf") <<EOC
[Interface]
PrivateKey = $kh_priv
${3:+Address = $3}

[Peer]
PublicKey = $kp_pub
AllowedIPs = $2
EOC
}

up_refused() {	# BASE ALLOWEDIPS ROUTE_IN_THE_WAY_PATTERN
	local name
	name=$(ifname "$1")
	conf "$name" "$2"
	if VPND_LOG="$WORK/$name.log" ip netns exec "$h" "$VPND" up "$WORK/$name.conf" \
		> "$WORK/$name.out" 2>&1; then
		cp "/var/run/vpnd/$name.pid" "$WORK/$name.pidfile"	# for cleanup
		echo "vpnd up succeeded"; return 1
	fi
	cat "$WORK/$name.out"
	grep -q "AllowedIPs $2" "$WORK/$name.out" || { echo "prefix not named"; return 1; }
	grep -Eq "$3" "$WORK/$name.out" || { echo "route in the way not named"; return 1; }
	! ip -n "$h" link show "$name" 2>/dev/null || { echo "$name left behind"; return 1; }
	[ "$(routes)" = "$BEFORE" ] || { echo "routes changed:"; diff <(echo "$BEFORE") <(routes); return 1; }
}
check "up over the LAN's connected route is refused, routes unchanged" \
	up_refused hrc4 198.18.70.0/24 "'198.18.70.0/24 dev lan0 proto kernel"
check "up over a static route via a gateway is refused, routes unchanged" \
	up_refused hrs4 198.18.72.0/24 "'198.18.72.0/24 via 198.18.70.254 dev lan0 proto (boot|static)"
check "up over the IPv6 connected route is refused, routes unchanged" \
	up_refused hrc6 2001:db8:70::/64 "'2001:db8:70::/64 dev lan0 proto kernel"
check "up over an IPv6 static route via a gateway is refused, routes unchanged" \
	up_refused hrs6 2001:db8:72::/64 "'2001:db8:72::/64 via 2001:db8:70::fe dev lan0"

# --- a tunnel that fits, then reloads that would take the host's routes ---
OK=$(ifname hrok)
conf "$OK" 198.18.74.0/24 198.18.73.1/24
vpnd_up "$h" "$WORK/$OK.conf"
check "the fitting tunnel routes its own prefix" \
	bash -c "ip -n $h route show 198.18.74.0/24 | grep -q 'dev $OK'"
DURING=$(routes)
PEERS=$(ip netns exec "$h" "$VPND" show "$OK" | grep -c '^peer' || true)

reload_refused() {	# ALLOWEDIPS ROUTE_IN_THE_WAY_PATTERN
	# The first peer gains the host's prefix, and a new peer comes: a
	# refused reload must apply neither.
	conf "$OK" "198.18.74.0/24, $1" 198.18.73.1/24
	printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 198.18.75.0/24\n' "$kq_pub" >> "$WORK/$OK.conf"
	if ip netns exec "$h" "$VPND" reload "$WORK/$OK.conf" > "$WORK/reload.out" 2>&1; then
		cat "$WORK/reload.out"; echo "reload succeeded"; return 1
	fi
	cat "$WORK/reload.out"
	grep -q "AllowedIPs $1" "$WORK/reload.out" && grep -Eq "$2" "$WORK/reload.out" ||
		{ echo "prefix or route in the way not named"; return 1; }
	[ "$(routes)" = "$DURING" ] || { echo "routes changed:"; diff <(echo "$DURING") <(routes); return 1; }
	[ "$(ip netns exec "$h" "$VPND" show "$OK" | grep -c '^peer')" = "$PEERS" ] ||
		{ echo "peers changed"; return 1; }
	ip netns exec "$h" "$VPND" show "$OK" | grep -q "allowed ips: 198.18.74.0/24$" ||
		{ echo "allowed ips changed"; ip netns exec "$h" "$VPND" show "$OK"; return 1; }
}
check "reload over the connected route is refused, nothing changed" \
	reload_refused 198.18.70.0/24 "'198.18.70.0/24 dev lan0 proto kernel"
check "reload over an IPv6 static route is refused, nothing changed" \
	reload_refused 2001:db8:72::/64 "'2001:db8:72::/64 via 2001:db8:70::fe dev lan0"
conf "$OK" 198.18.74.0/24 198.18.73.1/24
check "down works" ip netns exec "$h" "$VPND" down "$OK"
check "after down the host's routes are as before, byte for byte" \
	bash -c "[ \"\$(ip -n $h -4 route show; echo ---; ip -n $h -6 route show)\" = \"\$0\" ]" "$BEFORE"
check "the gateway is still reachable through the host's route" \
	ip netns exec "$h" ping -c 1 -W 2 198.18.70.254
finish
