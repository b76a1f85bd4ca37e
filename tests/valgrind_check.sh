#!/bin/sh
# Runs integration tests with the daemon (master, session children,
# runner, workers, pickup, local server) under valgrind's memcheck and
# fails when valgrind reported an error in any of them.
#   sh tests/valgrind_check.sh PYTHON POSTERN TEST...
set -u
py=$1 bin=$2
shift 2
base=$(mktemp -d /tmp/postern-valgrind.XXXXXX)
POSTERN_BIN=$bin \
POSTERN_WRAPPER="valgrind --error-exitcode=99 --trace-children=yes --leak-check=no" \
    "$py" -m pytest -q -p no:cacheprovider --basetemp="$base" "$@"
rc=$?
# memcheck's summary line per process; "exit 99" is a child that had one.
bad=$(grep -l 'ERROR SUMMARY: [1-9]' $(find "$base" -name postern.out) 2>/dev/null)
abn=$(grep -l 'ended abnormally (exit 99)' $(find "$base" -name postern.log) 2>/dev/null)
procs=$(cat $(find "$base" -name postern.out) 2>/dev/null | grep -c 'ERROR SUMMARY')
echo "valgrind: $procs process(es) checked"
if [ -n "$bad$abn" ]; then
	echo "valgrind: errors reported in:" $bad $abn
	grep -h -B2 -A12 'Invalid\|uninitialised\|Mismatched\|Syscall param' \
	    $bad 2>/dev/null | head -80
	rc=1
fi
[ $rc -eq 0 ] && rm -rf "$base"
exit $rc
