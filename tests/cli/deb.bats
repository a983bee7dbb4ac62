#!/usr/bin/env bats
# The Debian package: `make deb` builds it (lintian clean) in the tree only, and it installs into
# a clean Debian root with dpkg and apt as on a real system. The root is a debootstrap minbase
# of this host's release (tests/debroot, built once and cached), seen through an overlay so
# that every run starts clean: dpkg -i alone stops at the missing libraries its shlibs Depends
# name, apt-get install -f brings them (from the root's own package cache), the tools run, man
# finds the pages, the completions and units are where bash-completion, zsh and systemd look,
# and dpkg -r leaves none of its files behind. The demo flow with the packaged tools runs in
# the lab (tests/lab/deb.bats): it needs VFIO.

load ../helpers

setup_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	local base
	base=$("$REPO/tests/debroot") || return 1
	export R=$BATS_FILE_TMPDIR/root
	mkdir -p "$R" "$BATS_FILE_TMPDIR/upper" "$BATS_FILE_TMPDIR/work"
	mount -t overlay overlay -o "lowerdir=$base,upperdir=$BATS_FILE_TMPDIR/upper,workdir=$BATS_FILE_TMPDIR/work" "$R"
	mount -t proc proc "$R/proc"
}

teardown_file() {
	[ -n "${R:-}" ] || return 0
	umount "$R/proc" 2>/dev/null || true
	umount "$R" 2>/dev/null || true
}

setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (mount, chroot, dpkg)"
}

in_root() { chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

@test "make deb: the package in build/deb, lintian clean, nothing written outside the tree" {
	local outside
	outside=$(ls -d "$REPO"/../vfio-toolkit_* 2>/dev/null | wc -l)
	run make -s -C "$REPO" deb
	assert_success
	refute_output --regexp '^[EWI]: '
	[ -f "$REPO/build/deb/vfio-toolkit_0.1.0_amd64.deb" ]
	[ "$(ls -d "$REPO"/../vfio-toolkit_* 2>/dev/null | wc -l)" -eq "$outside" ]
	cp "$REPO/build/deb/vfio-toolkit_0.1.0_amd64.deb" "$R/tmp/"
}

@test "Build-Depends names the package of every pkg-config module the Makefile builds with" {
	# the modules: PKGS, CLI_PKGS and each `pkg-config --libs M` of the Makefile; the package
	# that ships each one's .pc file is dpkg's answer, not a list kept here
	local mods m pc pkg bdeps missing=
	mods=$(sed -n -e 's/^\(CLI_\)\{0,1\}PKGS *:= *//p' -e 's/.*pkg-config --libs \([a-z][a-z0-9_-]*\).*/\1/p' \
		"$REPO/Makefile" | tr ' ' '\n' | sort -u | grep .)
	[ "$(wc -l <<<"$mods")" -ge 7 ] || fail "found only: $mods"
	bdeps=$(sed -n '/^Build-Depends:/,/^[A-Z]/p' "$REPO/debian/control" | tr -d ' ,' | sed 's/^Build-Depends://')
	for m in $mods; do
		pc=$(pkg-config --variable=pcfiledir "$m")/$m.pc
		pkg=$(dpkg -S "$pc" | cut -d: -f1) || fail "no package ships $pc"
		grep -qx "$pkg" <<<"$bdeps" || missing+=" $pkg($m)"
	done
	[ -z "$missing" ] || fail "debian/control's Build-Depends lacks:$missing"
}

@test "dpkg -i alone: the libraries shlibs found are missing from a minbase root" {
	run in_root dpkg -i /tmp/vfio-toolkit_0.1.0_amd64.deb
	assert_failure
	assert_output --partial "vfio-toolkit depends on libjson-c5"
	assert_output --partial "vfio-toolkit depends on libpci3"
	assert_output --partial "vfio-toolkit depends on libpopt0"
	[ "$(in_root dpkg-query -W -f='${Status}' vfio-toolkit)" = "install ok unpacked" ]
}

@test "apt-get install -f brings the dependencies and configures the package" {
	run in_root apt-get install -f -y -q --no-download
	assert_success
	[ "$(in_root dpkg-query -W -f='${Status}' vfio-toolkit)" = "install ok installed" ]
	[ "$(in_root dpkg-query -W -f='${Status}' libjson-c5)" = "install ok installed" ]
}

@test "the installed tools run: --version of each" {
	local t
	for t in vfio-bind vfio-dmamap vfio-msix vq-inspect mvm-run; do
		run in_root "$t" --version
		assert_success
		assert_output "$t 0.1.0"
	done
	# the libraries they link are all in the root (no missing soname)
	run in_root ldd /usr/bin/mvm-run /usr/bin/vfio-bind
	refute_output --partial "not found"
}

@test "man -w finds each page; bash and zsh completions where their loaders look" {
	local t
	for t in vfio-bind vfio-dmamap vfio-msix vq-inspect mvm-run; do
		run in_root man -w "$t"
		assert_success
		assert_output "/usr/share/man/man1/$t.1.gz"
		[ -f "$R/usr/share/bash-completion/completions/$t" ]
		[ -f "$R/usr/share/zsh/vendor-completions/_$t" ]
	done
	# bash-completion loads completions/NAME for command NAME: it defines the completion
	run in_root bash -c '. /usr/share/bash-completion/completions/vfio-bind && complete -p vfio-bind'
	assert_output "complete -F _vfio_bind vfio-bind"
}

@test "the units are in systemd's unit path and run the installed tools" {
	local u
	for u in vfio-bind@.service mvm-run@.service; do
		[ -f "$R/lib/systemd/system/$u" ]
		grep -q '^ExecStart=/usr/bin/' "$R/lib/systemd/system/$u"
	done
	grep -qx 'ExecStart=/usr/bin/vfio-bind --group %I' "$R/lib/systemd/system/vfio-bind@.service"
}

@test "dpkg -r removes every file it installed; --purge forgets it" {
	local files f left=0
	files=$(in_root dpkg -L vfio-toolkit)
	run in_root dpkg -r vfio-toolkit
	assert_success
	while read -r f; do
		if [ -f "$R$f" ]; then
			echo "left: $f"
			left=$((left + 1))
		fi
	done <<<"$files"
	[ "$left" -eq 0 ]
	[ ! -e "$R/usr/bin/vfio-bind" ]
	run in_root dpkg --purge vfio-toolkit
	assert_success
	run in_root dpkg-query -W -f='${Status}' vfio-toolkit
	refute_output --partial "installed"
}
