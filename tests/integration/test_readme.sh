#!/bin/sh
# README's first run: starts the daemon as scripts/run does (its lines
# after "build_dev", run as they are), then runs every command of README's
# "Talking to it" and "Reload, state dump, stop" sections verbatim, as in a
# second terminal, checking their exit statuses and what README promises.
#
# README names build/ and the shipped configuration's fixed ports 10000
# and 10001, so this runs only in build/ (scripts/check step 1) and skips,
# saying so, elsewhere.  Runs of it in other clones on this machine take
# turns through a lock; ports held by anything else make it skip with the
# holder named, and fail under CI=true, where they must be free.
set -u
# Physical: a build configured as ../configure sees "build/.." here.
top=$(cd "${TOP_SRCDIR:?run me through make check}" && pwd -P) || exit 1
builddir=$(cd "$(dirname "${BROKERD:?}")/.." && pwd -P)
cd "$top" || exit 1
tmp=$(mktemp -d) || exit 1
pid=
n=0
fails=0

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ok STATUS DESCRIPTION...: one TAP line; a README line in DESCRIPTION is
# shown on one line, without its comment.
ok() {
	r=$1
	shift
	n=$((n + 1))
	desc=$(printf '%s' "$*" | tr '\n' ' ' | sed 's/[[:space:]]*#.*//')
	if [ "$r" = 0 ]; then
		printf 'ok %d - %s\n' $n "$desc"
	else
		printf 'not ok %d - %s\n' $n "$desc"
		fails=$((fails + 1))
	fi
}

diag() {
	sed 's/^/# /' "$@"
}

# until_true SECONDS COMMAND...: runs COMMAND every 0.1 s until it
# succeeds (status 0) or SECONDS pass (status 1).
until_true() {
	t=$(($1 * 10))
	shift
	while ! "$@"; do
		t=$((t - 1))
		[ $t -gt 0 ] || return 1
		sleep 0.1
	done
}

busy() {
	if [ "${CI:-}" = true ]; then
		echo "Bail out! $1"
	else
		echo "1..0 # SKIP $1"
	fi
	exit 0
}

ports_free() {
	! nc -z localhost 10000 2>/dev/null && ! nc -z localhost 10001 2>/dev/null
}

# count PATTERN: lines of the daemon's log that contain PATTERN.
count() {
	grep -c -- "$1" "$tmp/daemon.log"
}

# grows PATTERN: the log has more PATTERN lines than $before.
grows() {
	[ "$(count "$1")" -gt "$before" ]
}

exited() {
	! kill -0 "$pid" 2>/dev/null
}

if [ "$builddir" != "$(cd "$top/build" 2>/dev/null && pwd -P)" ]; then
	echo "1..0 # SKIP README's commands use build/; this is $builddir"
	exit 0
fi
command -v nc >/dev/null ||
    { echo "Bail out! nc is missing (Debian: netcat-openbsd)"; exit 1; }

# README's commands, one a line, from the sh blocks of the two sections.
awk '
/^## / { sec = ($0 == "## Talking to it" || $0 == "## Reload, state dump, stop") }
/^```/ { fence = sec && !fence && $0 == "```sh"; next }
fence && NF { print }
' README.md > "$tmp/commands"
# The daemon's start in scripts/run: what follows the set-up.
sed '1,/^build_dev$/d' scripts/run > "$tmp/start"
if ! [ -s "$tmp/commands" ] || ! grep -q '^exec ' "$tmp/start"; then
	echo "Bail out! cannot find README's commands or scripts/run's exec"
	exit 1
fi

# Turns with other clones' runs of this test (and scripts/check's package
# step, which may start an installed brokerd on the same ports).
lock=/tmp/brokerd-ports-10000-10001.lock
(umask 0; : >> "$lock") 2>/dev/null
if [ -w "$lock" ]; then
	exec 9>>"$lock"
	flock -w 300 9 ||
	    busy "another test has held ports 10000/10001 for 300 s"
else
	echo "# cannot write $lock: not taking turns with other clones"
fi
until_true 20 ports_free ||
    busy "ports 10000/10001 are in use (scripts/run running?)$(
    ss -Hltnp '( sport = :10000 or sport = :10001 )' 2>/dev/null |
    sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/: \1 pid \2/p' |
    head -n 1)"

