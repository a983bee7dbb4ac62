#!/usr/bin/env bats
# tests/cli/mvm-run.bats: mvm-run on the host's /dev/kvm with tiny PVH guests, and bad input.
# The guests are built from tests/guests/ into this file's temporary folder.

load ../helpers

MVM=${MVM:-$BATS_TEST_DIRNAME/../../build/mvm-run}
G=

setup_file() {
	"$BATS_TEST_DIRNAME/../guests/build" "$BATS_FILE_TMPDIR/guests"
}

setup() {
	G=$BATS_FILE_TMPDIR/guests
	T=$BATS_TEST_TMPDIR
}

need_kvm() {
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "no usable /dev/kvm"
}

# ---- guests on KVM ----------------------------------------------------------------------

@test "hello guest: serial output, start_info, command line, exit 0 on reset" {
	need_kvm
	run "$MVM" --kernel "$G/hello.elf" --cmdline "hello=world" --mem 64M </dev/null
	assert_success
	assert_line "hello from the PVH guest"
	assert_line "magic 0x336ec578"
	assert_line "cmdline hello=world"
	assert_line --regexp '^memmap entries 4 ram_kib 65[0-9]{3}$' # RAM, EBDA, RAM, ECAM (reserved)
	assert_line "bye"
}

@test "initrd is passed as a PVH module" {
	need_kvm
	head -c 10000 /dev/urandom >"$T/initrd"
	run "$MVM" --kernel "$G/hello.elf" --initrd "$T/initrd" </dev/null
	assert_success
	assert_line "modules 1"
}

@test "registers survive 10000 port-I/O exits" {
	need_kvm
	run "$MVM" --kernel "$G/regs.elf" </dev/null
	assert_success
	assert_line "regs ok 10000"
}

@test "guest exceptions reach the guest's IDT and return" {
	need_kvm
	run "$MVM" --kernel "$G/fault.elf" </dev/null
	assert_success
	assert_line "fault: vector 6"
	assert_line "back from #UD"
	assert_line "fault: vector 0"
	assert_line "back from #DE"
}

@test "triple fault: exit 1 with a register dump" {
	need_kvm
	run "$MVM" --kernel "$G/triple.elf" </dev/null
	assert_failure 1
	assert_line "triple fault next"
	assert_line --partial "guest stopped: vCPU 0: triple fault"
	assert_line --regexp '^rax=0x00000000deadbeef '
	assert_line --regexp '^rip=0x'
	assert_line --regexp '^cr0=0x0000000000000011 '
}

@test "--json reports how the guest stopped" {
	need_kvm
	run "$MVM" --json --kernel "$G/triple.elf" --console none </dev/null
	assert_failure 1
	assert_line --partial '"stop":"triple-fault","exit_status":1'
	# the same record as a table, only when a format is asked for (the console owns stdout)
	run "$MVM" --pairs --output stop,exit_status --kernel "$G/triple.elf" --console none </dev/null
	assert_failure 1
	assert_line 'STOP="triple-fault" EXIT_STATUS="1"'
	run "$MVM" --kernel "$G/triple.elf" --console none </dev/null
	refute_output --partial 'triple-fault'
	refute_output --partial 'EXIT_STATUS'
}

@test "a spinning vCPU is kicked out by SIGTERM and the VM stops cleanly" {
	need_kvm
	"$MVM" -v --kernel "$G/spin.elf" --console "$T/console" 2>"$T/err" </dev/null &
	pid=$!
	for _ in $(seq 200); do grep -q spinning "$T/console" 2>/dev/null && break; sleep 0.02; done
	kill -TERM "$pid"
	wait "$pid"
	grep -q "spinning" "$T/console"
	grep -q "stopped by signal 15" "$T/err"
}

@test "kick stress: 50 spinning VMs stopped by signals" {
	need_kvm
	for i in $(seq 50); do
		"$MVM" --kernel "$G/spin.elf" --console "$T/c$i" </dev/null &
		pid=$!
		# A signal before the VM runs would end the process the default way: wait for it.
		for _ in $(seq 200); do [ -s "$T/c$i" ] && break; sleep 0.01; done
		sleep 0.0$((i % 3))
		kill -TERM "$pid"
		wait "$pid" || { echo "run $i: status $?"; return 1; }
	done
}

@test "console input: the guest reads what comes on stdin" {
	need_kvm
	run bash -c "printf 'hello guest\n' | '$MVM' --kernel '$G/echo.elf'"
	assert_success
	assert_line "got: hello guest"
}

@test "--console FILE writes the console to the file" {
	need_kvm
	run "$MVM" --kernel "$G/hello.elf" --console "$T/out" </dev/null
	assert_success
	refute_output --partial "hello from"
	grep -q "hello from the PVH guest" "$T/out"
}

