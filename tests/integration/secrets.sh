#!/bin/bash
# Files written for other people, and what errors print (issue 10, point 5).
# No traffic: one namespace for the `vpnd up` that must fail.
#
#   $WORK/etc/sec-TOKEN.conf        a server config (never up), 0600
#   $WORK/out/c1.conf -> victim     --output through a symbolic link
#   $WORK/alice/ (nobody's)         --output over nobody's 0666 file, hard-linked as keep
#   $WORK/etc/sec-TOKEN.d/evil.conf -> $WORK/root-only   a symlinked peer file
#   [ns n]  vpnd up of a config with 'PrivateKey <key>' (no '=')
#   vpnd pubkey < a bad key
# Checks: --output replaces the link or the file (rename), never writes
# through it; the peer file is refused unread; no error prints a run of 40+
# base64 characters (a key) or a line of a file it refused.
set -e
. "$(dirname "$0")/lib.sh"
ns_new n
keypair ks; keypair kx
SRV=$(ifname sec)
ETC=$WORK/etc
mkdir -m 700 "$ETC" "$WORK/out"
(umask 077; cat > "$ETC/$SRV.conf") <<EOC
[Interface]
PrivateKey = $ks_priv
Address = 198.18.80.1/24
ListenPort = 51840
EOC
peer_add() {	# NAME OUTPUT
	VPND_CONFIG_DIR=$ETC "$VPND" peer add "$1" --iface "$SRV" --endpoint 198.18.81.1 \
		--output "$2"
}
no_key_in() {	# FILE: no base64 run of 40+ characters
	! grep -Eo '[A-Za-z0-9+/]{40,}' "$1"
}

# --- --output through a symbolic link ---
echo "VICTIM" > "$WORK/out/victim"
ln -s victim "$WORK/out/c1.conf"
check "peer add --output onto a symbolic link works" peer_add c1 "$WORK/out/c1.conf"
check "the link's target is untouched" grep -qx VICTIM "$WORK/out/victim"
check "the link was replaced by a regular 0600 root file with the config" \
	bash -c "[ ! -L '$WORK/out/c1.conf' ] && [ \"\$(stat -c '%F %a %u' '$WORK/out/c1.conf')\" = 'regular file 600 0' ] &&
		 grep -q '^PrivateKey = ' '$WORK/out/c1.conf'"
check "no temporary file left beside it" bash -c "! ls -A '$WORK/out' | grep -q tmp"

# --- --output over a file another user owns (and keeps a hard link to) ---
mkdir "$WORK/alice"
echo "old" > "$WORK/alice/c2.conf"
chmod 666 "$WORK/alice/c2.conf"
ln "$WORK/alice/c2.conf" "$WORK/alice/keep"
chown -R nobody "$WORK/alice"
check "peer add --output over nobody's file works" peer_add c2 "$WORK/alice/c2.conf"
check "nobody's inode (its hard link) never got the key" grep -qx old "$WORK/alice/keep"
check "the output is a new root-owned 0600 file with the config" \
	bash -c "[ \"\$(stat -c '%a %u' '$WORK/alice/c2.conf')\" = '600 0' ] &&
		 grep -q '^PrivateKey = ' '$WORK/alice/c2.conf'"

# --- a symlinked peer file is refused and never read ---
echo "TOPSECRET-first-line" > "$WORK/root-only"
chmod 600 "$WORK/root-only"
ln -s "$WORK/root-only" "$ETC/$SRV.d/evil.conf"
symlinked_refused() {
	if VPND_CONFIG_DIR=$ETC "$VPND" peer list --iface "$SRV" > "$WORK/list.out" 2>&1; then
		cat "$WORK/list.out"; echo "accepted"; return 1
	fi
	cat "$WORK/list.out"
	grep -q "evil.conf: refused: a symbolic link" "$WORK/list.out" &&
		! grep -q TOPSECRET "$WORK/list.out"
}
check "a symlinked peer file is refused, its text never printed" symlinked_refused
rm "$ETC/$SRV.d/evil.conf"

# --- a key line without '=' ---
bad_key_up() {	# LINE
	printf '[Interface]\n%s\n' "$1" > "$WORK/bad.conf"
	chmod 600 "$WORK/bad.conf"
	if ip netns exec "$n" "$VPND" up "$WORK/bad.conf" > "$WORK/bad.out" 2>&1; then
		echo "accepted"; return 1
	fi
	cat "$WORK/bad.out"
	grep -Eq "\(hidden, [0-9]+ characters\)" "$WORK/bad.out" && no_key_in "$WORK/bad.out"
}
check "'PrivateKey <key>' without '=' does not print the key" bad_key_up "PrivateKey $kx_priv"
check "... nor with its padding lost" bad_key_up "PrivateKey ${kx_priv%=}"
check "... nor pasted as a section" bad_key_up "[$kx_priv]"

# --- vpnd pubkey with a bad key ---
bad_pubkey() {	# TEXT
	if echo "$1" | "$VPND" pubkey > "$WORK/pk.out" 2> "$WORK/pk.err"; then
		echo "accepted"; return 1
	fi
	cat "$WORK/pk.err"
	no_key_in "$WORK/pk.err" && [ ! -s "$WORK/pk.out" ]
}
# The last symbol with unused bits set: 44 base64 characters, not canonical.
check "vpnd pubkey: a key with its last character wrong is not printed" \
	bad_pubkey "${kx_priv:0:42}1="
check "vpnd pubkey: a key with its padding lost is not printed" bad_pubkey "${kx_priv%=}"
finish
