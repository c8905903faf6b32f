/*  pair.c - two brokers as a primary / backup pair: the Binary Star pattern (ZeroMQ guide,
    chapter 4), with the floors of coherence (floors.c) kept in both.

    Each broker publishes its state every pair.heartbeat_ms on a PUB socket (pair.bind) and
    subscribes to its peer's (pair.peer). The peer is presumed gone when it has been silent
    for two heartbeats. The finite-state machine:
    - primary (at start): the peer says backup or passive -> active; the peer says active
      (it took over while we were down) -> passive; a client's request when the peer has
      been silent since we started -> active (we are alone);
    - backup (at start): the peer says active -> passive; a client's request is refused;
    - active: serves. The peer also says active (both took over at once): the backup yields
      and becomes passive, the primary stays;
    - passive: refuses clients with `unavailable` at path `broker.passive` (the client
      library then asks the next broker of its list); the peer says primary / backup (it
      restarted) -> active; a client's request when the peer is silent -> active: this is
      the fail-over, and it happens only when a client asks, so a broker cut off from its
      peer but also from the clients never takes over (no split brain).
    Workers register with both brokers and answer whichever sends them requests; a passive
    broker keeps its workers (READY, heartbeats, replies to what it sent before yielding).

    Floors: the active publishes each floor it raises ("F", with a sequence number); the
    passive applies them. A passive that starts, or sees a gap in the sequence, asks for the
    whole table (its heartbeat says so) and is sent it in chunks ("T", then "E" with the
    sequence it covers); until then it is unsynced, and should it have to take over unsynced
    it raises every floor to now (every cached copy becomes a miss; never a stale hit).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

enum { PAIR_BEAT = 'S', PAIR_FLOOR = 'F', PAIR_TABLE = 'T', PAIR_END = 'E' };
#define CHUNK_SETS 256 /* sets per table chunk (34 KB) */

static const char *s_state_names[] = {"none", "primary", "backup", "active", "passive"};

const char *pair_state_name(int state)
{
    return state >= 0 && state <= PAIR_PASSIVE ? s_state_names[state] : "?";
}

int pair_start(broker_t *b)
{
    pair_t *p = &b->pair;
    const char *role = b->cfg.pair_role;
    if (!role || strcmp(role, "none") == 0) {
        p->state = PAIR_NONE;
        return 0;
    }
    if (strcmp(role, "primary") == 0)
        p->state = PAIR_PRIMARY;
    else if (strcmp(role, "backup") == 0)
        p->state = PAIR_BACKUP;
    else {
        ac_log_bad_setting("pair.role", "expected none, primary or backup, found '%.40s'", role);
        return -1;
    }
    if (!b->cfg.pair_bind || !*b->cfg.pair_bind || !b->cfg.pair_peer || !*b->cfg.pair_peer) {
        ac_log_bad_setting("pair.peer",
                           "--pair-bind and --pair-peer: both are needed with pair.role %s", role);
        return -1;
    }
    p->role = p->state;
    p->pub = zsock_new(ZMQ_PUB);
    p->sub = zsock_new(ZMQ_SUB);
    if (!p->pub || !p->sub)
        return -1;
    auth_secure(b, p->pub, AC_ZAP_WORKERS); /* the peer presents a key of curve.workers */
    zsock_set_sndhwm(p->pub, 100000);
    zsock_set_linger(p->pub, 0);
    if (zsock_bind(p->pub, "%s", b->cfg.pair_bind) < 0) {
        ac_log_bad_setting("pair.bind", "cannot bind %s: %s", b->cfg.pair_bind,
                           zmq_strerror(zmq_errno()));
        return -1;
    }
    if (b->auth.cert) { /* the peer is a server too: present our key, expect the same */
        zcert_apply(b->auth.cert, p->sub);
        zsock_set_curve_serverkey(p->sub, zcert_public_txt(b->auth.cert));
    }
    zsock_set_subscribe(p->sub, "");
    zsock_set_rcvhwm(p->sub, 100000);
    zsock_set_linger(p->sub, 0);
    if (zsock_connect(p->sub, "%s", b->cfg.pair_peer) != 0) {
        ac_log_bad_setting("pair.peer", "cannot connect to %s", b->cfg.pair_peer);
        return -1;
    }
    int64_t now = zclock_mono();
    p->peer_expiry = now + 2 * b->cfg.pair_heartbeat_ms;
    p->beat_at = now;
    p->synced = false;
    return 0;
}

