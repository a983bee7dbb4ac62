#!/usr/bin/env bats
# make install and uninstall into a prefix of their own, and the systemd units they install:
# systemd-analyze verify (systemd's own parser, the ExecStart binaries and the Documentation=
# man pages resolved) passes on both without a warning.

load ../helpers

setup_file() {
	export P=$BATS_FILE_TMPDIR/prefix
	make -s -C "$REPO" install PREFIX="$P" >&2
}

# systemd-analyze verify on a unit file; man pages looked up in the prefix.
verify() { MANPATH=$P/share/man SYSTEMD_LOG_COLOR=0 systemd-analyze verify "$P/lib/systemd/system/$1"; }

@test "make install: tools, man pages, completions and units in their places" {
	local t
	for t in vfio-bind vfio-dmamap vfio-msix vq-inspect mvm-run; do
		[ -x "$P/bin/$t" ]
		[ -f "$P/share/man/man1/$t.1" ]
		[ -f "$P/share/bash-completion/completions/$t" ]
		[ -f "$P/share/zsh/vendor-completions/_$t" ]
	done
	[ -f "$P/lib/systemd/system/vfio-bind@.service" ]
	[ -f "$P/lib/systemd/system/mvm-run@.service" ]
	run grep -h '^Exec' "$P"/lib/systemd/system/*.service
	assert_line "ExecStart=$P/bin/vfio-bind --group %I"
	assert_line "ExecStop=$P/bin/vfio-bind --restore --group %I"
	assert_line "ExecStart=$P/bin/mvm-run --config /etc/mvm-run/%I.json --console stdio"
}

@test "systemd-analyze verify: vfio-bind@.service, no warning" {
	run verify vfio-bind@.service
	assert_success
	assert_output ""
}

@test "systemd-analyze verify: mvm-run@.service, no warning" {
	run verify mvm-run@.service
	assert_success
	assert_output ""
}

@test "mvm-run@.service: Type=notify, console to the journal, devices closed but KVM and VFIO" {
	local u=$P/lib/systemd/system/mvm-run@.service
	grep -qx 'Type=notify' "$u"
	grep -qx 'StandardOutput=journal' "$u"
	grep -qx 'DevicePolicy=closed' "$u"
	grep -qx 'DeviceAllow=/dev/kvm rw' "$u"
	grep -qx 'DeviceAllow=char-vfio rw' "$u"
	grep -qx 'NoNewPrivileges=yes' "$u"
	grep -qx 'PrivateTmp=yes' "$u"
	# mvm-run sends READY=1 through libsystemd (when built with it: Debian's is)
	if pkg-config --exists libsystemd; then
		run readelf -d "$REPO/build/mvm-run"
		assert_output --partial "libsystemd.so"
		run readelf --dyn-syms -W "$REPO/build/mvm-run"
		assert_output --partial "sd_notify"
	fi
}

@test "make uninstall removes what make install put there" {
	make -s -C "$REPO" uninstall PREFIX="$P"
	run find "$P" -type f
	assert_output ""
}
