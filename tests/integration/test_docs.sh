#!/bin/sh
# The pages against the daemon: brokerd(8)'s STATISTICS lists the keys
# that a live STATS reply prints, in the order it prints them (a command
# running, so child.N shows too), and the SIGUSR1 dump prints the same
# keys in the same order; brokerd.service's Documentation= names every
# installed man page.  The daemon listens on ports the system chooses.
set -u
top=${TOP_SRCDIR:?run me through make check}
: "${BROKERD:?}" "${BROKERCTL:?}"
tmp=$(mktemp -d) || exit 1
pid=
n=0
fails=0

cleanup() {
	exec 3>&- 2>/dev/null
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ok STATUS DESCRIPTION: one TAP line; returns STATUS, so that
# "ok $? ... || diag" shows what failed.
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fails=$((fails + 1))
	fi
	return "$1"
}

diag() {
	sed 's/^/# /' "$@"
}

until_true() {
	t=$(($1 * 10))
	shift
	while ! "$@"; do
		t=$((t - 1))
		[ $t -gt 0 ] || return 1
		sleep 0.1
	done
}

# The key patterns of STATISTICS, one a line, in the page's order:
# ".It Li a , b" gives a and b; "x.\& Ns Ar N" and "y< Ns Ar bound" give
# the shell patterns x.* and y<*.
sed -n '/^\.Sh STATISTICS/,/^\.Sh /p' "$top/man/brokerd.8.in" |
    sed -n 's/^\.It Li //p' | sed 's/\\&//g; s/ Ns Ar [A-Za-z]*/*/g' |
    tr ',' '\n' | sed 's/^ *//; s/ *$//' | grep -v '^$' > "$tmp/doc"
[ "$(wc -l < "$tmp/doc")" -ge 20 ]
ok $? "brokerd(8) STATISTICS lists keys ($(wc -l < "$tmp/doc") patterns)" ||
    diag "$tmp/doc"

sock=$tmp/run/brokerd.sock
cat > "$tmp/brokerd.conf" <<EOF
listen = (
  { service = "echo";   address = "127.0.0.1"; port = 0; },
  { service = "broker"; address = "127.0.0.1"; port = 0; }
);
control = { path = "$sock"; };
log = { level = "info"; };
EOF
"$BROKERD" -f -c "$tmp/brokerd.conf" > "$tmp/daemon.log" 2>&1 &
pid=$!
until_true 10 test -S "$sock"
ok $? "brokerd starts with its control socket" || diag "$tmp/daemon.log"

# A command running while STATS is asked: upper reading a fifo held open.
mkfifo "$tmp/fifo"
"$BROKERCTL" -S "$sock" upper < "$tmp/fifo" > "$tmp/upper.out" 2>&1 &
upper=$!
exec 3> "$tmp/fifo"
running() {
	"$BROKERCTL" -S "$sock" stats > "$tmp/stats" 2>&1 &&
	    grep -q '^children_running  *1$' "$tmp/stats"
}
until_true 10 running
ok $? "STATS shows the running command" || diag "$tmp/stats"
kill -USR1 "$pid"
dumped() { grep -q 'state: callbacks>=1s:' "$tmp/daemon.log"; }
until_true 10 dumped
ok $? "SIGUSR1 dumps the state" || diag "$tmp/daemon.log"
echo hello >&3
exec 3>&-
wait "$upper"
ok $? "the command ends when its input does"

awk '{ print $1 }' "$tmp/stats" > "$tmp/live"
sed -n 's/^.*state: \([^:]*\): .*$/\1/p' "$tmp/daemon.log" > "$tmp/dump"
cmp -s "$tmp/live" "$tmp/dump"
ok $? "the SIGUSR1 dump lists STATS's keys in STATS's order" ||
    diff "$tmp/live" "$tmp/dump" | diag

# Each live key's first matching pattern: the indexes must not go down,
# and every pattern must be used.
: > "$tmp/bad"
: > "$tmp/used"
last=0
while read -r key; do
	i=0
	hit=0
	while read -r pat; do
		i=$((i + 1))
		# shellcheck disable=SC2254
		case $key in
		$pat) hit=$i; break ;;
		esac
	done < "$tmp/doc"
	if [ $hit -eq 0 ]; then
		echo "$key: not in STATISTICS" >> "$tmp/bad"
	elif [ $hit -lt $last ]; then
		echo "$key: listed before $(sed -n "${last}p" "$tmp/doc")" \
		    >> "$tmp/bad"
	fi
	[ $hit -gt $last ] && last=$hit
	echo "$hit" >> "$tmp/used"
done < "$tmp/live"
! [ -s "$tmp/bad" ]
ok $? "STATISTICS lists every STATS key in STATS's order" || diag "$tmp/bad"
i=0
: > "$tmp/unused"
while read -r pat; do
	i=$((i + 1))
	grep -qx "$i" "$tmp/used" || echo "$pat" >> "$tmp/unused"
done < "$tmp/doc"
! [ -s "$tmp/unused" ]
ok $? "STATS prints every key STATISTICS lists" || diag "$tmp/unused"

# The verbs and the error codes STATISTICS names, against the live keys.
verbs=$(sed -n '/^\.It Li requests\.\\& Ns Ar verb/,/^\.It/p' \
    "$top/man/brokerd.8.in" | sed -n 's/^\.Li \(.*[a-z]\) *\.\{0,1\}$/\1/p' |
    tr -d ',.' | tr -s ' ' '\n' | grep -v '^$' | sed 's/^/requests./')
live_verbs=$(grep '^requests\.' "$tmp/live")
[ -n "$verbs" ] && [ "$verbs" = "$live_verbs" ]
ok $? "STATISTICS names the verbs STATS counts, in order" ||
    { echo "$verbs" | diag; echo "$live_verbs" | diag; }
codes=$(sed -n '/^\.It Li errors\.\\& Ns Ar code/,/^\.It/p' \
    "$top/man/brokerd.8.in" | sed -n 's/^replies per code: //p' |
    tr -d ',.' | sed 's/ and / /' | tr -s ' ' '\n' | sed 's/^/errors./')
live_codes=$(grep '^errors\.' "$tmp/live")
[ -n "$codes" ] && [ "$codes" = "$live_codes" ]
ok $? "STATISTICS names the error codes STATS counts, in order" ||
    { echo "$codes" | diag; echo "$live_codes" | diag; }

kill -TERM "$pid"
wait "$pid"
ok $? "brokerd exits 0 on SIGTERM" || diag "$tmp/daemon.log"
pid=

# Every installed page is named by the unit's Documentation= lines.
sed -n 's/^man_MANS = //p; s/^	\(man\/.*\)$/\1/p' "$top/man/local.mk" |
    tr -d '\\' | tr -s ' \t' '\n' | grep -E '^man/[^.]+(\.[a-z]+)*\.[1-8]$' |
    sed 's|^man/\(.*\)\.\([1-8]\)$|man:\1(\2)|' | sort > "$tmp/pages"
sed -n 's/^Documentation=//p' "$top/systemd/brokerd.service.in" |
    tr ' ' '\n' | grep -v '^$' | sort > "$tmp/documented"
[ "$(wc -l < "$tmp/pages")" -ge 5 ] && cmp -s "$tmp/pages" "$tmp/documented"
ok $? "brokerd.service's Documentation= names every installed page" ||
    diff "$tmp/pages" "$tmp/documented" | diag

echo "1..$n"
[ $fails -eq 0 ]
