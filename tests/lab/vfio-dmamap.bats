#!/usr/bin/env bats
# vfio-dmamap against a real IOMMU, inside the lab VM (one boot: tests/lab/lab run -- bats FILE).
# Devices: nvme 00:04.0; e1000e 01:00.0 + edu 01:00.1 sharing one IOMMU group; edu 00:06.0
# alone. The suite binds them with vfio-bind and puts them back at the end.

load ../helpers

NVME=0000:00:04.0 NIC=0000:01:00.0 EDU1=0000:01:00.1 EDU=0000:00:06.0
HUGE=/sys/kernel/mm/hugepages/hugepages-2048kB

setup_file() {
	lab_guard
	export VFIO_BIND_STATE_DIR=/run/vfio-bind
	vfio-bind --group $NIC >&3
	vfio-bind $EDU $NVME >&3
}

teardown_file() {
	vfio-bind --restore --all >&3 || true
}

free2m() { cat $HUGE/free_hugepages; }

@test "info on edu, e1000e and nvme: back-end, page sizes, IOVA ranges, MSI window" {
	for d in $EDU $NIC $NVME; do
		run vfio-dmamap --noheadings --raw info $d
		assert_success
		assert_line "device $d"
		assert_line "backend container"
		assert_line --regexp '^pgsizes 4K(,[0-9]+[KMG])*$'
		assert_line --regexp '^iova-range 0x0 0x[0-9a-f]+$'
		assert_line --regexp '^dma-avail [0-9]+$'
		assert_line "reserved 0xfee00000 0xfeefffff msi"
		# The MSI window is never a valid IOVA.
		while read -r k start last; do
			[ "$k" = iova-range ] || continue
			((start > 0xfeefffff || last < 0xfee00000)) || fail "$d: $start-$last covers MSI"
		done <<<"$output"
		run vfio-dmamap info --json $d
		assert_success
		echo "$output" | jq -e '.backend == "container" and (.pgsizes | index(4096)) != null and
			(.iova_ranges | length) >= 1 and .dma_avail > 0'
	done
	echo "# $(vfio-dmamap info $EDU | tr '\n' ';')" >&3
}

@test "map and unmap with anon, 2M, memfd and file backings" {
	run vfio-dmamap --noheadings --raw map $EDU --size 4M
	assert_success
	assert_output --regexp '^0x[0-9a-f]+ 4M anon$'
	before=$(free2m)
	run vfio-dmamap --noheadings --raw map $EDU --size 4M --backing 2M
	assert_success
	assert_output --regexp '^0x[0-9a-f]+ 4M 2M$'
	iova=$(echo "$output" | cut -d' ' -f1)
	[ $((iova % (2 << 20))) -eq 0 ] # aligned to the backing's page size
	[ "$(free2m)" = "$before" ]
	run vfio-dmamap --noheadings --raw map $EDU --size 64K --backing memfd
	assert_success
	assert_output --regexp '^0x[0-9a-f]+ 64K memfd$'
	run vfio-dmamap --noheadings --raw map $EDU --size 1M --backing /tmp/dma-file --iova 0x10000000
	assert_success
	assert_output "0x10000000 1M /tmp/dma-file"
	[ "$(stat -c %s /tmp/dma-file)" = 1048576 ]
}

@test "thp backing: pinned as transparent huge pages (the kernel's smaps), kept across a COMMAND's fork, IOVA 2M-aligned, DMA round trip" {
	# smaps of vfio-dmamap read by its COMMAND: the fork must not have split the pinned huge
	# pages (copy_huge_pmd splits a pinned THP's entry in the parent unless MADV_DONTFORK)
	run vfio-dmamap --noheadings --raw map $EDU --size 4M --backing thp \
		-- sh -c 'cat /proc/$PPID/smaps >"$0"' "$BATS_TEST_TMPDIR/smaps"
	assert_success
	assert_output --regexp '^0x[0-9a-f]+ 4M thp$'
	iova=$(cut -d' ' -f1 <<<"$output")
	[ $((iova % (2 << 20))) -eq 0 ] || fail "IOVA $iova is not 2 MiB-aligned"
	# the 4 MiB mapping as the kernel holds it while pinned: advised (hg) and on huge pages
	thp=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { s = "" } /^Size:/ { s = $2 }
		/^AnonHugePages:/ && s == 4096 { print $2 } /^VmFlags:/ && s == 4096 && / hg/ { print "hg" }' \
		"$BATS_TEST_TMPDIR/smaps")
	echo "# the mapping's AnonHugePages (kB), VmFlags: $(echo $thp)" >&3
	[ "$(sed -n 2p <<<"$thp")" = hg ] || fail "the mapping is not advised MADV_HUGEPAGE: $(echo $thp)"
	[ "$(sed -n 1p <<<"$thp")" -gt 0 ] || fail "no transparent huge page in the pinned mapping"
	run vfio-dmamap --noheadings --raw map $EDU --size 2M --backing thp --verify
	assert_success
	assert_line --index 0 --regexp '^0x[0-9a-f]+ 2M thp$'
	assert_line --index 1 --regexp '^verify 0x[0-9a-f]+ 6144 ok$'
}

