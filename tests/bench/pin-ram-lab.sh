#!/usr/bin/env bash
# pin-ram-lab.sh: what pinning guest RAM for passthrough costs, in ms per GiB, by backing:
# anonymous 4K pages, transparent huge pages, 2M and 1G hugetlb pages; warm (every page already
# touched) and cold (first touch: the pin faults in and zeroes every page), with mlock of the
# same memory beside each and the unmap. One lab boot (4 GiB, one 1G page reserved on the lab
# kernel's command line), `vfio-dmamap bench` of 1 GiB through the lab's real IOMMU (edu).
set -u
cd "$(dirname "$0")/../.." || exit 1
if [ -z "${LAB_BENCH_INSIDE:-}" ]; then
	LAB_BENCH_INSIDE=1 LAB_MEM=4096 LAB_APPEND="hugepagesz=1G hugepages=1" \
		exec tests/lab/lab run --timeout 2400 -- "$0"
fi
export PATH="$PWD/build:$PATH"
EDU=0000:00:06.0 SIZE=1G ROUNDS=${ROUNDS:-3}
HP=/sys/kernel/mm/hugepages
trap 'echo 64 >$HP/hugepages-2048kB/nr_hugepages; vfio-bind --restore $EDU >/dev/null 2>&1' EXIT
vfio-bind $EDU >/dev/null || { echo "pin-ram-lab: vfio-bind $EDU failed: nothing compared" >&2; exit 1; }
ulimit -l unlimited

# Why a backing cannot run here, or nothing. 1G pages are reserved at boot only (fragmentation
# leaves no free GiB later); 2M ones at run time, the pool given back after its row.
unavailable() { # backing
	case $1 in
	thp)
		grep -q '\[never\]' /sys/kernel/mm/transparent_hugepage/enabled &&
			echo "THP is never on the lab's kernel"
		;;
	2M)
		echo 576 >$HP/hugepages-2048kB/nr_hugepages # the lab's 64 and 1 GiB
		[ "$(cat $HP/hugepages-2048kB/free_hugepages)" -ge 512 ] ||
			echo "the lab's kernel found only $(cat $HP/hugepages-2048kB/free_hugepages) free 2M pages of 512"
		;;
	1G)
		if ! grep -qw pdpe1gb /proc/cpuinfo; then
			echo "the lab's CPU has no 1 GiB pages (no pdpe1gb)"
		elif [ ! -d $HP/hugepages-1048576kB ]; then
			echo "the lab's kernel offers no 1G huge pages"
		elif [ "$(cat $HP/hugepages-1048576kB/free_hugepages)" -lt 1 ]; then
			echo "no free 1G page: the lab's kernel reserved $(cat $HP/hugepages-1048576kB/nr_hugepages) of hugepages=1"
		fi
		;;
	esac
}

status=0
printf 'pinning %s of guest RAM (VFIO map of the edu %s in the lab, median of %d, ms per GiB):\n' \
	"$SIZE" "$EDU" "$ROUNDS"
printf '  %-6s %10s %10s %10s %10s %10s  %s\n' backing "pin warm" "pin cold" "mlock warm" \
	"mlock cold" unmap note
for b in anon thp 2M 1G; do
	why=$(unavailable $b)
	if [ -n "$why" ]; then
		printf '  %-6s %10s %10s %10s %10s %10s  %s\n' $b - - - - - "$why"
		[ $b = 1G ] || status=1 # 1G depends on the lab's CPU model; the others must run
		continue
	fi
	thp0=$(awk '$1 == "thp_fault_alloc" { print $2 }' /proc/vmstat)
	out=$(vfio-dmamap bench --noheadings --raw $EDU --size $SIZE --iterations "$ROUNDS" --backing $b 2>&1) || {
		printf '  %-6s %10s %10s %10s %10s %10s  %s\n' $b - - - - - "failed: $out"
		status=1
		continue
	}
	# the kernel's count of huge pages THP faults got (the oracle that THP was THP)
	note=
	[ $b = thp ] && note="thp_fault_alloc +$(($(awk '$1 == "thp_fault_alloc" { print $2 }' /proc/vmstat) - thp0))"
	[ $b = 2M ] && echo 64 >$HP/hugepages-2048kB/nr_hugepages
	# OP MEMORY BYTES ITERATIONS GIB_PER_S MEDIAN_US MAX_US BASELINE RATIO
	awk -v b=$b -v note="$note" '{ ms[$1 " " $2] = $6 / 1000 / ($3 / 2^30) }
		END {
			n = split("map warm|map cold|mlock warm|mlock cold|unmap warm", k, "|")
			line = sprintf("  %-6s", b)
			for (i = 1; i <= n; i++) {
				if (!(k[i] in ms)) exit 1
				line = line sprintf(" %10.1f", ms[k[i]])
			}
			print line "  " note
		}' <<<"$out" || { echo "pin-ram-lab: $b: a figure is missing: $out" >&2; status=1; }
done
exit "$status"
