#!/usr/bin/env bash
# passthrough-lab.sh: how long mvm-run takes to set up passthrough of the lab's nvme (open,
# reset, pin and map all guest RAM at IOVA = GPA, BARs, config) for 1 GiB and 2 GiB guests,
# with 4K pages beside 2M huge pages, in one lab boot (a 6 GiB lab with 2.2 GiB of 2M pages).
set -u
cd "$(dirname "$0")/../.."
if [ -z "${LAB_BENCH_INSIDE:-}" ]; then
	LAB_BENCH_INSIDE=1 LAB_MEM=6144 exec tests/lab/lab run -- tests/bench/passthrough-lab.sh
fi
export PATH="$PWD/build:$PATH"
NVME=0000:00:04.0 ROUNDS=${ROUNDS:-3}
tmp=$(mktemp -d)
trap 'vfio-bind --restore $NVME >/dev/null 2>&1; rm -rf "$tmp"' EXIT
tests/guests/build "$tmp/g" >/dev/null || exit 1
vfio-bind $NVME >/dev/null || exit 1
ulimit -l unlimited
echo 1100 >/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages # 2.2 GiB, fresh boot

median() { sort -n | awk '{ v[NR] = $1 } END { if (!NR) print "failed"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
setup_ms() { # mem backing: the tiny guest resets at once; -v reports the passthrough set-up time
	local i
	for i in $(seq "$ROUNDS"); do
		mvm-run -v --kernel "$tmp/g/hello.elf" --mem "$1" --huge-pages "$2" --vfio $NVME \
			--console none </dev/null 2>"$tmp/err"
		sed -n 's/.*set up in \([0-9.]*\) ms.*/\1/p' "$tmp/err"
		grep -v 'set up in\|kernel, entry\|guest reset' "$tmp/err" >&2
	done | median
}
printf 'passthrough set-up of nvme %s in the lab (median of %d, ms):\n' "$NVME" "$ROUNDS"
printf '  %-6s %12s %12s %8s\n' memory "4K pages" "2M pages" "4K/2M"
for mem in 1G 2G; do
	a=$(setup_ms "$mem" none) b=$(setup_ms "$mem" 2M)
	printf '  %-6s %12s %12s %8s\n' "$mem" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { if (b + 0 > 0) printf "x%.1f", a / b; else print "-" }')"
done