@test "mappings hold 2M pages while a command runs, and die with the process" {
	before=$(free2m)
	run vfio-dmamap --noheadings --raw map $EDU --size 8M --backing 2M -- sh -c "cat $HUGE/free_hugepages; echo \$VFIO_DMAMAP_IOVA \$VFIO_DMAMAP_SIZE; exit 3"
	assert_failure 3 # the command's status
	assert_line --index 1 $((before - 4))
	assert_line --index 2 --regexp '^0x[0-9a-f]+ 8388608$'
	[ "$(free2m)" = "$before" ]
	# --hold until a signal; SIGKILL also releases everything.
	vfio-dmamap map $EDU --size 4M --backing 2M --hold >/tmp/hold.out &
	pid=$!
	for i in $(seq 100); do [ -s /tmp/hold.out ] && break; sleep 0.1; done
	[ "$(free2m)" = $((before - 2)) ]
	kill -TERM $pid
	wait $pid
	[ "$(free2m)" = "$before" ]
	vfio-dmamap map $EDU --size 4M --backing 2M --hold >/tmp/hold.out &
	pid=$!
	for i in $(seq 100); do [ -s /tmp/hold.out ] && break; sleep 0.1; done
	kill -KILL $pid
	wait $pid || true
	[ "$(free2m)" = "$before" ]
	run vfio-dmamap --noheadings --raw map $EDU --size 4M --backing 2M # the group is free again
	assert_success
}

@test "edu --verify: DMA round trip byte for byte, a stray DMA blocked by the IOMMU" {
	run vfio-dmamap --noheadings --raw map $EDU --size 2M --backing 2M --verify
	assert_success
	assert_line --index 0 --regexp '^0x[0-9a-f]+ 2M 2M$'
	assert_line --index 1 --regexp '^verify 0x[0-9a-f]+ 6144 ok$'
	assert_line --index 2 --regexp '^stray 0x[0-9a-f]+ 2048 blocked$'
	stray=$(echo "$output" | awk '$1 == "stray" { print $2 }')
	run dmesg
	assert_output --partial "Request device [00:06.0] fault addr $stray"
	run vfio-dmamap --noheadings --raw map $EDU1 --size 64K --verify # the edu sharing e1000e's group
	assert_success
	assert_line --index 1 --regexp '^verify 0x[0-9a-f]+ 6144 ok$'
}

@test "overlapping, out-of-range, misaligned and wrapping requests are refused; the device still works" {
	run vfio-dmamap --noheadings --raw map $EDU --size 2M --iova 0x200000 --size 4K --iova 0x201000 \
		--size 4K --iova 0xfee00000 --size 4K --iova 0x1234 --size 8K --iova 0xfffffffffffff000 \
		--size 4K --iova 0x400000 --verify
	assert_failure 1
	assert_line "vfio-dmamap: map: 0x201000-0x201fff overlaps the mapping at 0x200000-0x3fffff"
	assert_line --partial "vfio-dmamap: map: 0xfee00000-0xfee00fff is outside the valid IOVA ranges"
	assert_line --partial "is not aligned to the IOMMU page size 0x1000"
	assert_line --partial "wraps past 2^64"
	assert_line "0x200000 2M anon"
	assert_line "0x400000 4K anon" # requests after the refused ones still map
	assert_line --regexp '^verify 0x200000 6144 ok$'
	assert_line --regexp '^verify 0x400000 6144 ok$' # two 2K samples in 4K, one twice
	assert_line --regexp '^stray 0x[0-9a-f]+ 2048 blocked$'
}

