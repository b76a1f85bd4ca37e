#!/bin/sh
# Runs each cmocka unit-test binary given as an argument and prints one
# closing line "unit: N passed, M failed"; exits non-zero on any failure.
passed=0
failed=0
failures=""
for t in "$@"; do
	if [ ! -x "$t" ]; then
		echo "unit: $t: not built" >&2
		failed=$((failed + 1))
		failures="$failures $t"
		continue
	fi
	if "$t"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures="$failures $t"
	fi
done
[ -n "$failures" ] && echo "unit: failed:$failures"
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
