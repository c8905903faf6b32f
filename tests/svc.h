/*  svc.h - starting and stopping real service processes for integration tests.

    Every process started is remembered and killed at exit (atexit), so a failing test
    leaves nothing running. Ports are picked free by binding port 0; files live in a
    temporary directory removed at exit.
*/
#ifndef AC_SVC_H
#define AC_SVC_H

#include <arpa/inet.h>
#include <czmq.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "actorcore/wire.h"
#include "testutil.h"

#define SVC_MAX_PROCS 64

static pid_t s_procs[SVC_MAX_PROCS];
static int s_nprocs;
static char s_tmp[256];

static void svc_cleanup(void)
{
    /* SIGTERM first (a process that exits normally flushes its store and, in a coverage
       build, writes its counts), SIGKILL what is still there after a second. */
    for (int i = 0; i < s_nprocs; i++)
        if (s_procs[i] > 0)
            kill(s_procs[i], SIGTERM);
    for (int waited = 0; waited < 1000; waited += 10) {
        bool left = false;
        for (int i = 0; i < s_nprocs; i++)
            if (s_procs[i] > 0 && waitpid(s_procs[i], NULL, WNOHANG) == s_procs[i])
                s_procs[i] = 0;
            else if (s_procs[i] > 0)
                left = true;
        if (!left)
            break;
        usleep(10000);
    }
    for (int i = 0; i < s_nprocs; i++)
        if (s_procs[i] > 0) {
            kill(s_procs[i], SIGKILL);
            waitpid(s_procs[i], NULL, 0);
        }
    s_nprocs = 0;
    if (s_tmp[0] && getenv("AC_TEST_KEEP")) { /* the logs, for a failure to be read */
        fprintf(stderr, "kept %s (AC_TEST_KEEP)\n", s_tmp);
        s_tmp[0] = '\0';
    }
    if (s_tmp[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_tmp);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", s_tmp);
        s_tmp[0] = '\0';
    }
}

static const char *svc_tmpdir(void)
{
    if (!s_tmp[0]) {
        snprintf(s_tmp, sizeof s_tmp, "/tmp/ac_svc_XXXXXX");
        if (!mkdtemp(s_tmp))
            fail_msg("mkdtemp");
        atexit(svc_cleanup);
    }
    return s_tmp;
}

/* The low end of the kernel's ephemeral port range (connect() takes its local ports
   there, bind(0) too), 32768 when it cannot be read. */
static int svc_ephemeral_low(void)
{
    static int s_low; /* read once */
    if (!s_low) {
        int lo = 32768, hi = 0;
        FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
        if (f) {
            if (fscanf(f, "%d %d", &lo, &hi) != 2)
                lo = 32768;
            fclose(f);
        }
        s_low = lo;
    }
    return s_low;
}

/* A loopback port that nothing listens on, taken below the ephemeral range: a port from
   bind(0), closed and handed to a process to bind, could be taken first as the local
   port of any connect() on the machine (the processes the test starts make many), and
   the process would then fail to bind (a flake seen in test_cluster). Ports given out
   by this process are not given twice. */
static int svc_free_port(void)
{
    static int s_given[64];
    static size_t s_ngiven;
    static unsigned s_seed;
    if (!s_seed)
        s_seed = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
    const int lo = 10000, hi = svc_ephemeral_low(); /* [lo, hi) */
    for (int tries = 0; tries < 2000 && hi - lo > 1000; tries++) {
        s_seed = s_seed * 1103515245u + 12345u;
        int port = lo + (int)((s_seed >> 8) % (unsigned)(hi - lo));
        bool given = false;
        for (size_t i = 0; i < s_ngiven && i < 64; i++)
            given = given || s_given[i] == port;
        if (given)
            continue;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        if (fd >= 0)
            close(fd);
        if (ok) {
            s_given[s_ngiven++ % 64] = port;
            return port;
        }
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0); /* a machine with no room below: bind(0) */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        fail_msg("no free port");
    close(fd);
    return ntohs(a.sin_port);
}

