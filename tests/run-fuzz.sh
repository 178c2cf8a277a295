#!/bin/sh
# Runs libFuzzer targets: BUILD/fuzz/NAME for each NAME given. Each first
# replays its regression inputs (tests/fuzz/regressions/NAME/*), then fuzzes
# for FUZZ_SECONDS (default 60) from its seed corpus tests/fuzz/corpus/NAME,
# which is only read: new inputs go to BUILD/corpus/NAME. Any crash, leak,
# timeout or sanitizer report fails the run and leaves the input in
# BUILD/artifacts/. Prints one line per target (V=1: the fuzzer's output).
BUILD=${1:?usage: run-fuzz.sh BUILD NAME...}
shift
cd "$(dirname "$0")/.." || exit 1
secs=${FUZZ_SECONDS:-60}
opts="-timeout=25 -rss_limit_mb=2048"
pass=0; fail=0; failed=""

show() {	# log file, on failure or with V=1
	if [ "$V" = 1 ]; then cat "$1"; else tail -60 "$1"; fi
}

for name in "$@"; do
	bin=$BUILD/fuzz/$name
	log=$BUILD/logs/$name.log
	mkdir -p "$BUILD/logs" "$BUILD/artifacts" "$BUILD/corpus/$name"
	regs=$(find "tests/fuzz/regressions/$name" -type f 2>/dev/null | sort)
	if [ -n "$regs" ]; then
		# shellcheck disable=SC2086
		if ! "$bin" $opts -artifact_prefix="$BUILD/artifacts/$name-" $regs > "$log" 2>&1; then
			echo "FAIL $name: a regression input crashes again:"; show "$log"
			fail=$((fail + 1)); failed="$failed $name"; continue
		fi
		[ "$V" = 1 ] && cat "$log"
	fi
	# shellcheck disable=SC2086
	if "$bin" $opts -max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix="$BUILD/artifacts/$name-" \
		"$BUILD/corpus/$name" "tests/fuzz/corpus/$name" > "$log" 2>&1; then
		[ "$V" = 1 ] && cat "$log"
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
		cov=$(sed -n 's/.*DONE *cov: *\([0-9]*\).*/\1/p' "$log" | tail -1)
		echo "  FUZZ    $name: ${secs}s, $runs runs, $rate exec/s, cov $cov, no crash"
		pass=$((pass + 1))
	else
		echo "FAIL $name: see $log and $BUILD/artifacts/:"; show "$log"
		fail=$((fail + 1)); failed="$failed $name"
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ] || { echo "failed:$failed"; exit 1; }
