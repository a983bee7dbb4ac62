# tests/lab/bats-libs.bash: bats-support and bats-assert for the lab's bats files, loaded fast.
#   load bats-libs        (from a .bats file in tests/lab/)
# Their own loaders (load.bash) run "$(dirname ...)" once per sourced file: about 20 forks and
# execs per test, which cost seconds a test under the lab's TCG emulation. This sources the
# same files directly; if the layout differs, it falls back to the standard loaders.
bats_libs_dir=/usr/lib/bats
if [ -d "$bats_libs_dir/bats-support/src" ] && [ -d "$bats_libs_dir/bats-assert/src" ]; then
	for bats_libs_f in "$bats_libs_dir"/bats-support/src/*.bash "$bats_libs_dir"/bats-assert/src/*.bash; do
		# shellcheck disable=SC1090
		source "$bats_libs_f" || return 1
	done
	unset bats_libs_f
else
	load "$bats_libs_dir/bats-support/load"
	load "$bats_libs_dir/bats-assert/load"
fi
unset bats_libs_dir
