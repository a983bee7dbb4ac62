# tests/cli/mvm_api.bash: mvm-run serving its API in the background, and requests to it with
# curl; for api.bats and vq-inspect.bats. Sets G (the PVH test guests), T, API_SOCKET, PID.

MVM=${MVM:-$BATS_TEST_DIRNAME/../../build/mvm-run}
# Seconds to wait for the socket, an answer, the exit (the lab's nested KVM under TCG: longer).
MVM_API_BOUND=${MVM_API_BOUND:-10}

# For setup(): skips without KVM or curl.
mvm_api_setup() {
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "no usable /dev/kvm"
	command -v curl >/dev/null || skip "no curl"
	G=$BATS_FILE_TMPDIR/guests
	T=$BATS_TEST_TMPDIR
	API_SOCKET=$T/api.sock
	PID=
}

# For teardown(): the VM goes, whatever the test left.
mvm_api_teardown() {
	[ -z "$PID" ] || { kill -9 "$PID" && wait "$PID"; } 2>/dev/null || true
}

# start_mvm [OPTION...]: mvm-run serving the API in the background, the console in $T/console.
start_mvm() {
	"$MVM" --api-sock "$API_SOCKET" --console "$T/console" "$@" </dev/null 2>"$T/stderr" &
	PID=$!
	for _ in $(seq "$((MVM_API_BOUND * 20))"); do
		[ -S "$API_SOCKET" ] && return 0
		sleep 0.05
	done
	echo "no API socket after $MVM_API_BOUND s" >&2
	return 1
}

# api METHOD PATH [BODY]: $status_code and $body (the file $T/body) of one request.
api() {
	status_code=$(curl -s -m "$MVM_API_BOUND" -o "$T/body" -w '%{http_code}' -X "$1" \
		--unix-socket "$API_SOCKET" ${3+--data "$3"} "http://localhost$2") || return 1
	body=$(cat "$T/body")
}

# $exit_code: the exit status of the background mvm-run, once it ended (within the bound).
wait_exit() {
	for _ in $(seq "$((MVM_API_BOUND * 20))"); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$PID" 2>/dev/null && return 1
	exit_code=0
	wait "$PID" || exit_code=$?
	PID=
}

lines() {
	wc -l <"$T/console"
}

# The counting guest is counting: its line count grows within 2 s.
counting() {
	local before
	before=$(lines)
	for _ in $(seq 40); do
		[ "$(lines)" -gt "$before" ] && return 0
		sleep 0.05
	done
	echo "the guest stopped counting at $before lines" >&2
	return 1
}

