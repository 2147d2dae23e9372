#!/bin/sh
# Three brokerd instances behind a real HAProxy, configured by the shipped
# contrib/haproxy/haproxy.cfg (addresses and ports put in, checks every
# 100 ms instead of 1 s, no chroot, user or syslog): clients loop on DF,
# UPPER (byte-exact) and echo through HAProxy while each instance in turn
# gets SIGTERM, drains, is started again and is back in HAProxy's
# rotation (its stats socket says UP) before the next one goes.  Not one
# request may fail over the whole roll.
set -u
top=${TOP_SRCDIR:?run me through make check}
brokerd=${BROKERD:?run me through make check}
brokerctl=${BROKERCTL:?run me through make check}
contrib=$top/contrib/haproxy/haproxy.cfg

n=0
fails=0
# ok STATUS DESCRIPTION...: a TAP line; returns STATUS.
ok() {
	r=$1
	shift
	n=$((n + 1))
	if [ "$r" -eq 0 ]; then
		echo "ok $n - $*"
	else
		echo "not ok $n - $*"
		fails=$((fails + 1))
	fi
	return "$r"
}
diag() { sed 's/^/# /' "$@"; }

haproxy=$(command -v haproxy || command -v /usr/sbin/haproxy || true)
if [ -z "$haproxy" ]; then
	echo "1..0 # SKIP haproxy is not installed (Debian package haproxy;" \
	    "scripts/check installs it)"
	exit 0
fi
command -v python3 > /dev/null || {
	echo "1..0 # SKIP python3 is not installed (the fast client)"
	exit 0
}
command -v nc > /dev/null || {
	echo "1..0 # SKIP nc is not installed (Debian package netcat-openbsd," \
	    "for HAProxy's stats socket)"
	exit 0
}

