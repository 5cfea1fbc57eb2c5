#!/usr/bin/env bash
# 2 MiB hugepages for a benchmark, taken and given back without disturbing anyone else's.
#
#   scripts/hugepages.sh reserve PAGES DIR STATE   make sure PAGES free 2 MiB pages exist (raising
#                                                  nr_hugepages by what is missing), mount a
#                                                  private hugetlbfs on DIR, record in STATE what
#                                                  to undo
#   scripts/hugepages.sh release STATE             undo exactly that: unmount DIR, put
#                                                  nr_hugepages back to its previous value
#   scripts/hugepages.sh status                    the pool as the kernel sees it
#
# A private mount (DPDK's --huge-dir DIR) keeps our page files apart from other DPDK users and
# goes away with the mount. Other processes may hold pages of the same pool: reserve adds to
# what is there instead of setting a total, and release restores the previous count (the kernel
# keeps pages still in use as surplus and frees them when they are released). release never
# fails and is safe to call twice; scripts/bench.py calls it from its clean-up, whatever happens.
set -euo pipefail

SYS=/sys/kernel/mm/hugepages/hugepages-2048kB

die() { echo "hugepages.sh: $*" >&2; exit 1; }
free_pages() { cat "$SYS/free_hugepages"; }

reserve() {
	local pages=$1 dir=$2 state=$3 old free want
	[[ $pages =~ ^[0-9]+$ ]] || die "PAGES must be a number, got '$pages'"
	[ "$(id -u)" -eq 0 ] || die "needs root"
	[ -d "$SYS" ] || die "no 2 MiB hugepage support ($SYS missing)"
	old=$(cat "$SYS/nr_hugepages")
	free=$(free_pages)
	: > "$state"
	if [ "$free" -lt "$pages" ]; then
		want=$((old + pages - free))
		# recorded before the change, so that release restores it even if we die right after
		echo "restore_nr=$old" >> "$state"
		echo "$want" > "$SYS/nr_hugepages"
		free=$(free_pages)
		[ "$free" -ge "$pages" ] || die "asked for $want pages in all, only $free free" \
			"(memory fragmented? try: echo 3 > /proc/sys/vm/drop_caches; compaction)"
	fi
	mkdir -p "$dir"
	mount -t hugetlbfs -o pagesize=2M nodev "$dir"
	echo "mount=$dir" >> "$state"
	echo "hugepages: $free x 2 MiB free (nr_hugepages $old -> $(cat "$SYS/nr_hugepages")), mounted on $dir"
}

release() {
	local state=$1 key val
	[ -f "$state" ] || return 0
	# unmount first: page files vanish with the mount, so the pages can be returned
	while IFS='=' read -r key val; do
		if [ "$key" = mount ] && mountpoint -q "$val"; then
			umount "$val" 2>/dev/null || umount -l "$val" 2>/dev/null || true
			rmdir "$val" 2>/dev/null || true
		fi
	done < "$state"
	while IFS='=' read -r key val; do
		if [ "$key" = restore_nr ]; then
			echo "$val" > "$SYS/nr_hugepages" 2>/dev/null || true
		fi
	done < "$state"
	rm -f "$state"
}

case "${1:-}" in
reserve) [ $# -eq 4 ] || die "usage: $0 reserve PAGES DIR STATE"; reserve "$2" "$3" "$4" ;;
release) [ $# -eq 2 ] || die "usage: $0 release STATE"; release "$2" ;;
status) grep -E '^Huge' /proc/meminfo; mount -t hugetlbfs ;;
*) echo "usage: $0 reserve PAGES DIR STATE | release STATE | status" >&2; exit 2 ;;
esac