void pair_stop(broker_t *b)
{
    zsock_destroy(&b->pair.pub);
    zsock_destroy(&b->pair.sub);
}

bool pair_serves(const broker_t *b)
{
    return b->pair.state == PAIR_NONE || b->pair.state == PAIR_ACTIVE;
}

static void become(broker_t *b, int state, const char *why)
{
    pair_t *p = &b->pair;
    if (p->state == state)
        return;
    ac_log(AC_LOG_INFO, "pair_state", "from=%s to=%s reason=%s", pair_state_name(p->state),
           pair_state_name(state), why);
    if (state == PAIR_ACTIVE && !p->synced && p->heard_peer) {
        /* Floors may be missing: every copy cached before now becomes a miss. */
        floors_raise_all(b);
        ac_log(AC_LOG_WARN, "pair_unsynced_takeover", "msg=%s",
               "taking over without the peer's floors: every floor raised");
    }
    if (state == PAIR_ACTIVE)
        b->n.takeovers++;
    p->state = state;
}

/* The peer's state arrived. */
static void on_peer_state(broker_t *b, int peer, bool peer_needs_sync)
{
    pair_t *p = &b->pair;
    p->heard_peer = true;
    p->peer_expiry = zclock_mono() + 2 * b->cfg.pair_heartbeat_ms;
    p->peer_needs_sync = peer_needs_sync;
    switch (p->state) {
    case PAIR_PRIMARY:
        if (peer == PAIR_BACKUP || peer == PAIR_PASSIVE) {
            p->synced = true; /* we start with our own table; the peer syncs from us */
            become(b, PAIR_ACTIVE, "the backup is there");
        } else if (peer == PAIR_ACTIVE) {
            become(b, PAIR_PASSIVE, "the backup took over while we were down");
        }
        break;
    case PAIR_BACKUP:
        if (peer == PAIR_ACTIVE)
            become(b, PAIR_PASSIVE, "the primary is active");
        break;
    case PAIR_ACTIVE:
        if (peer == PAIR_ACTIVE && p->role == PAIR_BACKUP)
            become(b, PAIR_PASSIVE, "both were active: the backup yields");
        break;
    case PAIR_PASSIVE:
        if (peer == PAIR_PRIMARY || peer == PAIR_BACKUP)
            become(b, PAIR_ACTIVE, "the peer restarted");
        else if (peer == PAIR_PASSIVE && p->role == PAIR_PRIMARY)
            become(b, PAIR_ACTIVE, "both were passive: the primary serves");
        break;
    default:
        break;
    }
}

bool pair_client_request(broker_t *b)
{
    pair_t *p = &b->pair;
    if (pair_serves(b))
        return true;
    bool peer_gone = zclock_mono() >= p->peer_expiry;
    if (peer_gone && (p->state == PAIR_PASSIVE || p->state == PAIR_PRIMARY)) {
        become(b, PAIR_ACTIVE,
               p->state == PAIR_PASSIVE ? "fail-over: a client asked and the peer is silent"
                                        : "alone: the peer never answered");
        if (!p->heard_peer)
            p->synced = true;
        return true;
    }
    b->n.passive_refused++;
    return false;
}

/* ---- floors to the peer ---- */

void pair_floor_raised(broker_t *b, uint64_t hash, uint64_t stamp)
{
    pair_t *p = &b->pair;
    if (p->state == PAIR_NONE)
        return;
    uint8_t m[25];
    m[0] = PAIR_FLOOR;
    ac_le64_put(m + 1, ++p->seq);
    ac_le64_put(m + 9, hash);
    ac_le64_put(m + 17, stamp);
    zsock_send(p->pub, "b", m, sizeof m);
}

