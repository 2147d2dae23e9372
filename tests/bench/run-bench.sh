#!/bin/sh
# run-bench.sh: brokerd's benchmark suite, in one go on loopback.
#
# Starts brokerd (foreground, generated config, ephemeral ports read back
# from its log) next to the reference servers built from this folder --
# epoll_echo (the practical ceiling) and libevent_echo (a plain bufferevent
# echo) -- runs every scenario REPS times, interleaved so that noise on a
# shared machine hits every server alike, and prints one table of medians
# with ratios to the ceiling and the broker figures.  Reported, never
# asserted: the exit status only says whether the runs themselves worked.
#
# TLS rows: full TLS 1.3 handshakes/s (ECDSA P-256 certificate from
# tests/tls/mkpki.sh) against tls_ceiling, a minimal OpenSSL + epoll
# server; against brokerd too, with TLS echo 50 x 128 B (CPU per message
# against plain) and UPPER over TLS (MB/s against plain), once brokerd
# accepts a listener's tls block (brokerd -t says whether it does).
# Until then those rows say "daemon has no TLS yet", and are skipped.
#
# usage: BUILD=builddir run-bench.sh [-q] [-k] [-a split|same|none]
#            [-r reps] [-d seconds] [-n idle_conns] [-u upper_bytes]
#            [-o table_file]
#   -a  where the echo scenarios run: split (default) pins the servers to
#       CPU 1 and the load generator to CPU 0; same puts both on CPU 1
#       (no cross-CPU wakeups: each message's whole cost, serialized);
#       none leaves it to the scheduler.  DF and idle never pin; UPPER
#       runs unpinned, then again with the pump and the daemon (so its
#       tr) on CPU 1 and the client on CPU 0, whatever -a says.
#   -q  quick: one repetition, 1 s windows, 256 MiB UPPER
#   -k  keep the work directory (logs, raw results) and print its path
# "make bench" runs it with BUILD set; BENCH_FLAGS passes options.
set -u

BUILD=${BUILD:-.}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BROKERD=${BROKERD:-$BUILD/daemon/brokerd}
BENCH=${BENCH:-$BUILD/tests/bench}
reps=3
secs=2
warm=0.5
idle_n=10000
upper_bytes=1g
keep=0
out=
placement='split'

usage() {
	echo "usage: BUILD=builddir $0 [-q] [-k] [-a split|same|none]" \
	    "[-r reps] [-d seconds] [-n idle_conns] [-u upper_bytes]" \
	    "[-o table_file]" >&2
	exit 2
}

while getopts a:qkr:d:n:u:o: opt; do
	case $opt in
	a) placement=$OPTARG ;;
	q) reps=1; secs=1; upper_bytes=256m ;;
	k) keep=1 ;;
	r) reps=$OPTARG ;;
	d) secs=$OPTARG ;;
	n) idle_n=$OPTARG ;;
	u) upper_bytes=$OPTARG ;;
	o) out=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
case $placement in
split|same|none) ;;
*) usage ;;
esac

for p in "$BROKERD" "$BENCH/loadgen" "$BENCH/broker_client" \
    "$BENCH/epoll_echo" "$BENCH/libevent_echo" "$BENCH/pump" \
    "$BENCH/spawn_df"; do
	if [ ! -x "$p" ]; then
		echo "run-bench: $p is missing; run make bench" >&2
		exit 1
	fi
done

# Every connection is an fd in the load generator and in the server.
# (ulimit -H and -n are not POSIX, but dash, bash and busybox have them.)
need=$((idle_n + 256))
# shellcheck disable=SC3045
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
	idle_n=$((hard - 256))
	echo "run-bench: hard fd limit $hard: idle scenario cut to" \
	    "$idle_n connections" >&2
	need=$hard
fi
# shellcheck disable=SC3045
ulimit -n "$need" || exit 1

# CPU placement for the echo scenarios (see -a).
if [ "$placement" != none ] && { [ "$(nproc)" -lt 2 ] ||
    ! taskset -c 1 true 2>/dev/null; }; then
	echo "run-bench: cannot pin to CPUs 0 and 1; placement none" >&2
	placement=none
