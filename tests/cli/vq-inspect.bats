#!/usr/bin/env bats
# vq-inspect: status, chains and check on queue images built by tests/cli/vqgen.

load ../helpers
load mvm_api

# gen SCENARIO: write the image, set $args to the vq-inspect options describing it.
gen() {
	args=$("$REPO/tests/cli/vqgen" "$1" "$BATS_TEST_TMPDIR/$1.img") || return 1
}

# check_finds SCENARIO "expected line": check prints exactly that one finding and exits 1.
check_finds() {
	gen "$1"
	run vq-inspect check --noheadings $args
	assert_failure 1
	assert_output "$2"
}

@test "valid split ring: check is clean" {
	gen valid-split
	run vq-inspect check --noheadings $args
	assert_success
	assert_output ""
}

@test "valid packed ring: check is clean" {
	gen valid-packed
	run vq-inspect check --noheadings $args
	assert_success
	assert_output ""
}

@test "valid ring with EVENT_IDX: check is clean, status shows the event indices" {
	gen valid-event-idx
	run vq-inspect check --noheadings $args
	assert_success
	assert_output ""
	run vq-inspect status --noheadings --raw $args
	assert_success
	assert_line "features event_idx"
	assert_line "used_event 1"
	assert_line "avail_event 1"
}

@test "status of a split ring" {
	gen valid-split
	run vq-inspect status --noheadings --raw $args
	assert_success
	assert_output "format split
size 8
desc 0x0000000000001000
avail 0x0000000000002000
used 0x0000000000003000
features indirect
avail_flags 0x0000
avail_idx 3
used_flags 0x0000
used_idx 0
used_event -
avail_event -
last_avail 0
next_used 0
pending 3
inuse 0"
}

@test "status is the default command; --last-avail changes pending and inuse" {
	gen valid-split
	run vq-inspect --noheadings --raw $args --last-avail 2
	assert_success
	assert_line "last_avail 2"
	assert_line "pending 1"
	assert_line "inuse 2"
}

@test "status of a packed ring" {
	gen valid-packed
	run vq-inspect status --noheadings --raw $args
	assert_success
	assert_line "format packed"
	assert_line "driver_flags enable"
	assert_line "last_avail 0"
	assert_line "last_avail_wrap 1"
	assert_line "pending 3"
}

@test "chains of a split ring: descriptors, flags, totals, indirect tables" {
	gen valid-split
	run vq-inspect chains --noheadings --raw $args
	assert_success
	assert_output "chain 0 0 16 512 -
desc ring 0 0x0000000000008000 16 NEXT 1
desc ring 1 0x0000000000008100 512 WRITE -
chain 1 2 64 0 -
desc ring 2 0x0000000000008400 64 - -
chain 2 3 16 256 -
desc ring 3 0x0000000000004000 32 INDIRECT -
desc indirect 0 0x0000000000008800 16 NEXT 1
desc indirect 1 0x0000000000008900 256 WRITE -"
	# fields are stable for awk: total writable bytes of all chains
	run bash -c "set -o pipefail
		vq-inspect chains $args | awk '\$1 == \"chain\" { w += \$5 } END { print w }'"
	assert_success
	assert_output "768"
}

@test "chains --head shows one chain, even one that is not pending" {
	gen valid-split
	# vqgen made heads 0, 2, 3 available in that order: head 2 sits at avail.ring[1]
	run vq-inspect chains --noheadings --raw $args --head 2
	assert_success
	assert_output "chain 1 2 64 0 -
desc ring 2 0x0000000000008400 64 - -"
	# descriptor 1 is the second of head 0's chain: no avail ring entry names it
	run vq-inspect chains --noheadings --raw $args --head 1
	assert_success
	assert_output "chain - 1 0 512 -
desc ring 1 0x0000000000008100 512 WRITE -"
	run bash -c "vq-inspect chains --json $args --head 1 | jq -ce '.[0].ring == null'"
	assert_success
	run vq-inspect chains --noheadings --raw $args --head 9
	assert_failure 1
	assert_output "vq-inspect: --head: no chain starts at descriptor 9"
}

