# helpers.bash: shared by every bats suite (CLI and lab): paths, assertions, snapshot trees.
# bats-support and bats-assert, sourced directly: their own loaders fork about 20 times per test,
# which costs seconds a test under the lab's emulation. Falls back to them if the layout differs.
if [ -d /usr/lib/bats/bats-support/src ] && [ -d /usr/lib/bats/bats-assert/src ]; then
	for helpers_f in /usr/lib/bats/bats-support/src/*.bash /usr/lib/bats/bats-assert/src/*.bash; do
		# shellcheck disable=SC1090
		source "$helpers_f" || return 1
	done
	unset helpers_f
else
	load /usr/lib/bats/bats-support/load
	load /usr/lib/bats/bats-assert/load
fi

# `run !` and `run -N` (bats 1.5) check a command's status where `! cmd` cannot.
bats_require_minimum_version 1.5.0

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$REPO/build:$PATH"

# snapshot SPEC: build tests/fixtures/SPEC.spec into a fresh tree; prints its path.
snapshot() {
	local dir
	dir=$(mktemp -d "${BATS_TEST_TMPDIR:-/tmp}/snap.XXXXXX")
	"$REPO/tests/fixtures/mksysfs" "$REPO/tests/fixtures/$1.spec" "$dir" >&2 || return 1
	echo "$dir"
}

# A whole tree's content (paths, link targets, file contents) to compare before and after. Fails
# when the tree cannot be read: the digest of nothing would compare equal to itself.
tree_digest() {
	(
		set -o pipefail
		cd "$1" || exit 1
		{
			find . -printf '%p %l\n' | sort || exit 1
			find . -type f -print0 | sort -z | xargs -0 -r cat
		} | md5sum
	)
}

# Seconds a Linux guest booted by mvm-run inside the lab may take, start to power-off, before it
# counts as a hang: about three times the slowest run measured on a busy 2-core host. A stall
# fails the test within minutes, with the guest's console in the test's output.
GUEST_BOUND=${GUEST_BOUND:-240}

# Every lab suite's setup_file calls this first: a lab suite rebinds devices, loads modules and
# formats a disk, so run anywhere but in the lab VM it fails before it touches anything. The
# lab's marks: the hostname its init sets, the device addresses tests/lab/lab exports, and at
# one of them QEMU's edu device (1234:11e8), which no real machine has.
lab_guard() {
	local edu=/sys/bus/pci/devices/${LAB_BDF_EDU:-none}
	if [ "$(cat /proc/sys/kernel/hostname)" = lab ] && [ -n "${LAB_BDF_EDU:-}" ] &&
		[ "$(cat "$edu/vendor" 2>/dev/null)" = 0x1234 ] &&
		[ "$(cat "$edu/device" 2>/dev/null)" = 0x11e8 ]; then
		return 0
	fi
	# bats runs teardown_file even when setup_file fails: a suite's teardown (vfio-bind
	# --restore --all, say) must not run here either.
	teardown_file() { :; }
	local suite=${BATS_TEST_FILENAME#"$REPO"/}
	echo "${suite##*/}: not inside the lab VM: this suite rebinds devices and loads modules;" \
		"run it with tests/lab/lab run -- bats --tap $suite" >&2
	return 1
}

# unalign: after `run TOOL --noheadings ...`, the table's padding collapsed, so that $output and
# $lines compare as fields one space apart (as --raw prints them, but with a field's own blanks
# kept as blanks, and any run of them collapsed to one).
unalign() {
	output=$(tr -s ' ' <<<"$output")
	mapfile -t lines <<<"$output"
}
