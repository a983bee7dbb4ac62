#!/usr/bin/env bats
# tests/cli/api.bats: mvm-run --api-sock driven with curl as Firecracker's getting-started guide
# does, on the host's /dev/kvm with the PVH test guests; pause, Ctrl-Alt-Del, bad requests.

load ../helpers
load mvm_api

MVM=${MVM:-$BATS_TEST_DIRNAME/../../build/mvm-run}

setup_file() {
	"$BATS_TEST_DIRNAME/../guests/build" "$BATS_FILE_TMPDIR/guests"
}

setup() {
	mvm_api_setup
}

teardown() {
	mvm_api_teardown
}

# A started counting guest, configured through the API.
start_counter() {
	start_mvm
	api PUT /boot-source "{\"kernel_image_path\": \"$G/count.elf\"}"
	[ "$status_code" = 204 ] || return 1
	api PUT /actions '{"action_type": "InstanceStart"}'
	[ "$status_code" = 204 ] || return 1
	counting
}

@test "Firecracker's getting-started steps: boot-source, drives, machine-config, InstanceStart" {
	KERNEL=$G/hello.elf
	KERNEL_BOOT_ARGS="console=ttyS0 reboot=k panic=1 pci=off"
	ROOTFS=$T/rootfs.ext4
	truncate -s 1M "$ROOTFS"
	start_mvm
	# The guide's own commands (its logger and network steps left out: no tap here).
	curl -X PUT --unix-socket "${API_SOCKET}" \
		--data "{
            \"kernel_image_path\": \"${KERNEL}\",
            \"boot_args\": \"${KERNEL_BOOT_ARGS}\"
        }" \
		"http://localhost/boot-source"
	curl -X PUT --unix-socket "${API_SOCKET}" \
		--data "{
            \"drive_id\": \"rootfs\",
            \"path_on_host\": \"${ROOTFS}\",
            \"is_root_device\": true,
            \"is_read_only\": false
        }" \
		"http://localhost/drives/rootfs"
	curl --unix-socket "${API_SOCKET}" -i \
		-X PUT 'http://localhost/machine-config' \
		-H 'Accept: application/json' \
		-H 'Content-Type: application/json' \
		-d '{
            "vcpu_count": 2,
            "mem_size_mib": 64
        }'
	api GET /vm/config
	assert_equal "$status_code" 200
	assert_equal "$(jq -r '.drives[0].path_on_host' <<<"$body")" "$ROOTFS"
	curl -X PUT --unix-socket "${API_SOCKET}" \
		--data "{
            \"action_type\": \"InstanceStart\"
        }" \
		"http://localhost/actions"
	# The guest's own view: its command line (root disk announced) and its RAM, then bye.
	wait_exit
	assert_equal "$exit_code" 0
	run cat "$T/console"
	assert_line --regexp "^cmdline ${KERNEL_BOOT_ARGS} root=/dev/vda rw virtio_mmio.device=4K@0x[0-9a-f]+:[0-9]+\$"
	assert_line --regexp '^memmap entries 4 ram_kib 65[0-9]{3}$' # RAM, EBDA, RAM, ECAM (reserved)
	assert_line "bye"
}

@test "PUT /network-interfaces (the guide's step) and PUT /entropy: the guest gets a virtio-net on the tap and a virtio-rng" {
	local tap=mvmapi$$
	start_mvm
	api PUT /boot-source "{\"kernel_image_path\": \"$G/count.elf\", \"boot_args\": \"console=ttyS0\"}"
	assert_equal "$status_code" 204
	# The guide's network step, with a tap of this test's own
	curl -X PUT --unix-socket "${API_SOCKET}" \
		--data "{
            \"iface_id\": \"net1\",
            \"guest_mac\": \"06:00:AC:10:00:02\",
            \"host_dev_name\": \"$tap\"
        }" \
		"http://localhost/network-interfaces/net1"
	api PUT /entropy '{}'
	assert_equal "$status_code" 204
	api GET /vm/config
	assert_equal "$(jq -r '."network-interfaces"[0].host_dev_name' <<<"$body")" "$tap"
	# (Firecracker prints a MAC in lower case too)
	assert_equal "$(jq -r '."network-interfaces"[0].guest_mac' <<<"$body")" 06:00:ac:10:00:02
	assert_equal "$(jq -c .entropy <<<"$body")" '{}'
	api PUT /actions '{"action_type": "InstanceStart"}'
	assert_equal "$status_code" 204
	counting
	# the guest was told of two virtio-mmio devices; the host's kernel has the tap (a tun device)
	[ "$(grep -m1 '^cmdline ' "$T/console" | grep -o 'virtio_mmio.device=' | wc -l)" -eq 2 ]
	ip -d link show "$tap" | grep -qw tun
	api GET /mvm/queues
	assert_equal "$(jq -r '[.devices[].type] | sort | join(" ")' <<<"$body")" "virtio-net virtio-rng"
}