t_start=$(date +%s)
tmp=$(mktemp -d /tmp/brokerd-haproxy.XXXXXX)
hpid=
pids=
cleanup() {
	touch "$tmp/stop"
	for p in $hpid $pids; do kill -9 "$p" 2> /dev/null; done
	wait 2> /dev/null
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ms since the epoch.
now_ms() { date +%s%3N; }

# Waits up to $1 seconds for the command in the rest to succeed.
until_true() {
	limit=$(($(now_ms) + $1 * 1000))
	shift
	while ! "$@"; do
		[ "$(now_ms)" -lt "$limit" ] || return 1
		sleep 0.05
	done
}


# --- brokerd instances ------------------------------------------------
# Instance i listens on ports 0 the first time; restarts reuse the ports
# it got, which HAProxy's config names.  drain_delay_s: checks every
# 100 ms, fall 2, plus timeout check (1 s), with room for a loaded
# machine.  Spawning commands on a loaded machine may take longer than
# the default slow_callback_ms: not what this test is about.
conf() {	# i echo-port broker-port
	cat > "$tmp/b$1.conf" <<EOF
listen = ( { service = "echo"; address = "127.0.0.1"; port = $2; },
  { service = "broker"; address = "127.0.0.1"; port = $3; } );
control = { path = "$tmp/b$1.sock"; };
limits = { max_clients_per_source = 1024; drain_delay_s = 3; };
slow_callback_ms = 2000;
EOF
}

start() {	# i
	rm -f "$tmp/b$1.pid"
	"$brokerd" -f -c "$tmp/b$1.conf" -p "$tmp/b$1.pid" \
	    >> "$tmp/b$1.log" 2>&1 &
	eval "pid$1=$!"
	pids="$pids $!"
	until_true 10 test -s "$tmp/b$1.pid"
}

port_of() {	# i service
	sed -n "s/.*listening on 127\.0\.0\.1:\([0-9]*\) ($2)\$/\1/p" \
	    "$tmp/b$1.log" | tail -n 1
}

for i in 1 2 3 4; do
	conf $i 0 0
	start $i || { diag "$tmp/b$i.log"; echo "Bail out! brokerd $i"; exit 1; }
	eval "ep$i=$(port_of $i echo) bp$i=$(port_of $i broker)"
	eval "conf $i \$ep$i \$bp$i"
done
# Instance 4 only found two free ports for HAProxy's frontends.
kill "$pid4"
wait "$pid4"
fe_echo=$ep4
fe_broker=$bp4

# --- HAProxy ----------------------------------------------------------
"$haproxy" -c -q -f "$contrib" > "$tmp/check.out" 2>&1
ok $? "haproxy -c accepts contrib/haproxy/haproxy.cfg as shipped" ||
    diag "$tmp/check.out"

sed -e "s|^\tbind :10000\$|\tbind 127.0.0.1:$fe_echo|" \
    -e "s|^\tbind :10001\$|\tbind 127.0.0.1:$fe_broker|" \
    -e "s|192\.0\.2\.11:10000|127.0.0.1:$ep1|" \
    -e "s|192\.0\.2\.12:10000|127.0.0.1:$ep2|" \
    -e "s|192\.0\.2\.13:10000|127.0.0.1:$ep3|" \
    -e "s|192\.0\.2\.11:10001|127.0.0.1:$bp1|" \
    -e "s|192\.0\.2\.12:10001|127.0.0.1:$bp2|" \
    -e "s|192\.0\.2\.13:10001|127.0.0.1:$bp3|" \
    -e "s|/run/haproxy/admin\.sock|$tmp/admin.sock|" \
    -e "s|default-server inter 1s |default-server inter 100ms |" \
    -e '/^\t\(chroot\|user\|group\|daemon\|log \/dev\/log\)/d' \
    -e '/^[[:space:]]*#/d' \
    "$contrib" > "$tmp/haproxy.cfg"
# Every substitution took: 2 binds, 6 servers, the socket, the interval.
[ "$(grep -c "127\.0\.0\.1:" "$tmp/haproxy.cfg")" -eq 8 ] &&
    ! grep -q '192\.0\.2\.\|/run/haproxy\|inter 1s' "$tmp/haproxy.cfg" &&
    "$haproxy" -c -q -f "$tmp/haproxy.cfg" > "$tmp/check.out" 2>&1
ok $? "the test's config, made from it, is complete and valid" ||
    { diag "$tmp/check.out"; diag "$tmp/haproxy.cfg"; }

"$haproxy" -db -f "$tmp/haproxy.cfg" > "$tmp/haproxy.log" 2>&1 &
hpid=$!

# A command on HAProxy's stats socket (which answers, then closes).
hap() { echo "$1" | timeout 5 nc -U "$tmp/admin.sock"; }

# The status of server brokerd$2 in backend $1 ("UP", "DOWN", ...).
status() {
	hap "show stat" 2> /dev/null |
	    awk -F, -v px="$1" -v sv="brokerd$2" \
	    '$1 == px && $2 == sv { print $18 }'
}
is_up() { [ "$(status brokerd_broker $1)" = UP ] &&
    [ "$(status brokerd_echo $1)" = UP ]; }
is_down() { [ "$(status brokerd_broker $1)" = DOWN ]; }
all_up() { is_up 1 && is_up 2 && is_up 3; }

until_true 10 all_up
ok $? "HAProxy runs and has all three instances UP" || {
	hap "show stat" > "$tmp/stat" 2>&1
	diag "$tmp/stat" "$tmp/haproxy.log"
}

# --- Clients ----------------------------------------------------------
# 512 KiB for UPPER (a request that takes a while), 64 KiB for echo.
yes "the quick brown fox jumps over the lazy dog 0123456789" |
    head -c 524288 > "$tmp/upper.in"
tr '[:lower:]' '[:upper:]' < "$tmp/upper.in" > "$tmp/upper.want"
head -c 65536 "$tmp/upper.in" > "$tmp/echo.in"

ctl() { "$brokerctl" -c /dev/null -t 20 -H 127.0.0.1 "$@"; }

# One client: a new connection per request, until the stop file exists.
# Each request appends a line to loop.KIND: "ok" or "FAIL ...".
client() {
	kind=$1
	out=$tmp/$kind.$2.out
	while [ ! -e "$tmp/stop" ]; do
		case $kind in
		df)	ctl -p "$fe_broker" df > "$out" 2> "$out.err" &&
			    [ "$(head -n 1 "$out")" = "Free space:" ] ;;
		upper)	ctl -p "$fe_broker" upper < "$tmp/upper.in" \
			    > "$out" 2> "$out.err" &&
			    cmp -s "$out" "$tmp/upper.want" ;;
		echo)	ctl -p "$fe_echo" echo < "$tmp/echo.in" \
			    > "$out" 2> "$out.err" &&
			    cmp -s "$out" "$tmp/echo.in" ;;
		esac
		st=$?
		if [ $st -eq 0 ]; then
			echo ok
		else
			echo "FAIL $kind at $(now_ms): status $st," \
			    "$(wc -c < "$out") bytes, $(head -c 200 "$out.err")"
		fi >> "$tmp/loop.$kind"
	done
}
: > "$tmp/loop.df"
: > "$tmp/loop.upper"
: > "$tmp/loop.echo"
cpids=
k=0
for kind in df upper echo upper; do
	k=$((k + 1))
	client $kind $k &
	cpids="$cpids $!"
