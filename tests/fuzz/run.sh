#!/bin/sh
# Runs one libFuzzer target for a bounded time: make fuzz calls it as
#   run.sh SRCDIR TARGET SECONDS
# from the build directory.  The checked-in corpus is copied to
# tests/fuzz/work/NAME, so new inputs never land in the source tree; what
# a run finds (crash-*, leak-*, timeout-*, oom-*) and its log are left in
# tests/fuzz/out/.  Exits non-zero if anything was found.
set -u
srcdir=$1 target=$2 seconds=$3
name=${target##*/fuzz_}
work=tests/fuzz/work/$name
out=tests/fuzz/out
log=$out/$name.log
fuzzdir=$(cd "$srcdir/tests/fuzz" && pwd)

rm -rf "$work" "$out/$name"-* "$log"
mkdir -p "$work" "$out"
cp "$fuzzdir/corpus/$name"/* "$work"/

# abort_on_error: a sanitizer report is a crash libFuzzer saves.  Leaks
# inside libconfig itself are suppressed (see lsan.supp).
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
LSAN_OPTIONS=suppressions=$fuzzdir/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

# libconfig leaks on most syntax errors, and libFuzzer runs a full leak
# scan after every input that leaks, suppressed or not: that makes the
# config target 40 times slower.  So it fuzzes without leak checks, and
# the second pass below replays everything it kept with them.
case $name in
config)	leaks=0 ;;
*)	leaks=1 ;;
esac

common="-timeout=10 -rss_limit_mb=2048 -artifact_prefix=$out/$name-"
status=0
echo "fuzz: $name: ${seconds} s from $(ls "$work" | wc -l) seed inputs"
"./$target" $common -max_total_time="$seconds" -max_len=8192 \
    -detect_leaks=$leaks -print_final_stats=1 \
    -dict="$fuzzdir/$name.dict" "$work" > "$log" 2>&1 || status=1
# Every input kept, once more, with leak detection.
if [ $status -eq 0 ]; then
	"./$target" $common -runs=0 -detect_leaks=1 "$work" \
	    >> "$log" 2>&1 || status=1
fi

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | head -n 1)
echo "fuzz: $name: ${runs:-?} runs, $(ls "$work" | wc -l) inputs in" \
    "the corpus, $(sed -n 's/^stat::peak_rss_mb: *//p' "$log" |
    head -n 1) MB peak RSS"
if [ $status -ne 0 ]; then
	echo "fuzz: $name FAILED; found:" $(ls "$out/$name"-* 2>/dev/null)
	grep -A 40 '^==[0-9]*==\|check failed\|deadly signal' "$log" |
	    head -n 80
	echo "fuzz: whole log in $log; reproduce with ./$target FILE"
fi
exit $status
