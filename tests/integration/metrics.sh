#!/bin/bash
# vpnd show: the human output (handshake age, handshake counts, --rate),
# --json (valid JSON, the documented field names and types, the right
# values, no private or preshared key anywhere) and --prometheus (the text
# exposition format, checked by a strict parser below and, where installed,
# by promtool check metrics; values agree with the JSON).
#
#   [ns srv] veth0 198.18.31.1/24 ------------- veth0 198.18.31.2/24 [ns cli]
#     mt-srv 198.19.30.1/24, 2001:db8:30::1/64     mt-cli 198.19.30.2/24, 2001:db8:30::2/64
#     UDP 51830                                    Endpoint 198.18.31.1:51830
#     peer cli: 198.19.30.2/32, 2001:db8:30::2/128  PersistentKeepalive 25, PresharedKey
#
# promtool: Debian's is in the "prometheus" package (the whole server, about
# 100 MB installed), so it is not a dependency; the test uses it when it is
# on PATH or named by $PROMTOOL.
set -e
. "$(dirname "$0")/lib.sh"
SRV=$(ifname mt-srv) CLI=$(ifname mt-cli)
export VT_SRV=$SRV VT_CLI=$CLI	# the interfaces' names, for the Python checkers

ns_new srv
ns_new cli
veth "$srv" 198.18.31.1/24 "$cli" 198.18.31.2/24
keypair ks
keypair kc
psk=$("$VPND" genpsk)

cat > "$WORK/${SRV}.conf" <<EOC
[Interface]
PrivateKey = $ks_priv
Address = 198.19.30.1/24, 2001:db8:30::1/64
ListenPort = 51830

[Peer]
PublicKey = $kc_pub
PresharedKey = $psk
AllowedIPs = 198.19.30.2/32, 2001:db8:30::2/128
EOC
cat > "$WORK/${CLI}.conf" <<EOC
[Interface]
PrivateKey = $kc_priv
Address = 198.19.30.2/24, 2001:db8:30::2/64

