#!/usr/bin/env python3
"""wgref: a small, independent WireGuard reference for vpnd's tests.

Written from the protocol description (the WireGuard whitepaper and
/work/shared/PROTOCOL.md), not from vpnd's C code, so that it can serve as a
second opinion on the wire. Primitives come from python3-cryptography
(X25519, ChaCha20-Poly1305, the ChaCha20 block for HChaCha20) and hashlib
(BLAKE2s); HMAC, the KDF, XChaCha20-Poly1305 and TAI64N are the short
constructions the whitepaper / the XChaCha draft define on top of them.

Subcommands:
  vectors                 print known-answer vectors (fixed keys, ephemerals,
                          timestamps, indices, cookie secret and nonce) as a C
                          header: tests/unit/wg_vectors.h is this output
  selftest                in-process initiator <-> responder, cookie path,
                          malformed messages refused; exit 0 when all pass
  peer                    act as an initiator against a UDP endpoint: handshake
                          (answering a cookie reply with a retry carrying mac2),
                          ICMP echo through the tunnel both ways
  probe                   send malformed variants to a UDP endpoint and check
                          that none is answered (with valid controls)

Nothing secret is ever printed except in `vectors` (fixed test keys).
"""

import argparse
import base64
import hashlib
import os
import select
import socket
import struct
import sys
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

# --- constants (whitepaper section 5.4) --------------------------------------

CONSTRUCTION = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
IDENTIFIER = b"WireGuard v1 zx2c4 Jason@zx2c4.com"
LABEL_MAC1 = b"mac1----"
LABEL_COOKIE = b"cookie--"

MSG_INITIATION, MSG_RESPONSE, MSG_COOKIE_REPLY, MSG_TRANSPORT = 1, 2, 3, 4
LEN_INITIATION, LEN_RESPONSE, LEN_COOKIE_REPLY, LEN_TRANSPORT_MIN = 148, 92, 64, 32
TAI64_EPOCH = 0x400000000000000A
PAD = 16
MTU = 1420


class Reject(Exception):
    """A message that must be refused (wrong mac, AEAD failure, bad length...)."""


# --- primitives ----------------------------------------------------------------

def HASH(*parts):
    h = hashlib.blake2s(digest_size=32)
    for p in parts:
        h.update(p)
    return h.digest()


def MAC(key, data):
    return hashlib.blake2s(data, digest_size=16, key=key).digest()


def HMAC(key, data):
    """RFC 2104 over BLAKE2s, 64-byte block, 32-byte output."""
    block = 64
    if len(key) > block:
        key = HASH(key)
    key = key.ljust(block, b"\0")
    inner = HASH(bytes(b ^ 0x36 for b in key), data)
    return HASH(bytes(b ^ 0x5C for b in key), inner)


def KDF(n, key, data):
    """t0 = HMAC(key, data); t1 = HMAC(t0, 0x1); ti = HMAC(t0, t(i-1) || i)."""
    t0 = HMAC(key, data)
    out, prev = [], b""
    for i in range(1, n + 1):
        prev = HMAC(t0, prev + bytes([i]))
        out.append(prev)
    return out


def clamp(k):
    k = bytearray(k)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    return bytes(k)


def DH_GENERATE():
    priv = X25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption())
    priv = clamp(priv)
    return priv, pubkey(priv)


def pubkey(priv):
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def DH(priv, pub):
    try:
        out = X25519PrivateKey.from_private_bytes(priv).exchange(
            X25519PublicKey.from_public_bytes(pub))
    except ValueError:  # OpenSSL refuses an all-zero result itself
        raise Reject("DH: low-order public key")
    if out == bytes(32):
        raise Reject("DH: all-zero result")
    return out


def AEAD(key, counter, plain, ad):
    return ChaCha20Poly1305(key).encrypt(b"\0" * 4 + struct.pack("<Q", counter), plain, ad)


def AEAD_OPEN(key, counter, sealed, ad):
    try:
        return ChaCha20Poly1305(key).decrypt(b"\0" * 4 + struct.pack("<Q", counter), sealed, ad)
    except InvalidTag:
        raise Reject("AEAD: authentication failed")


