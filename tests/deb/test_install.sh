#!/bin/sh
# Installs the Debian package $1 with dpkg -i, checks what it installed,
# purges it, and compares the file lists of the system from before the
# install and after the purge: nothing may be left behind.  It changes
# the system and needs root, so scripts/check (step 6) runs it, not make
# check.  TAP output.  The systemctl checks run only where systemd is
# PID 1, and say so when they skip.
set -u
deb=${1:?usage: test_install.sh PACKAGE.deb}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0
fails=0

ok() {
	r=$1
	shift
	n=$((n + 1))
	if [ "$r" = 0 ]; then
		echo "ok $n - $*"
	else
		echo "not ok $n - $*"
		fails=$((fails + 1))
	fi
	return "$r"
}

skip() {
	n=$((n + 1))
	echo "ok $n # SKIP $*"
}

diag() {
	sed 's/^/# /' "$@"
}

# run FILE COMMAND...: COMMAND's stdout and stderr to FILE, its status.
run() {
	out=$1
	shift
	"$@" > "$out" 2>&1
}

# dpkg waits for no lock: another clone's apt-get or dpkg may hold it.
dpkg_locked() {
	tries=60
	while ! run "$tmp/dpkg.out" dpkg "$@"; do
		grep -q 'lock' "$tmp/dpkg.out" && [ $tries -gt 0 ] || return 1
		tries=$((tries - 1))
		sleep 5
	done
}

# The places a package or its maintainer scripts write to.
snapshot() {
	dirs="/etc /usr /var/lib"
	[ -L /lib ] || dirs="$dirs /lib"
	{ find $dirs -xdev 2>/dev/null; ls -d /run/brokerd 2>/dev/null; } |
	    sort > "$1"
}

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP dpkg -i needs root"
	exit 0
fi
if dpkg-query -W -f='${Status}' brokerd 2>/dev/null | grep -q installed; then
	echo "1..0 # SKIP a brokerd package is already installed here;" \
	    "not touching it (dpkg --purge brokerd, then run me again)"
	exit 0
fi
# One clone of this tree at a time uses the installed package and the
# ports 10000/10001 it listens on (tests/integration/test_readme.sh).
lock=/tmp/brokerd-ports-10000-10001.lock
(umask 0; : >> "$lock")
exec 9>>"$lock"
flock -w 600 9 || { echo "Bail out! lock held for 600 s"; exit 1; }

snapshot "$tmp/before"
dpkg_locked -i "$deb"
ok $? "dpkg -i $deb" || diag "$tmp/dpkg.out"

dpkg -L brokerd > "$tmp/files" 2>&1
for f in /usr/sbin/brokerd /usr/bin/brokerctl /etc/brokerd/brokerd.conf \
    /usr/share/man/man8/brokerd.8.gz /usr/share/man/man1/brokerctl.1.gz \
    /usr/share/man/man5/brokerd.conf.5.gz \
    /usr/share/man/man7/brokerd-protocol.7.gz \
    /usr/share/man/man7/brokerd-internals.7.gz \
    /usr/share/bash-completion/completions/brokerctl \
    /systemd/system/brokerd.service /systemd/system/brokerd.socket; do
	p=$(grep -- "$f\$" "$tmp/files" | head -n 1)
	[ -n "$p" ] && [ -f "$p" ]
	ok $? "installed: ${p:-$f}"
done
dpkg-query -W -f='${Conffiles}\n' brokerd | grep -q '^ /etc/brokerd/brokerd.conf '
ok $? "/etc/brokerd/brokerd.conf is a conffile"

run "$tmp/out" /usr/sbin/brokerd -t -c /etc/brokerd/brokerd.conf
ok $? "brokerd -t -c /etc/brokerd/brokerd.conf" || diag "$tmp/out"
/usr/bin/brokerctl -h > "$tmp/out" 2> "$tmp/err"
[ $? -eq 0 ] && grep -q '^usage: brokerctl ' "$tmp/out" && ! [ -s "$tmp/err" ]
ok $? "brokerctl -h: exit 0, usage on stdout" || diag "$tmp/out" "$tmp/err"
run "$tmp/out" /usr/sbin/brokerd -h
grep -q '/etc/brokerd/brokerd\.conf' "$tmp/out"
ok $? "brokerd's default configuration is /etc/brokerd/brokerd.conf" ||
    diag "$tmp/out"
