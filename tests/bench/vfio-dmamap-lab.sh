#!/usr/bin/env bash
# vfio-dmamap-lab.sh: DMA map/unmap of 64 MiB for the lab's edu through the real IOMMU, beside
# mlock/munlock of the same memory (warm and cold), 4K and 2M pages, in one lab boot.
set -u
cd "$(dirname "$0")/../.."
if [ -z "${LAB_BENCH_INSIDE:-}" ]; then
	LAB_BENCH_INSIDE=1 exec tests/lab/lab run -- tests/bench/vfio-dmamap-lab.sh
fi
export PATH="$PWD/build:$PATH"
EDU=0000:00:06.0 SIZE=64M ROUNDS=${ROUNDS:-10}
trap 'vfio-bind --restore $EDU >/dev/null 2>&1' EXIT
vfio-bind $EDU >/dev/null || exit 1
ulimit -l unlimited
echo 64 >/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages # 128 MiB: 64M and spare

status=0
for b in anon 2M; do
	out=$(vfio-dmamap bench --noheadings --raw $EDU --size $SIZE --iterations "$ROUNDS" --backing $b) || {
		echo "bench: vfio-dmamap bench --backing $b failed" >&2
		status=1
		continue
	}
	printf 'vfio-dmamap bench of edu %s, %s %s pages (median of %d, microseconds):\n' \
		"$EDU" "$SIZE" "$b" "$ROUNDS"
	# OP MEMORY BYTES ITERATIONS GIB_PER_S MEDIAN_US MAX_US BASELINE RATIO
	awk '{ med[$1 " " $2] = $6; ratio[$1 " " $2] = $9 }
		END {
			n = split("map warm|map cold|unmap warm", rows, "|")
			for (i = 1; i <= n; i++) {
				split(rows[i], k, " "); b = (k[1] == "unmap") ? "munlock" : "mlock"
				if (!(rows[i] in ratio) || ratio[rows[i]] == "-") { bad = 1; continue }
				printf "  %-6s %-5s %10s us  beside %-8s %10s us  x%s\n", k[1], k[2],
					med[rows[i]], b, med[b " " k[2]], ratio[rows[i]]
			}
			exit bad
		}' <<<"$out" || { echo "bench: $b: a comparison is missing: $out" >&2; status=1; }
done
exit "$status"