fi
# UPPER's one-CPU rows need CPUs 0 and 1, whatever the placement.
can_pin=0
[ "$(nproc)" -ge 2 ] && taskset -c 1 true 2>/dev/null && can_pin=1
case $placement in
split) cli_pin="taskset -c 0" ;;
same) cli_pin="taskset -c 1" ;;
none) cli_pin= ;;
esac
# pin PID / unpin PID: every thread of a server we started.
pin() {
	[ "$placement" = none ] || taskset -a -pc 1 "$1" >/dev/null
}
unpin() {
	[ "$placement" = none ] ||
	    taskset -a -pc "0-$(($(nproc) - 1))" "$1" >/dev/null
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/brokerd-bench.XXXXXX") || exit 1
results=$tmp/results
: >"$results"
pids=

cleanup() {
	for p in $pids; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $pids; do
		wait "$p" 2>/dev/null
	done
	if [ "$keep" = 1 ]; then
		echo "run-bench: logs and raw results in $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failures=0
note() {
	echo "run-bench: $*" >&2
}

# Stops one process we started, by its id, within a bound.
stop() {
	kill -TERM "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	np=
	for p in $pids; do
		[ "$p" = "$1" ] || np="$np $p"
	done
	pids=$np
}

# The port brokerd logged for service $1: "listening on 127.0.0.1:N ($1)"
# (or "($1, ...)", whatever a TLS listener adds).
log_port() {
	sed -n "s/.*listening on 127\.0\.0\.1:\([0-9]*\) ($1[,)].*/\1/p" \
	    "$bd_log" 2>/dev/null | head -n 1
}

# brokerd_conf NAME [tls]: its config; with tls, both listeners have a
# tls block with the test PKI's server certificate.  A NAME starting with
# acl gets a top-level allow list of 100 entries, loopback the last.
brokerd_conf() {
	tls=
	[ "${2:-}" != tls ] || tls="tls = { certificate = \"$tmp/pki/server.pem\";
      key = \"$tmp/pki/server.key\"; };"
	case $1 in
	acl*) acl_list > "$tmp/brokerd-$1.conf" ;;
	*) : > "$tmp/brokerd-$1.conf" ;;
	esac
	cat >>"$tmp/brokerd-$1.conf" <<EOF
# Generated by run-bench.sh.
listen = (
  { service = "echo";   address = "127.0.0.1"; port = 0; $tls },
  { service = "broker"; address = "127.0.0.1"; port = 0; $tls }
);
control = { path = "$tmp/brokerd-$1.sock"; mode = "0600"; };
limits = { max_clients = 20000; max_clients_per_source = 20000; };
EOF
}

# 99 prefixes no loopback peer matches, then 127.0.0.0/8: every
# connection walks the whole list.
acl_list() {
	printf 'allow = [ '
	i=0
	while [ $i -lt 99 ]; do
		printf '"198.%d.%d.0/24", ' $((18 + i / 250)) $((i % 250))
		i=$((i + 1))
	done
	printf '"127.0.0.0/8" ];\n'
}

# start_brokerd NAME [tls]: sets bd_pid, bd_echo, bd_broker.
start_brokerd() {
	bd_log=$tmp/brokerd-$1.log
	brokerd_conf "$@"
	# shellcheck disable=SC2086
	env ${BD_ENV:-} "$BROKERD" -f -c "$tmp/brokerd-$1.conf" 2>"$bd_log" &
	bd_pid=$!
	pids="$pids $bd_pid"
	bd_echo=
	bd_broker=
	i=0
	while [ $i -lt 200 ]; do
		bd_echo=$(log_port echo)
		bd_broker=$(log_port broker)
		[ -n "$bd_echo" ] && [ -n "$bd_broker" ] && return 0
		kill -0 "$bd_pid" 2>/dev/null || break
		sleep 0.05
		i=$((i + 1))
	done
	note "brokerd did not come up; its log:"
	cat "$bd_log" >&2
	exit 1
}

# start_ref KIND: sets ref_pid, ref_port.
start_ref() {
	"$BENCH/${1}_echo" 0 >"$tmp/$1.port" 2>"$tmp/$1.log" &
	ref_pid=$!
	pids="$pids $ref_pid"
	i=0
	while [ $i -lt 200 ]; do
		ref_port=$(head -n 1 "$tmp/$1.port" 2>/dev/null)
		[ -n "$ref_port" ] && return 0
		sleep 0.05
		i=$((i + 1))
	done
	note "${1}_echo did not come up"
	exit 1
}

