#!/bin/bash
# Holds the walls between the floors (ARCHITECTURE.md), read from the
# #include "..." lines of every .c and .h file:
#
#   crypto/          includes nothing of ours but crypto/
#   tun/             nothing of ours but tun/
#   handshake/       handshake/ and crypto/ only
#   vpnd/common/     common/ and crypto/
#   vpnd/datapath/   common/, datapath/, handshake/, crypto/, tun/: never the
#                    control plane, the daemon or the CLI
#   vpnd/control/    anything below it, never daemon/ or cli/
#   vpnd/daemon/     anything but cli/
#   vpnd/cli/        anything
#   tests/           anything (they test every floor)
#
# and a header named *_parser.h or listed as private is included only by its
# own room. Headers must not include each other in a circle (include guards
# hide circles from the compiler, not from the reader): the header graph of
# the whole tree must be acyclic.
#
# Usage: scripts/check-layers.sh [ROOT]   (default: the tree this script is in)
# Exit 0 when every wall holds; else one line per breach and exit 1.
set -euo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
exec python3 - "$ROOT" <<'EOF'
import os, re, sys

root = sys.argv[1]
ALLOWED = {
    "crypto": {"crypto"},
    "tun": {"tun"},
    "handshake": {"handshake", "crypto"},
    "vpnd/common": {"vpnd/common", "crypto"},
    "vpnd/datapath": {"vpnd/common", "vpnd/datapath", "handshake", "crypto", "tun"},
    "vpnd/control": {"vpnd/common", "vpnd/datapath", "vpnd/control", "handshake", "crypto",
                     "tun"},
    "vpnd/daemon": {"vpnd/common", "vpnd/datapath", "vpnd/control", "vpnd/daemon",
                    "handshake", "crypto", "tun"},
    "vpnd/cli": None,   # anything
    "tests": None,
}
# Headers private to some files of their room.
PRIVATE = {
    "vpnd/control/config_parser.h": {"vpnd/control/config.c", "vpnd/control/config_file.c"},
    "vpnd/cli/peer_cmd.h": {"vpnd/cli/peer_cmd.c", "vpnd/cli/peer_list.c"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')

def room_of(path):
    for room in sorted(ALLOWED, key=len, reverse=True):
        if path == room or path.startswith(room + "/"):
            return room
    return None

def room_of_target(inc):
    for room in sorted(ALLOWED, key=len, reverse=True):
        if inc.startswith(room + "/"):
            return room
    return None

files = []
for top in ("crypto", "tun", "handshake", "vpnd", "tests"):
    for dirpath, _, names in os.walk(os.path.join(root, top)):
        for n in names:
            if n.endswith((".c", ".h")):
                files.append(os.path.relpath(os.path.join(dirpath, n), root))

errors = []
graph = {}
for f in sorted(files):
    room = room_of(f)
    with open(os.path.join(root, f), errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            inc = m.group(1)
            target = room_of_target(inc)
            if target is None:
                continue        # a local include (tests' fixtures) or not ours
            allowed = ALLOWED.get(room)
            if room is None or (allowed is not None and target not in allowed):
                errors.append(f"{f}:{lineno}: {room} may not include {target}: '{inc}'")
            if inc in PRIVATE and f not in PRIVATE[inc]:
                errors.append(f"{f}:{lineno}: private header of {sorted(PRIVATE[inc])}: '{inc}'")
            if f.endswith(".h"):
                graph.setdefault(f, []).append((inc, lineno))

# Circles among headers: depth-first search with colours.
WHITE, GREY, BLACK = 0, 1, 2
colour = {}
def visit(h, stack):
    colour[h] = GREY
    stack.append(h)
    for inc, _ in graph.get(h, []):
        if colour.get(inc, WHITE) == GREY:
            cyc = stack[stack.index(inc):] + [inc]
            errors.append("include circle: " + " -> ".join(cyc))
        elif colour.get(inc, WHITE) == WHITE:
            visit(inc, stack)
    stack.pop()
    colour[h] = BLACK
for h in sorted(graph):
    if colour.get(h, WHITE) == WHITE:
        visit(h, [])

for e in errors:
    print("check-layers: " + e)
if errors:
    sys.exit(1)
print(f"check-layers: {len(files)} files, every wall holds, no include circle")
EOF
