#!/bin/bash
# soak.sh - mixed, checked load for SECONDS under faults (issue 11, "Soak and faults").
#
#   bench/soak.sh [SECONDS]        default 600; `make test` runs 120 (`make test-soak`)
#
# Starts, in a temporary folder and on free loopback ports, a broker (with its --state
# file) and three workers with SQLite L3 stores: worker S (stable, never killed, its
# store in the folder) and workers A and B (rotating, their stores on a small ext4 loop
# mount). bench/soak_load (build/bench/soak_load) drives the load and checks every reply
# (see its header). Faults, on a schedule scaled to SECONDS (times for 600 / 120):
#   - every SECONDS/20 (30 s; SECONDS/8 up to 120, so 15 s in the CI run) SIGKILL of A or
#     B in turn, restarted at once;
#   - at 8 % (48 s / 9.6 s) SIGKILL of the broker, restarted on the same ports and state
#     file (before the RSS window, which starts at 20 %);
#   - 30 % to 42 %: the rotating workers' file system goes read-only under them
#     (ext4's errors=remount-ro, triggered through /sys/fs/ext4/DEV/trigger_fs_error:
#     Linux refuses `mount -o remount,ro` while a process holds a file open for writing,
#     which a live SQLite connection always does, so an emergency read-only is the only
#     way to take the disk away from a running worker). A worker due to be killed in
#     the window stays down until it ends (a store that cannot be opened is a start-up
#     error by design, workers/ops.c). At the end both are stopped (SIGKILL), the file
#     system is unmounted, checked (e2fsck), mounted again, and both restarted;
#   - 55 % to 67 %: the file system is filled to its last block by a filler file, then
#     the filler is removed.
#   The workers must live on: their failed writes are counted (`stats`: l3_write_errors,
#   which soak_load collects per worker) and every reply stays right.
# At the end: everything is stopped (SIGTERM), `PRAGMA integrity_check` must print ok on
# every SQLite file, and VmRSS of the broker (after its restart), of worker S and of
# soak_load, sampled at 20 % of the run and at its end, must grow < 5 %.
# Exit 0 only when nothing was lost, wrong or duplicated, every integrity check said ok,
# every RSS grew < 5 % and every fault was applied. Without mount permission the script
# fails unless SOAK_NO_DISK_FAULTS=1 (then the disk faults are skipped, and it says so).
# Environment: SOAK_BUILD (default build), SOAK_RATE (requests/s, default 2000),
# SOAK_ACTORS (3000), SOAK_KEEP=1 keeps the folder, SOAK_SEED (1), SOAK_RSS_LIMIT (5, in %:
# a sanitizer build's allocator quarantine grows by design).
set -u
T=${1:-600}
case $T in '' | *[!0-9]*) echo "usage: soak.sh [SECONDS]" >&2; exit 2 ;; esac
if [ "$T" -lt 30 ]; then
    echo "soak.sh: at least 30 seconds" >&2
    exit 2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${SOAK_BUILD:-$ROOT/build}
BROKER=$BUILD/actorcore-broker
WORKER=$BUILD/actorcore-worker
LOAD=$BUILD/bench/soak_load
for b in "$BROKER" "$WORKER" "$LOAD"; do
    [ -x "$b" ] || { echo "soak.sh: $b is not built (cmake --build $BUILD)" >&2; exit 2; }
done
command -v sqlite3 >/dev/null || { echo "soak.sh: sqlite3 (the CLI) is needed" >&2; exit 2; }

DIR=$(mktemp -d /tmp/actorcore-soak.XXXXXX)
MNT=$DIR/disk
IMG=$DIR/disk.img
MOUNTED=0
declare -A PID=()    # role -> pid of what runs now
FAIL=()              # why the run fails

log() { printf 'soak [%6.1f s] %s\n' "$(elapsed)" "$*"; }
fail() { FAIL+=("$*"); log "FAIL: $*"; }
now_ms() { date +%s%3N; }
T0=$(now_ms)
elapsed() { awk -v a="$(now_ms)" -v b="$T0" 'BEGIN { printf "%.1f", (a - b) / 1000 }'; }

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for role in "${!PID[@]}"; do
        kill -KILL "${PID[$role]}" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "$MOUNTED" = 1 ]; then
        umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
    fi
    if [ "${SOAK_KEEP:-0}" = 1 ]; then
        echo "soak.sh: kept $DIR"
    else
        rm -rf "$DIR"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'echo "soak.sh: interrupted" >&2; exit 130' INT TERM