# run SCENARIO SERVER COMMAND...: one bounded run, its key=value line kept.
run() {
	sc=$1
	srv=$2
	shift 2
	if line=$(timeout 120 "$@" 2>"$tmp/run.err") && [ -n "$line" ]; then
		printf '%s\t%s\t%s\n' "$sc" "$srv" "$line" >>"$results"
	else
		failures=$((failures + 1))
		note "FAILED: $sc / $srv: $*"
		sed 's/^/  /' "$tmp/run.err" >&2
	fi
}

LG=$BENCH/loadgen
BC=$BENCH/broker_client

# TLS: the PKI, the ceiling, and whether brokerd takes a tls block.
# tls_skip says why the brokerd TLS rows are skipped (empty: they run);
# ceil_skip the same for the ceiling.
tls_skip=''
ceil_skip=
if [ ! -x "$BENCH/tls_ceiling" ]; then
	ceil_skip="built without TLS (configure --disable-tls)"
elif ! command -v openssl >/dev/null; then
	ceil_skip="no openssl command for the certificates (Debian: openssl)"
elif ! sh "$SRC/tests/tls/mkpki.sh" "$tmp/pki" 2>"$tmp/pki.err"; then
	ceil_skip="tests/tls/mkpki.sh failed: $(head -n 1 "$tmp/pki.err")"
fi
if [ -n "$ceil_skip" ]; then
	tls_skip=$ceil_skip
else
	brokerd_conf probe tls
	if ! "$BROKERD" -t -c "$tmp/brokerd-probe.conf" >"$tmp/probe.out" \
	    2>&1; then
		# "FILE:LINE: message": the message says enough.
		tls_skip="daemon has no TLS yet (brokerd -t: $(grep -m 1 . \
		    "$tmp/probe.out" | sed 's/^[^ ]*:[0-9]*: //' |
		    cut -c 1-60))"
	fi
fi
[ -z "$ceil_skip" ] || note "TLS rows skipped: $ceil_skip"
[ -n "$ceil_skip" ] || [ -z "$tls_skip" ] ||
    note "TLS rows against brokerd skipped: $tls_skip"

# tls_upper_run SCENARIO: UPPER over TLS through a fresh TLS daemon.
tls_upper_run() {
	start_brokerd "upper$rep-tls" tls
	run "$1" tls "$BC" -T -m upper -n "$upper_bytes" \
	    -p "$bd_broker" -P "$bd_pid"
	stop "$bd_pid"
}
# tls_hs SERVER PORT PID: full TLS 1.3 handshakes, 16 in flight.
# shellcheck disable=SC2086
tls_hs() {
	run "TLS handshakes" "$1" $cli_pin "$LG" -m handshake -T -c 16 \
	    -d "$secs" -w "$warm" -p "$2" -P "$3"
}

# upper_run SCENARIO LABEL ENV PIN: one stream through a fresh daemon (its
# VmHWM is that stream's) started with ENV; PIN puts it on CPU 1 and the
# client on CPU 0.
upper_run() {
	BD_ENV=$3 start_brokerd "upper$rep-$2${4:+-pinned}"
	BD_ENV=
	[ -z "$4" ] || taskset -a -pc 1 "$bd_pid" >/dev/null
	# shellcheck disable=SC2086
	run "$1" "$2" ${4:+taskset -c 0} "$BC" -m upper -n "$upper_bytes" \
	    -p "$bd_broker" -P "$bd_pid"
	stop "$bd_pid"
}
# $cli_pin and the scenario lists below are split into words on purpose.
# shellcheck disable=SC2086
lg_echo() {
	run "echo $1 x $2 B" "$3" $cli_pin "$LG" -m echo -c "$1" -s "$2" \
	    -d "$secs" -w "$warm" -p "$4" -P "$5"
}