[Peer]
PublicKey = $ks_pub
PresharedKey = $psk
AllowedIPs = 198.19.30.0/24, 2001:db8:30::/64
Endpoint = 198.18.31.1:51830
PersistentKeepalive = 25
EOC
chmod 600 "$WORK"/*.conf
vpnd_up "$srv" "$WORK/${SRV}.conf"
vpnd_up "$cli" "$WORK/${CLI}.conf"

ip netns exec "$cli" ping -c 5 -i 0.2 -W 2 198.19.30.1 > /dev/null
ip netns exec "$cli" ping -6 -c 5 -i 0.2 -W 2 2001:db8:30::1 > /dev/null
# Two datagrams too short to be anything: counted as drops, reason "short".
ip netns exec "$cli" bash -c 'printf ab > /dev/udp/198.18.31.1/51830; printf cd > /dev/udp/198.18.31.1/51830'
sleep 0.3

show() { ip netns exec "$1" "$VPND" show "${@:2}"; }

echo "# human output"
show "$srv" ${SRV} > "$WORK/human.srv"
show "$cli" ${CLI} > "$WORK/human.cli"
cat "$WORK/human.srv"
check "server: latest handshake as an age" \
	grep -Eqx '  latest handshake: [0-9]+ seconds? ago' "$WORK/human.srv"
check "server: handshake counts (none sent, one or more received)" \
	grep -Eqx '  handshakes: 0 sent, [1-9][0-9]* received' "$WORK/human.srv"
check "client: handshakes sent and the response received" \
	grep -Eqx '  handshakes: [1-9][0-9]* sent, [1-9][0-9]* received' "$WORK/human.cli"
check "server: transfer totals" grep -Eq '^  transfer: .* received, .* sent$' "$WORK/human.srv"
check "server: the drops line has short=2" grep -Eq '^  drops: (.*, )?short=2(,|$)' "$WORK/human.srv"
check "server: the preshared key is hidden" grep -qx '  preshared key: (hidden)' "$WORK/human.srv"
check "server: private key hidden, no PSK in the output" \
	sh -c "grep -qx '  private key: (hidden)' $WORK/human.srv && ! grep -qF '$psk' $WORK/human.srv"
check "client: persistent keepalive" grep -qx '  persistent keepalive: every 25 seconds' "$WORK/human.cli"
check "no rate line without --rate" sh -c "! grep -q 'rate:' $WORK/human.srv"

ip netns exec "$cli" ping -q -c 40 -i 0.05 -s 1000 198.19.30.1 > /dev/null &
PIDS+=($!)
sleep 0.3
show "$srv" ${SRV} --rate > "$WORK/rate.srv"
grep 'rate:' "$WORK/rate.srv" || true
check "--rate: a current rate from two samples, not zero while pinging" \
	grep -Eqx '  rate: [0-9.]+ (B|KiB|MiB)/s received, [0-9.]+ (B|KiB|MiB)/s sent \(over 1\.[0-9] s\)' \
	"$WORK/rate.srv"
check "--rate: the received rate is not 0" sh -c "! grep -q 'rate: 0 B/s received' $WORK/rate.srv"
check "--rate=0 is refused" sh -c "! ip netns exec $srv $VPND show ${SRV} --rate=0"
check "--rate with --json is refused" sh -c "! ip netns exec $srv $VPND show ${SRV} --rate --json"
wait

echo "# JSON"
show "$srv" ${SRV} --json > "$WORK/srv.json"
# Every interface on the host (the socket directory is shared): another
# test's daemon going down meanwhile may make it exit 1; the output counts.
show "$cli" --json > "$WORK/all.json" || true
cat "$WORK/srv.json"
check "server JSON is valid (python3 -m json.tool)" python3 -m json.tool "$WORK/srv.json"
check "all-interfaces JSON is valid (python3 -m json.tool)" python3 -m json.tool "$WORK/all.json"

cat > "$WORK/check_json.py" <<'EOF'
import base64, json, os, re, sys, time
path, role, me, peer, psk, *privs = sys.argv[1:]
doc = json.load(open(path))
raw = open(path).read()
def fail(msg):
    sys.exit(f"{path}: {msg}")
IFACE = {"interface": str, "public_key": str, "listen_port": int, "fwmark": int,
         "peer_to_peer": str, "under_load": bool, "cookie_replies_sent": int,
         "handshakes_answered": int, "drops": dict, "peers": list}
PEER = {"public_key": str, "name": (str, type(None)), "endpoint": (str, type(None)), "allowed_ips": list,
        "latest_handshake": int, "rx_bytes": int, "tx_bytes": int, "rx_packets": int,
        "tx_packets": int, "persistent_keepalive": int, "handshakes_sent": int,
        "handshakes_received": int}
REASONS = {"short", "bad_type", "bad_mac1", "cookie_sent", "ratelimited", "bad_handshake",
           "unknown_index", "bad_decrypt", "replay", "key_expired", "bad_inner_source",
           "bad_inner_packet", "no_route", "no_endpoint", "queue_full",
           "peer_to_peer_refused", "too_big", "cookie_ratelimited", "dh_budget", "hs_queue_full",
           "hs_stale"}
def typed(obj, schema, what):
    if set(obj) != set(schema):
        fail(f"{what}: fields {sorted(obj)} != {sorted(schema)}")
    for k, t in schema.items():
        if not isinstance(obj[k], t) or (t is int and isinstance(obj[k], bool)):
            fail(f"{what}.{k}: {obj[k]!r} is not {t}")
        if t is int and obj[k] < 0:
            fail(f"{what}.{k}: negative")
if not isinstance(doc, list):
    fail("not an array")
ifname = os.environ["VT_" + role.upper()]
ifaces = [i for i in doc if i.get("interface") == ifname]
if len(ifaces) != 1:
    fail(f"{ifname} appears {len(ifaces)} times")
i = ifaces[0]
typed(i, IFACE, "interface")
if i["public_key"] != me: fail("interface public_key")
if i["peer_to_peer"] != "kernel": fail("peer_to_peer")
if not REASONS <= set(i["drops"]): fail(f"drop reasons missing: {REASONS - set(i['drops'])}")
for r, n in i["drops"].items():
    if not isinstance(n, int) or n < 0: fail(f"drops.{r}")
if len(i["peers"]) != 1: fail("one peer expected")
p = i["peers"][0]
typed(p, PEER, "peer")
if p["public_key"] != peer: fail("peer public_key")
now = time.time()
if not now - 300 < p["latest_handshake"] <= now + 5: fail(f"latest_handshake {p['latest_handshake']}")
for k in ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets"):
    if p[k] <= 0: fail(f"peer.{k} is 0")
if p["rx_bytes"] < 10 * 84: fail("rx_bytes too small for 10 pings")
if role == "srv":
    if i["listen_port"] != 51830: fail("listen_port")
    if i["drops"]["short"] != 2: fail(f"drops.short = {i['drops']['short']}")
    if sorted(p["allowed_ips"]) != ["198.19.30.2/32", "2001:db8:30::2/128"]: fail("allowed_ips")
    if not re.fullmatch(r"198\.18\.31\.2:\d+", p["endpoint"] or ""): fail("endpoint")
    if p["persistent_keepalive"] != 0: fail("persistent_keepalive")
    if p["handshakes_received"] < 1 or p["handshakes_sent"] != 0: fail("handshakes")
    if i["handshakes_answered"] < 1: fail("handshakes_answered")
else:
    if p["endpoint"] != "198.18.31.1:51830": fail("endpoint")
    if sorted(p["allowed_ips"]) != ["198.19.30.0/24", "2001:db8:30::/64"]: fail("allowed_ips")
    if p["persistent_keepalive"] != 25: fail("persistent_keepalive")
    if p["handshakes_sent"] < 1: fail("handshakes_sent")
# No secret in any encoding: base64 as configured, hex as the UAPI has it.
for secret in [psk, *privs]:
    for form in (secret, base64.b64decode(secret).hex()):
        if form.lower() in raw.lower(): fail("a private or preshared key is in the output")
if re.search(r"private|preshared", raw): fail("a private/preshared field")
print(f"{path}: ok")
EOF
check "server JSON: fields, types and values" \
	python3 "$WORK/check_json.py" "$WORK/srv.json" srv "$ks_pub" "$kc_pub" "$psk" "$ks_priv" "$kc_priv"
check "client JSON (all interfaces in the namespace's view): fields, types and values" \
	python3 "$WORK/check_json.py" "$WORK/all.json" cli "$kc_pub" "$ks_pub" "$psk" "$ks_priv" "$kc_priv"
check "--json NAME gives exactly one interface" \
	python3 -c "import json,sys; d=json.load(open('$WORK/srv.json')); sys.exit(len(d) != 1)"
check "--json of an interface that is not up: [] and exit 1" \
	sh -c "out=\$(ip netns exec $srv $VPND show mt-nope --json 2>/dev/null); [ \$? -eq 1 ] && [ \"\$out\" = '[]' ]"

echo "# Prometheus"
# As for node_exporter's textfile collector: written aside, then renamed.
{ show "$srv" --prometheus || true; } > "$WORK/vpnd.prom.tmp"
mv "$WORK/vpnd.prom.tmp" "$WORK/vpnd.prom"
show "$srv" ${SRV} --json > "$WORK/srv2.json"
show "$srv" ${SRV} --prometheus > "$WORK/srv.prom"
sed -n '1,12p' "$WORK/srv.prom"

cat > "$WORK/check_prom.py" <<'EOF'
# A strict reader of the Prometheus text exposition format 0.0.4, plus
# vpnd's own conventions (every family has HELP and TYPE, counters end in
# _total, no blank lines, no timestamps).
import json, math, re, sys
path = sys.argv[1]
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"({NAME})(?:\{{((?:{LABEL}={VALUE})(?:,{LABEL}={VALUE})*,?)?\}})? (\S+)")
LABELS = re.compile(rf"({LABEL})=({VALUE})")
def fail(n, msg):
    sys.exit(f"{path}:{n}: {msg}")
def unescape(v):
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v[1:-1])
types, helps, done, series, samples = {}, set(), set(), set(), {}
current = None
text = open(path).read()
if text and not text.endswith("\n"): fail(0, "no final newline")
for n, line in enumerate(text.split("\n")[:-1], 1):
    if not line: fail(n, "blank line")
    if line.startswith("#"):
        m = re.fullmatch(rf"# (HELP|TYPE) ({NAME}) (.+)", line)
        if not m: fail(n, f"bad comment: {line!r}")
        kind, name, rest = m.groups()
        if name in done or name == current and kind == "HELP" and name in helps:
            fail(n, f"{name}: metadata after its samples or twice")
        if kind == "HELP":
            if name in helps: fail(n, f"second HELP for {name}")
            helps.add(name)
        else:
            if name in types: fail(n, f"second TYPE for {name}")
            if rest not in ("counter", "gauge", "histogram", "summary", "untyped"):
                fail(n, f"bad type {rest}")
            types[name] = rest
        if current and current != name: done.add(current)
        current = name
        continue
    m = SAMPLE.fullmatch(line)
    if not m: fail(n, f"not a sample: {line!r}")
    name, labels, value = m.groups()
    if name != current:
        if current: done.add(current)
        if name in done: fail(n, f"{name}: samples not grouped together")
        current = name
    if name not in types: fail(n, f"{name}: sample before its TYPE")
    if name not in helps: fail(n, f"{name}: no HELP")
    if types[name] == "counter" and not name.endswith("_total"): fail(n, f"{name}: counter without _total")
    if types[name] != "counter" and name.endswith("_total"): fail(n, f"{name}: _total but not a counter")
    pairs = LABELS.findall(labels or "")
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys): fail(n, "repeated label")
    if any(k.startswith("__") for k in keys): fail(n, "reserved label name")
    try:
        v = float(value)
    except ValueError:
        fail(n, f"bad value {value!r}")
    if math.isnan(v) or v < 0: fail(n, f"unexpected value {value}")
    key = (name, tuple(sorted((k, unescape(x)) for k, x in pairs)))
    if key in series: fail(n, f"duplicate series {key}")
    series.add(key)
    samples[key] = v
for name in types:
    if not any(k[0] == name for k in series): fail(0, f"{name}: TYPE without samples")
json.dump([[k[0], dict(k[1]), v] for k, v in samples.items()], open(path + ".parsed", "w"))
print(f"{path}: {len(series)} samples in {len(types)} families: ok")
EOF
# The parser itself: each bad text must be refused, the good one accepted.
cat > "$WORK/selftest_prom.py" <<'EOF'
import subprocess, sys
bad = [
    "# HELP a_total x\na_total 1\n",                                       # no TYPE
    "# HELP a_total x\n# TYPE a_total counter\na_total{l=\"1\"} 1\n"
    "# HELP b x\n# TYPE b gauge\nb 1\na_total{l=\"2\"} 1\n",                # split family
    "# HELP a x\n# TYPE a gauge\na{l=\"\\q\"} 1\n",                          # bad escape
    "# HELP a x\n# TYPE a counter\na 1\n",                                  # counter name
    "# HELP a x\n# TYPE a gauge\na{l=\"1\"} 1\na{l=\"1\"} 2\n",              # duplicate series
    "# HELP a x\n# TYPE a gauge\na 1 \n",                                   # trailing space
    "# HELP a x\n# TYPE a gauge\n\na 1\n",                                  # blank line
    "# HELP a x\n# TYPE a gauge\na one\n",                                  # bad value
]
good = "# HELP a x\n# TYPE a gauge\na{l=\"q\\\\\\\"\\n\",m=\"2\"} 1.5e3\n"
def run(text):
    open(sys.argv[2], "w").write(text)
    return subprocess.run([sys.executable, sys.argv[1], sys.argv[2]], capture_output=True).returncode
for i, t in enumerate(bad):
    if run(t) == 0: sys.exit(f"bad case {i} accepted: {t!r}")
if run(good) != 0: sys.exit("good case refused")
print(f"{len(bad)} bad texts refused, the good one accepted")
EOF
check "the strict parser refuses broken input and accepts escapes" \
	python3 "$WORK/selftest_prom.py" "$WORK/check_prom.py" "$WORK/bad.prom"
check "the textfile-collector file parses strictly" python3 "$WORK/check_prom.py" "$WORK/vpnd.prom"
check "${SRV}'s output parses strictly" python3 "$WORK/check_prom.py" "$WORK/srv.prom"
promtool=${PROMTOOL:-$(command -v promtool || true)}
if [ -n "$promtool" ]; then
	check "promtool check metrics accepts it (lint included)" \
		sh -c "$promtool check metrics < $WORK/srv.prom"
else
	echo "     (promtool not installed: the strict parser above stands in for it)"
fi

cat > "$WORK/check_values.py" <<'EOF'
import json, os, sys
SRV = os.environ["VT_SRV"]
parsed, js, me, peer, psk, *privs = sys.argv[1:]
samples = json.load(open(parsed))
raw = open(parsed.removesuffix(".parsed")).read()
i = json.load(open(js))[0]
p = i["peers"][0]
def get(name, **labels):
    hits = [v for n, l, v in samples if n == name and all(l.get(k) == x for k, x in labels.items())]
    if len(hits) != 1: sys.exit(f"{name} {labels}: {len(hits)} samples")
    return hits[0]
want_families = ["vpnd_peer_rx_bytes_total", "vpnd_peer_tx_bytes_total",
    "vpnd_peer_rx_packets_total", "vpnd_peer_tx_packets_total",
    "vpnd_peer_handshakes_sent_total", "vpnd_peer_handshakes_received_total",
    "vpnd_peer_last_handshake_seconds", "vpnd_peer_persistent_keepalive_seconds"]
lab = dict(interface=SRV, public_key=peer)
for f in want_families:
    get(f, **lab)
# Counters only grow: the Prometheus sample, taken after the JSON, is >=.
for f, k in [("vpnd_peer_rx_bytes_total", "rx_bytes"), ("vpnd_peer_tx_bytes_total", "tx_bytes"),
             ("vpnd_peer_rx_packets_total", "rx_packets"), ("vpnd_peer_tx_packets_total", "tx_packets"),
             ("vpnd_peer_handshakes_received_total", "handshakes_received")]:
    if get(f, **lab) < p[k]: sys.exit(f"{f} < JSON {k}")
if get("vpnd_peer_last_handshake_seconds", **lab) < p["latest_handshake"]: sys.exit("last handshake")
if get("vpnd_drops_total", interface=SRV, reason="short") != 2: sys.exit("drops short")
if get("vpnd_drops_total", interface=SRV, reason="peer_to_peer_refused") != 0: sys.exit("p2p drops")
if len([1 for n, l, v in samples if n == "vpnd_drops_total"]) != len(i["drops"]): sys.exit("drop reasons")
get("vpnd_cookie_replies_sent_total", interface=SRV)
if get("vpnd_handshakes_answered_total", interface=SRV) < i["handshakes_answered"]: sys.exit("answered")
get("vpnd_interface_info", interface=SRV, public_key=me, listen_port="51830", peer_to_peer="kernel")
get("vpnd_peer_info", interface=SRV, public_key=peer, endpoint=p["endpoint"],
    allowed_ips=",".join(p["allowed_ips"]))
if get("vpnd_interface_peers", interface=SRV) != 1: sys.exit("peers")
import base64
for secret in [psk, *privs]:
    for form in (secret, base64.b64decode(secret).hex()):
        if form.lower() in raw.lower(): sys.exit("a private or preshared key is in the output")
print("values agree with the JSON")
EOF
check "Prometheus values: every documented metric, in agreement with the JSON, no secrets" \
	python3 "$WORK/check_values.py" "$WORK/srv.prom.parsed" "$WORK/srv2.json" "$ks_pub" "$kc_pub" \
	"$psk" "$ks_priv" "$kc_priv"
check "--prometheus of an interface that is not up: empty and exit 1" \
	sh -c "out=\$(ip netns exec $srv $VPND show mt-nope --prometheus 2>/dev/null); [ \$? -eq 1 ] && [ -z \"\$out\" ]"
finish
