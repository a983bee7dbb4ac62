#!/usr/bin/env bash
# vfio-bind-lab.sh: bind + restore round trip of the lab's nvme, vfio-bind beside driverctl
# (set-override + unset-override) and the raw sysfs writes (the floor), all in one lab boot.
# Every round of every method must really move the device: its driver link names vfio-pci after
# the bind and the original driver after the restore (the kernel's word, not the tool's). Exits
# 1 when any round fails or a method cannot run: a comparison with a side missing is no result.
set -u
cd "$(dirname "$0")/../.."
if [ -z "${LAB_BENCH_INSIDE:-}" ]; then
	LAB_BENCH_INSIDE=1 exec tests/lab/lab run -- tests/bench/vfio-bind-lab.sh
fi
export PATH="$PWD/build:$PATH"
NVME=0000:00:04.0 ROUNDS=${ROUNDS:-10}
D=/sys/bus/pci/devices/$NVME
modprobe vfio-pci || exit 1

median() { sort -n | awk '{ v[NR] = $1 } END { printf "%d\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
drv() { local l; l=$(readlink "$D/driver") && echo "${l##*/}" || echo none; }
# Wait (up to 2 s) until the device's driver link names $1: a bind may finish asynchronously,
# and the round trip lasts until the device is really there. -ef compares inodes: no fork.
settle() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$D/driver" -ef "/sys/bus/pci/drivers/$1" ] && return 0
		sleep 0.01
	done
	echo "bench: $NVME is on $(drv), not $1" >&2
	return 1
}

orig=$(drv)
[ "$orig" != none ] && [ "$orig" != vfio-pci ] || { echo "bench: $NVME starts on $orig" >&2; exit 1; }

# One round each: bind, check, restore, check. Non-zero when a step or a check fails.
raw_round() {
	echo vfio-pci >"$D/driver_override" && echo $NVME >"/sys/bus/pci/drivers/$orig/unbind" &&
		echo $NVME >/sys/bus/pci/drivers_probe && settle vfio-pci &&
		echo $NVME >/sys/bus/pci/drivers/vfio-pci/unbind && echo >"$D/driver_override" &&
		echo $NVME >"/sys/bus/pci/drivers/$orig/bind" && settle "$orig"
}
tool_round() {
	vfio-bind $NVME >/dev/null && settle vfio-pci &&
		vfio-bind --restore $NVME >/dev/null && settle "$orig"
}
driverctl_round() {
	driverctl --nosave set-override $NVME vfio-pci >/dev/null && settle vfio-pci &&
		driverctl --nosave unset-override $NVME >/dev/null && settle "$orig"
}

# measure FUNCTION: ROUNDS rounds; prints the median in us, or fails at the first bad round
# (after putting the device back on its driver for the next method).
measure() {
	local i t0 t1 times=()
	for ((i = 1; i <= ROUNDS; i++)); do
		t0=${EPOCHREALTIME/./} # microseconds, read without a fork
		"$1" || {
			echo "bench: $1: round $i failed" >&2
			echo > "$D/driver_override"
			[ -e "$D/driver" ] && echo $NVME >"$D/driver/unbind"
			echo $NVME >"/sys/bus/pci/drivers/$orig/bind"
			return 1
		}
		t1=${EPOCHREALTIME/./}
		times+=($((10#$t1 - 10#$t0)))
	done
	printf '%s\n' "${times[@]}" | median
}

status=0
command -v driverctl >/dev/null || { echo "bench: driverctl is not installed: no comparison" >&2; exit 1; }
raw=$(measure raw_round) || status=1
tool=$(measure tool_round) || status=1
dctl=$(measure driverctl_round) || status=1
[ "$status" -eq 0 ] || { echo "bench: vfio-bind-lab: a method failed: no comparison" >&2; exit 1; }
printf 'bind+restore round trip of nvme %s in the lab (median of %d, microseconds; every bind checked):\n' "$NVME" "$ROUNDS"
printf '  %-28s %10d us  (baseline)\n' "raw sysfs writes" "$raw"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '  %-28s %10d us  x%s of raw\n' "vfio-bind + --restore" "$tool" "$(ratio "$tool" "$raw")"
printf '  %-28s %10d us  x%s of raw; vfio-bind is x%s faster\n' "driverctl set/unset-override" \
	"$dctl" "$(ratio "$dctl" "$raw")" "$(ratio "$dctl" "$tool")"