@test "GET / and GET /machine-config before and after InstanceStart" {
	start_mvm
	api GET /
	assert_equal "$status_code" 200
	assert_equal "$(jq -r .state <<<"$body")" "Not started"
	assert_equal "$(jq -r .pid <<<"$body")" "$PID"
	api PUT /machine-config '{"vcpu_count": 3, "mem_size_mib": 96}'
	assert_equal "$status_code" 204
	api GET /machine-config
	assert_equal "$(jq -c '[.vcpu_count, .mem_size_mib]' <<<"$body")" "[3,96]"
	api PUT /boot-source "{\"kernel_image_path\": \"$G/count.elf\"}"
	api PUT /actions '{"action_type": "InstanceStart"}'
	assert_equal "$status_code" 204
	api GET /
	assert_equal "$(jq -r .state <<<"$body")" "Running"
}

@test "PATCH /vm Paused stops the guest's count, Resumed continues it" {
	start_counter
	api PATCH /vm '{"state": "Paused"}'
	assert_equal "$status_code" 204
	api GET /
	assert_equal "$(jq -r .state <<<"$body")" "Paused"
	n1=$(lines)
	sleep 1
	n2=$(lines)
	assert_equal "$n2" "$n1"
	api PATCH /vm '{"state": "Resumed"}'
	assert_equal "$status_code" 204
	counting
	api GET /
	assert_equal "$(jq -r .state <<<"$body")" "Running"
	kill -0 "$PID"
}

@test "a paused multi-vCPU guest stays paused until resumed" {
	start_mvm
	api PUT /machine-config '{"vcpu_count": 4, "mem_size_mib": 64}'
	api PUT /boot-source "{\"kernel_image_path\": \"$G/count.elf\"}"
	api PUT /actions '{"action_type": "InstanceStart"}'
	counting
	api PATCH /vm '{"state": "Paused"}'
	n1=$(lines)
	sleep 0.5
	assert_equal "$(lines)" "$n1"
	api PATCH /vm '{"state": "Resumed"}'
	counting
}

@test "SendCtrlAltDel: the guest reads Ctrl, Alt, Del from its i8042 and resets" {
	start_counter
	api PUT /actions '{"action_type": "SendCtrlAltDel"}'
	assert_equal "$status_code" 204
	wait_exit
	assert_equal "$exit_code" 0
	run cat "$T/console"
	# Scan code set 2: Ctrl 14, Alt 11, Del e0 71, what Firecracker's i8042 sends.
	assert_line "key 0x00000014"
	assert_line "key 0x00000011"
	assert_line "key 0x000000e0"
	assert_line "key 0x00000071"
	assert_line "ctrl-alt-del"
}

# bad REQUEST...: each gets 400 and a fault_message matching $want; the VM keeps counting.
bad() {
	api "$@"
	[ "$status_code" = 400 ] || {
		echo "$*: HTTP $status_code, expected 400" >&2
		return 1
	}
	jq -e --arg w "$want" '.fault_message | test($w)' <<<"$body" >/dev/null || {
		echo "$*: $body does not match '$want'" >&2
		return 1
	}
	counting
}