# The split-wrapped image (tests/cli/vqgen): entry i of the available ring is ring[i % 8]
# (VIRTIO 1.2 §2.7.6), and the driver wrote these (free-running index, head) pairs; used.idx is
# 0xfffd, so the first two were returned and the other six, across 0xffff, are outstanding.
wrapped_entries="0xfffb:2 0xfffc:5 0xfffd:4 0xfffe:1 0xffff:6 0x0000:0 0x0001:7 0x0002:3"

@test "chains across the wrap of avail.idx: each pending chain at ring[index % size]" {
	gen split-wrapped
	run bash -c "vq-inspect chains $args | awk '\$1 == \"chain\" { print \$2, \$3 }'"
	assert_success
	expected=""
	for e in $wrapped_entries; do
		i=$((${e%:*})) head=${e#*:}
		[ "$i" -ge $((0xfffd)) ] || [ "$i" -le 2 ] || continue
		expected+="$((i % 8)) $head"$'\n'
	done
	assert_output "${expected%$'\n'}"
}

@test "chains --head: the ring position of every head, '-' for those already returned" {
	gen split-wrapped
	for e in $wrapped_entries; do
		i=$((${e%:*})) head=${e#*:}
		ring=$((i % 8))
		[ "$i" -ge $((0xfffd)) ] || [ "$i" -le 2 ] || ring=-
		run vq-inspect chains --noheadings --raw $args --head "$head"
		assert_success
		assert_line --index 0 "chain $ring $head $((16 * (head + 1))) 0 -"
	done
	# --next-used moves the start of the search: from 0xfffb the returned ones are found too
	run vq-inspect chains --noheadings --raw $args --next-used 0xfffb --head 5
	assert_success
	assert_line --index 0 "chain 4 5 96 0 -"
}

@test "chains of a packed ring: buffer ids, AVAIL and USED flags" {
	gen valid-packed
	run vq-inspect chains --noheadings --raw $args
	assert_success
	assert_line --index 0 "chain 0 5 16 512 -"
	assert_line --index 1 "desc ring 0 0x0000000000008000 16 NEXT,AVAIL 0"
	assert_line --index 3 "chain 2 6 16 256 -"
	assert_line --index 4 "desc ring 2 0x0000000000004000 32 INDIRECT,AVAIL 6"
	assert_line --index 7 "chain 3 7 64 0 -"
}

# QEMU reports a packed queue's last_avail_idx without its wrap counter: vq-inspect reads the
# counter from the descriptor at that position (vqgen wrote the laps as §2.8.1 says).
@test "packed ring in a lap with wrap counter 1, read with the position alone" {
	gen packed-wrap1
	[[ $args == *"--last-avail 0x6 "* ]] || fail "vqgen gave no --last-avail 6: $args"
	run vq-inspect status --noheadings --raw $args
	assert_success
	assert_line "last_avail 6"
	assert_line "last_avail_wrap 1"
	assert_line "pending 2"
	# the chain at 6-7 (id 1) in lap 1, then the one at 0 (id 2) in lap 2, with counter 0
	run bash -c "vq-inspect chains $args | awk '\$1 == \"chain\" { print \$2, \$3 }'"
	assert_output "6 1
0 2"
	run vq-inspect check --noheadings $args
	assert_success
	assert_output ""
	# the counter given explicitly wins: counter 0 at position 6 sees nothing available
	run vq-inspect status --noheadings --raw $args --last-avail-wrap 0
	assert_line "last_avail_wrap 0"
	assert_line "pending 0"
	run vq-inspect status --noheadings --raw ${args/--last-avail 0x6/--last-avail 0x8006}
	assert_line "last_avail_wrap 1"
	assert_line "pending 2"
}

@test "packed ring in a lap with wrap counter 0, read with the position alone" {
	gen packed-wrap0
	run vq-inspect status --noheadings --raw $args
	assert_success
	assert_line "last_avail 2"
	assert_line "last_avail_wrap 0"
	assert_line "pending 2"
	run bash -c "vq-inspect chains $args | awk '\$1 == \"chain\" { print \$2, \$3, \$5 }'"
	assert_output "2 3 0
3 4 256"
	run vq-inspect status --noheadings --raw $args --last-avail-wrap 1
	assert_line "pending 0"
	# on a used descriptor the counter is that of the next lap, when it is made available again
	run vq-inspect status --noheadings --raw ${args/--last-avail 0x2/--last-avail 5}
	assert_line "last_avail_wrap 0"
	assert_line "pending 0"
	run vq-inspect status --noheadings --raw ${args/--last-avail 0x2/--last-avail 0}
	assert_line "last_avail_wrap 1"
	assert_line "pending 0"
}

@test "packed check reads the lap the ring shows at position 0 when --last-avail is not given" {
	gen packed-wrap0-write-before-read
	run vq-inspect check --noheadings $args
	assert_failure 1
	assert_output "error 2.8.17 desc[1] device-readable descriptor after a device-writable one"
	run vq-inspect check $args --last-avail-wrap 1
	assert_success
	assert_output ""
}

@test "--last-avail-wrap: 0 or 1, packed only, not against bit 15 of --last-avail" {
	gen packed-wrap0
	run vq-inspect status --noheadings --raw $args --last-avail-wrap 2
	assert_failure 2
	assert_output "vq-inspect: --last-avail-wrap: '2' is not 0 or 1"
	run vq-inspect status --noheadings --raw ${args/--last-avail 0x2/--last-avail 0x8002} --last-avail-wrap 0
	assert_failure 2
	assert_output "vq-inspect: --last-avail-wrap: --last-avail 0x8002 already has the counter in bit 15"
	gen valid-split
	run vq-inspect status --noheadings --raw $args --last-avail-wrap 1
	assert_failure 2
	assert_output "vq-inspect: --last-avail-wrap: only with --packed"
}

@test "chains reports a malformed chain and exits 1" {
	gen loop
	run vq-inspect chains --noheadings --raw $args
	assert_failure 1
	assert_line --index 0 "chain 0 0 - - too-long-or-loop"
}

@test "--json: status, chains and check are valid JSON with the documented keys" {
	gen valid-split
	# pipefail: vq-inspect's own exit status counts, not only jq's
	run bash -c "set -o pipefail; vq-inspect status --json $args |
		jq -e '.format == \"split\" and .pending == 3 and .used_event == null'"
	assert_success
	run bash -c "set -o pipefail; vq-inspect chains --json $args |
		jq -e 'length == 3 and .[2].descriptors[0].flags == [\"INDIRECT\"] and .[0].writable == 512'"
	assert_success
	run bash -c "set -o pipefail; vq-inspect check --json $args | jq -e '. == []'"
	assert_success
	gen next-range
	run vq-inspect check --json $args
	assert_failure 1
	run jq -ce '.[0]' <<<"$output"
	assert_output '{"severity":"error","section":"2.7.5.2","index":"desc[0]","message":"next 12 is not below the queue size 8"}'
}

@test "check --json keeps exit status 1 on errors" {
	gen loop
	run vq-inspect check --json $args
	assert_failure 1
	run jq -e 'length == 1 and .[0].section == "2.7.5.2"' <<<"$output"
	assert_success
}

# One image per finding: exact line, exit status 1 (errors) or 0 (warnings only).

@test "finding: misaligned descriptor table (2.7.1)" {
	check_finds misaligned "error 2.7.1 desc descriptor table at 0x1008 is not 16-byte aligned"
}

@test "finding: queue size not a power of two (2.7)" {
	check_finds bad-size "error 2.7 size queue size 6 is not a power of two"
}

@test "finding: ring area outside guest memory (2.7)" {
	check_finds area-outside "error 2.7 used used ring [0xfff8, +0x46) is not inside guest memory"
}

@test "finding: avail.ring entry not below the size (2.7.6)" {
	check_finds avail-head "error 2.7.6 avail.ring[1] head 9 is not below the queue size 8"
}

@test "finding: next not below the size (2.7.5.2)" {
	check_finds next-range "error 2.7.5.2 desc[0] next 12 is not below the queue size 8"
}

@test "finding: chain loop (2.7.5.2)" {
	check_finds loop "error 2.7.5.2 desc[1] next 0 loops back into the chain from head 0"
}

@test "finding: chain longer than the queue size (2.7.5.3.1)" {
	check_finds too-long \
		"error 2.7.5.3.1 desc[0].ind[8] chain from head 0 has more than 8 descriptors (the queue size)"
}

@test "finding: writable before readable (2.7.4.2)" {
	check_finds write-before-read \
		"error 2.7.4.2 desc[1] device-readable descriptor after a device-writable one"
}

@test "finding: INDIRECT with NEXT (2.7.5.3.1)" {
	check_finds indirect-next "error 2.7.5.3.1 desc[0] INDIRECT together with NEXT"
}

@test "finding: nested indirect (2.7.5.3.1)" {
	check_finds nested-indirect \
		"error 2.7.5.3.1 desc[0].ind[1] INDIRECT inside an indirect table (nested)"
}

@test "finding: indirect table of length 0 (2.7.5.3)" {
	check_finds indirect-len0 "error 2.7.5.3 desc[0] indirect table length is 0"
}

@test "finding: indirect table length not a multiple of 16 (2.7.5.3)" {
	check_finds indirect-len24 \
		"error 2.7.5.3 desc[0] indirect table length 24 is not a multiple of 16"
}

@test "finding: indirect without --indirect (2.7.5.3.1)" {
	check_finds indirect-not-negotiated \
		"error 2.7.5.3.1 desc[0] INDIRECT but VIRTIO_F_INDIRECT_DESC was not negotiated (see --indirect)"
}

@test "finding: buffer outside guest memory (2.7.5)" {
	check_finds outside-memory \
		"error 2.7.5 desc[0] buffer [0xfff8, +0x10) is not inside guest memory"
}

@test "finding: buffer wrapping past 2^64 (2.7.5)" {
	check_finds wrapping \
		"error 2.7.5 desc[0] buffer [0xfffffffffffff000, +0x2000) wraps past 2^64"
}

@test "finding: avail.idx more than size ahead of last_avail (2.7.6.1)" {
	check_finds avail-ahead \
		"error 2.7.6.1 avail.idx avail.idx 20 is 20 entries ahead of last_avail 0, more than the queue size 8"
}

@test "finding: used.idx ahead of what the device could have written (2.7.8)" {
	check_finds used-ahead \
		"error 2.7.8 used.idx used.idx 5 is ahead of what the device could have written (last_avail 3, at most 8 chains in flight)"
}

@test "finding: avail.flags reserved bits (2.7.7.1)" {
	check_finds avail-flags "error 2.7.7.1 avail.flags avail.flags 0x0004 have reserved bits set"
}

@test "finding: used.flags reserved bits (2.7.10.2)" {
	check_finds used-flags "error 2.7.10.2 used.flags used.flags 0x0002 have reserved bits set"
}

@test "finding: descriptor flags reserved bits are a warning, exit 0 (2.7.5)" {
	gen desc-flags
	run vq-inspect check --noheadings $args
	assert_success
	assert_output "warning 2.7.5 desc[0] flags 0x0010 have reserved bits set"
}

@test "finding: used.idx differs from --next-used is a warning (2.7.8)" {
	gen valid-split
	run vq-inspect check --noheadings $args --next-used 3
	assert_success
	assert_output "warning 2.7.8 used.idx used.idx 0 differs from the device's next_used 3"
}

@test "finding: packed event area misaligned (2.8.10.1)" {
	check_finds packed-misaligned \
		"error 2.8.10.1 driver driver event area at 0x2002 is not 4-byte aligned"
}

@test "finding: packed event flags reserved value (2.8.10)" {
	check_finds packed-event-flags "error 2.8.10 driver driver event flags value 3 is reserved"
}

@test "finding: packed INDIRECT in a NEXT list (2.8.19)" {
	check_finds packed-indirect-in-list \
		"error 2.8.19 desc[1] INDIRECT in a descriptor list linked by NEXT"
}

@test "finding: packed NEXT into a descriptor not made available (2.8.6)" {
	check_finds packed-unavailable-next \
		"error 2.8.6 desc[0] NEXT leads to desc[1], which the driver has not made available"
}

@test "finding: packed writable before readable (2.8.17)" {
	check_finds packed-write-before-read \
		"error 2.8.17 desc[1] device-readable descriptor after a device-writable one"
}

@test "finding: packed chain longer than the queue size (2.8.17)" {
	check_finds packed-too-long \
		"error 2.8.17 desc[0].ind[8] chain from desc 0 has more than 8 descriptors (the queue size)"
}

@test "Firecracker-style memory file: regions back to back, file offset is not the GPA" {
	gen valid-split
	# the image's first 32K at GPA 0, its second 32K at GPA 1M: the buffers (0x8000..) move
	run vq-inspect check --noheadings $args
	assert_success
	mem="$BATS_TEST_TMPDIR/valid-split.img"
	split_args=${args/--mem $mem/--mem $mem@0+0x8000,0x100000+0x8000}
	run vq-inspect check --noheadings $split_args
	assert_failure 1
	# several findings: the columns are aligned (the message, last, is never padded)
	assert_line --index 0 --regexp \
		'^error +2\.7\.5 +desc\[0\] +buffer \[0x8000, \+0x10\) is not inside guest memory$'
	# the same file given as two regions, at their own GPAs: clean again
	split_args=${args/--mem $mem/--mem $mem@0+0x8000,0x8000+0x8000}
	run vq-inspect check --noheadings $split_args
	assert_success
}

@test "several --mem files, each at its GPA" {
	gen valid-split
	mem="$BATS_TEST_TMPDIR/valid-split.img"
	head -c 32768 "$mem" >"$BATS_TEST_TMPDIR/low"
	tail -c 32768 "$mem" >"$BATS_TEST_TMPDIR/high"
	run vq-inspect check ${args/--mem $mem/--mem $BATS_TEST_TMPDIR/low --mem $BATS_TEST_TMPDIR/high@0x8000}
	assert_success
	assert_output ""
}

@test "--help and --version" {
	run vq-inspect --help
	assert_success
	assert_output --partial "Usage: vq-inspect [status|chains|check]"
	assert_output --partial "--last-avail"
	run vq-inspect --version
	assert_success
	assert_output --regexp '^vq-inspect [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "bad usage exits 2 with 'vq-inspect: what: why'" {
	gen valid-split
	mem="$BATS_TEST_TMPDIR/valid-split.img"
	run vq-inspect status --mem "$mem" --desc 0x1000 --avail 0x2000 --used 0x3000
	assert_failure 2
	assert_output "vq-inspect: --size: missing (see 'vq-inspect --help')"
	run vq-inspect status --size 8 --desc 0x1000 --avail 0x2000 --used 0x3000
	assert_failure 2
	assert_output "vq-inspect: --mem: missing (see 'vq-inspect --help')"
	run vq-inspect status --mem "$mem" --size 3 --desc 0x1000 --avail 0x2000 --used 0x3000
	assert_failure 2
	assert_output --partial "vq-inspect: --size: 3 is not a power of two"
	run vq-inspect status --mem "$mem" --size 70000 --desc 0x1000 --avail 0x2000 --used 0x3000
	assert_failure 2
	assert_output "vq-inspect: --size: '70000' is larger than 65535"
	run vq-inspect status --mem "$mem" --size 8 --desc zz --avail 0x2000 --used 0x3000
	assert_failure 2
	assert_output --partial "vq-inspect: --desc: 'zz' is not"
	run vq-inspect frobnicate $args
	assert_failure 2
	assert_output "vq-inspect: frobnicate: unknown command (status, chains or check)"
	run vq-inspect status --noheadings --raw $args --head 1
	assert_failure 2
	assert_output "vq-inspect: --head: only with the chains command"
	run vq-inspect --no-such-option
	assert_failure 2
}

@test "unreadable or inconsistent memory exits 2" {
	gen valid-split
	mem="$BATS_TEST_TMPDIR/valid-split.img"
	run vq-inspect check ${args/--mem $mem/--mem $BATS_TEST_TMPDIR/nonexistent}
	assert_failure 2
	assert_output "vq-inspect: --mem: $BATS_TEST_TMPDIR/nonexistent: No such file or directory"
	run vq-inspect check $args --mem "$mem@0x8000"
	assert_failure 2
	assert_output --partial "overlaps"
	run vq-inspect check ${args/--mem $mem/--mem $mem@0xfffffffffffff000}
	assert_failure 2
	assert_output --partial "wraps past 2^64"
	run vq-inspect check ${args/--mem $mem/--mem $mem@0+0x20000}
	assert_failure 2
	assert_output --partial "past the end of the file"
	# status and chains need a queue they can read; check reports it instead
	gen misaligned
	run vq-inspect status --noheadings --raw $args
	assert_failure 2
	assert_output "vq-inspect: queue: descriptor table at 0x1008 is not 16-byte aligned (see 'vq-inspect check')"
}

@test "--pid reads a running process's memory (this shell's copy of an image)" {
	[ -r /proc/self/mem ] || skip "no /proc/self/mem"
	gen valid-split
	# python keeps the image in its memory and prints the buffer's host address
	python3 - "$BATS_TEST_TMPDIR/valid-split.img" >"$BATS_TEST_TMPDIR/addr" <<'EOF' &
import ctypes, sys, time
data = open(sys.argv[1], "rb").read()
buf = ctypes.create_string_buffer(data, len(data))
print(hex(ctypes.addressof(buf)), flush=True)
time.sleep(30)
EOF
	pid=$!
	for _ in $(seq 50); do [ -s "$BATS_TEST_TMPDIR/addr" ] && break; sleep 0.1; done
	hva=$(cat "$BATS_TEST_TMPDIR/addr")
	mem="$BATS_TEST_TMPDIR/valid-split.img"
	run vq-inspect status --noheadings --raw ${args/--mem $mem/--pid $pid --mem $hva@0+0x10000}
	kill "$pid"
	assert_success
	assert_line "avail_idx 3"
}

@test "--mem: a 0-byte file is an error, not SIGBUS; a FIFO is refused, not waited on" {
	: >"$BATS_TEST_TMPDIR/empty"
	run vq-inspect status --mem "$BATS_TEST_TMPDIR/empty@0+0x10000" --size 8 --desc 0x1000 \
		--avail 0x2000 --used 0x3000
	assert_failure 2
	assert_output "vq-inspect: --mem: $BATS_TEST_TMPDIR/empty: offset 0x0 size 0x10000 is past the end of the file (0x0 bytes)"
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	# timeout: the old code blocked in open(2) for ever (status 124 here)
	run timeout 10 vq-inspect status --mem "$BATS_TEST_TMPDIR/fifo@0+0x10000" --size 8 \
		--desc 0x1000 --avail 0x2000 --used 0x3000
	assert_failure 2
	assert_output "vq-inspect: --mem: $BATS_TEST_TMPDIR/fifo: a FIFO, not a regular file"
}

# ---- a running mvm-run, through its API (--api-sock) ---------------------------------------

# A virtio-blk guest doing I/O for ever (or, with mode=stuck, a driver that broke the rules).
start_vblk() {
	mvm_api_setup
	[ -e "$G/vblk.elf" ] || "$REPO/tests/guests/build" "$G" >/dev/null
	truncate -s 1M "$T/disk.img"
	start_mvm --kernel "$G/vblk.elf" --disk "$T/disk.img" --cmdline "mode=$1"
	for _ in $(seq 100); do
		grep -q "^$2" "$T/console" && return 0
		sleep 0.05
	done
	echo "no '$2' from the guest" >&2
	return 1
}

teardown() {
	[ -z "${PID:-}" ] || mvm_api_teardown
}

@test "--api-sock: a guest doing virtio-blk I/O: check --pause finds nothing, and the VM runs on" {
	start_vblk forever "vblk io"
	run vq-inspect --api-sock "$API_SOCKET" --pause check
	assert_success
	assert_output ""
	api GET /
	assert_equal "$(jq -r .state <<<"$body")" Running
	counting
}

@test "--api-sock: status reads the rings the device's indices say (paused VM)" {
	start_vblk forever "vblk io"
	api PATCH /vm '{"state": "Paused"}'
	api GET /mvm/queues
	next_used=$(jq '.devices[0].queues[0].next_used' <<<"$body")
	next_avail=$(jq '.devices[0].queues[0].next_avail' <<<"$body")
	run vq-inspect --noheadings --raw --api-sock "$API_SOCKET" status
	api PATCH /vm '{"state": "Resumed"}'
	assert_success
	# used.idx is what the guest's memory holds; next_used what the device counted.
	assert_line "used_idx $next_used"
	assert_line "last_avail $next_avail"
	assert_line "size 8"
	[ "$next_used" -gt 64 ]
}

@test "--api-sock: stall diagnosis: a request the driver never notified is 'not-kicked'" {
	start_vblk nokick "vblk nokick"
	run vq-inspect --noheadings --raw --api-sock "$API_SOCKET" --pause status
	assert_success
	assert_line "pending 1"
	assert_line "stall not-kicked"
	# The device saw one notification per request of the write/read before: 2, and no more.
	assert_line "notifications 2"
	run vq-inspect --api-sock "$API_SOCKET" --pause check
	assert_success
	assert_output ""
}

@test "--api-sock: stall diagnosis of a queue with nothing outstanding: idle" {
	start_vblk idle "vblk idle interrupt_status 0"
	run vq-inspect --noheadings --raw --api-sock "$API_SOCKET" status
	assert_success
	assert_line "pending 0"
	assert_line "used_idx 2"
	assert_line "interrupts 2"
	# both requests signalled (avail.flags 0), and the driver acknowledged them
	assert_line "signalled_used 2"
	assert_line "interrupt_status 0x0"
	assert_line "stall idle"
}

@test "--api-sock: stall diagnosis: an interrupt the driver never acknowledged is 'interrupt-unacked'" {
	# The guest reads InterruptStatus itself: 1, the used-buffer bit (§4.2.2).
	start_vblk noack "vblk noack interrupt_status 1"
	run vq-inspect --noheadings --raw --api-sock "$API_SOCKET" status
	assert_success
	assert_line "pending 0"
	assert_line "used_idx 2"
	assert_line "signalled_used 2"
	assert_line "interrupt_status 0x1"
	assert_line "stall interrupt-unacked"
	run vq-inspect --api-sock "$API_SOCKET" --json status
	assert_success
	assert_equal "$(jq -r .stall <<<"$output")" interrupt-unacked
}

@test "--api-sock: a driver that moved avail.idx 100 ahead is reported with its section" {
	start_vblk stuck "vblk stuck"
	run vq-inspect --noheadings --api-sock "$API_SOCKET" --pause check
	assert_failure 1
	unalign
	assert_line --regexp '^error 2\.7\.6\.1 avail\.idx '
}

@test "--api-sock: options the API answers, a missing queue, and --pause alone are usage errors" {
	start_vblk forever "vblk io"
	run vq-inspect --api-sock "$API_SOCKET" --size 8 status
	assert_failure 2
	assert_output --partial "--size: not with --api-sock"
	run vq-inspect --api-sock "$API_SOCKET" --queue 1 status
	assert_failure 2
	assert_output --partial "no queue 1"
	run vq-inspect --api-sock "$API_SOCKET" --dev 1 status
	assert_failure 2
	run vq-inspect --pause status
	assert_failure 2
	assert_output --partial "--pause: only with --api-sock"
}

@test "--api-sock: no VM behind the socket: exit 1" {
	run vq-inspect --api-sock "$BATS_TEST_TMPDIR/none.sock" status
	assert_failure 1
	assert_output --partial "GET /mvm/queues"
}
