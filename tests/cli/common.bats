#!/usr/bin/env bats
# What every tool ships: --help, --version, a man page that renders cleanly, bash and zsh completions.

load ../helpers

tools() {
	local f
	for f in "$REPO"/cmd/*.c; do
		f=${f##*/}
		echo "${f%.c}"
	done
}

@test "every tool answers --help and --version with status 0" {
	for t in $(tools); do
		run "$REPO/build/$t" --help
		assert_success
		assert_output --partial "Usage: $t"
		assert_output --partial "--json"
		run "$REPO/build/$t" --version
		assert_success
		assert_output --regexp "^$t [0-9]+\.[0-9]+\.[0-9]+$"
	done
}

@test "every tool has a man page that renders without warnings" {
	for t in $(tools); do
		[ -f "$REPO/man/$t.1" ] || fail "man/$t.1 is missing"
		run bash -c "MANWIDTH=80 man --warnings -l '$REPO/man/$t.1' 2>&1 >/dev/null"
		assert_success
		assert_output ""
		run bash -c "MANWIDTH=80 man -l '$REPO/man/$t.1' | col -b"
		assert_output --partial "EXIT STATUS"
	done
}

@test "every tool has a bash completion that completes its options" {
	for t in $(tools); do
		[ -f "$REPO/completions/bash/$t" ] || fail "completions/bash/$t is missing"
		run bash -c "source '$REPO/completions/bash/$t'
			fn=\$(complete -p $t | sed -E 's/.*-F ([^ ]+).*/\\1/')
			COMP_WORDS=($t --j); COMP_CWORD=1; \$fn; printf '%s\n' \"\${COMPREPLY[@]}\""
		assert_success
		assert_output --partial "--json"
	done
}

@test "every tool has a zsh completion that parses" {
	for t in $(tools); do
		[ -f "$REPO/completions/zsh/_$t" ] || fail "completions/zsh/_$t is missing"
		run zsh -n "$REPO/completions/zsh/_$t"
		assert_success
		head -1 "$REPO/completions/zsh/_$t" | grep -q "^#compdef $t"
	done
}

@test "vfio-bind's bash completion offers PCI addresses from sysfs" {
	run bash -c "source '$REPO/completions/bash/vfio-bind'; COMP_WORDS=(vfio-bind ''); COMP_CWORD=1
		_vfio_bind; printf '%s\n' \"\${COMPREPLY[@]}\""
	assert_success
	first=$(ls /sys/bus/pci/devices | head -1)
	assert_line "$first"
}

@test "make install puts tools, man pages and completions under PREFIX" {
	dest=$BATS_TEST_TMPDIR/inst
	run make -C "$REPO" -s install DESTDIR="$dest" PREFIX=/usr
	assert_success
	for t in $(tools); do
		[ -x "$dest/usr/bin/$t" ]
		[ -f "$dest/usr/share/man/man1/$t.1" ]
		[ -f "$dest/usr/share/bash-completion/completions/$t" ]
		[ -f "$dest/usr/share/zsh/vendor-completions/_$t" ]
	done
}

@test "bats suites have no assertion that bash ignores (tests/lint-bats)" {
	run "$REPO/tests/lint-bats"
	assert_success
	assert_output ""
}

@test "lint-bats flags each form that cannot fail, and not the forms that can" {
	f=$REPO/tests/fixtures/lint-bats/sample.bats.txt
	run "$REPO/tests/lint-bats" "$f"
	assert_failure 1
	assert_line --index 0 --partial "$f:5: \"! CMD\" never fails the test"
	assert_line --index 1 --partial "$f:6: \"A && B\" before the end of its body"
	assert_line --index 2 --partial "$f:7: \"\$(...)\" in the arguments of a retry helper"
	assert_line --index 3 --partial "$f:8: \"! CMD\""
	[ "${#lines[@]}" -eq 4 ]
	run "$REPO/tests/lint-bats" "$BATS_TEST_TMPDIR/missing.bats"
	assert_failure 2
	assert_output "lint-bats: $BATS_TEST_TMPDIR/missing.bats: cannot read it"
}