@test "--cpus 4 boots (the PVH guest runs on the boot vCPU)" {
	need_kvm
	run "$MVM" --kernel "$G/hello.elf" --cpus 4 </dev/null
	assert_success
	assert_line "bye"
}

@test "--config: a Firecracker config file boots the guest" {
	need_kvm
	cat >"$T/vm.json" <<-JSON
	{
	  "boot-source": { "kernel_image_path": "$G/hello.elf", "boot_args": "from=config" },
	  "machine-config": { "vcpu_count": 2, "mem_size_mib": 64, "smt": false },
	  "logger": null
	}
	JSON
	run "$MVM" --config "$T/vm.json" </dev/null
	assert_success
	assert_line "cmdline from=config"
}

@test "--config warns about keys it does not implement" {
	need_kvm
	cat >"$T/vm.json" <<-JSON
	{
	  "boot-source": { "kernel_image_path": "$G/hello.elf" },
	  "machine-config": { "vcpu_count": 1, "mem_size_mib": 64, "track_dirty_pages": true },
	  "metrics": { "metrics_path": "/tmp/m" }
	}
	JSON
	run "$MVM" --config "$T/vm.json" </dev/null
	assert_success
	assert_line --partial "warning: config: machine-config.track_dirty_pages: not supported"
	assert_line --partial "warning: config: config.metrics: not supported"
}

@test "virtio-blk: a guest driver writes and reads back a sector; the image file has it" {
	need_kvm
	truncate -s 1M "$T/d.img"
	run "$MVM" --kernel "$G/vblk.elf" --disk "$T/d.img" --cmdline "mode=none" </dev/null
	assert_success
	assert_line "vblk capacity 2048"
	assert_line "vblk write/read ok"
	# sector 3 holds bytes 0x5a, 0x5b, ... as the guest wrote them
	[ "$(od -An -tx1 -j 1536 -N 4 "$T/d.img" | tr -d ' ')" = 5a5b5c5d ]
}

@test "virtio-blk read-only: the guest's write is refused" {
	need_kvm
	truncate -s 1M "$T/d.img"
	run "$MVM" --kernel "$G/vblk.elf" --disk "$T/d.img,ro" --cmdline "mode=none" </dev/null
	assert_success
	assert_line "vblk write/read FAILED"
	[ "$(od -An -tx1 -j 1536 -N 4 "$T/d.img" | tr -d ' ')" = 00000000 ]
}

@test "virtio-blk bench guest: 32 in flight all complete; its writes land in the image as 4 KiB blocks" {
	need_kvm
	truncate -s 1M "$T/d.img"
	run "$MVM" --kernel "$G/blkbench.elf" --disk "$T/d.img" --cmdline "qd=32 n=200" </dev/null
	assert_success
	assert_line "blkbench long mode" # the 64-bit guest: EFER.LMA as the CPU reports it
	assert_line "blkbench go"
	assert_line "blkbench done 200"
	# each write starts its 4 KiB block with BLKBENCH: sector = block * 8 of 512 bytes (§5.2.6)
	grep -obUa BLKBENCH "$T/d.img" >"$T/marks"
	[ "$(wc -l <"$T/marks")" -ge 100 ]
	run awk -F: '$1 % 4096 != 0' "$T/marks"
	assert_output ""
}

@test "virtio-blk bench guest: a failed request (read-only disk) ends the run, never counted done" {
	need_kvm
	truncate -s 1M "$T/d.img"
	run "$MVM" --kernel "$G/blkbench.elf" --disk "$T/d.img,ro" --cmdline "qd=4 n=100" </dev/null
	assert_success
	assert_line "blkbench FAILED"
	refute_line --partial "blkbench done"
	run grep -c BLKBENCH "$T/d.img"
	assert_output 0
}

@test "virtio-blk io_engine=Async (seccomp on): the guest writes and reads back; the image file has it" {
	need_kvm
	truncate -s 1M "$T/d.img"
	run "$MVM" --kernel "$G/vblk.elf" --disk "$T/d.img,io_engine=Async" --cmdline "mode=none" \
		</dev/null
	assert_success
	assert_line "vblk capacity 2048"
	assert_line "vblk write/read ok"
	[ "$(od -An -tx1 -j 1536 -N 4 "$T/d.img" | tr -d ' ')" = 5a5b5c5d ]
}

