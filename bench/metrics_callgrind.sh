#!/bin/sh
# metrics_callgrind.sh - what /metrics costs the broker per request, in instructions.
#
#   bench/metrics_callgrind.sh BUILD_DIR [N1 N2]
#
# Runs actorcore-broker under valgrind's callgrind with two echo workers (bench/
# echo_worker) and N1, then N2 resolve requests from a pyzmq MDP client (64 in flight),
# with `--metrics` off and on (not scraped: the hot path alone), and prints each one's
# slope (I(N2) - I(N1)) / (N2 - N1): instructions per request, start-up and shutdown
# cancelled. Machine load does not change the figure (wall-clock noise does not enter).
# The worker's share needs no run: its per-op counters and histogram are kept whether the
# endpoint is on or off (bench_service metrics prints their in-process nanoseconds).
set -eu
build=${1:?usage: metrics_callgrind.sh BUILD_DIR [N1 N2]}
n1=${2:-2000}
n2=${3:-6000}
py=/usr/bin/python3
tmp=$(mktemp -d /tmp/ac_mcg_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Sends n requests to the frontend (64 in flight) and waits for every answer.
client() {
    "$py" - "$1" "$2" <<'EOF'
import sys, zmq, msgpack
ep, n = sys.argv[1], int(sys.argv[2])
s = zmq.Context().socket(zmq.DEALER)
s.connect(ep)
def send(i):
    body = msgpack.packb({"op": "resolve", "id": i, "actor": {"id": "a%d" % (i % 500), "version": 1}})
    s.send_multipart([b"", b"MDPC01", b"actorcore", body])
sent = got = 0
while got < n:
    while sent < n and sent - got < 64:
        send(sent)
        sent += 1
    if not s.poll(60000):
        sys.exit("no answer")
    s.recv_multipart()
    got += 1
EOF
}

# Instructions of one broker run with n requests; $2: extra broker flags.
ir() {
    fe=$(port); be=$(port); ei=$(port); eo=$(port)
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$build/actorcore-broker" \
        --frontend "tcp://127.0.0.1:$fe" --backend "tcp://127.0.0.1:$be" \
        --events-in "tcp://127.0.0.1:$ei" --events-out "tcp://127.0.0.1:$eo" --state none \
        --heartbeat-ms 1000 $2 >/dev/null 2>"$tmp/broker.log" &
    broker=$!
    sleep 2
    "$build/bench/echo_worker" "tcp://127.0.0.1:$be" 64 >/dev/null 2>&1 &
    w1=$!
    "$build/bench/echo_worker" "tcp://127.0.0.1:$be" 64 >/dev/null 2>&1 &
    w2=$!
    sleep 1
    client "tcp://127.0.0.1:$fe" "$1"
    kill -TERM "$broker"
    wait "$broker" || true
    kill -TERM "$w1" "$w2"
    wait "$w1" "$w2" 2>/dev/null || true
    sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$tmp/broker.log"
}

for mode in off on; do
    flags=""
    [ "$mode" = on ] && flags="--metrics 127.0.0.1:$(port)"
    a=$(ir "$n1" "$flags")
    b=$(ir "$n2" "$flags")
    echo "broker, metrics $mode: $(( (b - a) / (n2 - n1) )) instructions per request ($n1: $a, $n2: $b)"
done
