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
	assert_output --regexp "CPU#0"$'\n'".*RAX="
	assert_output --regexp "CPU#1"$'\n'".*RAX="
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