@test "bad requests get 400 with a fault_message, and the VM keeps running" {
	start_counter
	want='^Invalid request method and/or path: PUT vm\.$' bad PUT /vm '{"state": "Paused"}'
	want='^Invalid request method and/or path: DELETE machine-config\.$' bad DELETE /machine-config
	want='^Invalid request method and/or path: GET nowhere\.$' bad GET /nowhere
	want="unknown field 'vcpu'" bad PUT /actions '{"action_type": "InstanceStart", "vcpu": 1}'
	want='^not valid JSON' bad PATCH /vm '{"state": '
	want='after starting the microVM' bad PUT /actions '{"action_type": "InstanceStart"}'
	want='after starting the microVM' bad PUT /machine-config '{"vcpu_count": 2}'
	want="unknown state 'Frozen'" bad PATCH /vm '{"state": "Frozen"}'
	head -c 60000 /dev/zero | tr '\0' ' ' >"$T/big"
	want='larger than the limit of 51200 bytes' bad PATCH /vm "@$T/big"
	api GET /
	assert_equal "$(jq -r .state <<<"$body")" "Running"
}

@test "bad pre-boot requests: unknown field, bad id, id mismatch, nothing changed" {
	start_mvm
	want="machine-config: unknown key 'vcpus'" bad_preboot PUT /machine-config \
		'{"vcpu_count": 4, "mem_size_mib": 64, "vcpus": 2}'
	want="machine-config: missing field 'mem_size_mib'" bad_preboot PUT /machine-config \
		'{"vcpu_count": 4}'
	api GET /machine-config
	assert_equal "$(jq -c '[.vcpu_count, .mem_size_mib]' <<<"$body")" "[1,128]"
	# PATCH changes the fields it gives.
	api PATCH /machine-config '{"vcpu_count": 2}'
	assert_equal "$status_code" 204
	api GET /machine-config
	assert_equal "$(jq -c '[.vcpu_count, .mem_size_mib]' <<<"$body")" "[2,128]"
	want='only contain alphanumeric' bad_preboot PUT /drives/a-b \
		'{"drive_id": "a-b", "path_on_host": "/x", "is_root_device": false}'
	want='does not match the id from the body' bad_preboot PUT /drives/a \
		'{"drive_id": "b", "path_on_host": "/x", "is_root_device": false}'
	want='before starting the microVM' bad_preboot PATCH /vm '{"state": "Paused"}'
	want='without kernel configuration' bad_preboot PUT /actions '{"action_type": "InstanceStart"}'
	api GET /vm/config
	assert_equal "$(jq -c .drives <<<"$body")" "[]"
}

bad_preboot() {
	api "$@"
	[ "$status_code" = 400 ] || {
		echo "$*: HTTP $status_code, expected 400" >&2
		return 1
	}
	jq -e --arg w "$want" '.fault_message | test($w)' <<<"$body" >/dev/null || {
		echo "$*: $body does not match '$want'" >&2
		return 1
	}
}

@test "PUT /drives with io_engine Async where the kernel gives no io_uring: refused, nothing changed" {
	printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$BATS_TEST_DIRNAME/nouring" "$MVM" >"$T/mvm"
	chmod +x "$T/mvm"
	MVM=$T/mvm start_mvm
	want='io_engine "Async": io_uring: Function not implemented' bad_preboot PUT /drives/d1 \
		'{"drive_id": "d1", "path_on_host": "/a", "is_root_device": false, "io_engine": "Async"}'
	api GET /vm/config
	assert_equal "$(jq -c .drives <<<"$body")" "[]"
	# Sync is accepted there, and GET /vm/config says which engine a drive has
	api PUT /drives/d1 '{"drive_id": "d1", "path_on_host": "/a", "is_root_device": false}'
	assert_equal "$status_code" 204
	api GET /vm/config
	assert_equal "$(jq -c '[.drives[] | .io_engine]' <<<"$body")" '["Sync"]'
}

@test "PUT /drives/{id} twice replaces the drive" {
	start_mvm
	api PUT /drives/d1 '{"drive_id": "d1", "path_on_host": "/a", "is_root_device": false}'
	assert_equal "$status_code" 204
	api PUT /drives/d1 '{"drive_id": "d1", "path_on_host": "/b", "is_root_device": false}'
	api GET /vm/config
	assert_equal "$(jq -c '[.drives[] | .path_on_host]' <<<"$body")" '["/b"]'
}

