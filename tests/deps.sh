#!/bin/sh
# Installs what postern's build and tests need, only when something is
# missing.  Debian: apt-get (postfix preseeded to "No configuration" so
# that it installs no system instance).  FreeBSD: prints the pkg line.
set -eu

DEB_PKGS="make gcc pkg-config bmake libc6-dev libdb-dev libunbound-dev
libssl-dev libcmocka-dev openssl nsd ldnsutils unbound-host postfix swaks
python3 python3-aiosmtpd python3-pytest python3-dnspython db5.3-util
valgrind clang libclang-rt-14-dev nftables ca-certificates dns-root-data"

FBSD_PKGS="db5 unbound cmocka nsd ldns postfix swaks python3
py311-aiosmtpd py311-pytest py311-dnspython"

case "$(uname -s)" in
FreeBSD)
	echo "pkg install -y $(echo $FBSD_PKGS)"
	exit 0
	;;
esac

if ! command -v dpkg >/dev/null 2>&1; then
	echo "deps.sh: neither Debian nor FreeBSD; install by hand:" >&2
	echo "  $(echo $DEB_PKGS)" >&2
	exit 1
fi

missing=""
for p in $DEB_PKGS; do
	if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "deps: all installed"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing:$missing (run as root to install)" >&2
	exit 1
fi

echo "deps: installing$missing"
echo "postfix postfix/main_mailer_type select No configuration" |
    debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing
