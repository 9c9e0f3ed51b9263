#!/bin/sh
# tests/fuzz/run.sh [SECONDS]: build the libFuzzer targets with clang and run
# each one for SECONDS (default 30) on a scratch copy of its seed corpus.
#
# The build goes to $LEURA_FUZZ_BUILD (default: build-fuzz in the source
# tree); findings go to $LEURA_FUZZ_OUT (default: a new temp dir, printed at
# the end): <target>.log, and crash-*, leak-*, timeout-*, oom-* reproducers.
# Replay one with:  <build>/tests/fuzz/<target> <file>
# $LEURA_FUZZ_TARGETS limits the run ("fuzz_yaml fuzz_cron"), $LEURA_FUZZ_JOBS
# sets the build parallelism, $LEURA_FUZZ_CC the compiler (default: clang).
# Exits 1 when any target crashed, leaked, timed out or ran out of memory,
# 2 when the build failed, 64 on a usage error.
# Needs clang and libFuzzer (Debian: clang libclang-rt-14-dev), cmake and the
# project's build dependencies.
set -eu

secs=${1:-30}
case $secs in
''|*[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 64 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${LEURA_FUZZ_BUILD:-$src/build-fuzz}
targets=${LEURA_FUZZ_TARGETS:-fuzz_spec fuzz_yaml fuzz_template fuzz_cron fuzz_tzif fuzz_config fuzz_proto fuzz_agentdoc fuzz_server}
jobs=${LEURA_FUZZ_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
out=${LEURA_FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/leura-fuzz.XXXXXX")}
mkdir -p "$out"

cc=${LEURA_FUZZ_CC:-}
if [ -z "$cc" ]; then
	for c in clang clang-16 clang-15 clang-14; do
		if command -v "$c" >/dev/null 2>&1; then
			cc=$c
			break
		fi
	done
fi
if [ -z "$cc" ]; then
	echo "fuzz: error: clang not found" >&2
	echo "hint: apt-get install clang libclang-rt-14-dev" >&2
	exit 2
fi

echo "fuzz: building in $build with $cc"
if ! CC=$cc cmake -S "$src" -B "$build" -DLEURA_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$out/build.log" 2>&1 ||
   ! cmake --build "$build" --target $targets -j "$jobs" \
    >>"$out/build.log" 2>&1; then
	tail -n 30 "$out/build.log" >&2
	echo "fuzz: error: build failed, full log in $out/build.log" >&2
	exit 2
fi

failed=
for t in $targets; do
	bin=$build/tests/fuzz/$t
	corpus=$out/corpus-$t
	rm -rf "$corpus"
	mkdir -p "$corpus"
	cp "$here/corpus/$t/"* "$corpus/" 2>/dev/null || true
	printf 'fuzz: %-14s %ss ... ' "$t" "$secs"
	# -detect_leaks stays on (the default): a leak is a failure too
	if "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
	    -print_final_stats=1 -artifact_prefix="$out/$t-" "$corpus" \
	    >"$out/$t.log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
		    "$out/$t.log")
		echo "ok (${runs:-?} runs)"
	else
		echo "FAILED"
		grep -E '^(==[0-9]+==ERROR|SUMMARY)|runtime error|^fuzz_' \
		    "$out/$t.log" | head -n 5 | sed 's/^/    /'
		ls "$out" | grep -E "^$t-(crash|leak|timeout|oom|slow-unit)-" |
		    sed "s|^|    reproducer: $out/|" || true
		failed="$failed $t"
	fi
done

echo "fuzz: logs and reproducers in $out"
if [ -n "$failed" ]; then
	echo "fuzz: failed:$failed" >&2
	exit 1
fi
exit 0