@test "--config with --api-sock starts configured and keeps serving; SIGTERM stops it" {
	cat >"$T/vm.json" <<-JSON
		{"boot-source": {"kernel_image_path": "$G/count.elf"},
		 "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}
	JSON
	start_mvm --config "$T/vm.json"
	counting
	api GET /
	assert_equal "$(jq -r .state <<<"$body")" "Running"
	want='after starting the microVM' bad PUT /actions '{"action_type": "InstanceStart"}'
	kill -TERM "$PID"
	wait_exit
	assert_equal "$exit_code" 0
}

@test "SIGTERM before InstanceStart: exit 0" {
	start_mvm
	kill -TERM "$PID"
	wait_exit
	assert_equal "$exit_code" 0
}

@test "GET /mvm/queues: the virtio devices where the guest was told they are" {
	truncate -s 1M "$T/d.img"
	start_mvm --disk "$T/d.img" --kernel "$G/count.elf"
	counting
	api GET /mvm/queues
	assert_equal "$status_code" 200
	assert_equal "$(jq .pid <<<"$body")" "$PID"
	assert_equal "$(jq -r '.devices[0].type' <<<"$body")" virtio-blk
	# The address and pin of the guest's command line (virtio_mmio.device=4K@ADDR:IRQ).
	dev=$(grep -o 'virtio_mmio.device=4K@0x[0-9a-f]*:[0-9]*' "$T/console")
	addr=${dev#*@}
	assert_equal "$(jq '.devices[0].mmio_gpa' <<<"$body")" "$((${addr%:*}))"
	assert_equal "$(jq '.devices[0].irq' <<<"$body")" "${addr#*:}"
	# This guest never drives the device: no queue is ready, nothing consumed.
	assert_equal "$(jq -c '[.devices[0].queues[] | [.ready, .next_avail]]' <<<"$body")" \
		'[[false,0]]'
}

@test "--api-sock: a path in use by a live socket is refused, a stale one replaced" {
	start_mvm
	first=$PID
	run "$MVM" --api-sock "$API_SOCKET" --kernel "$G/count.elf" --console none </dev/null
	assert_failure 2
	assert_output --partial "in use"
	kill -9 "$first"
	wait "$first" || true
	PID=
	[ -S "$API_SOCKET" ]
	start_mvm
	api GET /
	assert_equal "$status_code" 200
}

@test "InstanceStart that cannot build the VM: 400 with the reason; fixed, it starts" {
	start_mvm
	api PUT /boot-source "{\"kernel_image_path\": \"$T/missing.elf\"}"
	assert_equal "$status_code" 204
	want='^Failed to start the microVM: kernel: .*missing\.elf: No such file' \
		bad_preboot PUT /actions '{"action_type": "InstanceStart"}'
	api GET /
	assert_equal "$(jq -r .state <<<"$body")" "Not started"
	want='before starting the microVM' bad_preboot GET /mvm/queues
	api PUT /boot-source "{\"kernel_image_path\": \"$G/count.elf\"}"
	api PUT /actions '{"action_type": "InstanceStart"}'
	assert_equal "$status_code" 204
	counting
}

@test "PUT /vsock, then InstanceStart: the guest and the host exchange data both ways" {
	"$BATS_TEST_DIRNAME/vsockhost" "$T/v.sock" >"$T/host.out" 2>&1 &
	host=$!
	start_mvm
	api PUT /boot-source "{\"kernel_image_path\": \"$G/vsock.elf\"}"
	api PUT /vsock "{\"guest_cid\": 3, \"uds_path\": \"$T/v.sock\"}"
	assert_equal "$status_code" 204
	want="vsock: unknown key 'cid'" bad_preboot PUT /vsock '{"cid": 3, "uds_path": "/x"}'
	api GET /vm/config
	assert_equal "$(jq -c .vsock <<<"$body")" "{\"guest_cid\":3,\"uds_path\":\"$T/v.sock\"}"
	api PUT /actions '{"action_type": "InstanceStart"}'
	assert_equal "$status_code" 204
	wait_exit
	assert_equal "$exit_code" 0
	sleep 0.5
	kill "$host" 2>/dev/null || true
	run cat "$T/console"
	assert_line "vsock got ping"
	assert_line "vsock got HELLO"
	run cat "$T/host.out"
	assert_line "guest answered pong"
	assert_line "guest wrote hello"
}
