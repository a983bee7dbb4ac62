# helpers.bash: shared by every bats suite (CLI and lab): paths, assertions, snapshot trees.
load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$REPO/build:$PATH"

# snapshot SPEC: build tests/fixtures/SPEC.spec into a fresh tree; prints its path.
snapshot() {
	local dir
	dir=$(mktemp -d "${BATS_TEST_TMPDIR:-/tmp}/snap.XXXXXX")
	"$REPO/tests/fixtures/mksysfs" "$REPO/tests/fixtures/$1.spec" "$dir" >&2 || return 1
	echo "$dir"
}

# A whole tree's content (paths, link targets, file contents) to compare before and after.
tree_digest() {
	(cd "$1" && find . -printf '%p %l\n' | sort && find . -type f -print0 | sort -z | xargs -0 cat) | md5sum
}