# ---- the disk of the rotating workers ----
DISK_FAULTS=1
mkdir -p "$MNT"
mount_disk() {
    mount -o loop,errors=remount-ro "$IMG" "$MNT" 2>"$DIR/mount.err" && MOUNTED=1
}
if [ "${SOAK_NO_DISK_FAULTS:-0}" = 1 ]; then
    DISK_FAULTS=0
else
    truncate -s 48M "$IMG"
    if ! mkfs.ext4 -q -F -m 0 -b 1024 -O ^has_journal "$IMG" >"$DIR/mkfs.log" 2>&1 ||
        ! mount_disk; then
        echo "soak.sh: cannot make and mount a loop file system for the disk faults" \
            "($(cat "$DIR/mount.err" "$DIR/mkfs.log" 2>/dev/null | head -n 2)); run as root," \
            "or set SOAK_NO_DISK_FAULTS=1 to soak without them" >&2
        exit 1
    fi
    DEV=$(basename "$(findmnt -n -o SOURCE "$MNT")")
    if [ ! -w "/sys/fs/ext4/$DEV/trigger_fs_error" ]; then
        echo "soak.sh: /sys/fs/ext4/$DEV/trigger_fs_error is missing: the read-only fault" \
            "cannot be applied (SOAK_NO_DISK_FAULTS=1 soaks without disk faults)" >&2
        exit 1
    fi
fi
ROTDIR=$MNT
[ "$DISK_FAULTS" = 1 ] || ROTDIR=$DIR

# ---- ports and processes ----
read -r P_FE P_BE P_EIN P_EOUT < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(4)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
FE=tcp://127.0.0.1:$P_FE
BE=tcp://127.0.0.1:$P_BE
EIN=tcp://127.0.0.1:$P_EIN
EOUT=tcp://127.0.0.1:$P_EOUT
COMBINER=$ROOT/config/combiner.yaml
LAYERS=$ROOT/config/cap_layers.yaml

