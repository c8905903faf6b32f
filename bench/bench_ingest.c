/*  bench_ingest - issue 14's figures, in one invocation: a broker with ingest.pull and two
    W2 workers (L1 off, so every change is resolved), a subscriber on the events.
    1. Throughput: N changes of distinct actors PUSHed, timed until the last snapshot event
       arrived, against the same N resolves sent as MDP requests with 256 in flight;
       paired runs, ratio ingest / MDP (target >= 0.9).
    2. Latency at 50 % of the ingest maximum: an open loop, each change timed from its
       intended send time to its snapshot event (no coordinated omission): p50, p99.
    3. Coalescing: a Zipf(1.1) stream over 10,000 actors at 2x the maximum, versions
       increasing per actor: the broker's RSS before and at most during, changes coalesced,
       and every actor's last event carries its last version (the run fails otherwise).
    usage: bench_ingest [--quick]
*/
#include <czmq.h>
#include <math.h>

#include "actorcore/actorcore.h"
#include "actorcore/client.h"
#include "actorcore/wire.h"
#include "bench.h"
#include "keys.h"
#include "mmi_stat.h"
#include "procs.h"
#include "core/yamldoc.h"

#define RUNS 5
#define ZIPF_ACTORS 10000

static int s_n = 20000;        /* changes per throughput run */
static msgpack_object s_actor; /* the W2 demo actor */
static char s_ep[6][64];       /* frontend, backend, events in, out, ingest pull */
static pid_t s_broker, s_workers[2];
static char s_dir[] = "/tmp/ac_bingest_XXXXXX";

static void die(const char *why)
{
    fprintf(stderr, "bench_ingest: %s\n", why);
    procs_kill_all();
    exit(1);
}

/* The demo actor with its id and version replaced. */
static void pack_actor(msgpack_packer *pk, const char *id, int64_t version)
{
    msgpack_pack_map(pk, s_actor.via.map.size);
    for (uint32_t i = 0; i < s_actor.via.map.size; i++) {
        const msgpack_object_kv *kv = &s_actor.via.map.ptr[i];
        msgpack_pack_object(pk, kv->key);
        const msgpack_object_str *k = &kv->key.via.str;
        if (k->size == 2 && memcmp(k->ptr, "id", 2) == 0)
            ac_wire_pack_str(pk, id);
        else if (k->size == 7 && memcmp(k->ptr, "version", 7) == 0)
            msgpack_pack_int64(pk, version);
        else
            msgpack_pack_object(pk, kv->val);
    }
}

/* A change {actor} in sb. */
static void pack_change(msgpack_sbuffer *sb, const char *id, int64_t version)
{
    msgpack_sbuffer_clear(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    ac_wire_pack_str(&pk, "actor");
    pack_actor(&pk, id, version);
}

static void start(void)
{
    bench_free_endpoints(s_ep, 5);
    char log[200];
    snprintf(log, sizeof log, "%s/broker.log", s_dir);
    const char *broker[] = {AC_BROKER_PATH, "--frontend",    s_ep[0],   "--backend",
                            s_ep[1],        "--events-in",   s_ep[2],   "--events-out",
                            s_ep[3],        "--ingest-pull", s_ep[4],   "--state",
                            "none",         "--events-hwm",  "1000000", NULL};
    s_broker = procs_spawn(broker, NULL, log);
    usleep(300000);
    for (int i = 0; i < 2; i++) {
        const char *argv[] = {AC_WORKER_PATH,        "--broker",     s_ep[1], "--events", s_ep[2],
                              BENCH_W2_WORKER_FLAGS, "--l1-entries", "0",     NULL};
        s_workers[i] = procs_spawn(argv, NULL, log);
    }
    usleep(700000);
}

static zsock_t *subscriber(void)
{
    zsock_t *sub = zsock_new(ZMQ_SUB);
    zsock_set_rcvhwm(sub, 2000000);
    zsock_set_subscribe(sub, "snap/");
    zsock_connect(sub, "%s", s_ep[3]);
    zclock_sleep(300);
    return sub;
}

static zsock_t *pusher(void)
{
    zsock_t *p = zsock_new(ZMQ_PUSH);
    zsock_set_sndhwm(p, 100000);
    zsock_connect(p, "%s", s_ep[4]);
    return p;
}

static void push(zsock_t *p, const msgpack_sbuffer *sb)
{
    if (zmq_send(zsock_resolve(p), "c", 1, ZMQ_SNDMORE) < 0 ||
        zmq_send(zsock_resolve(p), sb->data, sb->size, 0) < 0)
        die("push failed");
}

/* The next event's actor index (ids are "<prefix><index>") and version; -1 when none came
   within ms. */
static int next_event(zsock_t *sub, int ms, int64_t *version, msgpack_zone *zone)
{
    if (ms > 0) {
        zmq_pollitem_t it = {zsock_resolve(sub), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, ms) <= 0)
            return -1;
    }
    zmsg_t *m = zmsg_recv_nowait(sub);
    if (!m)
        return -1;
    zframe_t *t = zmsg_first(m), *body = zmsg_next(m);
    char topic[64];
    snprintf(topic, sizeof topic, "%.*s", (int)zframe_size(t), (const char *)zframe_data(t));
    const char *dash = strrchr(topic, '-');
    int index = dash ? atoi(dash + 1) : -1;
    msgpack_zone_clear(zone);
    msgpack_object o;
    ac_error_t err;
    *version = -1;
    if (body &&
        ac_msgpack_parse((const char *)zframe_data(body), zframe_size(body), zone, &o, &err) == 0) {
        const msgpack_object *v = ac_wire_get(&o, "Version");
        if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            *version = (int64_t)v->via.u64;
    }
    zmsg_destroy(&m);
    return index;
}