# The same daemon with the slow-callback timing switched off: the cost
# of timing every callback is the difference between the two rows.
BD_ENV=BROKERD_NO_WATCH=1 start_brokerd nowatch
nw_pid=$bd_pid nw_echo=$bd_echo
BD_ENV=
# The same daemon with a 100-entry allow list (none: a daemon without
# access lists, such as one built before them).
acl_pid=
brokerd_conf aclprobe
if "$BROKERD" -t -c "$tmp/brokerd-aclprobe.conf" >/dev/null 2>&1; then
	start_brokerd acl
	acl_pid=$bd_pid acl_echo=$bd_echo acl_broker=$bd_broker
	pin "$acl_pid"
else
	note "acl rows skipped: this brokerd takes no allow list"
fi
start_brokerd main
start_ref epoll
ep_pid=$ref_pid ep_port=$ref_port
start_ref libevent
le_pid=$ref_pid le_port=$ref_port
pin "$bd_pid"
pin "$nw_pid"
pin "$ep_pid"
pin "$le_pid"
tc_pid=''
tls_pid=
if [ -z "$ceil_skip" ]; then
	"$BENCH/tls_ceiling" -c "$tmp/pki/server.pem" -k "$tmp/pki/server.key" \
	    0 >"$tmp/tls_ceiling.port" 2>"$tmp/tls_ceiling.log" &
	tc_pid=$!
	pids="$pids $tc_pid"
	i=0
	while [ $i -lt 200 ] && ! [ -s "$tmp/tls_ceiling.port" ]; do
		sleep 0.05
		i=$((i + 1))
	done
	tc_port=$(head -n 1 "$tmp/tls_ceiling.port")
	[ -n "$tc_port" ] || { note "tls_ceiling did not come up"; exit 1; }
	pin "$tc_pid"
fi
if [ -z "$tls_skip" ]; then
	main_pid=$bd_pid main_echo=$bd_echo main_broker=$bd_broker
	start_brokerd tls tls
	tls_pid=$bd_pid tls_echo=$bd_echo
	bd_pid=$main_pid bd_echo=$main_echo bd_broker=$main_broker
	pin "$tls_pid"
fi
t_start=$(date +%s)
note "brokerd $bd_pid (echo $bd_echo, broker $bd_broker), epoll_echo" \
    "$ep_pid, libevent_echo $le_pid; about a minute per repetition"