/* Starts argv[0] with its output in <tmp>/<log>. */
static pid_t svc_spawn(const char *const *argv, const char *log)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", svc_tmpdir(), log);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        int nul = open("/dev/null", O_RDONLY);
        dup2(nul, 0);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int slot = 0;
    while (slot < s_nprocs && s_procs[slot] != 0)
        slot++; /* a slot svc_forget freed, or the next one */
    if (pid < 0 || slot >= SVC_MAX_PROCS)
        fail_msg("cannot start %s", argv[0]);
    s_procs[slot] = pid;
    if (slot == s_nprocs)
        s_nprocs++;
    return pid;
}

/* Forgets a process the test has reaped itself, so cleanup never signals a reused pid. */
static void svc_forget(pid_t pid)
{
    for (int i = 0; i < s_nprocs; i++)
        if (s_procs[i] == pid)
            s_procs[i] = 0;
}

/* Stops pid: SIGTERM, up to wait_ms for it to exit, then SIGKILL. Returns its status. */
static int svc_stop(pid_t pid, int sig, int wait_ms)
{
    kill(pid, sig);
    int st = 0;
    for (int waited = 0; waited < wait_ms; waited += 10) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            goto gone;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
gone:
    svc_forget(pid);
    return st;
}

/* One broker's endpoints. */
typedef struct {
    int port[4]; /* frontend, backend, events in, events out */
    char fe[64], be[64], ein[64], eout[64];
    char state[320]; /* the broker's floors file (--state), one per set of ports */
    pid_t broker;
} svc_t;

static void svc_ports(svc_t *s)
{
    for (int i = 0; i < 4; i++)
        s->port[i] = svc_free_port();
    snprintf(s->fe, sizeof s->fe, "tcp://127.0.0.1:%d", s->port[0]);
    snprintf(s->state, sizeof s->state, "%s/broker-%d.state", svc_tmpdir(), s->port[0]);
    snprintf(s->be, sizeof s->be, "tcp://127.0.0.1:%d", s->port[1]);
    snprintf(s->ein, sizeof s->ein, "tcp://127.0.0.1:%d", s->port[2]);
    snprintf(s->eout, sizeof s->eout, "tcp://127.0.0.1:%d", s->port[3]);
}

/* argv (NULL-terminated) followed by the flags of extra (NULL-terminated, or NULL), into
   out (room for max entries). */
static inline void svc_argv_join(const char **out, size_t max, const char *const *argv,
                                 const char *const *extra)
{
    size_t n = 0;
    for (; *argv && n + 1 < max; argv++)
        out[n++] = *argv;
    for (; extra && *extra && n + 1 < max; extra++)
        out[n++] = *extra;
    out[n] = NULL;
}

/* Starts the broker on s's endpoints with the given heartbeat, then the flags of extra
   (NULL or NULL-terminated), its output in <tmp>/log. */
static inline pid_t svc_start_broker_with(svc_t *s, const char *heartbeat_ms,
                                          const char *const *extra, const char *log)
{
    const char *base[] = {AC_BROKER_PATH,   "--frontend",   s->fe,
                          "--backend",      s->be,          "--events-in",
                          s->ein,           "--events-out", s->eout,
                          "--heartbeat-ms", heartbeat_ms,   "--request-timeout-ms",
                          "20000",          "--verbose",    "true",
                          "--state",        s->state,       NULL};
    const char *argv[48];
    svc_argv_join(argv, 48, base, extra);
    s->broker = svc_spawn(argv, log);
    return s->broker;
}

static inline pid_t svc_start_broker(svc_t *s, const char *heartbeat_ms)
{
    return svc_start_broker_with(s, heartbeat_ms, NULL, "broker.log");
}

/* Starts a worker on the golden registries (layers may be NULL for the default file), then
   the flags of extra (NULL or NULL-terminated), its output in <tmp>/log. */