@test "1G backing: a clear error when no 1G pages are reserved" {
	n=$(cat /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages 2>/dev/null || echo 0)
	[ "$n" = 0 ] || skip "1G pages are reserved here"
	run vfio-dmamap --noheadings --raw map $EDU --size 1G --backing 1G
	assert_failure 1
	assert_output --partial "1 free 1G huge pages needed, 0 free of 0 reserved"
	assert_output --partial "hugepages-1048576kB/nr_hugepages"
	run vfio-dmamap --noheadings --raw map $EDU --size 256M --backing 2M # 128 pages, 64 reserved
	assert_failure 1
	assert_output --partial "128 free 2M huge pages needed"
}

@test "warns when RLIMIT_MEMLOCK is below the request, naming the limit" {
	run bash -c "ulimit -l 1024; vfio-dmamap map $EDU --size 4M"
	assert_output --partial "warning: RLIMIT_MEMLOCK: the limit is 1M, below the 4M to map"
	run bash -c "ulimit -l unlimited; vfio-dmamap map $EDU --size 4M 2>&1"
	refute_output --partial "RLIMIT_MEMLOCK"
}

# field N of the line starting "OP MEMORY" in $output
bench_field() { awk -v op="$1" -v mem="$2" -v f="$3" '$1 == op && $2 == mem { print $f }' <<<"$output"; }

@test "bench: map beside mlock and unmap beside munlock, on warm and cold memory, with ratios" {
	for b in anon 2M memfd; do
		run bash -c "ulimit -l unlimited; vfio-dmamap bench --noheadings --raw $EDU --size 16M --iterations 5 --backing $b"
		assert_success
		echo "$output" | sed "s/^/# bench $b: /" >&3
		[ "${#lines[@]}" -eq 6 ] || fail "$b: ${#lines[@]} lines"
		n='[0-9]+\.[0-9]+'
		assert_line --index 0 --regexp "^map warm 16777216 5 $n $n $n mlock $n$"
		assert_line --index 1 --regexp "^mlock warm 16777216 5 $n $n $n - -$"
		assert_line --index 2 --regexp "^map cold 16777216 5 $n $n $n mlock $n$"
		assert_line --index 3 --regexp "^mlock cold 16777216 5 $n $n $n - -$"
		assert_line --index 4 --regexp "^unmap warm 16777216 5 $n $n $n munlock $n$"
		assert_line --index 5 --regexp "^munlock warm 16777216 5 $n $n $n - -$"
		# Each ratio is its row's median over its baseline's (printed to 0.1 us and 0.01).
		for r in "map warm mlock" "map cold mlock" "unmap warm munlock"; do
			set -- $r
			awk -v m="$(bench_field $1 $2 6)" -v b="$(bench_field $3 $2 6)" \
				-v r="$(bench_field $1 $2 9)" 'BEGIN { d = m / b - r;
				exit !(b > 0 && (d < 0 ? -d : d) <= 0.01 + 0.1 * (1 + m / b) / b) }' ||
				fail "$b $1 $2: ratio $(bench_field $1 $2 9) is not $(bench_field $1 $2 6)/$(bench_field $3 $2 6)"
		done
		# Cold memory is faulted in and zeroed on both sides: 16 MiB more work than warm.
		for op in map mlock; do
			awk -v c="$(bench_field $op cold 6)" -v w="$(bench_field $op warm 6)" \
				'BEGIN { exit !(c > w) }' ||
				fail "$b $op: cold $(bench_field $op cold 6) us not above warm $(bench_field $op warm 6) us"
		done
	done
	run vfio-dmamap bench --json $EDU --size 4M --iterations 2
	assert_success
	echo "$output" | jq -e 'length == 6 and all(.[]; .median_us > 0 and .gib_per_s > 0) and
		all(.[] | select(.op == "map" or .op == "unmap"); .ratio > 0 and .baseline != null) and
		all(.[] | select(.op == "mlock" or .op == "munlock"); .ratio == null and .baseline == null)'
	# A file cannot be discarded: warm rows only, and a warning says why.
	run bash -c "vfio-dmamap bench --noheadings --raw $EDU --size 1M --iterations 2 --backing $BATS_TEST_TMPDIR/f 2>&1 >/dev/null"
	assert_success
	assert_output --partial "warm memory only"
	run bash -c "vfio-dmamap bench --noheadings --raw $EDU --size 1M --iterations 2 --backing $BATS_TEST_TMPDIR/f 2>/dev/null"
	assert_success
	[ "$(cut -d' ' -f1,2 <<<"$output" | tr '\n' ,)" = "map warm,mlock warm,unmap warm,munlock warm," ]
}