/* ---- 1. throughput ---- */

static double mdp_rate(int run)
{
    ac_client_config_t cfg = {.timeout_ms = 60000, .retries = 0};
    ac_client_t *c = ac_client_new(s_ep[0], &cfg);
    msgpack_zone *zone = msgpack_zone_new(65536);
    double t0 = now_s();
    int sent = 0, got = 0;
    char id[32];
    while (got < s_n) {
        while (sent < s_n && sent - got < 256) {
            snprintf(id, sizeof id, "m%d-%d", run, sent);
            uint64_t rid = ac_client_next_id(c);
            msgpack_packer *pk;
            ac_client_begin(c, &pk, "resolve", rid, 1);
            ac_wire_pack_str(pk, "actor");
            pack_actor(pk, id, 1);
            ac_client_send(c, rid);
            sent++;
        }
        ac_reply_t r;
        if (ac_client_recv(c, &r, 60000) != 1)
            die("no MDP reply");
        msgpack_zone_clear(zone);
        msgpack_object o;
        ac_error_t err;
        const msgpack_object *ok =
            ac_msgpack_parse(r.body, r.len, zone, &o, &err) == 0 ? ac_wire_get(&o, "ok") : NULL;
        if (!ok || !ok->via.boolean)
            die("an MDP resolve failed");
        got++;
    }
    double dt = now_s() - t0;
    msgpack_zone_free(zone);
    ac_client_destroy(&c);
    return s_n / dt;
}

static double ingest_rate(zsock_t *sub, zsock_t *p, int run)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_zone *zone = msgpack_zone_new(65536);
    unsigned char *seen = calloc((size_t)s_n, 1);
    char id[32];
    int got = 0;
    int64_t v;
    double t0 = now_s();
    for (int i = 0; i < s_n; i++) {
        snprintf(id, sizeof id, "i%d-%d", run, i);
        pack_change(&sb, id, 1);
        push(p, &sb);
        int k;
        while ((k = next_event(sub, 0, &v, zone)) >= 0)
            if (k < s_n && !seen[k]++)
                got++;
    }
    while (got < s_n) {
        int k = next_event(sub, 30000, &v, zone);
        if (k < 0) {
            fprintf(stderr, "ingest: %d of %d snapshots came\n", got, s_n);
            die("ingest lost snapshots");
        }
        if (k < s_n && !seen[k]++)
            got++;
    }
    double dt = now_s() - t0;
    free(seen);
    msgpack_zone_free(zone);
    msgpack_sbuffer_destroy(&sb);
    return s_n / dt;
}

/* ---- 2. latency in an open loop ---- */