static void send_table(broker_t *b)
{
    pair_t *p = &b->pair;
    const floor_file_t *t = b->floors.map;
    size_t bytes = 9 + CHUNK_SETS * sizeof(floor_set_t);
    uint8_t *m = malloc(bytes);
    if (!m)
        return;
    for (uint32_t first = 0; first < FLOOR_SETS; first += CHUNK_SETS) {
        m[0] = PAIR_TABLE;
        ac_le64_put(m + 1, first);
        memcpy(m + 9, &t->set[first], CHUNK_SETS * sizeof(floor_set_t));
        zsock_send(p->pub, "b", m, bytes);
    }
    m[0] = PAIR_END;
    ac_le64_put(m + 1, p->seq);
    ac_le64_put(m + 9, t->global);
    zsock_send(p->pub, "b", m, 17);
    free(m);
    p->table_sent_at = zclock_mono();
}

static void on_peer_message(broker_t *b, const uint8_t *m, size_t n)
{
    pair_t *p = &b->pair;
    if (n == 3 && m[0] == PAIR_BEAT && m[1] >= PAIR_PRIMARY && m[1] <= PAIR_PASSIVE) {
        on_peer_state(b, m[1], m[2] != 0);
    } else if (n == 25 && m[0] == PAIR_FLOOR) {
        uint64_t seq = ac_le64_get(m + 1);
        if (p->synced && seq != p->peer_seq + 1 && p->state != PAIR_ACTIVE)
            p->synced = false; /* a gap: ask for the table again */
        p->peer_seq = seq;
        floors_apply(b, ac_le64_get(m + 9), ac_le64_get(m + 17));
    } else if (n == 9 + CHUNK_SETS * sizeof(floor_set_t) && m[0] == PAIR_TABLE) {
        uint64_t first = ac_le64_get(m + 1);
        if (first == 0)
            p->sync_next = 0;
        if (first != p->sync_next || first + CHUNK_SETS > FLOOR_SETS)
            return;
        static floor_set_t sets[CHUNK_SETS]; /* aligned: the bytes at m + 9 are not */
        memcpy(sets, m + 9, sizeof sets);
        floors_apply_sets(b, (uint32_t)first, sets, CHUNK_SETS);
        p->sync_next = (uint32_t)first + CHUNK_SETS;
    } else if (n == 17 && m[0] == PAIR_END) {
        if (p->sync_next == FLOOR_SETS && p->state != PAIR_ACTIVE) {
            floors_apply(b, 0, ac_le64_get(m + 9));
            p->peer_seq = ac_le64_get(m + 1);
            p->synced = true;
        }
        p->sync_next = 0;
    } else {
        b->n.malformed++;
    }
}

void pair_on_readable(broker_t *b)
{
    zmq_msg_t f;
    zmq_msg_init(&f);
    void *sub = zsock_resolve(b->pair.sub);
    for (int i = 0; i < 1024 && zmq_msg_recv(&f, sub, ZMQ_DONTWAIT) >= 0; i++)
        on_peer_message(b, zmq_msg_data(&f), zmq_msg_size(&f));
    zmq_msg_close(&f);
}

void pair_tick(broker_t *b)
{
    pair_t *p = &b->pair;
    if (p->state == PAIR_NONE)
        return;
    int64_t now = zclock_mono();
    if (now < p->beat_at)
        return;
    p->beat_at = now + b->cfg.pair_heartbeat_ms;
    uint8_t m[3] = {PAIR_BEAT, (uint8_t)p->state, (uint8_t)(p->state != PAIR_ACTIVE && !p->synced)};
    zsock_send(p->pub, "b", m, sizeof m);
    /* The peer asks for the table: sent, and again each second while it still asks. */
    if (p->state == PAIR_ACTIVE && p->peer_needs_sync && now >= p->table_sent_at + 1000 &&
        now < p->peer_expiry)
        send_table(b);
}
