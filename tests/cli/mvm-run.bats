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
	assert_line --regexp '^memmap entries 3 ram_kib 65[0-9]{3}$'
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
	echo '{"machine-config":{"vcpu_count":1}}' >"$T/c.json"
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
	assert_output --partial "mvm-run: --vfio: zz:00.0: not a PCI address"
	run "$MVM" --kernel "$G/hello.elf" --vfio 0000:7f:1f.7
	assert_failure 2
	assert_output --partial "no such PCI device"
	run "$MVM" --kernel "$G/hello.elf" --vfio 8086:10d3
	assert_failure 2
	assert_output --partial "not an ID"
	run "$MVM" --kernel "$G/hello.elf" --huge-pages 4M
	assert_failure 2
	assert_output --partial "--huge-pages: '4M' is not none, 2M or 1G"
	run "$MVM" --kernel "$G/hello.elf" --vfio-backend magic
	assert_failure 2
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
