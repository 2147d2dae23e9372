# Shared by scripts/run and scripts/check: install what is missing,
# bootstrap, configure and build.  Idempotent: a second run only rebuilds.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

need_pkgs() {
	missing=
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		echo "installing:$missing"
		sudo=
		[ "$(id -u)" -eq 0 ] || sudo=sudo
		$sudo apt-get update -qq || true
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		    --no-install-recommends $missing
	fi
}

build() {
	# $1: build directory, rest: configure options
	dir=$1
	shift
	# "|| return": set -e does not hold where the caller tests the
	# result (if build ...; build ... || status=1).
	if [ ! -x configure ] || [ configure.ac -nt configure ]; then
		autoreconf -fi || return 1
	fi
	mkdir -p "$dir" || return 1
	stamp="$dir/.configure-args"
	if [ ! -f "$dir/Makefile" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$*" ]; then
		# Objects do not depend on the flags (paths come in as -D):
		# built with other ones, they would be kept as they are.
		[ ! -f "$dir/Makefile" ] || make -C "$dir" clean >/dev/null ||
		    return 1
		(cd "$dir" && "$top/configure" "$@") || return 1
		echo "$*" > "$stamp"
	fi
	make -C "$dir" -j"$(nproc)"
}

# openssl makes the test certificates (tests/tls/mkpki.sh); python3's ssl
# module is a TLS peer in the tests.
BUILD_PKGS="build-essential autoconf automake libtool pkg-config libevent-dev libconfig-dev libsystemd-dev libssl-dev openssl python3"

# The development build in build/, which scripts/run and scripts/check
# share: the same flags in both, or each would reconfigure it for the
# other.  Its runstatedir is build/run, so the control socket that
# brokerd and brokerctl default to (build/run/brokerd/brokerd.sock) needs
# neither root nor a -S; scripts/run's pidfile lies there too.  CI=true
# (.ci/run) adds -Werror.
build_dev() {
	if [ "${CI:-}" = true ]; then
		build build "--runstatedir=$top/build/run" --enable-werror
	else
		build build "--runstatedir=$top/build/run"
	fi
}
