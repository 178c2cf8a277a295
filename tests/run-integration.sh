#!/bin/bash
# Runs every tests/integration/*.sh (each builds its own namespaces and cleans
# up on exit). Needs root. VPND is the binary under test, TOOLS the helper
# programs. ONLY=pattern runs a subset.
cd "$(dirname "$0")/integration" || exit 1
: "${VPND:?VPND must name the vpnd binary}"
export VPND TOOLS
pass=0; fail=0; failed=""
for t in ./*.sh; do
	[ "$t" = ./lib.sh ] && continue
	[ -n "$ONLY" ] && case "$t" in *$ONLY*) ;; *) continue ;; esac
	echo "=== $t"
	start=$(date +%s)
	if timeout 300 bash "$t" > "/tmp/vpnd-it-$(basename "$t").log" 2>&1; then
		pass=$((pass + 1)); echo "PASS $t ($(( $(date +%s) - start ))s)"
	else
		fail=$((fail + 1)); failed="$failed $t"
		echo "FAIL $t; last lines of its log:"; tail -40 "/tmp/vpnd-it-$(basename "$t").log"
	fi
done
echo "integration: $pass passed, $fail failed"
[ "$fail" -eq 0 ] || { echo "failed:$failed"; exit 1; }
