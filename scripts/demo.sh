#!/usr/bin/env bash
# The README's run command: starts the broker and two workers on their embedded defaults
# (SQLite store under var/), resolves the demo actor through the service, prints the
# snapshot and the endpoints, then keeps serving until Ctrl-C (or AC_RUN_SECONDS).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
mkdir -p var
pids=()
stop() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

"$BUILD/actorcore-broker" --config config/actorcore.yaml &
pids+=($!)
for i in 1 2; do
  # The shipped config turns /metrics on at *:9101; each worker of a host needs its own port.
  "$BUILD/actorcore-worker" --config config/actorcore.yaml --metrics "*:910$i" &
  pids+=($!)
done

echo "== waiting for the service"
for _ in $(seq 1 50); do
  if "$BUILD/actorcore" call ping --timeout 200 --retries 0 >/dev/null 2>&1; then break; fi
  sleep 0.1
done

echo "== actorcore call resolve --actor config/demo/actor.json   (race, class, 5 items, 3 buffs, realm: the workers add the contributions)"
"$BUILD/actorcore" call resolve --actor config/demo/actor.json
echo "== actorcore call get demo-hero"
"$BUILD/actorcore" call get demo-hero
cat <<INFO
== the service is running
   clients (MDP/0.1, service "actorcore"): tcp://127.0.0.1:5555
   workers join at:                         tcp://127.0.0.1:5556
   snapshot events (subscribe snap/<id>):   tcp://127.0.0.1:5557
   L3 store:                                var/actorcore.db
   metrics (Prometheus), /healthz, /readyz: http://127.0.0.1:9100 (broker),
                                            :9101, :9102 (workers)
   try: $BUILD/actorcore call stats   |   $BUILD/actorcore subscribe demo-hero
   Ctrl-C stops broker and workers.
INFO
if [ -n "${AC_RUN_SECONDS:-}" ]; then
  sleep "$AC_RUN_SECONDS"
else
  wait
fi