static void open_loop(zsock_t *sub, zsock_t *p, double rate, int n, double *p50, double *p99)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_zone *zone = msgpack_zone_new(65536);
    double *intended = calloc((size_t)n, sizeof *intended), *lat = calloc((size_t)n, sizeof *lat);
    char id[32];
    int got = 0, sent = 0;
    int64_t v;
    double t0 = now_s() + 0.01;
    while (got < n) {
        double now = now_s();
        while (sent < n && t0 + sent / rate <= now) {
            intended[sent] = t0 + sent / rate;
            snprintf(id, sizeof id, "l-%d", sent);
            pack_change(&sb, id, 1);
            push(p, &sb);
            sent++;
        }
        double wait_ms = sent < n ? (t0 + sent / rate - now_s()) * 1000 : 30000;
        int k = next_event(sub, wait_ms < 1 ? 1 : (int)wait_ms, &v, zone);
        if (k >= 0 && k < n && lat[k] == 0) {
            lat[k] = now_s() - intended[k];
            got++;
        } else if (k < 0 && sent == n) {
            die("open loop: snapshots missing");
        }
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_d);
    *p50 = lat[n / 2] * 1e6;
    *p99 = lat[n * 99 / 100] * 1e6;
    free(intended);
    free(lat);
    msgpack_zone_free(zone);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- 3. coalescing under a Zipf stream at twice the capacity ---- */

static void zipf_stream(zsock_t *sub, zsock_t *p, double rate, int n)
{
    double *cdf = malloc(ZIPF_ACTORS * sizeof *cdf), sum = 0;
    for (int k = 0; k < ZIPF_ACTORS; k++)
        cdf[k] = (sum += 1.0 / pow(k + 1, 1.1));
    int64_t *last = calloc(ZIPF_ACTORS, sizeof *last), *seen = calloc(ZIPF_ACTORS, sizeof *seen);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_zone *zone = msgpack_zone_new(65536);
    uint64_t rng = 11;
    long rss0 = bench_rss_kb(s_broker), rss_max = rss0;
    char id[32];
    int64_t v;
    double t0 = now_s();
    for (int sent = 0; sent < n;) {
        double now = now_s();
        while (sent < n && t0 + sent / rate <= now) {
            double u = (double)(splitmix64(&rng) >> 11) / 9007199254740992.0 * sum;
            int lo = 0, hi = ZIPF_ACTORS - 1;
            while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (cdf[mid] < u)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            snprintf(id, sizeof id, "z-%d", lo);
            pack_change(&sb, id, ++last[lo]);
            push(p, &sb);
            sent++;
            if (sent % 2000 == 0) {
                long r = bench_rss_kb(s_broker);
                rss_max = r > rss_max ? r : rss_max;
            }
        }
        int k;
        while ((k = next_event(sub, 0, &v, zone)) >= 0)
            if (k < ZIPF_ACTORS) {
                if (v < seen[k])
                    die("zipf: an actor's version went back");
                seen[k] = v;
            }
        zclock_sleep(1);
    }
    double sent_for = now_s() - t0;
    int pending = 1;
    while (pending) {
        pending = 0;
        for (int a = 0; a < ZIPF_ACTORS; a++)
            pending += seen[a] != last[a];
        if (!pending)
            break;
        int k = next_event(sub, 30000, &v, zone);
        if (k < 0) {
            fprintf(stderr, "zipf: %d actors without their last version\n", pending);
            die("zipf: final snapshots missing");
        }
        if (k < ZIPF_ACTORS) {
            if (v < seen[k])
                die("zipf: an actor's version went back");
            seen[k] = v;
        }
    }
    double drained = now_s() - t0;
    int actors = 0;
    for (int a = 0; a < ZIPF_ACTORS; a++)
        actors += last[a] > 0;
    printf("Coalescing: Zipf(1.1) over %d actors, %d changes at %.0f/s (2x the maximum), sent in "
           "%.1f s, drained in %.1f s\n",
           ZIPF_ACTORS, n, rate, sent_for, drained);
    printf("  %d actors changed, every one's last snapshot has its last version; %.0f changes "
           "coalesced, %.0f stale; broker RSS %ld kB before, %ld kB at most during\n",
           actors, broker_counter(s_ep[0], "ingest_coalesced"),
           broker_counter(s_ep[0], "ingest_stale"), rss0, rss_max);
    free(cdf);
    free(last);
    free(seen);
    msgpack_zone_free(zone);
    msgpack_sbuffer_destroy(&sb);
}

