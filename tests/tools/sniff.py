#!/usr/bin/env python3
"""Captures WireGuard messages arriving on an interface (AF_PACKET).

    sniff.py IFACE OUT [--port 51820] [--type T] [--len N | --min-len N]
             [--count N] [--unique] [--ready FILE] [--timeout SECS]

Waits for COUNT (default 1) UDP payloads that arrive on IFACE (IPv4, not
sent by this host) for destination port PORT, whose first byte is the
message type T (1 initiation, 2 response, 3 cookie reply, 4 transport; any
type without --type), of exactly N bytes (--len) or longer than N bytes
(--min-len); --unique skips payloads already captured. Then writes them to
OUT, as hex, one per line, and exits 0. With --with-ip each line starts
with the outer IPv4 header's "tos=HH df=D " (TOS byte in hex, DF bit). Creates FILE (empty) once the socket
is bound, so that a caller can wait for it before making traffic. After
--timeout seconds without having them all, exits 3 and writes nothing (3,
not 1: "nothing came" must not be mistaken for a crash of this script).
Needs CAP_NET_RAW; run it in the namespace with `ip netns exec`.
"""
import argparse
import socket
import sys
import time

TIMED_OUT = 3

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("iface")
    ap.add_argument("out")
    ap.add_argument("--port", type=int, default=51820)
    ap.add_argument("--type", type=int, dest="mtype")
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--len", type=int, dest="exact")
    size.add_argument("--min-len", type=int, dest="longer")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--unique", action="store_true")
    ap.add_argument("--ready")
    ap.add_argument("--timeout", type=float)
    ap.add_argument("--with-ip", action="store_true")
    a = ap.parse_args()

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind((a.iface, 0))
    if a.ready:
        open(a.ready, "w").close()
    deadline = time.monotonic() + a.timeout if a.timeout else None
    seen = []
    meta = []
    while len(seen) < a.count:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return TIMED_OUT
            s.settimeout(left)
        try:
            f, addr = s.recvfrom(65535)
        except socket.timeout:
            return TIMED_OUT
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        ip = f[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 17 or int.from_bytes(ip[ihl + 2:ihl + 4], "big") != a.port:
            continue
        udp = ip[ihl + 8:int.from_bytes(ip[2:4], "big")]
        if not udp or (a.mtype is not None and udp[0] != a.mtype):
            continue
        if a.exact is not None and len(udp) != a.exact:
            continue
        if a.longer is not None and len(udp) <= a.longer:
            continue
        if a.unique and udp in seen:
            continue
        seen.append(udp)
        meta.append("tos=%02x df=%d " % (ip[1], ip[6] >> 6 & 1) if a.with_ip else "")
    with open(a.out, "w") as o:
        o.write("".join(m + p.hex() + "\n" for m, p in zip(meta, seen)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