rep=1
while [ $rep -le "$reps" ]; do
	note "repetition $rep of $reps"
	for cs in "1 128" "1 16384" "50 128" "50 16384"; do
		# shellcheck disable=SC2086
		set -- $cs
		lg_echo "$1" "$2" epoll "$ep_port" "$ep_pid"
		lg_echo "$1" "$2" libevent "$le_port" "$le_pid"
		lg_echo "$1" "$2" brokerd "$bd_echo" "$bd_pid"
		lg_echo "$1" "$2" nowatch "$nw_echo" "$nw_pid"
		[ -z "$acl_pid" ] ||
		    lg_echo "$1" "$2" acl "$acl_echo" "$acl_pid"
	done

	# Like the seed's client; 64 source addresses so the TIME_WAIT
	# entries of a hundred thousand connections do not clog one port
	# space.
	for s in "epoll $ep_port $ep_pid" "libevent $le_port $le_pid" \
	    "brokerd $bd_echo $bd_pid" ${acl_pid:+"acl $acl_echo $acl_pid"}; do
		# shellcheck disable=SC2086
		set -- $s
		# shellcheck disable=SC2086
		run "halfclose 50 x 128 B" "$1" $cli_pin "$LG" -m halfclose \
		    -c 50 -s 128 -d "$secs" -w "$warm" -S 64 -p "$2" -P "$3"
	done

	# Idle connections on fresh servers, so RSS growth is theirs alone.
	start_ref epoll
	run "idle $idle_n conns" epoll "$LG" -m idle -c "$idle_n" -d 0.5 \
	    -p "$ref_port" -P "$ref_pid"
	stop "$ref_pid"
	start_ref libevent
	run "idle $idle_n conns" libevent "$LG" -m idle -c "$idle_n" \
	    -d 0.5 -p "$ref_port" -P "$ref_pid"
	stop "$ref_pid"
	main_pid=$bd_pid main_echo=$bd_echo main_broker=$bd_broker
	start_brokerd "idle$rep"
	run "idle $idle_n conns" brokerd "$LG" -m idle -c "$idle_n" -d 0.5 \
	    -p "$bd_echo" -P "$bd_pid"
	stop "$bd_pid"
	bd_pid=$main_pid bd_echo=$main_echo bd_broker=$main_broker

	# The children inherit the daemon's CPU mask: none for these.
	unpin "$bd_pid"
	run "DF 8 clients" spawn_df "$BENCH/spawn_df" -k 8 -d "$secs" \
	    -w "$warm"
	run "DF 8 clients" brokerd "$BC" -m df -c 8 -d "$secs" -w "$warm" \
	    -p "$bd_broker" -P "$bd_pid"
	pin "$bd_pid"
	if [ -n "$acl_pid" ]; then
		unpin "$acl_pid"
		run "DF 8 clients" acl "$BC" -m df -c 8 -d "$secs" \
		    -w "$warm" -p "$acl_broker" -P "$acl_pid"
		pin "$acl_pid"
	fi

	# UPPER as a service runs it: nothing pinned.  brokerd copies the
	# input there; the splice row forces the other way (BROKERD_SPLICE).
	run "UPPER $upper_bytes" pump "$BENCH/pump" -n "$upper_bytes"
	upper_run "UPPER $upper_bytes" brokerd "" ""
	upper_run "UPPER $upper_bytes" splice BROKERD_SPLICE=on ""
	# Confined to one CPU (CPUAffinity=, a one-CPU machine): the pump
	# and its tr on CPU 1, the daemon and its tr on CPU 1 with the
	# client on CPU 0.  brokerd splices the input there; the copy row
	# forces the other way.
	if [ "$can_pin" = 1 ]; then
		run "UPPER $upper_bytes, 1 CPU" pump taskset -c 1 \
		    "$BENCH/pump" -n "$upper_bytes"
		upper_run "UPPER $upper_bytes, 1 CPU" brokerd "" 1
		upper_run "UPPER $upper_bytes, 1 CPU" copy BROKERD_SPLICE=off 1
	fi
	bd_pid=$main_pid bd_echo=$main_echo bd_broker=$main_broker

	# TLS: placed as the echo rows are.
	[ -n "$ceil_skip" ] || tls_hs ceiling "$tc_port" "$tc_pid"
	if [ -z "$tls_skip" ]; then
		tls_hs brokerd "$tls_echo" "$tls_pid"
		# shellcheck disable=SC2086
		run "TLS echo 50 x 128 B" plain $cli_pin "$LG" -m echo -c 50 \
		    -s 128 -d "$secs" -w "$warm" -p "$bd_echo" -P "$bd_pid"
		# shellcheck disable=SC2086
		run "TLS echo 50 x 128 B" tls $cli_pin "$LG" -m echo -T \
		    -c 50 -s 128 -d "$secs" -w "$warm" -p "$tls_echo" \
		    -P "$tls_pid"
		tls_upper_run "TLS UPPER $upper_bytes"
		bd_pid=$main_pid bd_echo=$main_echo bd_broker=$main_broker
	fi
	rep=$((rep + 1))
done
t_end=$(date +%s)

stop "$bd_pid"
stop "$nw_pid"
[ -z "$acl_pid" ] || stop "$acl_pid"
stop "$ep_pid"
stop "$le_pid"
[ -z "$tc_pid" ] || stop "$tc_pid"
[ -z "$tls_pid" ] || stop "$tls_pid"

# The daemon's own view: warnings (slow callbacks among them), clean exit.
warnings=$(cat "$tmp"/brokerd-*.log | grep -c -E ': (warning|error|err|crit):')
slow=$(cat "$tmp"/brokerd-*.log | grep -c 'slow callback')
clean=$(grep -c 'exited cleanly' "$tmp/brokerd-main.log")

{
case $placement in
split) where="echo: servers on CPU 1, load generator on CPU 0" ;;
same) where="echo: servers and load generator on CPU 1" ;;
none) where="no CPU pinning" ;;
esac
printf 'brokerd benchmark: medians of %s run(s), %s s windows after %s s' \
    "$reps" "$secs" "$warm"
printf ' warm-up, loopback; %s\n' "$where"
printf 'host: %s CPUs, %s, Linux %s; %s; wall time %s s\n' "$(nproc)" \
    "$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -n 1)" \
    "$(uname -r)" "$("$BROKERD" -V 2>/dev/null | head -n 1)" $((t_end - t_start))