int main(int argc, char **argv)
{
    bool quick = argc == 2 && strcmp(argv[1], "--quick") == 0;
    if (argc > 2 || (argc == 2 && !quick)) {
        fputs("usage: bench_ingest [--quick]\n", stderr);
        return 2;
    }
    if (quick)
        s_n = 2000;
    zsys_init();
    zsys_set_logstream(NULL);
    if (!mkdtemp(s_dir))
        return 1;
    atexit(procs_kill_all);
    size_t len;
    ac_error_t err;
    char *json = ac_read_file(AC_SOURCE_DIR "/config/demo/actor.json", 1 << 20, &len, &err);
    msgpack_zone *zone = msgpack_zone_new(8192);
    if (!json || ac_json_parse(json, len, zone, &s_actor, &err))
        die("cannot read config/demo/actor.json");
    start();
    zsock_t *sub = subscriber(), *p = pusher();
    {
        /* warm-up: both paths once */
        int saved = s_n;
        s_n = 500;
        mdp_rate(99);
        ingest_rate(sub, p, 99);
        s_n = saved;
    }
    double mdp[RUNS], ing[RUNS], ratio[RUNS];
    /* CPU per item of each process (this client, the broker, the workers), per path. */
    pid_t procs[4] = {getpid(), s_broker, s_workers[0], s_workers[1]};
    double cpu[2][4][RUNS];
    for (int run = 0; run < RUNS; run++) {
        for (int path = 0; path < 2; path++) {
            double c0[4];
            for (int i = 0; i < 4; i++)
                c0[i] = bench_cpu_seconds(procs[i]);
            if (path == 0)
                mdp[run] = mdp_rate(run);
            else
                ing[run] = ingest_rate(sub, p, run);
            for (int i = 0; i < 4; i++)
                cpu[path][i][run] = (bench_cpu_seconds(procs[i]) - c0[i]) / s_n * 1e6;
        }
        ratio[run] = ing[run] / mdp[run];
    }
    qsort(mdp, RUNS, sizeof(double), cmp_d);
    qsort(ing, RUNS, sizeof(double), cmp_d);
    qsort(ratio, RUNS, sizeof(double), cmp_d);
    printf("Ingest: W2 changes of distinct actors, broker + 2 workers (L1 off), %d per run, %d "
           "paired runs\n",
           s_n, RUNS);
    printf("  MDP requests, 256 in flight        median %8.0f  min %8.0f  max %8.0f  resolves/s\n",
           mdp[RUNS / 2], mdp[0], mdp[RUNS - 1]);
    printf("  PUSH -> snapshot event             median %8.0f  min %8.0f  max %8.0f  changes/s\n",
           ing[RUNS / 2], ing[0], ing[RUNS - 1]);
    printf("  ingest / MDP, paired runs: median %.3f  min %.3f  max %.3f (target >= 0.9)\n",
           ratio[RUNS / 2], ratio[0], ratio[RUNS - 1]);
    const char *who[4] = {"client", "broker", "worker 1", "worker 2"};
    for (int path = 0; path < 2; path++) {
        printf("  CPU us per %s:", path ? "change (ingest)" : "resolve (MDP)  ");
        double total = 0;
        for (int i = 0; i < 4; i++) {
            qsort(cpu[path][i], RUNS, sizeof(double), cmp_d);
            total += cpu[path][i][RUNS / 2];
            printf(" %s %.1f", who[i], cpu[path][i][RUNS / 2]);
        }
        printf(", total %.1f (medians)\n", total);
    }
    double max_rate = ing[RUNS / 2], p50, p99;
    int n_lat = quick ? 1000 : (int)(max_rate * 0.5 * 4);
    open_loop(sub, p, max_rate * 0.5, n_lat, &p50, &p99);
    printf("Latency PUSH -> event at 50%% of the maximum (%.0f changes/s, %d changes, from each "
           "intended send time): p50 %.0f us, p99 %.0f us\n",
           max_rate * 0.5, n_lat, p50, p99);
    zipf_stream(sub, p, max_rate * 2, quick ? 5000 : 60000);
    zsock_destroy(&p);
    zsock_destroy(&sub);
    procs_stop(s_workers[0]);
    procs_stop(s_workers[1]);
    procs_stop(s_broker);
    msgpack_zone_free(zone);
    free(json);
    return 0;
}