@test "map --prefault: faulted in by threads before the pin, huge pages kept whole, DMA round trip" {
	# thp and --hold, as in the thp test (a COMMAND's fork splits the parent's pinned THP)
	vfio-dmamap --verbose --noheadings --raw map $EDU --size 8M --backing thp --prefault=3 --hold \
		>"$BATS_TEST_TMPDIR/hold.out" 2>"$BATS_TEST_TMPDIR/hold.err" &
	pid=$!
	for _ in $(seq 100); do [ -s "$BATS_TEST_TMPDIR/hold.out" ] && break; sleep 0.1; done
	cp /proc/$pid/smaps "$BATS_TEST_TMPDIR/smaps"
	kill -TERM $pid
	wait $pid
	grep -q "^vfio-dmamap: prefault: 8M faulted in by 3 threads in [0-9.]* ms$" \
		"$BATS_TEST_TMPDIR/hold.err" || fail "no prefault line: $(cat "$BATS_TEST_TMPDIR/hold.err")"
	# the 8 MiB mapping advised MADV_HUGEPAGE (hg), not a cached 8 MiB thread stack
	thp=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { s = ""; a = "" } /^Size:/ { s = $2 }
		/^AnonHugePages:/ { a = $2 } /^VmFlags:/ && s == 8192 && / hg/ { print a }' \
		"$BATS_TEST_TMPDIR/smaps")
	echo "# AnonHugePages of the 8 MiB mapping prefaulted by 3 threads, pinned: $thp kB" >&3
	[ "$thp" = 8192 ] || fail "AnonHugePages '$thp' kB, not 8192: a huge page was lost or split"
	# 2M hugetlb, the default thread count: the pages come from the pool, and DMA reaches them
	before=$(free2m)
	run vfio-dmamap --noheadings --raw map $EDU --size 4M --backing 2M --prefault --verify -- \
		cat $HUGE/free_hugepages
	assert_success
	assert_line --index 0 --regexp '^0x[0-9a-f]+ 4M 2M$'
	assert_line --index 1 --regexp '^verify 0x[0-9a-f]+ 6144 ok$'
	assert_line --index 2 --regexp '^stray 0x[0-9a-f]+ 2048 blocked$'
	assert_line --index 3 $((before - 2))
	# bench: the cold map with the prefault in its time
	run vfio-dmamap bench --noheadings --raw $EDU --size 4M --iterations 2 --prefault=2
	assert_success
	assert_line --index 2 --regexp '^map cold 4194304 2 '
}

@test "clear errors: group not viable, no permission, not on vfio-pci" {
	vfio-bind --restore $NIC >&3 # e1000e back on its driver, edu 01:00.1 still on vfio-pci
	run vfio-dmamap --noheadings --raw info $EDU1
	assert_failure 1
	assert_output --partial "is not viable: $NIC (e1000e) still on another driver"
	assert_output --partial "vfio-bind --group $EDU1"
	run vfio-dmamap --noheadings --raw info $NIC
	assert_failure 1
	assert_output --partial "$NIC is bound to e1000e, not vfio-pci (bind it: vfio-bind $NIC"
	vfio-bind $NIC >&3
	run setpriv --reuid=65534 --regid=65534 --clear-groups vfio-dmamap info $EDU
	assert_failure 1
	assert_output --regexp "/dev/vfio/[0-9]+: no permission"
	run vfio-dmamap --noheadings --raw info $EDU # the device is still fine
	assert_success
}

@test "map --json: a backing file whose name is not UTF-8 (0xff 0xfe) and holds ESC stays valid JSON" {
	f=$BATS_TEST_TMPDIR/$'dma\xff\xfe\x1b'
	run vfio-dmamap map $EDU --size 64K --backing "$f" --json
	assert_success
	# jq 1.6 reads invalid UTF-8 silently (as U+FFFD): iconv is the UTF-8 oracle (RFC 8259 §8.1)
	printf '%s' "$output" | iconv -f UTF-8 -t UTF-8 >/dev/null || fail "not UTF-8: $output"
	jq -e --arg want "$BATS_TEST_TMPDIR/"'dma\xff\xfe'$'\x1b' '.[0].backing == $want' <<<"$output" ||
		fail "$output"
	run vfio-dmamap map $EDU --size 64K --backing "$f"
	assert_success
	[[ $output != *$'\x1b'* ]] || fail "the table printed ESC: $output"
}