static inline pid_t svc_start_worker_with(const svc_t *s, const char *layers, const char *store,
                                          const char *heartbeat_ms, const char *l1_entries,
                                          const char *const *extra, const char *log)
{
    char comb[512], lay[512];
    tu_golden_path(comb, sizeof comb, "combiner.yaml");
    if (layers)
        snprintf(lay, sizeof lay, "%s", layers);
    else
        tu_golden_path(lay, sizeof lay, "cap_layers.yaml");
    const char *base[] = {
        AC_WORKER_PATH, "--broker",     s->be,      "--events",  s->ein, "--combiner",
        comb,           "--layers",     lay,        "--store",   store,  "--heartbeat-ms",
        heartbeat_ms,   "--l1-entries", l1_entries, "--verbose", "true", NULL};
    const char *argv[48];
    svc_argv_join(argv, 48, base, extra);
    return svc_spawn(argv, log);
}

static inline pid_t svc_start_worker(svc_t *s, const char *layers, const char *store,
                                     const char *heartbeat_ms, const char *l1_entries)
{
    return svc_start_worker_with(s, layers, store, heartbeat_ms, l1_entries, NULL, "worker.log");
}

/* A counter or table size from the broker's mmi.stats at frontend fe (fails the test when
   the broker does not answer within 5 s or has no such field); with security: curve, the
   client's key pair cert and the broker's public key. */
static inline uint64_t svc_broker_stat_as(const char *fe, const char *name, zcert_t *cert,
                                          const char *server_key)
{
    zsock_t *d = zsock_new(ZMQ_DEALER);
    zsock_set_rcvtimeo(d, 5000);
    zsock_set_sndtimeo(d, 5000); /* a connection a refused key ended: fail, never hang */
    if (cert) {                  /* security: curve */
        zcert_apply(cert, d);
        zsock_set_curve_serverkey(d, server_key);
    }
    zsock_connect(d, "%s", fe);
    zmsg_t *m = zmsg_new();
    zmsg_addmem(m, NULL, 0);
    zmsg_addstr(m, AC_MDPC);
    zmsg_addstr(m, "mmi.stats");
    zmsg_addstr(m, "");
    zmsg_send(&m, d);
    zmsg_t *rep = zmsg_recv(d);
    if (!rep)
        fail_msg("mmi.stats: no answer from %s", fe);
    zframe_t *body = zmsg_last(rep);
    msgpack_zone *zone = msgpack_zone_new(4096);
    msgpack_object o;
    ac_error_t err;
    assert_int_equal(
        ac_msgpack_parse((const char *)zframe_data(body), zframe_size(body), zone, &o, &err), 0);
    const msgpack_object *v = ac_wire_get(&o, name);
    if (!v)
        fail_msg("mmi.stats has no %s", name);
    uint64_t x = v->via.u64;
    msgpack_zone_free(zone);
    zmsg_destroy(&rep);
    zsock_destroy(&d);
    return x;
}

static inline uint64_t svc_broker_stat(const char *fe, const char *name)
{
    return svc_broker_stat_as(fe, name, NULL, NULL);
}

/* Waits for a condition instead of sleeping: polls mmi.stats every 10 ms until the broker's
   `name` is at least `want`, and fails the test when deadline_ms pass first (the machine
   may be loaded: the deadline is generous, the wait ends as soon as the condition holds). */
static inline uint64_t svc_wait_stat_as(const char *fe, const char *name, uint64_t want,
                                        int deadline_ms, zcert_t *cert, const char *server_key)
{
    int64_t end = zclock_mono() + deadline_ms;
    uint64_t x;
    while ((x = svc_broker_stat_as(fe, name, cert, server_key)) < want) {
        if (zclock_mono() > end)
            fail_msg("mmi.stats %s is %" PRIu64 ", not %" PRIu64 " after %d ms", name, x, want,
                     deadline_ms);
        zclock_sleep(10);
    }
    return x;
}

static inline uint64_t svc_wait_stat(const char *fe, const char *name, uint64_t want,
                                     int deadline_ms)
{
    return svc_wait_stat_as(fe, name, want, deadline_ms, NULL, NULL);
}

#endif