@test "virtio-blk io_engine Async in --config: 32 in flight all complete, the writes are in the image" {
	need_kvm
	truncate -s 1M "$T/d.img"
	cat >"$T/vm.json" <<-JSON
	{
	  "boot-source": { "kernel_image_path": "$G/blkbench.elf", "boot_args": "qd=32 n=400" },
	  "drives": [{ "drive_id": "d", "path_on_host": "$T/d.img", "is_root_device": false,
	               "io_engine": "Async" }],
	  "machine-config": { "vcpu_count": 1, "mem_size_mib": 64 }
	}
	JSON
	run "$MVM" --config "$T/vm.json" </dev/null
	assert_success
	refute_output --partial "io_engine" # neither warned about nor refused
	assert_line "blkbench done 400"
	# read back independently: each written 4 KiB block starts with BLKBENCH, at its offset
	grep -obUa BLKBENCH "$T/d.img" >"$T/marks"
	[ "$(wc -l <"$T/marks")" -ge 100 ]
	run awk -F: '$1 % 4096 != 0' "$T/marks"
	assert_output ""
	# the config's io_engine is what the device uses: without io_uring it is refused
	run "$BATS_TEST_DIRNAME/nouring" "$MVM" --config "$T/vm.json" </dev/null
	assert_failure 1
	assert_output --partial 'drives[0]: io_engine "Async": io_uring: Function not implemented'
}

@test "virtio-blk io_engine Async where the kernel gives no io_uring: an error, never Sync" {
	need_kvm
	truncate -s 1M "$T/d.img"
	run "$BATS_TEST_DIRNAME/nouring" "$MVM" --kernel "$G/vblk.elf" \
		--disk "$T/d.img,io_engine=Async" --cmdline "mode=none" </dev/null
	assert_failure 1
	assert_output 'mvm-run: drives[0]: io_engine "Async": io_uring: Function not implemented'
	[ "$(od -An -tx1 -j 1536 -N 4 "$T/d.img" | tr -d ' ')" = 00000000 ]
	# the same without io_uring, Sync: boots (the wrapper takes nothing else away)
	run "$BATS_TEST_DIRNAME/nouring" "$MVM" --kernel "$G/vblk.elf" --disk "$T/d.img" \
		--cmdline "mode=none" </dev/null
	assert_success
	assert_line "vblk write/read ok"
}

@test "--disk io_engine: only Firecracker's Sync and Async" {
	run "$MVM" --kernel "$G/vblk.elf" --disk "$T/d.img,io_engine=uring" </dev/null
	assert_failure 2
	assert_output --partial "unknown disk option 'io_engine=uring' (ro, rw or io_engine=Sync|Async)"
}

malicious_async() { # mode, expected reason: the same through the Async engine
	need_kvm
	truncate -s 1M "$T/d.img"
	run "$MVM" --kernel "$G/vblk.elf" --disk "$T/d.img,io_engine=Async" --cmdline "mode=$1" \
		</dev/null
	assert_success
	assert_line "vblk status needs-reset"
	assert_line "vblk recovered ok"
	assert_output --partial "$2"
}

@test "malicious queue through io_engine=Async: loop, outside, 4 GiB length → needs reset, recovers" {
	malicious_async loop "chain at descriptor 0: descriptor loop"
	malicious_async outside "buffer outside guest memory"
	malicious_async hugelen "buffer outside guest memory"
}

malicious() { # mode, expected reason
	need_kvm
	truncate -s 1M "$T/d.img"
	run "$MVM" --kernel "$G/vblk.elf" --disk "$T/d.img" --cmdline "mode=$1" </dev/null
	assert_success
	assert_line "vblk status needs-reset"
	assert_line "vblk recovered ok"
	assert_line --partial "mvm-run: warning: device: virtio-blk at 0xd0000000: needs reset: "
	assert_output --partial "$2"
}

@test "malicious queue: descriptor loop → DEVICE_NEEDS_RESET, mvm-run survives" {
	malicious loop "virtio-blk queue 0: chain at descriptor 0: descriptor loop"
}

@test "malicious queue: avail.idx running ahead → DEVICE_NEEDS_RESET" {
	malicious ahead "virtio-blk queue 0: avail.idx ran ahead of the ring"
}

@test "malicious queue: buffer outside guest memory → DEVICE_NEEDS_RESET" {
	malicious outside "virtio-blk queue 0: chain at descriptor 0: buffer outside guest memory"
}

@test "malicious queue: head index beyond the ring → DEVICE_NEEDS_RESET" {
	malicious badhead "virtio-blk queue 0: bad descriptor index"
}

@test "malicious queue: a 4 GiB buffer length → DEVICE_NEEDS_RESET" {
	malicious hugelen "buffer outside guest memory"
}

@test "--rng and --disk together on the tiny guest: devices on the command line" {
	need_kvm
	truncate -s 1M "$T/d.img"
	run "$MVM" -v --kernel "$G/hello.elf" --disk "$T/d.img" --rng --console none </dev/null
	assert_success
	assert_output --partial "virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=4K@0xd0001000:6"
}