def HCHACHA20(key, nonce16):
    """HChaCha20 (draft-irtf-cfrg-xchacha section 2.2): the ChaCha20 block
    function without its final feed-forward addition, words 0-3 and 12-15.
    The block comes from cryptography's ChaCha20 (whose 16-byte nonce is
    state words 12-15); the feed-forward is subtracted again."""
    block = Cipher(algorithms.ChaCha20(key, nonce16), mode=None).encryptor().update(bytes(64))
    out = struct.unpack("<16I", block)
    init = struct.unpack("<4I", b"expand 32-byte k") + struct.unpack("<8I", key) + \
        struct.unpack("<4I", nonce16)
    return struct.pack("<8I", *[(out[i] - init[i]) & 0xFFFFFFFF for i in (0, 1, 2, 3, 12, 13, 14, 15)])


def XAEAD(key, nonce24, plain, ad):
    sub = HCHACHA20(key, nonce24[:16])
    return ChaCha20Poly1305(sub).encrypt(b"\0" * 4 + nonce24[16:], plain, ad)


def XAEAD_OPEN(key, nonce24, sealed, ad):
    sub = HCHACHA20(key, nonce24[:16])
    try:
        return ChaCha20Poly1305(sub).decrypt(b"\0" * 4 + nonce24[16:], sealed, ad)
    except InvalidTag:
        raise Reject("XAEAD: authentication failed")


def TAI64N(unix_ns):
    """12 bytes: big-endian 2^62 + 10 + seconds, big-endian nanoseconds
    rounded down to a multiple of 2^24."""
    secs, nsec = divmod(unix_ns, 1_000_000_000)
    nsec -= nsec % (1 << 24)
    return struct.pack(">QI", TAI64_EPOCH + secs, nsec)


def header(msg_type):
    return bytes([msg_type, 0, 0, 0])


# --- mac1 / mac2 / cookies (whitepaper section 5.4.4, 5.4.7) -------------------

def mac1_key(receiver_pub):
    return HASH(LABEL_MAC1, receiver_pub)


def cookie_key(responder_pub):
    return HASH(LABEL_COOKIE, responder_pub)


def add_macs(body, receiver_pub, cookie=None):
    """body: a message without its 32 mac bytes. mac2 is zeros without a cookie."""
    m1 = MAC(mac1_key(receiver_pub), body)
    m2 = MAC(cookie, body + m1) if cookie else bytes(16)
    return body + m1 + m2


def check_mac1(msg, our_pub):
    if MAC(mac1_key(our_pub), msg[:-32]) != msg[-32:-16]:
        raise Reject("mac1 does not verify")


def check_mac2(msg, cookie):
    return MAC(cookie, msg[:-16]) == msg[-16:]


def source_bytes(ip, port):
    """The cookie's input: the sender's IP address (4 or 16 bytes), then the
    port big-endian."""
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    return socket.inet_pton(fam, ip) + struct.pack(">H", port)


def make_cookie(secret, src):
    return MAC(secret, src)


def create_cookie_reply(secret, src, answered_msg, responder_pub, nonce):
    """Under load: answer answered_msg (an initiation or response) with a cookie."""
    receiver = answered_msg[4:8]  # its sender index
    cookie = make_cookie(secret, src)
    enc = XAEAD(cookie_key(responder_pub), nonce, cookie, answered_msg[-32:-16])
    return header(MSG_COOKIE_REPLY) + receiver + nonce + enc


def consume_cookie_reply(reply, responder_pub, last_mac1):
    if len(reply) != LEN_COOKIE_REPLY or reply[:4] != header(MSG_COOKIE_REPLY):
        raise Reject("not a cookie reply")
    nonce, enc = reply[8:32], reply[32:64]
    return XAEAD_OPEN(cookie_key(responder_pub), nonce, enc, last_mac1)


# --- the handshake (whitepaper section 5.4.2, 5.4.3) ---------------------------

def initial_chain(responder_pub):
    ck = HASH(CONSTRUCTION)
    h = HASH(HASH(ck, IDENTIFIER), responder_pub)
    return ck, h


