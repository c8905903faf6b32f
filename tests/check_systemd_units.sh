#!/usr/bin/env bash
# config/systemd's units parse (systemd-analyze verify: no unknown key, no bad value, the
# ExecStart binaries exist: here the build's), keep the settings the README promises
# (Type=notify, Restart=on-failure, the worker's ExecReload, the hardening), and a unit with
# an unknown key is refused, so the check can fail. Skipped (77) without systemd-analyze.
set -euo pipefail
root="$1" bin="$2"
command -v systemd-analyze >/dev/null || { echo "no systemd-analyze: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "$root"/config/systemd/*.service; do
  sed "s|/usr/local/bin/|$bin/|" "$f" > "$tmp/$(basename "$f")"
done
cp "$tmp/actorcore-worker@.service" "$tmp/actorcore-worker@1.service"
check() { # verify prints nothing for a good unit (it is quiet when all is well)
  local out
  out=$(systemd-analyze verify "$@" 2>&1 | grep -v -e 'Failed to .*cgroup' -e 'No such file.*proc' || true)
  [ -z "$out" ] || { echo "$out"; return 1; }
}
check "$tmp/actorcore-broker.service" "$tmp/actorcore-worker@1.service"
for want in Type=notify Restart=on-failure NoNewPrivileges=yes ProtectSystem=strict \
  ProtectHome=yes PrivateTmp=yes ReadWritePaths=/var/lib/actorcore; do
  for u in actorcore-broker.service actorcore-worker@.service; do
    grep -qx "$want" "$root/config/systemd/$u" || { echo "$u: no $want"; exit 1; }
  done
done
grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$root/config/systemd/actorcore-worker@.service" ||
  { echo "the worker's unit has no ExecReload"; exit 1; }
sed 's/^Type=notify/Type=notify\nBogusKey=1/' "$tmp/actorcore-broker.service" > "$tmp/bad.service"
if check "$tmp/bad.service" >/dev/null; then echo "verify accepted an unknown key"; exit 1; fi
echo "systemd units: ok"
