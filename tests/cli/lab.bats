#!/usr/bin/env bats
# tests/lab/lab itself, from the host: a run that hangs or whose kernel locks up is a failure
# reported at once, with the lab CPUs' state, never a wait for the whole time limit.

load ../helpers

LAB=$REPO/tests/lab/lab

@test "a soft lockup reported by the lab's kernel ends the run at once: exit 125, CPUs shown" {
	# The command's output shares the console with the kernel's messages: a line in the
	# kernel's words stands for the real report (seen in the lab as the nested-guest stall).
	local t0=$SECONDS
	run "$LAB" run --timeout 400 -- sh -c \
		'echo "watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [mvm-run:297]"; sleep 300'
	assert_failure 125
	assert_output --partial "lab: the lab's kernel locked up while the command ran: watchdog: BUG: soft lockup - CPU#1"
	# every CPU of the lab (LAB_SMP, 1 by default), with its registers
	assert_output --regexp "CPU#0.*RAX=.*RIP=[0-9a-f]{16}"
	# and its local APIC: the timer's mode and vector, the in-service and pending vectors
	assert_output --partial "dumping local APIC state for CPU 0"
	assert_output --regexp "LVTT.*vec [0-9]+"
	assert_output --regexp "  ISR	 "
	# well before the command's own 300 s
	[ $((SECONDS - t0)) -lt 240 ]
}

@test "a command that runs past --timeout: exit 124, its output so far and the CPUs shown" {
	run "$LAB" run --timeout 150 -- sh -c 'echo before-the-hang; sleep 1000'
	assert_failure 124
	assert_line "before-the-hang"
	assert_output --partial "lab: timeout: the command ran past 150 s; VM killed"
	assert_output --regexp "RIP=[0-9a-f]{16}"
}

@test "a lab kernel that stops on every CPU (no heartbeat) ends the run: exit 125, CPUs shown" {
	export TMPDIR=$BATS_TEST_TMPDIR # the lab's run folder, with its monitor socket, lands here
	LAB_HEARTBEAT=20 "$LAB" run --timeout 400 -- sh -c 'echo command-started; sleep 300' \
		>"$BATS_TEST_TMPDIR/out" 2>&1 &
	local pid=$! i mon
	for i in $(seq 300); do
		grep -q command-started "$BATS_TEST_TMPDIR/out" && break
		sleep 1
	done
	grep -q command-started "$BATS_TEST_TMPDIR/out" || fail "the command never started"
	mon=$(ls "$BATS_TEST_TMPDIR"/vfio-lab.*/monitor)
	# QEMU's "stop" freezes every CPU, as a lockup of the whole kernel leaves them.
	perl -MIO::Socket::UNIX -e 'my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die;
		print $s "stop\n"; sleep 1' "$mon"
	local t0=$SECONDS
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 125 ] || fail "lab run exited $status: $(cat "$BATS_TEST_TMPDIR/out")"
	grep -q "lab: the lab's kernel locked up while the command ran: no heartbeat from its init" \
		"$BATS_TEST_TMPDIR/out" || fail "no lockup report: $(cat "$BATS_TEST_TMPDIR/out")"
	grep -qE "RIP=[0-9a-f]{16}" "$BATS_TEST_TMPDIR/out"
	[ $((SECONDS - t0)) -lt 120 ]
}

@test "the lab's kernel ticks periodically: a timer interrupt QEMU leaves pending goes in a tick later" {
	# tests/lab/lab, nohz=off highres=off: with a one-shot local APIC timer the lab locked up
	# in 3 of 4 runs of back-to-back nested boots (the vector pending in IRR, nothing rearming it)
	run "$LAB" run --timeout 300 -- cat /proc/timer_list
	assert_success
	assert_output --regexp "Clock Event Device: lapic"
	# the lab's one CPU's clock event device: the local APIC timer, periodic, the tick handler
	local lapic
	lapic=$(awk '/Clock Event Device: lapic/ { f = 1 } f && /event_handler:/ { print $2; exit }' <<<"$output")
	[ "$lapic" = tick_handle_periodic ]
}

@test "the lab's kernel survives patching its own code while it runs it (one CPU)" {
	# Toggling a static key rewrites kernel code with int3 (text_poke_bp) while the scheduler
	# that holds it runs. With two CPUs under QEMU 7.2's multi-threaded TCG this wedged the lab
	# within 100 toggles (LAB_SMP=2 shows it): the passthrough suite's stall.
	run env LAB_HEARTBEAT=60 "$LAB" run --timeout 400 -- bash -c '
		(while :; do /bin/true; done) &
		(while :; do /bin/true; done) &
		for i in $(seq 1500); do
			echo 1 >/proc/sys/kernel/sched_schedstats
			echo 0 >/proc/sys/kernel/sched_schedstats
		done
		echo "toggled $i times"'
	assert_success
	assert_line "toggled 1500 times"
}