done
# And one fast client, a new connection per request as well.
python3 "$top/tests/integration/lb_client.py" 127.0.0.1 "$fe_broker" \
    "$fe_echo" "$tmp/stop" > "$tmp/loop.fast" 2>&1 &
cpids="$cpids $!"
pids="$pids $cpids"
sleep 0.5

# --- The rolling restart ----------------------------------------------
t_roll=$(now_ms)
for i in 1 2 3; do
	eval "pid=\$pid$i"
	t0=$(now_ms)
	kill -TERM "$pid"
	# It leaves the pool while it still runs (drain_delay_s).
	until_true 10 is_down $i && kill -0 "$pid" 2> /dev/null
	ok $? "instance $i: SIGTERM, HAProxy marks it DOWN while it drains" \
	    "($(($(now_ms) - t0)) ms)"
	wait "$pid"
	st=$?
	t_exit=$(($(now_ms) - t0))
	[ $st -eq 0 ] && grep -q "drain_delay_s is over, draining" \
	    "$tmp/b$i.log"
	ok $? "instance $i: drained and exited 0 (status $st, $t_exit ms)"
	start $i
	until_true 10 is_up $i
	ok $? "instance $i: restarted, back in rotation" \
	    "($(($(now_ms) - t0)) ms after its SIGTERM)" || {
		hap "show stat" > "$tmp/stat" 2>&1
		diag "$tmp/stat" "$tmp/b$i.log"
	}
done
t_roll=$(($(now_ms) - t_roll))
sleep 1
touch "$tmp/stop"
# The clients end after their current request.
for p in $cpids; do
	wait "$p"
done

total=0
for kind in df upper echo; do
	good=$(grep -c '^ok$' "$tmp/loop.$kind")
	bad=$(grep -c '^FAIL' "$tmp/loop.$kind")
	total=$((total + good + bad))
	[ "$bad" -eq 0 ] && [ "$good" -ge 3 ]
	ok $? "$kind through HAProxy during the roll: $good ok, $bad failed" ||
	    diag "$tmp/loop.$kind"
done
fast=$(sed -n 's/^ok //p' "$tmp/loop.fast")
bad=$(grep -c '^FAIL' "$tmp/loop.fast")
total=$((total + ${fast:-0} + bad))
[ "$bad" -eq 0 ] && [ "${fast:-0}" -ge 3 ]
ok $? "UPPER and echo of a fast client during the roll: ${fast:-0} ok," \
    "$bad failed" || diag "$tmp/loop.fast"
failed=$(cat "$tmp"/loop.* | grep -c '^FAIL')
[ "$failed" -eq 0 ]
ok $? "zero failed requests over the whole roll ($total requests," \
    "roll $t_roll ms)"

# Every restarted instance serves (health checks are PINGs, not counted
# here), and none logged a warning or error.
for i in 1 2 3; do
	r=$("$brokerctl" -S "$tmp/b$i.sock" stats 2> /dev/null | awk '
	    $1 == "requests.df" || $1 == "requests.upper" { n += $2 }
	    END { print n + 0 }')
	[ "$r" -gt 0 ]
	ok $? "instance $i serves again after its restart ($r DF and" \
	    "UPPER requests)"
done
# As root without "user", brokerd warns so (brokerd(8), SECURITY).
! grep -E ': (warning|error|crit|alert|emerg): ' "$tmp"/b*.log |
    grep -v ': warning: running as root: set user in ' > "$tmp/warn"
ok $? "no warnings or errors in the daemons' logs" || diag "$tmp/warn"

echo "# duration $(($(date +%s) - t_start)) s"
echo "1..$n"
[ "$fails" -eq 0 ]
