#!/usr/bin/env bash
# vfio-bind-lab.sh: bind + restore round trip of the lab's nvme, vfio-bind beside driverctl
# (set-override + unset-override) and the raw sysfs writes (the floor), all in one lab boot.
set -u
cd "$(dirname "$0")/../.."
if [ -z "${LAB_BENCH_INSIDE:-}" ]; then
	LAB_BENCH_INSIDE=1 exec tests/lab/lab run -- tests/bench/vfio-bind-lab.sh
fi
export PATH="$PWD/build:$PATH"
NVME=0000:00:04.0 ROUNDS=${ROUNDS:-10}
D=/sys/bus/pci/devices/$NVME
modprobe vfio-pci

now() { date +%s%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { printf "%d\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
drv() { basename "$(readlink $D/driver)"; }
settle() { for _ in $(seq 200); do [ "$(drv)" = "$1" ] && return 0; sleep 0.01; done; echo "bench: $NVME not on $1" >&2; exit 1; }

raw_round() {
	echo vfio-pci > $D/driver_override
	echo $NVME > /sys/bus/pci/drivers/nvme/unbind
	echo $NVME > /sys/bus/pci/drivers_probe
	settle vfio-pci
	echo $NVME > /sys/bus/pci/drivers/vfio-pci/unbind
	echo > $D/driver_override
	echo $NVME > /sys/bus/pci/drivers/nvme/bind
	settle nvme
}
tool_round() {
	vfio-bind $NVME >/dev/null && vfio-bind --restore $NVME >/dev/null
	settle nvme
}
driverctl_round() {
	driverctl --nosave set-override $NVME vfio-pci >/dev/null 2>&1
	settle vfio-pci
	driverctl --nosave unset-override $NVME >/dev/null 2>&1
	settle nvme
}

measure() { # name function
	local i t0 t1
	for i in $(seq "$ROUNDS"); do
		t0=$(now); "$2"; t1=$(now)
		echo $(((t1 - t0) / 1000))
	done | median
}

raw=$(measure raw raw_round)
tool=$(measure vfio-bind tool_round)
dctl=$(measure driverctl driverctl_round)
printf 'bind+restore round trip of nvme %s in the lab (median of %d, microseconds):\n' "$NVME" "$ROUNDS"
printf '  %-28s %10d us  (baseline)\n' "raw sysfs writes" "$raw"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '  %-28s %10d us  x%s of raw\n' "vfio-bind + --restore" "$tool" "$(ratio "$tool" "$raw")"
printf '  %-28s %10d us  x%s of raw; vfio-bind is x%s faster\n' "driverctl set/unset-override" \
	"$dctl" "$(ratio "$dctl" "$raw")" "$(ratio "$dctl" "$tool")"
