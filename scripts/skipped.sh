#!/bin/sh
# skipped.sh BUILD CTEST_OUTPUT: for each test ctest reported as skipped,
# its name and the reason it printed (its last line of output, from
# BUILD/Testing/Temporary/LastTest.log). Prints nothing when none was.
build=$1 out=$2
log=$build/Testing/Temporary/LastTest.log
names=$(sed -n 's/^[[:space:]]*[0-9]* - \(.*\) (Skipped)$/\1/p' "$out")
[ -n "$names" ] || exit 0
echo "Skipped, with the reason each gave:"
for n in $names; do
  why=$(awk -v n="$n" '
    $0 ~ "^[0-9]+/[0-9]+ Test: " { cur = $0; sub("^[0-9]+/[0-9]+ Test: ", "", cur) }
    cur == n && /^Output:/ { grab = 1; getline; next }
    grab && /^<end of output>/ { grab = 0; cur = "" }
    grab && NF { last = $0 }
    END { print last }' "$log")
  printf '  %s: %s\n' "$n" "${why:-(no reason printed)}"
done
