#!/bin/bash
# DNS = through resolvconf (openresolv, from scripts/deps.sh), with the
# namespace's own /etc/resolv.conf and resolvconf state (ip netns exec
# mounts /etc/netns/NAME/* over /etc); undone on down and after a crash;
# refused clearly, changing nothing, when neither resolvconf nor
# systemd-resolved is there. The host's /etc/resolv.conf is never touched.
#
#   [ns a] veth0 198.18.11.1/24 ------------ [ns b] veth0 198.18.11.2/24
#   DN 198.19.11.1/24, DNS = 198.19.11.53, 2001:db8:11::53, example.test
set -e
. "$(dirname "$0")/lib.sh"
DN=$(ifname dn)
CONF=$WORK/$DN.conf

ns_new a; ns_new b
# /etc/netns/NAME is ours to remove (ip netns del leaves it).
trap 'rm -rf "/etc/netns/$a"; cleanup' EXIT
veth "$a" 198.18.11.1/24 "$b" 198.18.11.2/24
mkdir -p "/etc/netns/$a" "$WORK/resolvconf"
echo "nameserver 198.18.11.2" > "/etc/netns/$a/resolv.conf"
printf 'resolv_conf=/etc/resolv.conf\nstate_dir=%s/resolvconf\n' "$WORK" > "/etc/netns/$a/resolvconf.conf"
cp /etc/resolv.conf "$WORK/host.resolv.conf"
keypair ka; keypair kb
cat > "$CONF" <<EOC
[Interface]
PrivateKey = $ka_priv
Address = 198.19.11.1/24
DNS = 198.19.11.53, 2001:db8:11::53, example.test

[Peer]
PublicKey = $kb_pub
AllowedIPs = 198.19.11.0/24
Endpoint = 198.18.11.2:51820
EOC
chmod 600 "$CONF"
resolv() { ip netns exec "$a" cat /etc/resolv.conf; }
resolv > "$WORK/ns.before"

check "resolvconf is installed (scripts/deps.sh)" command -v resolvconf
vpnd_up "$a" "$CONF"
check "up: the namespace's resolv.conf has the tunnel's servers and search" \
	sh -c "$(declare -f resolv); a=$a; resolv | grep -qx 'nameserver 198.19.11.53' &&
	       resolv | grep -qx 'nameserver 2001:db8:11::53' && resolv | grep -qx 'search example.test'"
check "up: the host's /etc/resolv.conf untouched" diff -u "$WORK/host.resolv.conf" /etc/resolv.conf
check "vpnd down" ip netns exec "$a" "$VPND" down "$DN"
check "down: the namespace's resolv.conf as before" sh -c "$(declare -f resolv); a=$a; resolv | diff -u $WORK/ns.before -"
check "down: no DNS state left" test ! -e "/var/run/vpnd/$DN.dns"

vpnd_up "$a" "$CONF"
kill -9 "$(cat "/var/run/vpnd/$DN.pid")"
check "monitor killed: vpnd down removes the DNS it left" \
	sh -c "sleep 0.5; ip netns exec $a $VPND down $DN 2>&1 | grep -q 'removed its DNS'"
check "... resolv.conf as before" sh -c "$(declare -f resolv); a=$a; resolv | diff -u $WORK/ns.before -"

# No resolvconf on PATH, no systemd-resolved: refused, nothing changed.
ip -n "$a" link > "$WORK/links.before"
check "no resolvconf and no resolved: up refused" \
	sh -c "! VPND_LOG=$WORK/refuse.log ip netns exec $a env PATH=/usr/bin:/bin $VPND up $CONF 2> $WORK/refuse.err"
check "the refusal says why and what to do" \
	grep -q "neither resolvconf (e.g. openresolv) nor a running systemd-resolved" "$WORK/refuse.err"
check "refused: no interface, resolv.conf as before" \
	sh -c "ip -n $a link | diff -u $WORK/links.before - && $(declare -f resolv); a=$a; resolv | diff -u $WORK/ns.before -"
check "the host's /etc/resolv.conf untouched" diff -u "$WORK/host.resolv.conf" /etc/resolv.conf
finish
