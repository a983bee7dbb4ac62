#!/usr/bin/env bats
# The test machinery itself: tests/run (plans, empty tiers, skips in CI, per-tier lines, one lab
# boot split per suite), the guard that keeps lab suites off a real host, and make deps.

load ../helpers

setup() {
	T=$BATS_TEST_TMPDIR
	# A checkout of its own for tests/run: fake suites in build/ and tests/, nothing else.
	R=$T/r
	mkdir -p "$R/tests" "$R/build"
	cp "$REPO/tests/run" "$R/tests/run"
}

# fake_unit PATH TAP-LINES...: a "unit binary" printing the given lines, exiting 0.
fake_unit() {
	local f=$R/build/$1; shift
	mkdir -p "${f%/*}"
	{
		echo '#!/bin/sh'
		printf "echo '%s'\n" "$@"
	} >"$f"
	chmod +x "$f"
}

# The last line of the output.
last_line() { echo "${lines[${#lines[@]} - 1]}"; }

@test "run: a tier with nothing built is one failure, not 0 passed" {
	run "$R/tests/run" unit
	assert_failure 1
	assert_line --partial "unit: no test binaries in build/unit"
	[ "$(last_line)" = "0 passed, 1 failed" ]
	run "$R/tests/run" fuzz
	assert_failure 1
	[ "$(last_line)" = "0 passed, 1 failed" ]
}

@test "run: a suite that reports fewer results than its plan fails, so does one with no plan" {
	fake_unit unit/test_short "1..3" "ok 1 a" "ok 2 b"
	run "$R/tests/run" unit
	assert_failure 1
	assert_line "not ok - unit/test_short: reported 2 results, its plan says 3 (stopped early?)"
	[ "$(last_line)" = "2 passed, 1 failed" ]
	rm "$R/build/unit/test_short"
	fake_unit unit/test_noplan "ok 1 a"
	run "$R/tests/run" unit
	assert_failure 1
	assert_line "not ok - unit/test_noplan: printed no TAP plan (1..N)"
	[ "$(last_line)" = "1 passed, 1 failed" ]
	fake_unit unit/test_noplan "ok 1 a" "1..1" # a trailing plan, as check.h prints it
	run "$R/tests/run" unit
	assert_success
	[ "$(last_line)" = "1 passed, 0 failed" ]
}

@test "run: a skip is reported outside CI, fails under CI=true unless tests/skips.allowed lists it" {
	fake_unit unit/test_s "ok 1 a" "ok 2 b # skip no device" "1..2"
	CI= run "$R/tests/run" unit
	assert_success
	[ "$(last_line)" = "1 passed, 0 failed, 1 skipped" ]
	CI=true run "$R/tests/run" unit
	assert_failure 1
	assert_line "not ok - unit/test_s: 'b' skipped in CI (not listed in tests/skips.allowed)"
	[ "$(last_line)" = "1 passed, 1 failed" ]
	printf '# b needs a device CI machines lack\nunit/test_s: b\n' >"$R/tests/skips.allowed"
	CI=true run "$R/tests/run" unit
	assert_success
	[ "$(last_line)" = "1 passed, 0 failed, 1 skipped" ]
	printf '# unit/test_s: b\n' >"$R/tests/skips.allowed" # a commented entry allows nothing
	CI=true run "$R/tests/run" unit
	assert_failure 1
}

@test "run: unit and unit-asan are tiers of their own, each with counts and time; the total is last" {
	fake_unit unit/test_a "ok 1 a" "ok 2 b" "1..2"
	fake_unit asan/unit/test_a "ok 1 a" "ok 2 b" "1..2"
	fake_unit asan/unit/test_c "ok 1 c" "not ok 2 d" "1..2"
	run "$R/tests/run" unit unit-asan
	assert_failure 1
	[ "${lines[${#lines[@]} - 3]}" = "unit 2 passed 0 failed 0s" ]
	[ "${lines[${#lines[@]} - 2]}" = "unit-asan 3 passed 1 failed 0s" ]
	[ "$(last_line)" = "5 passed, 1 failed" ]
	assert_line "failed: asan/unit/test_c"
}

# A stand-in for tests/lab/lab that runs the command here; LAB_FAKE_STOP_AFTER=N stops the
# output after N suites and exits 125, as a lab VM that died would.
fake_lab() {
	mkdir -p "$R/tests/lab"
	cat >"$R/tests/lab/lab" <<-'EOF'
		#!/usr/bin/env bash
		while [ "$1" != -- ]; do shift; done
		shift
		[ -z "${LAB_FAKE_STOP_AFTER:-}" ] && exec "$@"
		"$@" | awk -v n="$LAB_FAKE_STOP_AFTER" '{ print } /^@@suite-end/ && ++k == n { exit }'
		exit 125
	EOF
	chmod +x "$R/tests/lab/lab"
	printf '@test "a1" { true; }\n@test "a2" { true; }\n' >"$R/tests/lab/aa.bats"
	printf '@test "b1" { false; }\n' >"$R/tests/lab/bb.bats"
}

@test "run: all lab suites share one boot and are still counted and named one by one" {
	fake_lab
	run "$R/tests/run" lab
	assert_failure 1
	assert_line "== lab VM: tests/lab/aa.bats tests/lab/bb.bats"
	assert_line "failed: tests/lab/bb.bats"
	refute_line "failed: tests/lab/aa.bats"
	[ "$(grep -c '^== lab VM' <<<"$output")" -eq 1 ]
	[ "$(last_line)" = "2 passed, 1 failed" ]
}

@test "run: lab suites the VM never reached fail by name" {
	fake_lab
	LAB_FAKE_STOP_AFTER=1 run "$R/tests/run" lab
	assert_failure 1
	assert_line "not ok - tests/lab/bb.bats: did not run (the lab VM stopped first, status 125)"
	[ "$(last_line)" = "2 passed, 1 failed" ]
}