start_broker() {
    "$BROKER" --frontend "$FE" --backend "$BE" --events-in "$EIN" --events-out "$EOUT" \
        --state "$DIR/broker.state" >>"$DIR/broker.log" 2>&1 &
    PID[broker]=$!
}
start_worker() { # role: S, A or B
    local store=$DIR/l3-S.db
    [ "$1" = S ] || store=$ROTDIR/l3-$1.db
    "$WORKER" --broker "$BE" --events "$EIN" --store "$store" --combiner "$COMBINER" \
        --layers "$LAYERS" --subsystems none >>"$DIR/worker-$1.log" 2>&1 &
    PID[$1]=$!
}
kill_role() { # SIGKILL and reap
    local p=${PID[$1]:-}
    [ -n "$p" ] || return 0
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    unset "PID[$1]"
}
disk_down() { # the rotating workers' disk is read-only or full now
    { [ "$RO_DONE" = 1 ] && [ "$RO_ENDED" = 0 ]; } || { [ "$FULL_DONE" = 1 ] && [ "$FULL_ENDED" = 0 ]; }
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

start_broker
for r in S A B; do start_worker "$r"; done
sleep 1
log "broker $FE (pid ${PID[broker]}), workers S ${PID[S]}, A ${PID[A]}, B ${PID[B]}; folder $DIR"
[ "$DISK_FAULTS" = 1 ] || log "SOAK_NO_DISK_FAULTS=1: the disk faults (read-only, full) are NOT exercised"

"$LOAD" --broker "$FE" --combiner "$COMBINER" --layers "$LAYERS" --seconds "$T" \
    --rate "${SOAK_RATE:-2000}" --actors "${SOAK_ACTORS:-3000}" --seed "${SOAK_SEED:-1}" \
    --timeout-ms 3000 --retries 10 >"$DIR/load.out" 2>"$DIR/load.err" &
PID[load]=$!

# ---- the schedule (milliseconds from now) ----
ms() { awk -v t="$T" -v f="$1" 'BEGIN { printf "%d", t * f * 1000 }'; }
L0=$(now_ms)
at() { echo $((L0 + $1)); }
KILL_EVERY=$(ms 0.05) # 30 s of 600; the 120 s version kills every 15 s (below)
[ "$T" -le 120 ] && KILL_EVERY=$((T * 1000 / 8))
NEXT_KILL=$(at "$KILL_EVERY")
BROKER_AT=$(at "$(ms 0.08)")
RSS1_AT=$(at "$(ms 0.20)")
RO_AT=$(at "$(ms 0.30)")
RO_END=$(at "$(ms 0.42)")
FULL_AT=$(at "$(ms 0.55)")
FULL_END=$(at "$(ms 0.67)")
RSS2_AT=$(at $((T * 1000 - 3000)))
VICTIM=A
KILLS=0
DEFERRED=()
BROKER_DONE=0 RO_DONE=0 RO_ENDED=0 FULL_DONE=0 FULL_ENDED=0 RSS1_DONE=0 RSS2_DONE=0
WRITE_PROBE_RO="" FULL_FREE="" RO_PIDS="" FULL_PIDS=""
declare -A RSS1=() RSS2=()

sample_rss() { # into the array named $1
    local -n into=$1
    into[broker]=$(rss_kb "${PID[broker]}")
    into[S]=$(rss_kb "${PID[S]}")
    into[load]=$(rss_kb "${PID[load]}")
    log "RSS kB: broker ${into[broker]}, worker S ${into[S]}, soak_load ${into[load]}"
}

while kill -0 "${PID[load]}" 2>/dev/null; do
    sleep 0.2
    now=$(now_ms)
    # an unexpected death is a failure (the load program's own end is the loop's)
    for r in broker S A B; do
        p=${PID[$r]:-}
        if [ -n "$p" ] && ! kill -0 "$p" 2>/dev/null; then
            wait "$p"
            rc=$?
            f=$DIR/worker-$r.log
            [ "$r" = broker ] && f=$DIR/broker.log
            fail "$r (pid $p) died by itself (exit $rc): $(tail -n 3 "$f" | tr '\n' ' ' | cut -c1-300)"
            unset "PID[$r]"
            if [ "$r" = S ] || [ "$r" = broker ]; then
                break 2
            fi
            if disk_down; then
                DEFERRED+=("$r")
            else
                start_worker "$r"
            fi
        fi
    done
    if [ "$BROKER_DONE" = 0 ] && [ "$now" -ge "$BROKER_AT" ]; then
        BROKER_DONE=1
        old=${PID[broker]}
        kill_role broker
        start_broker
        log "broker SIGKILLed (pid $old) and restarted (pid ${PID[broker]})"
    fi
    if [ "$now" -ge "$NEXT_KILL" ] && [ "$now" -lt "$RSS2_AT" ]; then
        NEXT_KILL=$((NEXT_KILL + KILL_EVERY))
        if [ -n "${PID[$VICTIM]:-}" ]; then
            old=${PID[$VICTIM]}
            kill_role "$VICTIM"
            KILLS=$((KILLS + 1))
            if disk_down; then
                DEFERRED+=("$VICTIM")
                log "worker $VICTIM SIGKILLed (pid $old); its disk is down: restarted when it is back"
            else
                start_worker "$VICTIM"
                log "worker $VICTIM SIGKILLed (pid $old) and restarted (pid ${PID[$VICTIM]})"
            fi
        fi
        [ "$VICTIM" = A ] && VICTIM=B || VICTIM=A
    fi
    if [ "$RSS1_DONE" = 0 ] && [ "$now" -ge "$RSS1_AT" ]; then
        RSS1_DONE=1
        sample_rss RSS1
    fi
    if [ "$DISK_FAULTS" = 1 ] && [ "$RO_DONE" = 0 ] && [ "$now" -ge "$RO_AT" ]; then
        RO_DONE=1
        echo 1 >"/sys/fs/ext4/$DEV/trigger_fs_error"
        sleep 0.2
        if touch "$MNT/probe" 2>/dev/null; then
            fail "the read-only fault did not apply: a file could still be created"
            rm -f "$MNT/probe"
        else
            WRITE_PROBE_RO=ok
            RO_PIDS="${PID[A]:-} ${PID[B]:-}"
            log "disk read-only ($(findmnt -n -o OPTIONS "$MNT")) under workers $RO_PIDS"
        fi
    fi
    if [ "$DISK_FAULTS" = 1 ] && [ "$RO_DONE" = 1 ] && [ "$RO_ENDED" = 0 ] && [ "$now" -ge "$RO_END" ]; then
        RO_ENDED=1
        kill_role A
        kill_role B
        rc=-
        if umount "$MNT"; then
            MOUNTED=0
            e2fsck -fy "$IMG" >"$DIR/e2fsck.log" 2>&1
            rc=$?
            [ $rc -le 1 ] || fail "e2fsck exit $rc after the read-only fault: $(tail -n 3 "$DIR/e2fsck.log")"
            mount_disk || fail "cannot mount the disk again: $(cat "$DIR/mount.err")"
        else
            fail "cannot unmount the read-only disk"
        fi
        DEFERRED=()
        start_worker A
        start_worker B
        log "disk back read-write (e2fsck exit $rc); workers A ${PID[A]} and B ${PID[B]} started on it"
    fi
    if [ "$DISK_FAULTS" = 1 ] && [ "$FULL_DONE" = 0 ] && [ "$now" -ge "$FULL_AT" ]; then
        FULL_DONE=1
        # Checkpoint and truncate the rotating workers' WAL files first: a WAL that has
        # grown is rewritten in place and would need no new block on a full disk.
        for db in "$MNT"/l3-*.db; do
            sqlite3 -cmd '.timeout 5000' "$db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null ||
                log "wal_checkpoint of $db failed"
        done
        # the filler takes every free block: big writes, then smaller, then byte by byte
        for bs in 1M 64k 4k 1k 1; do
            dd if=/dev/zero of="$MNT/filler" bs=$bs oflag=append conv=notrunc status=none \
                2>/dev/null
        done
        FULL_FREE=$(df --output=avail -B1 "$MNT" | tail -n 1 | tr -d ' ')
        if [ "$FULL_FREE" != 0 ]; then
            fail "the disk-full fault did not apply: $FULL_FREE bytes still free"
        else
            FULL_PIDS="${PID[A]:-} ${PID[B]:-}"
            log "disk full (filler $(stat -c %s "$MNT/filler") bytes, 0 free) under workers $FULL_PIDS"
        fi
    fi
    if [ "$DISK_FAULTS" = 1 ] && [ "$FULL_DONE" = 1 ] && [ "$FULL_ENDED" = 0 ] && [ "$now" -ge "$FULL_END" ]; then
        FULL_ENDED=1
        rm -f "$MNT/filler"
        log "disk-full over (filler removed, $(df --output=avail -h "$MNT" | tail -n 1 | tr -d ' ') free)"
        for r in "${DEFERRED[@]}"; do
            start_worker "$r"
            log "worker $r restarted (pid ${PID[$r]})"
        done
        DEFERRED=()
    fi
    if [ "$RSS2_DONE" = 0 ] && [ "$now" -ge "$RSS2_AT" ]; then
        RSS2_DONE=1
        sample_rss RSS2
    fi
done
wait "${PID[load]}"
LOAD_RC=$?
unset "PID[load]"
cat "$DIR/load.out"
grep -v '^$' "$DIR/load.err" | head -n 30

# ---- stop, integrity, RSS ----
for r in A B S broker; do
    [ -n "${PID[$r]:-}" ] && kill -TERM "${PID[$r]}" 2>/dev/null
done
for r in A B S broker; do
    p=${PID[$r]:-}
    [ -n "$p" ] || continue
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p"
    rc=$?
    [ $rc = 0 ] || fail "$r (pid $p) exited $rc on SIGTERM"
    unset "PID[$r]"
done
DBS=("$DIR"/*.db)
[ "$ROTDIR" = "$DIR" ] || DBS+=("$ROTDIR"/*.db)
for db in "${DBS[@]}"; do
    [ -f "$db" ] || continue
    res=$(sqlite3 "$db" 'PRAGMA integrity_check' 2>&1 | tr '\n' ' ')
    rows=$(sqlite3 "$db" 'SELECT count(*) FROM snapshots' 2>&1)
    log "integrity_check $(basename "$db"): $res($rows rows)"
    [ "$res" = "ok " ] || fail "integrity_check of $db: $res"
done

RESULT=$(grep '^RESULT ' "$DIR/load.out")
[ -n "$RESULT" ] || fail "soak_load printed no result (exit $LOAD_RC)"
[ "$LOAD_RC" = 0 ] || fail "soak_load found lost, wrong or duplicated replies (exit $LOAD_RC)"
field() { echo "$RESULT" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
# Each disk fault must have made writes fail on a worker that lived through it (the
# per-worker counters soak_load collected from `stats`).
werrs() { # the largest l3_write_errors seen among pids $*
    local m=0 p v
    for p in "$@"; do
        v=$(sed -n "s/^soak_load: worker $p: .*l3_write_errors \([0-9]*\).*/\1/p" "$DIR/load.out")
        [ -n "$v" ] && [ "$v" -gt "$m" ] && m=$v
    done
    echo "$m"
}
if [ "$DISK_FAULTS" = 1 ]; then
    RO_WERR=$(werrs $RO_PIDS)
    FULL_WERR=$(werrs $FULL_PIDS)
    log "L3 write errors counted: read-only window $RO_WERR (workers $RO_PIDS)," \
        "full window $FULL_WERR (workers $FULL_PIDS)"
    [ "$RO_WERR" -gt 0 ] || fail "no L3 write failed while the disk was read-only"
    [ "$FULL_WERR" -gt 0 ] || fail "no L3 write failed while the disk was full"
fi
# What the workers logged about their failed writes (store_write_failed lines, at most one
# a second per worker, each with the writes failed since the last and the cause).
causes=$(cat "$DIR"/worker-*.log |
    sed -n 's/.*event=store_write_failed .* failed=\([0-9]*\) error=\(.*\)$/\1 \2/p' | tr -d '"' |
    awk '{ n = $1; $1 = ""; sum[$0] += n } END { for (c in sum) printf "%s x%d;", c, sum[c] }')
[ -z "$causes" ] || log "L3 write failures logged, by cause (writes):${causes%;}"
RSS_LIMIT=${SOAK_RSS_LIMIT:-5}
if [ "$RSS1_DONE" = 1 ] && [ "$RSS2_DONE" = 1 ]; then
    for p in broker S load; do
        g=$(awk -v a="${RSS1[$p]}" -v b="${RSS2[$p]}" 'BEGIN { if (a > 0) printf "%.2f", (b - a) * 100 / a; else print "nan" }')
        log "RSS growth $p: ${RSS1[$p]} -> ${RSS2[$p]} kB ($g %)"
        awk -v g="$g" -v l="$RSS_LIMIT" 'BEGIN { exit !(g == "nan" || g >= l) }' &&
            fail "RSS of $p grew $g % (limit $RSS_LIMIT %)"
    done
else
    fail "the RSS samples were not taken"
fi
[ "$BROKER_DONE" = 1 ] || fail "the broker was not restarted"
log "faults: broker restarts $BROKER_DONE, worker kills $KILLS (every $((KILL_EVERY / 1000)) s)," \
    "read-only $([ "$DISK_FAULTS" = 1 ] && echo "$WRITE_PROBE_RO" || echo "not exercised")," \
    "disk full $([ "$DISK_FAULTS" = 1 ] && echo "free=$FULL_FREE" || echo "not exercised")"
[ "$DISK_FAULTS" = 1 ] || log "the disk faults were NOT exercised (SOAK_NO_DISK_FAULTS=1)"
if [ ${#FAIL[@]} -gt 0 ]; then
    echo "soak.sh: FAILED (${#FAIL[@]}):"
    printf '  - %s\n' "${FAIL[@]}"
    exit 1
fi
echo "soak.sh: PASS ($T s): $RESULT"
exit 0