@test "bad disk or tap: exit 2" {
	run "$MVM" --kernel "$G/hello.elf" --disk "$T/missing.img"
	assert_failure 2
	assert_output --partial "mvm-run: devices: disk: $T/missing.img: No such file or directory"
	run "$MVM" --kernel "$G/hello.elf" --disk "$T"
	assert_failure 2
	assert_output --partial "Is a directory"
}

# vsock_exchange OPTION...: the vsock guest and tests/cli/vsockhost talk both ways over
# $T/v.sock (Firecracker's model: CONNECT lines, and <path>_<port> for the guest's connections).
vsock_exchange() {
	"$BATS_TEST_DIRNAME/vsockhost" "$T/v.sock" >"$T/host.out" 2>&1 &
	host=$!
	for _ in $(seq 100); do
		grep -q ready "$T/host.out" 2>/dev/null && break
		sleep 0.05
	done
	run timeout 30 "$MVM" --kernel "$G/vsock.elf" --console "$T/console" "$@" </dev/null
	stop_host "$host"
}

# stop_host PID: a vsockhost is given 5 s to finish its output, then stopped.
stop_host() {
	for _ in $(seq 100); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

@test "--vsock: the guest and the host exchange data both ways" {
	need_kvm
	vsock_exchange --vsock "3,$T/v.sock"
	assert_success
	run cat "$T/console"
	assert_line "vsock cid 3"
	assert_line "vsock request to 1234"
	assert_line "vsock got ping"
	assert_line "vsock connected to 5000"
	assert_line "vsock got HELLO"
	run cat "$T/host.out"
	assert_line --regexp '^connect answer OK [0-9]+$'
	assert_line "guest answered pong"
	assert_line "guest wrote hello"
}

@test "--config with Firecracker's vsock section" {
	need_kvm
	cat >"$T/vm.json" <<-JSON
		{"boot-source": {"kernel_image_path": "$G/vsock.elf"},
		 "vsock": {"vsock_id": "vsock0", "guest_cid": 7, "uds_path": "$T/v.sock"}}
	JSON
	run "$MVM" --config "$T/vm.json" --kernel "$G/vsock.elf" --console none --vsock 2,/x
	assert_failure 2
	assert_output --partial "guest CID 2: between 3 and"
	vsock_exchange --config "$T/vm.json"
	assert_success
	run cat "$T/console"
	assert_line "vsock cid 7"
	assert_line "vsock got HELLO"
}

@test "--vsock: bad specifications and a socket path in use are usage errors" {
	need_kvm
	run "$MVM" --kernel "$G/hello.elf" --vsock 3
	assert_failure 2
	assert_output --partial "--vsock: '3': expected CID,PATH"
	run "$MVM" --kernel "$G/hello.elf" --vsock "3,"
	assert_failure 2
	touch "$T/taken"
	run "$MVM" --kernel "$G/hello.elf" --vsock "3,$T/taken" --console none
	assert_failure 2
	assert_output --partial "vsock: $T/taken: Address already in use"
}

# ---- bad input: exit 2 with a clear message ------------------------------------------------

@test "no /dev/kvm: exit 2" {
	run "$MVM" --kvm-dev /nonexistent/kvm --kernel "$G/hello.elf"
	assert_failure 2
	assert_output --partial "mvm-run: no KVM: /nonexistent/kvm: No such file or directory"
}

@test "kernel format not recognised: exit 2" {
	printf 'this is not a kernel\n%.0s' $(seq 300) >"$T/junk"
	run "$MVM" --kernel "$T/junk"
	assert_failure 2
	assert_output --partial "kernel format not recognised"
}

@test "unreadable kernel: exit 2" {
	run "$MVM" --kernel "$T/missing"
	assert_failure 2
	assert_output --partial "mvm-run: kernel: $T/missing: No such file or directory"
}

@test "empty kernel file: exit 2" {
	: >"$T/empty"
	run "$MVM" --kernel "$T/empty"
	assert_failure 2
	assert_output --partial "empty file"
}

@test "unreadable initrd: exit 2" {
	run "$MVM" --kernel "$G/hello.elf" --initrd "$T/missing"
	assert_failure 2
	assert_output --partial "mvm-run: initrd: $T/missing"
}

@test "no kernel: exit 2" {
	run "$MVM"
	assert_failure 2
	assert_output --partial "no kernel"
}

@test "memory too small for the kernel: exit 2" {
	need_kvm
	# a PVH ELF whose segment ends beyond 4 MiB of RAM
	run "$MVM" --kernel "$G/big.elf" --mem 4M
	assert_failure 2
	assert_output --partial "memory too small for the kernel"
}

@test "memory below the minimum: exit 2" {
	run "$MVM" --kernel "$G/hello.elf" --mem 1M
	assert_failure 2
	assert_output --partial "--mem: '1M' is too small"
}

@test "bad sizes and counts: exit 2" {
	run "$MVM" --kernel "$G/hello.elf" --mem lots
	assert_failure 2
	assert_output --partial "--mem: 'lots' is not a size"
	run "$MVM" --kernel "$G/hello.elf" --mem 99999999999999999999999
	assert_failure 2
	run "$MVM" --kernel "$G/hello.elf" --mem 3000001
	assert_failure 2
	assert_output --partial "not a multiple of 4K"
	run "$MVM" --kernel "$G/hello.elf" --cpus 0
	assert_failure 2
	assert_output --partial "--cpus: '0': between 1 and 32"
	run "$MVM" --kernel "$G/hello.elf" --cpus 33
	assert_failure 2
	run "$MVM" --kernel "$G/hello.elf" --cpus two
	assert_failure 2
}

@test "bad device specs: exit 2" {
	run "$MVM" --kernel "$G/hello.elf" --disk "$T/d,rx"
	assert_failure 2
	assert_output --partial "unknown disk option 'rx'"
	run "$MVM" --kernel "$G/hello.elf" --net "tap0,mac=zz:00:00:00:00:00"
	assert_failure 2
	assert_output --partial "not a unicast MAC address"
	run "$MVM" --kernel "$G/hello.elf" --net "a-very-long-tap-name0"
	assert_failure 2
	run "$MVM" --kernel "$G/hello.elf" --console ""
	assert_failure 2
}

@test "unknown option and stray argument: exit 2" {
	run "$MVM" --kernel "$G/hello.elf" --frobnicate
	assert_failure 2
	run "$MVM" --kernel "$G/hello.elf" extra
	assert_failure 2
	assert_output --partial "unexpected argument 'extra'"
}

@test "--config: unknown keys are errors, exit 2" {
	echo '{"boot-source":{"kernel_image_path":"/k"},"machine-config":{"vcpu_cnt":2}}' >"$T/c.json"
	run "$MVM" --config "$T/c.json"
	assert_failure 2
	assert_output --partial "machine-config: unknown key 'vcpu_cnt'"
	echo '{"boot-source":{"kernel_image_path":"/k"},"frobs":[]}' >"$T/c.json"
	run "$MVM" --config "$T/c.json"
	assert_failure 2
	assert_output --partial "config: unknown key 'frobs'"
	echo '{"boot-source":{"kernel_image_path":"/k","boot_args":3}}' >"$T/c.json"
	run "$MVM" --config "$T/c.json"
	assert_failure 2
	assert_output --partial "boot-source.boot_args: expected string, found int"
	echo '{"boot-source":{"kernel_image_path":"/k"},"machine-config":{"vcpu_count":-1}}' >"$T/c.json"
	run "$MVM" --config "$T/c.json"
	assert_failure 2
	assert_output --partial "out of range"
	echo '{"boot-source":{' >"$T/c.json"
	run "$MVM" --config "$T/c.json"
	assert_failure 2
	assert_output --partial "not valid JSON"
	echo '{"machine-config":{"vcpu_count":1,"mem_size_mib":64}}' >"$T/c.json"
	run "$MVM" --config "$T/c.json"
	assert_failure 2
	assert_output --partial "boot-source is missing"
	run "$MVM" --config "$T/nope.json"
	assert_failure 2
}

@test "--version and --help" {
	run "$MVM" --version
	assert_success
	assert_output --regexp '^mvm-run [0-9]'
	run "$MVM" --help
	assert_success
	assert_output --partial "--kernel"
	assert_output --partial "--config"
}

@test "--vfio and --huge-pages: bad values are usage errors (2)" {
	run "$MVM" --kernel "$G/hello.elf" --vfio zz:00.0
	assert_failure 2
	assert_output --partial "mvm-run: --vfio: 'zz:00.0': not a PCI address"
	run "$MVM" --kernel "$G/hello.elf" --vfio 0000:7f:1f.7
	assert_failure 2
	assert_output --partial "no such PCI device"
	run "$MVM" --kernel "$G/hello.elf" --vfio 8086:10d3
	assert_failure 2
	assert_output --partial "not an ID"
	run "$MVM" --kernel "$G/hello.elf" --vfio 0000:00:01.0,romfile=x
	assert_failure 2
	assert_output --partial "mvm-run: --vfio: '0000:00:01.0,romfile=x': unknown option 'romfile=x'"
	run "$MVM" --kernel "$G/hello.elf" --vfio "0000:00:01.0,rom=$T/none.rom"
	assert_failure 2
	assert_output --partial "mvm-run: --vfio: ROM file $T/none.rom: No such file or directory"
	run "$MVM" --kernel "$G/hello.elf" --huge-pages 4M
	assert_failure 2
	assert_output --partial "--huge-pages: '4M' is not none, thp, 2M or 1G"
	run "$MVM" --kernel "$G/hello.elf" --vfio-backend magic
	assert_failure 2
	run "$MVM" --kernel "$G/hello.elf" --vfio-p2p maybe
	assert_failure 2
	assert_output --partial "--vfio-p2p: 'maybe' is not on, off or auto"
	echo '{"boot-source":{"kernel_image_path":"/k"},"vfio":[{"id":"x"}]}' >"$T/c.json"
	run "$MVM" --config "$T/c.json"
	assert_failure 2
	assert_output --partial "vfio[0]: bdf is missing"
}

@test "--huge-pages 2M without enough huge pages says how many are needed" {
	free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
	want=$(( (free + 8) * 2 ))
	run "$MVM" --kernel "$G/hello.elf" --mem "${want}M" --huge-pages 2M --console none
	assert_failure 2
	assert_output --partial "guest memory"
	assert_output --partial "huge pages"
}

# ---- Firecracker's own example configs (tests/fixtures/firecracker/README) -----------------

# fc_config NAME: tests/fixtures/firecracker/NAME with the guest, a disk image and a tap of this
# test's own in place of vmlinux.bin, bionic.rootfs.ext4 and tap0; prints the new file's path.
fc_config() {
	truncate -s 1M "$T/rootfs.img"
	sed -e "s|\"vmlinux.bin\"|\"$G/hello.elf\"|" -e "s|\"bionic.rootfs.ext4\"|\"$T/rootfs.img\"|" \
		-e "s|\"tap0\"|\"mvmfc$$\"|" "$REPO/tests/fixtures/firecracker/$1" >"$T/$1" || return 1
	echo "$T/$1"
}

@test "Firecracker's 6 valid example configs boot, as firecracker --config-file --no-api would" {
	need_kvm
	local f n=0
	for f in vm_config.json vm_config_network.json vm_config_smt_true.json \
		vm_config_cpu_template_C3.json vm_config_with_mmdsv1.json vm_config_with_mmdsv2.json; do
		run "$MVM" --no-api --config-file "$(fc_config "$f")" </dev/null
		echo "# $f: status $status"
		assert_success
		assert_line "bye"
		assert_line --regexp "^cmdline console=ttyS0 reboot=k panic=1 root=/dev/vda rw "
		n=$((n + 1))
	done
	[ "$n" -eq 6 ]
}

@test "Firecracker's example configs: its defaults warn about nothing, what is ignored warns" {
	need_kvm
	run "$MVM" --config-file "$(fc_config vm_config.json)" </dev/null
	assert_success
	refute_output --partial "warning"
	run "$MVM" --config-file "$(fc_config vm_config_smt_true.json)" </dev/null
	assert_success
	assert_output --partial "warning: config: machine-config.smt: not supported, ignored"
	run "$MVM" --config-file "$(fc_config vm_config_cpu_template_C3.json)" </dev/null
	assert_success
	assert_output --partial "warning: config: machine-config.cpu_template: not supported, ignored"
}

@test "Firecracker's 2 negative example configs are refused, exit 2, naming the missing field" {
	run "$MVM" --no-api --config-file "$(fc_config vm_config_missing_vcpu_count.json)"
	assert_failure 2
	assert_output "mvm-run: config: $T/vm_config_missing_vcpu_count.json: machine-config: vcpu_count is missing"
	run "$MVM" --no-api --config-file "$(fc_config vm_config_missing_mem_size_mib.json)"
	assert_failure 2
	assert_output "mvm-run: config: $T/vm_config_missing_mem_size_mib.json: machine-config: mem_size_mib is missing"
}

@test "--config: two root drives and a MAC used twice are refused as Firecracker refuses them" {
	cat >"$T/c.json" <<-JSON
	{ "boot-source": { "kernel_image_path": "$G/hello.elf" },
	  "drives": [ { "drive_id": "a", "path_on_host": "/a", "is_root_device": true },
	              { "drive_id": "b", "path_on_host": "/b", "is_root_device": true } ] }
	JSON
	run "$MVM" --config "$T/c.json"
	assert_failure 2
	assert_output --partial "drives[1]: a root block device already exists (drive 'a')"
	cat >"$T/c.json" <<-JSON
	{ "boot-source": { "kernel_image_path": "$G/hello.elf" },
	  "network-interfaces": [
	    { "iface_id": "e0", "host_dev_name": "t0", "guest_mac": "06:00:c0:a8:00:02" },
	    { "iface_id": "e1", "host_dev_name": "t1", "guest_mac": "06:00:c0:a8:00:02" } ] }
	JSON
	run "$MVM" --config "$T/c.json"
	assert_failure 2
	assert_output --partial "the MAC address is already in use: 06:00:c0:a8:00:02"
	run "$MVM" --kernel "$G/hello.elf" --net "t0,mac=06:00:c0:a8:00:02" \
		--net "t1,mac=06:00:c0:a8:00:02"
	assert_failure 2
	assert_output --partial "the MAC address is already in use: 06:00:c0:a8:00:02"
}

# ---- hostile files and lines -------------------------------------------------------------

@test "--config /dev/zero and a config over 1 MiB are refused at once, memory bounded" {
	# ulimit -v: the old code read /dev/zero into memory for ever; now it must not even start
	run bash -c "ulimit -v 1000000; timeout 10 '$MVM' --config /dev/zero"
	assert_failure 2
	assert_output "mvm-run: config: /dev/zero: a character device, not a regular file"
	head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$T/big.json"
	run timeout 10 "$MVM" --config "$T/big.json"
	assert_failure 2
	assert_output "mvm-run: config: $T/big.json: larger than 1048576 bytes"
}

@test "FIFOs as --kernel, --initrd, --disk or --config are refused at once, not waited on" {
	mkfifo "$T/fifo"
	run timeout 10 "$MVM" --config "$T/fifo"
	assert_failure 2
	assert_output "mvm-run: config: $T/fifo: a FIFO, not a regular file"
	run timeout 10 "$MVM" --kernel "$T/fifo" --console none
	assert_failure 2
	assert_output "mvm-run: kernel: $T/fifo: a FIFO, not a regular file"
	need_kvm
	run timeout 10 "$MVM" --kernel "$G/hello.elf" --initrd "$T/fifo" --console none
	assert_failure 2
	assert_output "mvm-run: initrd: $T/fifo: a FIFO, not a regular file"
	run timeout 10 "$MVM" --kernel "$G/hello.elf" --disk "$T/fifo" --console none
	assert_failure 2
	assert_output "mvm-run: devices: disk: $T/fifo: a FIFO, not a regular file"
}

@test "--cmdline longer than 4095 bytes is an error, never a truncated line" {
	long=$(head -c 4096 /dev/zero | tr '\0' x)
	run "$MVM" --kernel "$G/hello.elf" --cmdline "$long"
	assert_failure 2
	assert_output "mvm-run: --cmdline: 4096 bytes, the limit is 4095"
	cat >"$T/c.json" <<-JSON
	{ "boot-source": { "kernel_image_path": "$G/hello.elf", "boot_args": "${long:0:4090}" },
	  "drives": [ { "drive_id": "r", "path_on_host": "$T/d.img", "is_root_device": true } ] }
	JSON
	truncate -s 1M "$T/d.img"
	need_kvm
	# 4090 bytes fit; with " root=/dev/vda rw" they do not: an error, not a cut line
	run "$MVM" --config "$T/c.json" --console none
	assert_failure 2
	assert_output "mvm-run: command line: 4107 bytes, the limit is 4095"
	run "$MVM" --kernel "$G/hello.elf" --cmdline "${long:0:4095}" --mem 64M </dev/null
	assert_success
	assert_line "cmdline ${long:0:4095}"
}

@test "--huge-pages thp: guest RAM on transparent huge pages (AnonHugePages in smaps)" {
	need_kvm
	mode=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled)
	if [ "$mode" = never ]; then
		# the host forbids THP: mvm-run says so and does not run on 4K pages instead
		run "$MVM" --kernel "$G/spin.elf" --huge-pages thp --console none
		assert_failure 1
		assert_output --partial "transparent huge pages are disabled on this host"
		return
	fi
	"$MVM" --kernel "$G/spin.elf" --huge-pages thp --mem 64M --console "$T/console" \
		</dev/null 2>"$T/err" &
	pid=$!
	for _ in $(seq 250); do grep -q spinning "$T/console" 2>/dev/null && break; sleep 0.02; done
	# the guest RAM mapping: 64 MiB exactly; its AnonHugePages in kB
	thp=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { size = "" } /^Size:/ { size = $2 }
		/^AnonHugePages:/ && size == 65536 { print $2 }' "/proc/$pid/smaps")
	kill "$pid"
	wait "$pid" || true
	echo "# AnonHugePages of the 64 MiB guest RAM mapping: ${thp:-none} kB"
	grep -q spinning "$T/console"
	[ -n "$thp" ] || fail "no 64 MiB mapping with AnonHugePages in /proc/$pid/smaps"
	[ "$thp" -gt 0 ] || fail "guest RAM has no transparent huge page"
	# config spelling: huge_pages "Transparent" means the same
	cat >"$T/c.json" <<-JSON
	{ "boot-source": { "kernel_image_path": "$G/hello.elf" },
	  "machine-config": { "vcpu_count": 1, "mem_size_mib": 64, "huge_pages": "Transparent" } }
	JSON
	run "$MVM" --config "$T/c.json" </dev/null
	assert_success
	assert_line "bye"
}