echo
awk -F '\t' -v tls_skip="$tls_skip" -v ceil_skip="$ceil_skip" \
    -v upper_bytes="$upper_bytes" '
function median(list,    a, n, i, j, t) {
	n = split(list, a, ",")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	if (n == 0)
		return ""
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function get(sc, srv, k) {
	return ((sc, srv, k) in v) ? median(v[sc, srv, k]) : ""
}
function ratio(x, base) {
	return (x == "" || base == "" || base + 0 == 0) ? "-" : \
	    sprintf("%.2f", x / base)
}
# CPU microseconds per MB moved, from a seconds key and bytes_out.
function cpu_mb(sc, srv, k,    c, b) {
	c = get(sc, srv, k)
	b = get(sc, srv, "bytes_out")
	return (c == "" || b == "" || b + 0 == 0) ? "" : c * 1e12 / b
}
function num(x, fmt) {
	return x == "" ? "-" : sprintf(fmt, x)
}
function row(sc, srv, rate, unit, r1, cpu, r2, p50, p99, r3, verdict,
    line) {
	line = sprintf("%-22s %-9s %10s %-6s %5s %8s %5s %8s %8s %5s  %s",
	    sc, srv, rate, unit, r1, cpu, r2, p50, p99, r3, verdict)
	sub(/ +$/, "", line)
	print line
}
{
	if (!($1 in seen)) {
		seen[$1] = 1
		order[++nsc] = $1
	}
	if (!(($1, $2) in have)) {
		have[$1, $2] = 1
		servers[$1] = servers[$1] " " $2
	}
	n = split($3, kv, " ")
	for (i = 1; i <= n; i++) {
		eq = index(kv[i], "=")
		k = substr(kv[i], 1, eq - 1)
		x = substr(kv[i], eq + 1)
		# Not one expression: mawk creates v[...] before the "in".
		if (($1, $2, k) in v)
			x = v[$1, $2, k] "," x
		v[$1, $2, k] = x
	}
}
END {
	row("scenario", "server", "rate", "", "x ceil", "srv us/op", "x ceil",
	    "p50 us", "p99 us", "x ceil", "targets (brokerd)")
	for (s = 1; s <= nsc; s++) {
		sc = order[s]
		ns = split(servers[sc], sv, " ")
		first = 1
		if (sc ~ /^(echo|halfclose)/) {
			brate = get(sc, "epoll", "rate")
			bcpu = get(sc, "epoll", "srv_us_op")
			bp99 = get(sc, "epoll", "p99_us")
			for (i = 1; i <= ns; i++) {
				srv = sv[i]
				rate = get(sc, srv, "rate")
				cpu = get(sc, srv, "srv_us_op")
				p99 = get(sc, srv, "p99_us")
				verdict = ""
				if (srv == "brokerd" && sc ~ /^echo/) {
					miss = ""
					if (rate + 0 < 0.9 * brate)
						miss = miss " rate"
					if (cpu + 0 > 1.15 * bcpu)
						miss = miss " cpu"
					if (p99 + 0 > 1.2 * bp99)
						miss = miss " p99"
					verdict = miss == "" ? "met" : \
					    "MISSED:" miss
				}
				row(first ? sc : "", srv, num(rate, "%.0f"),
				    sc ~ /^echo/ ? "msg/s" : "conn/s",
				    ratio(rate, brate), num(cpu, "%.2f"),
				    ratio(cpu, bcpu),
				    num(get(sc, srv, "p50_us"), "%.1f"),
				    num(p99, "%.1f"), ratio(p99, bp99), verdict)
				first = 0
			}
		} else if (sc ~ /^idle/) {
			for (i = 1; i <= ns; i++) {
				srv = sv[i]
				b = get(sc, srv, "rss_per_conn_b")
				verdict = ""
				if (srv == "brokerd")
					verdict = (b != "" && b + 0 < 4096) ? \
					    "met (< 4096 B RSS/conn)" : \
					    "MISSED (< 4096 B RSS/conn)"
				row(first ? sc : "", srv, num(b, "%.0f"),
				    "B/conn", "", "", "", "", "", "",
				    sprintf("open %s s%s", num(get(sc, srv,
				    "open_secs"), "%.2f"), (verdict == "" ? \
				    "" : "; " verdict)))
				first = 0
			}
		} else if (sc ~ /^DF/) {
			base = get(sc, "spawn_df", "rate")
			for (i = 1; i <= ns; i++) {
				srv = sv[i]
				rate = get(sc, srv, "rate")
				cpu = srv == "brokerd" || srv == "acl" ? \
				    get(sc, srv, "srv_us_op") : \
				    get(sc, srv, "cli_us_op")
				verdict = ""
				if (srv == "brokerd")
					verdict = (rate + 0 >= 0.8 * base ? \
					    "met" : "MISSED") " (>= 0.80)"
				row(first ? sc : "", srv, num(rate, "%.0f"),
				    "req/s", ratio(rate, base),
				    num(cpu, "%.1f"), "",
				    num(get(sc, srv, "p50_us"), "%.0f"),
				    num(get(sc, srv, "p99_us"), "%.0f"), "",
				    verdict)
				first = 0
			}
		} else if (sc ~ /^UPPER/) {
			base = get(sc, "pump", "mb_s")
			bcpu = cpu_mb(sc, "pump", "cli_cpu_s")
			for (i = 1; i <= ns; i++) {
				srv = sv[i]
				rate = get(sc, srv, "mb_s")
				cpu = cpu_mb(sc, srv, srv == "pump" ? \
				    "cli_cpu_s" : "srv_cpu_s")
				verdict = ""
				if (srv == "brokerd") {
					r0 = get(sc, srv, "rss_start_kb")
					rp = get(sc, srv, "rss_peak_kb")
					hw = get(sc, srv, "vmhwm_kb")
					flat = (rp - r0 < 8192 && hw < 32768)
					verdict = sprintf("%s (>= 0.80); RSS " \
					    "%.1f->%.1f MiB, VmHWM %.1f MiB: " \
					    "%s", rate + 0 >= 0.8 * base ? \
					    "met" : "MISSED", r0 / 1024,
					    rp / 1024, hw / 1024, flat ? \
					    "flat" : "NOT flat")
				}
				row(first ? sc : "", srv, num(rate, "%.0f"),
				    "MB/s", ratio(rate, base), num(cpu, "%.0f"),
				    ratio(cpu, bcpu), "", "", "", verdict)
				first = 0
			}
		} else if (sc == "TLS handshakes") {
			brate = get(sc, "ceiling", "rate")
			bcpu = get(sc, "ceiling", "srv_us_op")
			for (i = 1; i <= ns; i++) {
				srv = sv[i]
				cpu = get(sc, srv, "srv_us_op")
				verdict = sprintf("%s hs per server CPU s",
				    (cpu + 0 > 0) ? sprintf("%.0f", 1e6 / cpu) : \
				    "-")
				if (srv == "brokerd")
					verdict = verdict sprintf("; %s (>= " \
					    "0.80 of the ceiling%s)", (cpu + 0 > \
					    0 && bcpu / cpu >= 0.8) ? "met" : \
					    "MISSED", "\047s")
				row(first ? sc : "", srv, num(get(sc, srv,
				    "rate"), "%.0f"), "hs/s", ratio(get(sc, srv,
				    "rate"), brate), num(cpu, "%.1f"),
				    ratio(cpu, bcpu), num(get(sc, srv, "p50_us"),
				    "%.0f"), num(get(sc, srv, "p99_us"), "%.0f"),
				    "", verdict)
				first = 0
			}
			if (tls_skip != "")
				row("", "brokerd", "-", "hs/s", "", "", "", "",
				    "", "", "skipped: " tls_skip)
		} else if (sc ~ /^TLS echo/) {
			brate = get(sc, "plain", "rate")
			bcpu = get(sc, "plain", "srv_us_op")
			bp99 = get(sc, "plain", "p99_us")
			for (i = 1; i <= ns; i++) {
				srv = sv[i]
				cpu = get(sc, srv, "srv_us_op")
				row(first ? sc : "", srv, num(get(sc, srv,
				    "rate"), "%.0f"), "msg/s", ratio(get(sc, srv,
				    "rate"), brate), num(cpu, "%.2f"),
				    ratio(cpu, bcpu), num(get(sc, srv, "p50_us"),
				    "%.1f"), num(get(sc, srv, "p99_us"), "%.1f"),
				    ratio(get(sc, srv, "p99_us"), bp99),
				    srv == "tls" ? "CPU per message: the srv " \
				    "x column" : "")
				first = 0
			}
		} else if (sc ~ /^TLS UPPER/) {
			plain = substr(sc, 5)
			base = get(plain, "brokerd", "mb_s")
			bcpu = cpu_mb(plain, "brokerd", "srv_cpu_s")
			for (i = 1; i <= ns; i++) {
				srv = sv[i]
				rate = get(sc, srv, "mb_s")
				row(first ? sc : "", srv, num(rate, "%.0f"),
				    "MB/s", ratio(rate, base), num(cpu_mb(sc,
				    srv, "srv_cpu_s"), "%.0f"), ratio(cpu_mb(sc,
				    srv, "srv_cpu_s"), bcpu), "", "", "",
				    sprintf("%s (>= 0.60 of plain)", base != "" &&
				    rate + 0 >= 0.6 * base ? "met" : "MISSED"))
				first = 0
			}
		}
	}
	# TLS rows that did not run say why.
	if (ceil_skip != "")
		row("TLS handshakes", "ceiling", "-", "hs/s", "", "", "", "",
		    "", "", "skipped: " ceil_skip)
	if (ceil_skip != "" && tls_skip != "")
		row("", "brokerd", "-", "hs/s", "", "", "", "", "", "",
		    "skipped: " tls_skip)
	if (tls_skip != "") {
		row("TLS echo 50 x 128 B", "tls", "-", "msg/s", "", "", "", "",
		    "", "", "skipped: " tls_skip)
		row("TLS UPPER " upper_bytes, "tls", "-", "MB/s", "",
		    "", "", "", "", "", "skipped: " tls_skip)
	}
}' "$results"
echo
echo "x ceil: ratio to epoll_echo (echo rows), spawn_df (DF), pump (UPPER)."
echo "UPPER: brokerd chooses how input reaches tr (copying, or splice(2)"
echo "  when it may run on one CPU only); splice and copy force the other"
echo "  way with BROKERD_SPLICE.  1 CPU: pump and tr on CPU 1; brokerd and"
echo "  tr on CPU 1, the client on CPU 0."
echo "nowatch: brokerd with BROKERD_NO_WATCH=1 (callbacks not timed): the"
echo "  cost of the slow-callback wrapper is the brokerd row against it."
echo "acl: brokerd with a 100-entry allow list that every peer walks to"
echo "  its end (loopback last): the cost of the access lists is the"
echo "  brokerd row against it (halfclose: one check per connection)."
echo "srv us/op: server utime+stime (/proc/PID/stat) over the window per"
echo "  message, connection or request (spawn_df: its own CPU per spawn; df"
echo "  itself not counted on either side); UPPER: CPU us per MB of the pump"
echo "  or the daemon (tr not counted).  MB = 10^6 bytes.  Echo targets:"
echo "  rate >= 0.9, cpu <= 1.15, p99 <= 1.2 x the ceiling.  RSS flat: peak"
echo "  within 8 MiB of the start and VmHWM < 32 MiB."
echo "TLS handshakes: full TLS 1.3 handshakes (no resumption, ECDSA P-256,"
echo "  X25519), 16 in flight, each ending with close_notify both ways;"
echo "  x ceil: ratio to tls_ceiling (minimal OpenSSL + epoll server).  The"
echo "  client may be the bottleneck (it pays for the verify of the"
echo "  signature): compare server CPU per handshake, and its inverse, hs"
echo "  per server CPU second.  TLS echo: x columns are TLS over plain"
echo "  brokerd echo; TLS UPPER: over brokerd's plain UPPER row above."
printf 'brokerd logs: %s warning/error lines (%s slow callbacks);' \
    "$warnings" "$slow"
printf ' main instance exited cleanly: %s\n' \
    "$([ "$clean" -ge 1 ] && echo yes || echo NO)"
[ "$failures" -eq 0 ] || printf 'FAILED runs: %s (see above)\n' "$failures"
} | tee "$tmp/table"

[ -z "$out" ] || cp "$tmp/table" "$out"
[ "$keep" = 0 ] || cp "$results" "$tmp/results.tsv"
[ "$failures" -eq 0 ]
