#!/bin/sh
# make install: the postern binary setgid to the maildrop group, so that
# local users can submit with sendmail (docs/security.md).  The group is
# made when it is missing and this runs as root; otherwise the commands
# that finish the job are printed.
#   sh tests/install_setgid.sh GROUP STAGED_BINARY INSTALLED_PATH
set -u
group=$1 bin=$2 final=$3

have_group() {
	getent group "$group" >/dev/null 2>&1
}

if ! have_group && [ "$(id -u)" -eq 0 ]; then
	if command -v pw >/dev/null 2>&1; then
		pw groupadd "$group" >/dev/null 2>&1
	elif command -v groupadd >/dev/null 2>&1; then
		groupadd --system "$group" >/dev/null 2>&1
	fi
	have_group && echo "install: made group $group"
fi
if have_group && chgrp "$group" "$bin" 2>/dev/null &&
    chmod 2755 "$bin" 2>/dev/null; then
	echo "install: $final is setgid $group: local users submit with sendmail"
	exit 0
fi
echo "install: $final is not setgid $group; until root runs" >&2
if command -v pw >/dev/null 2>&1; then
	echo "    pw groupadd $group" >&2
else
	echo "    groupadd --system $group" >&2
fi
echo "    chgrp $group $final && chmod 2755 $final" >&2
echo "  only root can submit mail with sendmail." >&2
exit 0
