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

@test "run: a skip is reported outside CI, fails under CI=true unless tests/skips.allowed has it" {
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

@test "run: unit and unit-asan are tiers of their own, with counts and times; the total is last" {
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
# output after N suites and exits 125, as a lab VM that died would. LAB_FAKE_LOCKUPS=K: the
# first K boots (counted in $LAB_FAKE_BOOTS) lock up as the real lab reports it, one line into
# the suite after the first LAB_FAKE_STOP_AFTER.
fake_lab() {
	mkdir -p "$R/tests/lab"
	cat >"$R/tests/lab/lab" <<-'EOF'
		#!/usr/bin/env bash
		while [ "$1" != -- ]; do shift; done
		shift
		echo boot >>"$LAB_FAKE_BOOTS"
		if [ -n "${LAB_FAKE_LOCKUPS:-}" ]; then
			[ "$(wc -l <"$LAB_FAKE_BOOTS")" -gt "$LAB_FAKE_LOCKUPS" ] && exec "$@"
			"$@" | awk -v n="$LAB_FAKE_STOP_AFTER" '
				{ print }
				/^@@suite-end/ { k++ }
				k == n && /^(not )?ok / { exit }'
			echo "lab: the lab's kernel locked up while the command ran: no heartbeat" >&2
			exit 125
		fi
		[ -z "${LAB_FAKE_STOP_AFTER:-}" ] && exec "$@"
		"$@" | awk -v n="$LAB_FAKE_STOP_AFTER" '
			{ print }
			/^@@suite-end/ && ++k == n { exit }'
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

@test "run: a lab VM that locks up is booted again once for the suites from the one it stopped in" {
	fake_lab
	printf '@test "c1" { true; }\n' >"$R/tests/lab/cc.bats"
	LAB_FAKE_BOOTS=$T/boots LAB_FAKE_LOCKUPS=1 LAB_FAKE_STOP_AFTER=1 run "$R/tests/run" lab
	assert_failure 1
	assert_line "== lab VM: tests/lab/aa.bats tests/lab/bb.bats tests/lab/cc.bats"
	assert_line --partial "lab: the lab VM locked up in tests/lab/bb.bats: rerunning tests/lab/bb.bats tests/lab/cc.bats in a new lab VM (1 of 1)"
	assert_line "== lab VM: tests/lab/bb.bats tests/lab/cc.bats"
	[ "$(wc -l <"$T/boots")" -eq 2 ]
	# aa counted once from the first boot, bb's partial "not ok" dropped, its rerun counted
	assert_line --regexp "^lab 3 passed 1 failed [0-9]+s \(1 lab lockup, rerun\)$"
	[ "$(last_line)" = "3 passed, 1 failed" ]
}

@test "run: a second lab lockup is not rerun: the suites it kept from running fail by name" {
	fake_lab
	LAB_FAKE_BOOTS=$T/boots LAB_FAKE_LOCKUPS=2 LAB_FAKE_STOP_AFTER=0 run "$R/tests/run" lab
	assert_failure 1
	[ "$(wc -l <"$T/boots")" -eq 2 ]
	assert_line "not ok - tests/lab/bb.bats: did not run (the lab VM stopped first, status 125)"
	assert_line --regexp "^not ok - tests/lab/aa.bats: (reported 1 results|exited with status 125)"
	[ "$(last_line)" = "1 passed, 3 failed" ]
}

@test "run: a lab suite that leaves a device on another driver or override fails by name" {
	fake_lab
	mkdir -p "$T/pci/0000:00:06.0"
	echo '(null)' >"$T/pci/0000:00:06.0/driver_override"
	printf '@test "c1" { echo vfio-pci >%s; }\n' "$T/pci/0000:00:06.0/driver_override" \
		>"$R/tests/lab/cc.bats"
	LAB_PCI_DEVICES=$T/pci run "$R/tests/run" lab
	assert_failure 1
	assert_line "not ok - tests/lab/cc.bats: left devices changed: > 0000:00:06.0 - vfio-pci "
	refute_line --partial "not ok - tests/lab/aa.bats: left"
	[ "$(last_line)" = "3 passed, 2 failed" ]
}

# What a lab suite could change on this machine: drivers, overrides, modules, vfio-bind's state.
host_state() {
	local d
	for d in /sys/bus/pci/devices/*; do
		echo "$d $(readlink "$d/driver") $(cat "$d/driver_override" 2>/dev/null)"
	done
	ls /sys/module
	cat /run/vfio-bind/state 2>/dev/null
	ip -o link show | cut -d: -f2
}

# Every lab suite, in a copy of the tree whose tools and system commands only log that they ran.
@test "guard: every lab suite run outside the lab VM fails with the reason and runs nothing" {
	local s before
	mkdir -p "$T/c/tests/lab" "$T/c/tests/cli" "$T/c/build" "$T/bin"
	cp "$REPO"/tests/*.bash "$T/c/tests/"
	cp "$REPO"/tests/cli/*.bash "$T/c/tests/cli/" # helpers some lab suites load too
	cp "$REPO"/tests/lab/*.bats "$T/c/tests/lab/"
	for s in vfio-bind vfio-dmamap vfio-msix vq-inspect mvm-run; do
		printf '#!/bin/sh\necho "%s $*" >>%s\nexit 1\n' "$s" "$T/ran" >"$T/c/build/$s"
	done
	for s in modprobe rmmod ip mkfs.ext4 mount umount dd setpci driverctl; do
		printf '#!/bin/sh\necho "%s $*" >>%s\nexit 1\n' "$s" "$T/ran" >"$T/bin/$s"
	done
	chmod +x "$T"/c/build/* "$T"/bin/*
	before=$(host_state)
	for s in "$T"/c/tests/lab/*.bats; do
		PATH=$T/bin:$PATH run bats --tap "$s"
		assert_failure
		assert_output --partial "${s##*/}: not inside the lab VM: this suite rebinds"
		assert_output --partial "run it with tests/lab/lab run -- bats --tap"
		refute_output --regexp '(^|'$'\n'')ok '
		[ ! -e "$T/ran" ] || fail "${s##*/} ran: $(cat "$T/ran")"
	done
	[ "$(host_state)" = "$before" ]
}

@test "guard: bats tests/lab/vfio-bind.bats on this host fails, naming the lab, changing nothing" {
	# Only once a copy with harmless tools has stopped at the guard (the test above): a suite
	# that passed the guard here would rebind this machine's devices.
	mkdir -p "$T/c/tests/lab" "$T/c/build"
	cp "$REPO"/tests/helpers.bash "$T/c/tests/"
	cp "$REPO"/tests/lab/vfio-bind.bats "$T/c/tests/lab/"
	printf '#!/bin/sh\ntouch %s\nexit 1\n' "$T/ran" >"$T/c/build/vfio-bind"
	chmod +x "$T/c/build/vfio-bind"
	run bats --tap "$T/c/tests/lab/vfio-bind.bats"
	assert_output --partial "not inside the lab VM"
	[ ! -e "$T/ran" ]
	local before
	before=$(host_state)
	cd "$REPO"
	run bats --tap tests/lab/vfio-bind.bats
	assert_failure 1
	assert_output --partial "vfio-bind.bats: not inside the lab VM: this suite rebinds devices"
	assert_output --partial "run it with tests/lab/lab run -- bats --tap tests/lab/vfio-bind.bats"
	[ "$(host_state)" = "$before" ]
}

# The external commands the tests, the lab and the benchmarks call (beyond bash builtins and
# the compiler, which make needs anyway). Add one here when a script starts using it.
TEST_COMMANDS=(bats jq perl python3 xz readelf ld clang busybox qemu-system-x86_64 lspci setpci
	modprobe depmod mkfs.ext4 ip dmesg mount setpriv flock timeout driverctl zsh man groff awk
	sed grep find apt-get dpkg md5sum sha256sum clang-format systemd-analyze udevadm debootstrap
	lintian dpkg-buildpackage dpkg-deb chroot)

# The Debian package that installs a command, looked up by dpkg (usr-merged: /bin and /usr/bin),
# without its architecture (dpkg -S says clang-format:amd64).
package_of() {
	local d f
	for d in /usr/bin /bin /usr/sbin /sbin; do
		[ -e "$d/$1" ] || continue
		for f in "$d/$1" "$(realpath "$d/$1")"; do
			dpkg -S "$f" 2>/dev/null | sed -n '1{s/: .*//;s/:[a-z0-9]*$//;p}' | grep . &&
				return 0
		done
	done
	return 1
}

@test "deps: every command the tests call is installed, from a package make deps installs" {
	local deps c p q
	deps=$(make -s -C "$REPO" --eval 'print-deps: ; @echo $(DEB_DEPS)' print-deps)
	# with what they depend on (python3 brings python3-minimal, which holds /usr/bin/python3)
	deps=" $deps $(apt-cache depends $deps | sed -n 's/^ *\(Pre\)\{0,1\}Depends: //p') "
	deps=${deps//$'\n'/ }
	for c in "${TEST_COMMANDS[@]}"; do
		command -v "$c" >/dev/null || fail "$c is not on PATH"
		p=$(package_of "$c") || fail "$c: no Debian package installs it"
		[[ $deps == *" $p "* ]] && continue
		q=$(dpkg-query -W -f='${Essential} ${Priority}' "$p")
		[[ $q == yes* || $q == *required ]] ||
			fail "$c comes from $p, neither in make deps (DEB_DEPS) nor Essential"
	done
}
