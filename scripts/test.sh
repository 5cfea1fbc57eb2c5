#!/usr/bin/env bash
# Every test of rtpproxy, as CI runs them (.ci/run):
#   1. scripts/bootstrap.sh (installs what is missing, quiet otherwise)
#   2. build/ (debugoptimized): every suite (unit, e2e, fuzz...); e2e needs root, else skipped
#   3. build-asan/ (ASan + UBSan): the unit suite
# Ends with one line "tests: N passed, M failed, K skipped" and exits non-zero if anything
# failed. Environment: BUILD_DIR (default build), ASAN_BUILD_DIR (default build-asan),
# SKIP_ASAN=1 to leave step 3 out.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD_DIR:-build}
ASAN=${ASAN_BUILD_DIR:-build-asan}
failed_steps=()

step() { printf '\n==== %s\n' "$*"; }

setup() { # dir [meson options...]
	local dir=$1 log rc=0
	shift
	log=$(mktemp)
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >"$log" 2>&1 || rc=$?
	else
		rm -rf "$dir"
		meson setup "$dir" "$@" >"$log" 2>&1 || rc=$?
	fi
	if [ $rc -ne 0 ]; then cat "$log"; else grep -i 'warning' "$log" || true; fi
	rm -f "$log"
	return $rc
}

# Counts from meson's testlog.json: "passed failed skipped".
count() { # dir
	local log=$1/meson-logs/testlog.json
	[ -f "$log" ] || { echo "0 0 0"; return; }
	/usr/bin/python3 - "$log" <<'EOF'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line).get("result", "")
    if r in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif r == "SKIP":
        s += 1
    else:
        f += 1
print(p, f, s)
EOF
}

step "bootstrap"
bash scripts/bootstrap.sh

step "build ($BUILD)"
rm -f "$BUILD/meson-logs/testlog.json" "$ASAN/meson-logs/testlog.json"
if setup "$BUILD" && ninja -C "$BUILD"; then
	step "meson test -C $BUILD (all suites)"
	meson test -C "$BUILD" --print-errorlogs || failed_steps+=("meson test $BUILD")
else
	failed_steps+=("build $BUILD")
fi

if [ "${SKIP_ASAN:-0}" != 1 ]; then
	step "build ($ASAN: ASan + UBSan)"
	if setup "$ASAN" -Db_sanitize=address,undefined -Db_lundef=false && ninja -C "$ASAN"; then
		step "meson test -C $ASAN --suite unit"
		# UBSan only prints by default: make every finding fail its test.
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
		ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
			meson test -C "$ASAN" --suite unit --print-errorlogs || failed_steps+=("meson test $ASAN")
	else
		failed_steps+=("build $ASAN")
	fi
fi

read -r p1 f1 s1 < <(count "$BUILD")
read -r p2 f2 s2 < <(count "$ASAN")
step "summary"
echo "$BUILD: $p1 passed, $f1 failed, $s1 skipped; $ASAN (unit): $p2 passed, $f2 failed, $s2 skipped"
failed=$((f1 + f2))
for s in "${failed_steps[@]}"; do
	# A build that failed ran no test: count it as one failure of its own.
	case $s in build*) failed=$((failed + 1)) ;; esac
done
[ ${#failed_steps[@]} -eq 0 ] || echo "failed: ${failed_steps[*]}"
echo "tests: $((p1 + p2)) passed, $failed failed, $((s1 + s2)) skipped"
[ ${#failed_steps[@]} -eq 0 ]
