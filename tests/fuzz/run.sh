#!/usr/bin/env bash
# Build one libFuzzer target with clang (ASan + UBSan) and run it for a bounded time on its seed
# corpus, as `meson test --suite fuzz` does; exits 77 (skip) when clang or libFuzzer is missing.
#
#   tests/fuzz/run.sh pkt|rtp|ndp|create [libFuzzer args...]
#
# Environment: FUZZ_RUNS (default 200000), FUZZ_TIME (seconds, default 30), FUZZ_OUT (where the
# binary, the grown corpus and crash files go; default a temporary directory), CLANG (clang).
# By hand, longer: FUZZ_RUNS=-1 FUZZ_TIME=3600 FUZZ_OUT=/tmp/fz tests/fuzz/run.sh rtp
# A crash leaves FUZZ_OUT/crash-*; replay it with: FUZZ_OUT/fuzz_TARGET FUZZ_OUT/crash-...
set -euo pipefail

target=${1:-}
shift || true
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
name=fuzz_$target

cflags=()
libs=()
case "$target" in
pkt) srcs=("$here/fuzz_pkt.c" "$root/lib/pkt.c") ;;
rtp) srcs=("$here/fuzz_rtp.c" "$root/lib/rtp.c") ;;
ndp) srcs=("$here/fuzz_ndp.c" "$root/lib/ndp.c" "$root/lib/pkt.c") ;;
# CreateSessionRequest decoding (protobuf-c, its C generated here) + control/validate.c
create) srcs=("$here/fuzz_create.c" "$root/control/validate.c") ;;
*) echo "usage: $0 pkt|rtp|ndp|create [libFuzzer args...]" >&2; exit 2 ;;
esac

skip() { echo "$name: SKIP: $*"; exit 77; }

CLANG=${CLANG:-clang}
command -v "$CLANG" >/dev/null 2>&1 ||
	skip "$CLANG not found (Debian: apt-get install clang libclang-rt-dev)"

if [ -n "${FUZZ_OUT:-}" ]; then
	out=$FUZZ_OUT
	mkdir -p "$out"
else
	out=$(mktemp -d "/tmp/$name.XXXXXX")
	trap 'rm -rf "$out"' EXIT
fi

# libFuzzer's runtime is a separate Debian package: say so rather than fail to link.
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' \
	>"$out/probe.c"
"$CLANG" -fsanitize=fuzzer,address,undefined "$out/probe.c" -o "$out/probe" 2>"$out/probe.log" ||
	skip "$CLANG cannot link -fsanitize=fuzzer (Debian: apt-get install libclang-rt-dev): $(head -c 300 "$out/probe.log" | tr "\n" " ")"

if [ "$target" = create ]; then
	command -v protoc-c >/dev/null 2>&1 || skip "protoc-c not found (Debian: apt-get install protobuf-c-compiler)"
	protoc-c --proto_path="$root/proto" --c_out="$out" "$root/proto/rtpproxy.proto"
	srcs+=("$out/rtpproxy.pb-c.c")
	# generated code has unused parameters; grpc's headers give status codes only
	cflags=(-Wno-unused-parameter -I"$out" -I"$root/control")
	libs=(-lprotobuf-c)
fi

# Errors of UBSan abort, so libFuzzer reports them as crashes with the input.
"$CLANG" -std=gnu11 -g -O1 -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	-I"$root/lib" ${cflags[@]+"${cflags[@]}"} "${srcs[@]}" -o "$out/$name" ${libs[@]+"${libs[@]}"}

# New inputs go to the first directory, so the committed seeds are read, never written.
mkdir -p "$out/corpus"
runs=${FUZZ_RUNS:-200000}
secs=${FUZZ_TIME:-30}
start=$(date +%s)
set +e
ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
	"$out/$name" "$out/corpus" "$here/corpus/$target" \
	-runs="$runs" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$out/" -print_final_stats=1 "$@" >"$out/log" 2>&1
rc=$?
set -e
elapsed=$(( $(date +%s) - start ))
done_line=$(grep -E '^Done [0-9]+ runs' "$out/log" | tail -n 1 || true)
if [ "$rc" -ne 0 ]; then
	tail -n 60 "$out/log"
	crash=$(ls "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* 2>/dev/null | head -n 1 || true)
	echo "$name: FAILED (exit $rc) after ${elapsed}s${crash:+; input kept in $crash}"
	[ -n "$crash" ] && [ -z "${FUZZ_OUT:-}" ] && cp "$crash" "/tmp/$name-$(basename "$crash")" &&
		echo "$name: copied to /tmp/$name-$(basename "$crash") (replay: build with FUZZ_OUT set)"
	exit 1
fi
tail -n 12 "$out/log"
echo "$name: ${done_line:-done}, no crash, ${elapsed}s, corpus $(ls "$out/corpus" | wc -l) new + $(ls "$here/corpus/$target" | wc -l) seeds"
