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