# Start the spinning guest with the options given, wait for it to spin, and print FIELD (kB) of
# the guest RAM mapping (the one of exactly MIB MiB) from its smaps: the kernel's account.
spin_smaps() { # FIELD MIB OPTION...
	local field=$1 mib=$2 pid v
	shift 2
	"$MVM" --kernel "$G/spin.elf" --mem "${mib}M" --console "$T/console" "$@" \
		</dev/null 2>"$T/err" &
	pid=$!
	for _ in $(seq 250); do grep -q spinning "$T/console" 2>/dev/null && break; sleep 0.02; done
	v=$(awk -v f="$field:" -v kb=$((mib * 1024)) '/^[0-9a-f]+-[0-9a-f]+ / { size = "" }
		/^Size:/ { size = $2 } $1 == f && size == kb { print $2 }' "/proc/$pid/smaps")
	kill "$pid"
	wait "$pid" || true
	grep -q spinning "$T/console" || return 1
	rm -f "$T/console"
	echo "$v"
}

@test "--prefault: all of guest RAM resident before the guest runs (Rss), none without it" {
	need_kvm
	rss=$(spin_smaps Rss 256)
	echo "# Rss of 256 MiB guest RAM without --prefault: $rss kB"
	[ -n "$rss" ] && [ "$rss" -lt $((64 * 1024)) ] || fail "Rss '$rss' kB without --prefault"
	rss=$(spin_smaps Rss 256 --prefault=3 --verbose)
	echo "# with --prefault=3: $rss kB"
	[ "$rss" = $((256 * 1024)) ] || fail "Rss '$rss' kB with --prefault=3, not 262144"
	grep -q "^mvm-run: guest memory faulted in by 3 threads in [0-9.]* ms$" "$T/err" ||
		fail "no verbose line: $(cat "$T/err")"
	rss=$(spin_smaps Rss 256 --prefault=0 --verbose)
	[ "$rss" -lt $((64 * 1024)) ] || fail "Rss '$rss' kB with --prefault=0"
	run ! grep -q "faulted in" "$T/err"
}

@test "--prefault without THREADS: as many threads as CPUs online, at most 16" {
	need_kvm
	want=$(getconf _NPROCESSORS_ONLN)
	[ "$want" -le "$(nproc)" ] || want=$(nproc) # the affinity mask may hold fewer
	[ "$want" -le 16 ] || want=16
	rss=$(spin_smaps Rss 128 --prefault --verbose)
	[ "$rss" = $((128 * 1024)) ] || fail "Rss '$rss' kB, not 131072"
	grep -q "faulted in by $want thread" "$T/err" || fail "not $want threads: $(cat "$T/err")"
}

@test "--prefault with --huge-pages thp keeps every huge page whole (AnonHugePages)" {
	need_kvm
	grep -q '\[never\]' /sys/kernel/mm/transparent_hugepage/enabled &&
		skip "transparent huge pages are never on this host"
	thp=$(spin_smaps AnonHugePages 64 --huge-pages thp --prefault=3)
	echo "# AnonHugePages of 64 MiB guest RAM, prefaulted by 3 threads: $thp kB"
	[ "$thp" = 65536 ] || fail "AnonHugePages '$thp' kB, not 65536"
}

@test "--prefault: THREADS from 0 to 64, else a usage error (2)" {
	run "$MVM" --kernel "$G/hello.elf" --prefault=65
	assert_failure 2
	assert_output "mvm-run: --prefault: '65': at most 64 threads"
	run "$MVM" --kernel "$G/hello.elf" --prefault=many
	assert_failure 2
	assert_output --partial "mvm-run: --prefault:"
}

@test "--stop-timeout takes 0 to 3600 seconds" {
	run "$MVM" --kernel /nonexistent --stop-timeout 3601
	assert_failure 2
	assert_output --partial "mvm-run: --stop-timeout: '3601': at most 3600 seconds"
	run "$MVM" --kernel /nonexistent --stop-timeout soon
	assert_failure 2
	assert_output --partial "mvm-run: --stop-timeout:"
}
