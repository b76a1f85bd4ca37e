#!/bin/sh
# Runs libFuzzer targets for a bounded time each and sums up.
# usage: run.sh SECONDS BINARY...
# Each target starts from its seed corpus (tests/fuzz/corpus/NAME, read
# only) and a working corpus in tests/fuzz/bin/work/NAME; crashes, leaks
# and timeouts land in tests/fuzz/bin/findings/NAME/.  Exit status 1 when
# any target has a finding.
secs=$1
shift
here=$(dirname "$0")
status=0
total=0
summary=""
for bin in "$@"; do
	name=$(basename "$bin")
	work="$here/bin/work/$name"
	found="$here/bin/findings/$name"
	log="$here/bin/$name.log"
	mkdir -p "$work" "$found" "$here/corpus/$name"
	before=$(ls "$found" | wc -l)
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -max_len=8192 -print_final_stats=1 \
	    -artifact_prefix="$found/" "$work" "$here/corpus/$name" \
	    >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
	    tail -n 1)
	[ -n "$execs" ] || execs=0
	after=$(ls "$found" | wc -l)
	new=$((after - before))
	if [ "$rc" -ne 0 ] && [ "$new" -eq 0 ]; then
		# a failure without an artifact (it died at start-up)
		new=1
	fi
	if [ "$new" -ne 0 ]; then
		status=1
		grep -m 3 -E 'ERROR|SUMMARY|==[0-9]+==' "$log" | sed 's/^/    /'
	fi
	total=$((total + execs))
	summary="$summary$(printf '%-18s %12s executions  %d findings' \
	    "$name" "$execs" "$new")
"
done
printf '%s' "$summary"
printf '%-18s %12s executions in %s s per target\n' total "$total" "$secs"
exit $status