class Session:
    """Transport keys and counters of one completed handshake."""

    def __init__(self, ck, initiator, local_index, remote_index):
        t1, t2 = KDF(2, ck, b"")
        self.send_key, self.recv_key = (t1, t2) if initiator else (t2, t1)
        self.local_index, self.remote_index = local_index, remote_index
        self.send_counter = 0
        self.seen = set()          # counters received (a small test window)
        self.highest = -1

    def encrypt(self, payload, counter=None):
        if counter is None:
            counter = self.send_counter
            self.send_counter += 1
        padded_len = min(-(-len(payload) // PAD) * PAD, max(MTU, len(payload)))
        plain = payload + bytes(padded_len - len(payload))
        return header(MSG_TRANSPORT) + struct.pack("<IQ", self.remote_index, counter) + \
            AEAD(self.send_key, counter, plain, b"")

    def decrypt(self, msg):
        """Returns the padded payload; the replay check follows the AEAD."""
        if len(msg) < LEN_TRANSPORT_MIN or msg[:4] != header(MSG_TRANSPORT):
            raise Reject("transport: bad length or header")
        index, counter = struct.unpack("<IQ", msg[4:16])
        if index != self.local_index:
            raise Reject("transport: unknown receiver index")
        plain = AEAD_OPEN(self.recv_key, counter, msg[16:], b"")
        if counter in self.seen or counter + 8128 <= self.highest:
            raise Reject("transport: replayed counter")
        self.seen.add(counter)
        self.highest = max(self.highest, counter)
        return plain


class Initiator:
    def __init__(self, s_priv, r_pub, psk=None):
        self.s_priv, self.s_pub = s_priv, pubkey(s_priv)
        self.r_pub = r_pub
        self.psk = psk or bytes(32)
        self.cookie = None          # (cookie, time received)
        self.last_mac1 = None

    def create_initiation(self, sender_index, e_priv=None, unix_ns=None):
        """Returns the 148-byte initiation; its state is kept for the response."""
        ck, h = initial_chain(self.r_pub)
        # e
        if e_priv is None:
            e_priv, e_pub = DH_GENERATE()
        else:
            e_pub = pubkey(e_priv)
        ck, = KDF(1, ck, e_pub)
        h = HASH(h, e_pub)
        # es
        ck, k = KDF(2, ck, DH(e_priv, self.r_pub))
        # s
        enc_static = AEAD(k, 0, self.s_pub, h)
        h = HASH(h, enc_static)
        # ss
        ck, k = KDF(2, ck, DH(self.s_priv, self.r_pub))
        # {t}
        ts = TAI64N(time.time_ns() if unix_ns is None else unix_ns)
        enc_ts = AEAD(k, 0, ts, h)
        h = HASH(h, enc_ts)
        body = header(MSG_INITIATION) + struct.pack("<I", sender_index) + e_pub + enc_static + enc_ts
        cookie = self.cookie[0] if self.cookie and time.monotonic() - self.cookie[1] < 120 else None
        msg = add_macs(body, self.r_pub, cookie)
        self.last_mac1 = msg[-32:-16]
        self.state = (ck, h, e_priv, sender_index)
        return msg

    def take_cookie_reply(self, reply):
        if self.last_mac1 is None:
            raise Reject("cookie reply: nothing sent")
        if struct.unpack("<I", reply[4:8])[0] != self.state[3]:
            raise Reject("cookie reply: not for our index")
        cookie = consume_cookie_reply(reply, self.r_pub, self.last_mac1)
        self.cookie = (cookie, time.monotonic())
        self.last_mac1 = None  # one reply per message sent
        return cookie

    def consume_response(self, msg):
        if len(msg) != LEN_RESPONSE or msg[:4] != header(MSG_RESPONSE):
            raise Reject("response: bad length or header")
        check_mac1(msg, self.s_pub)
        ck, h, e_priv, local_index = self.state
        sender, receiver = struct.unpack("<II", msg[4:12])
        if receiver != local_index:
            raise Reject("response: not for our index")
        e_r = msg[12:44]
        enc_nothing = msg[44:60]
        # e
        ck, = KDF(1, ck, e_r)
        h = HASH(h, e_r)
        # ee
        ck, = KDF(1, ck, DH(e_priv, e_r))
        # se
        ck, = KDF(1, ck, DH(self.s_priv, e_r))
        # psk
        ck, t, k = KDF(3, ck, self.psk)
        h = HASH(h, t)
        # {}
        AEAD_OPEN(k, 0, enc_nothing, h)
        h = HASH(h, enc_nothing)
        self.state = None
        return Session(ck, True, local_index, sender)


class Responder:
    def __init__(self, s_priv, peers):
        """peers: {initiator static public key: psk or None}."""
        self.s_priv, self.s_pub = s_priv, pubkey(s_priv)
        self.peers = peers
        self.latest_ts = {}

    def consume_initiation(self, msg):
        if len(msg) != LEN_INITIATION or msg[:4] != header(MSG_INITIATION):
            raise Reject("initiation: bad length or header")
        check_mac1(msg, self.s_pub)
        ck, h = initial_chain(self.s_pub)
        sender = struct.unpack("<I", msg[4:8])[0]
        e_i, enc_static, enc_ts = msg[8:40], msg[40:88], msg[88:116]
        # e
        ck, = KDF(1, ck, e_i)
        h = HASH(h, e_i)
        # es
        ck, k = KDF(2, ck, DH(self.s_priv, e_i))
        # s
        s_i = AEAD_OPEN(k, 0, enc_static, h)
        h = HASH(h, enc_static)
        if s_i not in self.peers:
            raise Reject("initiation: unknown peer")
        # ss
        ck, k = KDF(2, ck, DH(self.s_priv, s_i))
        # {t}
        ts = AEAD_OPEN(k, 0, enc_ts, h)
        h = HASH(h, enc_ts)
        if ts <= self.latest_ts.get(s_i, bytes(12)):
            raise Reject("initiation: replayed timestamp")
        self.latest_ts[s_i] = ts
        return {"ck": ck, "h": h, "e_i": e_i, "s_i": s_i, "sender": sender, "ts": ts}

    def create_response(self, st, sender_index, e_priv=None):
        ck, h = st["ck"], st["h"]
        # e
        if e_priv is None:
            e_priv, e_pub = DH_GENERATE()
        else:
            e_pub = pubkey(e_priv)
        ck, = KDF(1, ck, e_pub)
        h = HASH(h, e_pub)
        # ee
        ck, = KDF(1, ck, DH(e_priv, st["e_i"]))
        # se
        ck, = KDF(1, ck, DH(e_priv, st["s_i"]))
        # psk
        ck, t, k = KDF(3, ck, self.peers[st["s_i"]] or bytes(32))
        h = HASH(h, t)
        # {}
        enc_nothing = AEAD(k, 0, b"", h)
        h = HASH(h, enc_nothing)
        body = header(MSG_RESPONSE) + struct.pack("<II", sender_index, st["sender"]) + e_pub + enc_nothing
        return add_macs(body, st["s_i"]), Session(ck, False, sender_index, st["sender"])


# --- inner packets: IPv4 ICMP echo -------------------------------------------------

def inet_checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4_packet(src, dst, proto, payload, ident=0):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", inet_checksum(hdr)) + hdr[12:]
    return hdr + payload


def icmp_echo(icmp_type, ident, seq, data):
    msg = struct.pack("!BBHHH", icmp_type, 0, 0, ident, seq) + data
    return msg[:2] + struct.pack("!H", inet_checksum(msg)) + msg[4:]


def parse_ipv4(pkt):
    """(src, dst, proto, payload) of a padded IPv4 packet, or None."""
    if len(pkt) < 20 or pkt[0] >> 4 != 4:
        return None
    ihl = (pkt[0] & 15) * 4
    total = struct.unpack("!H", pkt[2:4])[0]
    if total > len(pkt) or ihl < 20 or inet_checksum(pkt[:ihl]) != 0:
        return None
    return socket.inet_ntoa(pkt[12:16]), socket.inet_ntoa(pkt[16:20]), pkt[9], pkt[ihl:total]


# --- known-answer vectors ------------------------------------------------------------

def fixed_key(label):
    return clamp(HASH(b"wgref fixed key: " + label))


VEC_WALL_NS = 1700000000 * 1_000_000_000 + 123_456_789   # rounded down in the TAI64N
VEC_WALL2_NS = VEC_WALL_NS + 1_000_000_000
VEC_INDEX_I = 0x11223344
VEC_INDEX_R = 0x55667788
VEC_COOKIE_SRC = ("198.18.0.2", 51820)


def build_vectors():
    """Every vector as (C name, bytes), in order, plus comments."""
    s_i, s_r = fixed_key(b"initiator static"), fixed_key(b"responder static")
    e_i, e_r = fixed_key(b"initiator ephemeral"), fixed_key(b"responder ephemeral")
    e_i2 = fixed_key(b"initiator ephemeral 2")
    psk = HASH(b"wgref fixed preshared key")
    secret = HASH(b"wgref fixed cookie secret")
    nonce = HASH(b"wgref fixed cookie nonce")[:24]
    out = [("static_i_priv", s_i), ("static_i_pub", pubkey(s_i)),
           ("static_r_priv", s_r), ("static_r_pub", pubkey(s_r)),
           ("ephemeral_i_priv", e_i), ("ephemeral_r_priv", e_r),
           ("ephemeral_i2_priv", e_i2), ("psk", psk),
           ("timestamp", TAI64N(VEC_WALL_NS))]
    for case, p in (("nopsk", None), ("psk", psk)):
        ini = Initiator(s_i, pubkey(s_r), p)
        rsp = Responder(s_r, {pubkey(s_i): p})
        m1 = ini.create_initiation(VEC_INDEX_I, e_i, VEC_WALL_NS)
        st = rsp.consume_initiation(m1)
        m2, sr = rsp.create_response(st, VEC_INDEX_R, e_r)
        si = ini.consume_response(m2)
        assert si.send_key == sr.recv_key and si.recv_key == sr.send_key
        ack = si.encrypt(b"")                                   # counter 0: the ACK
        data_i = si.encrypt(bytes(range(1, 21)))                # counter 1, 20 bytes
        data_r = sr.encrypt(b"wgref says hello")                # counter 0, 16 bytes
        for m in (ack, data_i):
            sr.decrypt(m)
        si.decrypt(data_r)
        out += [(case + "_initiation", m1), (case + "_response", m2),
                (case + "_send_i", si.send_key), (case + "_recv_i", si.recv_key),
                (case + "_transport_ack", ack), (case + "_transport_i_data", data_i),
                (case + "_transport_r_data", data_r)]
    # Cookie path: the responder, under load, answers the no-psk initiation
    # with a cookie reply; the initiator retries (ephemeral 2, one second
    # later) with mac2.
    ini = Initiator(s_i, pubkey(s_r))
    m1 = ini.create_initiation(VEC_INDEX_I, e_i, VEC_WALL_NS)
    src = source_bytes(*VEC_COOKIE_SRC)
    reply = create_cookie_reply(secret, src, m1, pubkey(s_r), nonce)
    cookie = ini.take_cookie_reply(reply)
    assert cookie == make_cookie(secret, src)
    m1b = ini.create_initiation(VEC_INDEX_I, e_i2, VEC_WALL2_NS)
    assert check_mac2(m1b, cookie)
    out += [("cookie_secret", secret), ("cookie_source", src), ("cookie_nonce", nonce),
            ("cookie", cookie), ("cookie_reply", reply), ("initiation_mac2", m1b)]
    return out


def c_array(name, data):
    lines = ["static const uint8_t wgv_%s[%d] __attribute__((unused)) = {" % (name, len(data))]
    for i in range(0, len(data), 12):
        lines.append("\t" + " ".join("0x%02x," % b for b in data[i:i + 12]))
    lines.append("};")
    return "\n".join(lines)


def cmd_vectors(args):
    vec = build_vectors()
    print("/* WireGuard known-answer vectors, generated by tests/tools/wgref.py, an")
    print(" * independent Python implementation (python3-cryptography + hashlib).")
    print(" * Do not edit: regenerate with")
    print(" *     python3 tests/tools/wgref.py vectors > tests/unit/wg_vectors.h")
    print(" *")
    print(" * Fixed inputs: static and ephemeral private keys (clamped), preshared key,")
    print(" * wall time %d ns (TAI64N rounds the ns down to a multiple of 2^24)," % VEC_WALL_NS)
    print(" * the retry one second later, sender indices initiator 0x%08x and" % VEC_INDEX_I)
    print(" * responder 0x%08x, cookie secret, source %s:%d, cookie-reply nonce." % ((VEC_INDEX_R,) + VEC_COOKIE_SRC))
    print(" * Per case (nopsk, psk): initiation (mac2 zero), response, the initiator's")
    print(" * transport keys, its ACK (keepalive, counter 0), 20 bytes 01..14 from the")
    print(" * initiator (counter 1), \"wgref says hello\" from the responder (counter 0).")
    print(" * Cookie: the reply to nopsk_initiation, and the retry (ephemeral 2, one")
    print(" * second later) carrying mac2. */")
    print("#ifndef VPND_TEST_WG_VECTORS_H")
    print("#define VPND_TEST_WG_VECTORS_H")
    print()
    print("#include <stdint.h>")
    print()
    print("#define WGV_WALL_NS  %dULL" % VEC_WALL_NS)
    print("#define WGV_WALL2_NS %dULL" % VEC_WALL2_NS)
    print("#define WGV_INDEX_I  0x%08xu" % VEC_INDEX_I)
    print("#define WGV_INDEX_R  0x%08xu" % VEC_INDEX_R)
    print()
    for name, data in vec:
        print(c_array(name, data))
        print()
    print("#endif")
    return 0


# --- selftest ------------------------------------------------------------------

def flip(b, i):
    b = bytearray(b)
    b[i] ^= 0x01
    return bytes(b)


def remac(msg, receiver_pub):
    return add_macs(msg[:-32], receiver_pub)


def cmd_selftest(args):
    fails = 0

    def ok(what, cond):
        nonlocal fails
        print(("ok   - " if cond else "FAIL - ") + what)
        fails += not cond

    def refused(what, fn):
        try:
            fn()
        except Reject:
            ok(what, True)
            return
        ok(what, False)

    # HMAC against the standard library, HChaCha20 against the XChaCha draft.
    import hmac as std_hmac
    for klen in (0, 32, 64, 65):
        ok("HMAC-BLAKE2s matches hmac module (key %d bytes)" % klen,
           HMAC(bytes(range(klen)), b"data") == std_hmac.new(bytes(range(klen)), b"data", hashlib.blake2s).digest())
    ok("HChaCha20 test vector (draft-irtf-cfrg-xchacha 2.2.1)",
       HCHACHA20(bytes(range(32)), bytes.fromhex("000000090000004a0000000031415927")).hex() ==
       "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc")
    ok("TAI64N rounds ns down to 2^24", TAI64N(VEC_WALL_NS)[8:] == struct.pack(">I", 117440512))

    s_i, s_i_pub = DH_GENERATE()
    s_r, s_r_pub = DH_GENERATE()
    for psk in (None, os.urandom(32)):
        tag = "psk" if psk else "no psk"
        ini = Initiator(s_i, s_r_pub, psk)
        rsp = Responder(s_r, {s_i_pub: psk})
        m1 = ini.create_initiation(7)
        ok("initiation is 148 bytes, mac2 zero (%s)" % tag, len(m1) == 148 and m1[-16:] == bytes(16))
        for i in (0, 8, 40, 87, 88, 115):     # bytes 4-7 (the index) are not authenticated
            refused("initiation with byte %d flipped, mac1 recomputed, refused (%s)" % (i, tag),
                    lambda: Responder(s_r, {s_i_pub: psk}).consume_initiation(remac(flip(m1, i), s_r_pub)))
        refused("initiation with a wrong mac1 refused", lambda: rsp.consume_initiation(flip(m1, 116)))
        refused("initiation of 147 bytes refused", lambda: rsp.consume_initiation(m1[:-1]))
        st = rsp.consume_initiation(m1)
        refused("replayed initiation refused", lambda: rsp.consume_initiation(m1))
        m2, sr = rsp.create_response(st, 9)
        ok("response is 92 bytes", len(m2) == 92)
        for i in (0, 8, 12, 43, 44, 59):
            saved = ini.state
            refused("response with byte %d flipped, mac1 recomputed, refused (%s)" % (i, tag),
                    lambda: ini.consume_response(remac(flip(m2, i), s_i_pub)))
            ini.state = saved
        si = ini.consume_response(m2)
        ok("transport keys cross (%s)" % tag, si.send_key == sr.recv_key and si.recv_key == sr.send_key)
        t = si.encrypt(b"hello")
        ok("transport padded to 16", len(t) == 16 + 16 + 16)
        refused("transport with a flipped byte refused", lambda: sr.decrypt(flip(t, 20)))
        ok("transport decrypts", sr.decrypt(t)[:5] == b"hello")
        refused("transport replay refused", lambda: sr.decrypt(t))
    # Cookie path.
    ini = Initiator(s_i, s_r_pub)
    m1 = ini.create_initiation(7)
    secret, src = os.urandom(32), source_bytes("198.18.0.2", 4242)
    reply = create_cookie_reply(secret, src, m1, s_r_pub, os.urandom(24))
    refused("forged cookie reply refused", lambda: Initiator(s_i, s_r_pub).take_cookie_reply(reply))
    cookie = ini.take_cookie_reply(reply)
    refused("replayed cookie reply refused", lambda: ini.take_cookie_reply(reply))
    m1b = ini.create_initiation(7)
    ok("retry carries a valid mac2", check_mac2(m1b, make_cookie(secret, src)))
    ok("mac2 is bound to the source", not check_mac2(m1b, make_cookie(secret, source_bytes("198.18.0.3", 4242))))
    print("selftest: %s" % ("all passed" if not fails else "%d failed" % fails))
    return 1 if fails else 0


# --- the network side ------------------------------------------------------------------

def read_key(path):
    with open(path) as f:
        k = base64.b64decode(f.read().strip(), validate=True)
    if len(k) != 32:
        raise SystemExit("wgref: %s: not a 32-byte base64 key" % path)
    return k


def parse_endpoint(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


class Net:
    def __init__(self, endpoint, bind=None):
        self.endpoint = parse_endpoint(endpoint)
        fam = socket.AF_INET6 if ":" in self.endpoint[0] else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        if bind:
            self.sock.bind(parse_endpoint(bind))
        self.sock.connect(self.endpoint)

    def send(self, data):
        self.sock.send(data)

    def recv(self, timeout):
        r, _, _ = select.select([self.sock], [], [], max(timeout, 0))
        if not r:
            return None
        try:
            return self.sock.recv(65536)
        except ConnectionRefusedError:
            return None


def log(*a):
    print("wgref:", *a, flush=True)


def handshake(net, ini, index, timeout, retries, stats):
    """Initiation, then a response (done) or a cookie reply (retry at once
    with mac2). Returns a Session or None."""
    for attempt in range(retries):
        net.send(ini.create_initiation(index))
        stats["initiations"] += 1
        if ini.cookie:
            stats["mac2_sent"] += 1
        deadline = time.monotonic() + timeout
        while True:
            pkt = net.recv(deadline - time.monotonic())
            if pkt is None:
                log("no answer to initiation %d" % (attempt + 1))
                break
            try:
                if pkt[:1] == bytes([MSG_COOKIE_REPLY]):
                    ini.take_cookie_reply(pkt)
                    stats["cookie_replies"] += 1
                    log("cookie reply decrypted; retrying with mac2")
                    break
                if pkt[:1] == bytes([MSG_RESPONSE]):
                    return ini.consume_response(pkt)
                stats["ignored"] += 1
            except Reject as e:
                stats["rejected"] += 1
                log("refused a message from the responder:", e)
    return None


def cmd_peer(args):
    s_priv = read_key(args.private_key_file)
    r_pub = base64.b64decode(args.peer_public_key, validate=True)
    psk = read_key(args.psk_file) if args.psk_file else None
    net = Net(args.endpoint, args.bind)
    ini = Initiator(s_priv, r_pub, psk)
    stats = dict(initiations=0, mac2_sent=0, cookie_replies=0, rejected=0, ignored=0,
                 pings_sent=0, pings_ok=0, echo_answered=0, rx_transport=0)
    index = int.from_bytes(os.urandom(4), "little")
    sess = handshake(net, ini, index, args.timeout, args.retries, stats)
    ok = sess is not None
    if ok:
        log("handshake complete")
        net.send(sess.encrypt(b""))          # the ACK: a keepalive
        if args.ready_file:
            open(args.ready_file, "w").close()
    ident = os.getpid() & 0xFFFF
    pending = {}
    deadline = time.monotonic() + args.linger
    next_ping = time.monotonic()
    while ok and (time.monotonic() < deadline or (pending and time.monotonic() < deadline + args.timeout)):
        now = time.monotonic()
        if args.ping and stats["pings_sent"] < args.count and now >= next_ping:
            seq = stats["pings_sent"] + 1
            data = b"wgref ping %d " % seq + os.urandom(8)
            pkt = ipv4_packet(args.address, args.ping, 1, icmp_echo(8, ident, seq, data), seq)
            net.send(sess.encrypt(pkt))
            pending[seq] = data
            stats["pings_sent"] += 1
            next_ping = now + 0.2
        wait = min(0.05, max(deadline - now, 0.01))
        pkt = net.recv(wait)
        if pkt is None:
            continue
        try:
            plain = sess.decrypt(pkt)
        except Reject as e:
            stats["rejected"] += 1
            log("refused:", e)
            continue
        stats["rx_transport"] += 1
        ip = parse_ipv4(plain)
        if not ip:
            continue            # keepalive or something else
        src, dst, proto, payload = ip
        if proto != 1 or dst != args.address or len(payload) < 8 or inet_checksum(payload) != 0:
            continue
        typ, _, _, pid, seq = struct.unpack("!BBHHH", payload[:8])
        if typ == 0 and pid == ident and pending.get(seq) == payload[8:] and src == args.ping:
            del pending[seq]
            stats["pings_ok"] += 1
        elif typ == 8 and args.answer_echo:
            reply = ipv4_packet(args.address, src, 1, icmp_echo(0, pid, seq, payload[8:]))
            net.send(sess.encrypt(reply))
            stats["echo_answered"] += 1
    if args.ping and stats["pings_ok"] < args.count:
        ok = False
    print("wgref: handshake=%s " % ("ok" if sess else "failed") +
          " ".join("%s=%d" % kv for kv in stats.items()), flush=True)
    return 0 if ok else 1


def expect_silence(net, data, what, wait):
    """Sends data; True when nothing comes back within wait seconds."""
    net.send(data)
    pkt = net.recv(wait)
    if pkt is None:
        log("ok   - %s: no answer" % what)
        return True
    log("FAIL - %s: answered with a type-%d message" % (what, pkt[0]))
    return False


def cmd_probe(args):
    """Malformed variants, each of which must go unanswered, and valid
    controls that must be answered, so silence means refusal."""
    s_priv = read_key(args.private_key_file)
    r_pub = base64.b64decode(args.peer_public_key, validate=True)
    net = Net(args.endpoint)
    ini = Initiator(s_priv, r_pub)
    w = args.wait
    good = True
    index = int.from_bytes(os.urandom(4), "little")

    m = ini.create_initiation(index)
    good &= expect_silence(net, flip(m, 120), "initiation with a wrong mac1", w)
    good &= expect_silence(net, m[:-1], "initiation of 147 bytes", w)
    good &= expect_silence(net, m + b"\0", "initiation of 149 bytes", w)
    good &= expect_silence(net, remac(flip(m, 50), r_pub),
                           "initiation with encrypted_static flipped (mac1 valid)", w)
    good &= expect_silence(net, remac(flip(m, 100), r_pub),
                           "initiation with encrypted_timestamp flipped (mac1 valid)", w)
    stranger = Initiator(DH_GENERATE()[0], r_pub)
    good &= expect_silence(net, stranger.create_initiation(index),
                           "initiation from an unknown static key (mac1 valid)", w)

    # Control: a valid initiation is answered; then its replay is not.
    time.sleep(0.05)
    m = ini.create_initiation(index)
    net.send(m)
    pkt = net.recv(2)
    try:
        sess = ini.consume_response(pkt) if pkt else None
    except Reject:
        sess = None
    log(("ok   - " if sess else "FAIL - ") + "control: a valid initiation is answered")
    good &= sess is not None
    if not sess:
        return 1
    good &= expect_silence(net, m, "the same initiation replayed", w)

    # Transport: an echo request with a flipped ciphertext byte, one for an
    # unknown index, then the valid one (answered), then its replay.
    ident, seq = os.getpid() & 0xFFFF, 1
    req = ipv4_packet(args.address, args.ping, 1, icmp_echo(8, ident, seq, b"wgref probe"), seq)
    t = sess.encrypt(req)
    good &= expect_silence(net, flip(t, 30), "transport with a flipped ciphertext byte", w)
    bad_index = t[:4] + struct.pack("<I", sess.remote_index ^ 0x5A5A5A5A) + t[8:]
    good &= expect_silence(net, bad_index, "transport for an unknown receiver index", w)
    good &= expect_silence(net, t[:31], "transport of 31 bytes", w)
    net.send(t)
    answered = False
    end = time.monotonic() + 2
    while time.monotonic() < end and not answered:
        pkt = net.recv(end - time.monotonic())
        if pkt is None:
            break
        try:
            ip = parse_ipv4(sess.decrypt(pkt))
        except Reject:
            continue
        answered = bool(ip and ip[2] == 1 and ip[3][:1] == b"\0")
    log(("ok   - " if answered else "FAIL - ") + "control: the valid echo request is answered")
    good &= answered
    good &= expect_silence(net, t, "the same transport message replayed", w)
    print("wgref: probe %s" % ("passed" if good else "FAILED"), flush=True)
    return 0 if good else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("vectors", help="print known-answer vectors as a C header")
    sub.add_parser("selftest", help="in-process checks")
    for name in ("peer", "probe"):
        p = sub.add_parser(name)
        p.add_argument("--endpoint", required=True, help="responder IP:PORT")
        p.add_argument("--private-key-file", required=True, help="our static key, base64")
        p.add_argument("--peer-public-key", required=True, help="responder's public key, base64")
        p.add_argument("--address", required=True, help="our tunnel IPv4 address")
        p.add_argument("--ping", help="tunnel IPv4 address to send echo requests to")
    p = sub.choices["peer"]
    p.add_argument("--psk-file")
    p.add_argument("--bind", help="local IP:PORT")
    p.add_argument("--count", type=int, default=3)
    p.add_argument("--answer-echo", action="store_true", help="answer echo requests")
    p.add_argument("--linger", type=float, default=2.0, help="seconds to stay after the handshake")
    p.add_argument("--timeout", type=float, default=2.0)
    p.add_argument("--retries", type=int, default=5)
    p.add_argument("--ready-file", help="created once the handshake is complete")
    p = sub.choices["probe"]
    p.add_argument("--wait", type=float, default=0.5, help="seconds to wait for a (wrong) answer")
    args = ap.parse_args()
    return {"vectors": cmd_vectors, "selftest": cmd_selftest,
            "peer": cmd_peer, "probe": cmd_probe}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