zcat /usr/share/man/man8/brokerd.8.gz > "$tmp/man"
grep -q '/run/brokerd/brokerd\.sock' "$tmp/man" && ! grep -q 'build/run' "$tmp/man"
ok $? "brokerd(8) names /run/brokerd/brokerd.sock"

# What bash does on the first <Tab> after "brokerctl " (124: "loaded").
bash -c '. /usr/share/bash-completion/bash_completion
    _completion_loader brokerctl; echo "loader: $?"; complete -p brokerctl' \
    > "$tmp/out" 2>&1
grep -q -- '-F _brokerctl brokerctl$' "$tmp/out"
ok $? "bash-completion loads the completion of brokerctl" || diag "$tmp/out"

wants=/etc/systemd/system/multi-user.target.wants/brokerd.service
[ -L "$wants" ]
ok $? "brokerd.service is enabled ($wants)"
[ ! -e /etc/systemd/system/sockets.target.wants/brokerd.socket ]
ok $? "brokerd.socket is not enabled"

pid1=$(ps -p 1 -o comm=)
if [ "$pid1" = systemd ]; then
	active() { systemctl -q is-active brokerd; }
	t=100
	while ! active && [ $t -gt 0 ]; do
		t=$((t - 1))
		sleep 0.1
	done
	active
	ok $? "postinst started brokerd.service" ||
	    systemctl status brokerd | diag
	run "$tmp/out" brokerctl ping
	ok $? "brokerctl ping answers" || diag "$tmp/out"
	run "$tmp/out" brokerctl reload
	ok $? "brokerctl reload over /run/brokerd/brokerd.sock" ||
	    diag "$tmp/out"
	run "$tmp/out" systemctl reload brokerd
	ok $? "systemctl reload brokerd" || diag "$tmp/out"
	run "$tmp/out" systemctl stop brokerd
	ok $? "systemctl stop brokerd" || diag "$tmp/out"
else
	run "$tmp/out" /usr/bin/brokerctl reload
	[ $? -eq 69 ] && grep -q '/run/brokerd/brokerd\.sock' "$tmp/out"
	ok $? "brokerctl's default control socket is /run/brokerd/brokerd.sock" ||
	    diag "$tmp/out"
	skip "systemctl checks: systemd is not PID 1 here (PID 1 is $pid1)"
fi

dpkg_locked --purge brokerd
ok $? "dpkg --purge brokerd" || diag "$tmp/dpkg.out"
! dpkg-query -W -f='${Status}' brokerd 2>/dev/null | grep -q installed
ok $? "brokerd is no longer installed"

# Left behind (+) or taken away (-) by install and purge together.  Other
# clones' apt-get runs may install packages meanwhile: what a package
# other than brokerd owns, dpkg's bookkeeping of other packages and
# Python's byte-code caches are theirs, not ours.
snapshot "$tmp/after"
comm -3 "$tmp/before" "$tmp/after" | while IFS= read -r line; do
	case $line in
	"	"*) c=+; p=${line#	} ;;
	*)	c=-; p=$line ;;
	esac
	case $p in
	*/__pycache__ | */__pycache__/*) continue ;;
	*brokerd*) ;;
	/var/lib/dpkg/*) continue ;;
	esac
	owner=$(dpkg-query -S "$p" 2>/dev/null | sed -n '1s/: .*//p')
	case $owner in
	"" | *brokerd*) echo "$c $p" ;;
	*)	echo "# ignored: $c $p (package $owner)" >&2 ;;
	esac
done > "$tmp/diff"
[ ! -s "$tmp/diff" ]
ok $? "the file lists before dpkg -i and after dpkg --purge are the same" \
    "($(wc -l < "$tmp/before") paths)" || diag "$tmp/diff"

echo "1..$n"
[ "$fails" -eq 0 ]
