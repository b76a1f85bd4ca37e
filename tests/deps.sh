#!/bin/sh
# Installs what postern needs, only when something is missing.
#   sh tests/deps.sh build   building and running (make run)
#   sh tests/deps.sh test    that, and the test tools (make check)
#   sh tests/deps.sh bench   that, and Postfix to compare with (make bench)
#   sh tests/deps.sh list MODE   the Debian packages of MODE, one a line
# Debian: apt-get.  No service of a package installed here is started or
# left enabled (nsd would otherwise start at boot), and the test suite
# needs no MTA package, so the system's own (exim4 on Debian) stays.
# FreeBSD: prints the pkg line.
set -eu

mode=${1:-test}
list=""
if [ "$mode" = list ]; then
	list=1
	mode=${2:-test}
fi

BUILD_PKGS="make gcc pkg-config libc6-dev libdb-dev libunbound-dev
libssl-dev openssl ca-certificates dns-root-data"
TEST_PKGS="bmake libcmocka-dev nsd ldnsutils unbound-host swaks
libnet-ssleay-perl python3 python3-aiosmtpd python3-pytest
python3-dnspython db5.3-util valgrind clang libclang-rt-14-dev nftables"
BENCH_PKGS="postfix"

# FreeBSD 14 has OpenSSL 3 in base: no second OpenSSL in one process
# with libunbound.  Where db5 is gone from the packages: db18.
FBSD_BUILD="pkgconf unbound"
FBSD_TEST="cmocka nsd ldns swaks p5-Net-SSLeay python3 py311-aiosmtpd
py311-pytest py311-dnspython bmake"

case "$mode" in
build)	pkgs=$BUILD_PKGS; fpkgs=$FBSD_BUILD ;;
test)	pkgs="$BUILD_PKGS $TEST_PKGS"; fpkgs="$FBSD_BUILD $FBSD_TEST" ;;
bench)	pkgs="$BUILD_PKGS $TEST_PKGS $BENCH_PKGS"
	fpkgs="$FBSD_BUILD $FBSD_TEST postfix" ;;
*)	echo "usage: deps.sh build|test|bench" >&2; exit 64 ;;
esac

if [ -n "$list" ]; then
	printf '%s\n' $pkgs
	exit 0
fi

case "$(uname -s)" in
FreeBSD)
	if pkg rquery %n db5 >/dev/null 2>&1; then db=db5; else db=db18; fi
	# 13 has OpenSSL 1.1 in base; 14's base OpenSSL 3 is the one.
	case "$(uname -r)" in
	13.*)	echo "# FreeBSD 13: build security/openssl and dns/unbound" \
		    "from ports with DEFAULT_VERSIONS+= ssl=openssl (INSTALL)" ;;
	esac
	echo "pkg install -y $db $(echo $fpkgs)"
	exit 0
	;;
esac

if ! command -v dpkg >/dev/null 2>&1; then
	echo "deps.sh: neither Debian nor FreeBSD; install by hand:" >&2
	echo "  $(echo $pkgs)" >&2
	exit 1
fi

installed() {
	dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

missing=""
for p in $pkgs; do
	installed "$p" || missing="$missing $p"
done

if [ -z "$missing" ]; then
	echo "deps: all installed"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing:$missing (run as root to install)" >&2
	exit 1
fi

# Postfix (make bench only) replaces whatever MTA is installed: never
# behind the administrator's back.
case " $missing " in
*" postfix "*)
	if [ -e /usr/sbin/sendmail ]; then
		echo "deps.sh: make bench compares with Postfix, and installing" \
		    "it would replace this system's MTA (/usr/sbin/sendmail)." >&2
		echo "  Install postfix yourself if that is what you want." >&2
		exit 1
	fi
	echo "postfix postfix/main_mailer_type select No configuration" |
	    debconf-set-selections
	;;
esac

# Nothing installed here may start a service (policy-rc.d(8), 101:
# action forbidden); an existing policy is left as it is.
policy=/usr/sbin/policy-rc.d
ours=""
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$policy"
	chmod 0755 "$policy"
	ours=1
fi
trap 'if [ -n "$ours" ]; then rm -f "$policy"; fi' EXIT
trap 'exit 130' INT TERM

echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing

# ... nor be left enabled to start at the next boot.
for p in $missing; do
	for unit in $(dpkg -L "$p" 2>/dev/null |
	    sed -n 's#^/\(usr/\)\{0,1\}lib/systemd/system/\([^/@]*\)\.service$#\2#p;
	    s#^/etc/init\.d/\([^/]*\)$#\1#p' | sort -u); do
		if command -v systemctl >/dev/null 2>&1; then
			systemctl disable --now "$unit" >/dev/null 2>&1 || true
		fi
		if command -v update-rc.d >/dev/null 2>&1 &&
		    [ -e "/etc/init.d/$unit" ]; then
			update-rc.d "$unit" disable >/dev/null 2>&1 || true
		fi
		echo "deps: service $unit of $p left disabled"
	done
done