sh -eu "$tmp/start" > "$tmp/daemon.log" 2>&1 < /dev/null 9>&- &
pid=$!
ready() {
	exited && return 0
	[ -s build/run/brokerd.pid ] && [ -S build/run/brokerd/brokerd.sock ]
}
until_true 20 ready
if exited; then
	if grep -q 'Address already in use' "$tmp/daemon.log"; then
		busy "ports 10000/10001 were taken as the daemon started"
	fi
	echo "Bail out! scripts/run's daemon exited at start-up"
	diag "$tmp/daemon.log"
	exit 1
fi
[ "$(cat build/run/brokerd.pid)" = "$pid" ]
ok $? "scripts/run's daemon (pid $pid) wrote build/run/brokerd.pid and" \
    "listens on build/run/brokerd/brokerd.sock"

# What README promises, by command; each must be shown in README.
shown=
while IFS= read -r line; do
	before=0
	case $line in
	*"kill -HUP "* | *"brokerctl reload"*)
		before=$(count 'reloaded configuration') ;;
	*"kill -USR1 "*)
		before=$(count 'notice: state: ') ;;
	esac
	timeout 30 sh -c "$line" > "$tmp/out" 2> "$tmp/err" < /dev/null
	st=$?
	case $line in
	*"kill -TERM "*) ;;	# its status is the daemon's, below
	*)	[ $st -eq 0 ]
		ok $? "exit 0: $line" ;;
	esac
	what=
	case $line in
	*"nc "*" 10000"*)
		what=echo-nc
		[ "$(cat "$tmp/out")" = hi ] ;;
	*"brokerctl echo "*)
		what=echo
		[ "$(cat "$tmp/out")" = "This is in parts." ] ;;
	*"brokerctl df --all -j"*)
		what=df-json
		[ "$(head -n 1 "$tmp/out")" = "[" ] &&
		    grep -q '"mounted_on": "/' "$tmp/out" ;;
	*"brokerctl df"*)
		what=df
		[ "$(head -n 1 "$tmp/out")" = "Free space:" ] ;;
	*"brokerctl upper"*)
		what=upper
		[ "$(cat "$tmp/out")" = HELLO ] ;;
	*"brokerctl stats"*)
		what=stats
		grep -q "^config_file  *$top/conf/brokerd.conf$" "$tmp/out" ;;
	*"nc "*" 10001"*)
		what=raw
		[ "$(head -n 1 "$tmp/out")" = "OK pong" ] &&
		    tail -n 1 "$tmp/out" | grep -q '^OK' ;;
	*"brokerctl reload"*)
		what=reload
		grep -q '^generation [0-9]' "$tmp/out" &&
		    until_true 10 grows 'reloaded configuration' ;;
	*"kill -HUP "*)
		what=hup
		until_true 10 grows 'reloaded configuration' ;;
	*"kill -USR1 "*)
		what=usr1
		until_true 10 grows 'notice: state: ' ;;
	*"kill -TERM "*)
		what=term
		[ $st -eq 0 ] && until_true 30 exited &&
		    { wait "$pid"; st=$?; pid=; [ $st -eq 0 ]; } &&
		    grep -q 'info: exited cleanly' "$tmp/daemon.log" ;;
	*)	true ;;
	esac
	r=$?
	if [ -n "$what" ]; then
		ok $r "does what README says ($what): $line"
		shown="$shown $what"
	fi
	if [ $r -ne 0 ] || [ $st -ne 0 ]; then
		echo "# status $st; stdout, stderr:"
		diag "$tmp/out" "$tmp/err"
	fi
done < "$tmp/commands"

for what in echo-nc echo df df-json upper stats raw reload hup usr1 term; do
	case " $shown " in
	*" $what "*) r=0 ;;
	*)	r=1 ;;
	esac
	ok $r "README shows the $what example"
done
[ -z "$pid" ]
ok $? "the daemon is gone after README's last command"
# Run by root, the daemon says once that it runs as root (README).
! grep -E ': (warning|error|crit|alert|emerg): ' "$tmp/daemon.log" |
    grep -v ': warning: running as root: set user in '
ok $? "no warnings or errors in the daemon's log"
if [ "$fails" -ne 0 ]; then
	echo "# the daemon's log (build/.configure-args:" \
	    "$(cat build/.configure-args 2>/dev/null)):"
	diag "$tmp/daemon.log"
fi
echo "1..$n"
