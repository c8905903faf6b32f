/*  forwarder - the smallest credit-based ROUTER/ROUTER forwarder that serves MDP/0.1
    clients and credit-carrying MDP workers: the forwarding limit that bench_service
    measures actorcore-broker against, in the same run.

    It speaks just enough MDP to route. A worker's READY puts it in a fixed array with its
    credit (the optional frame after the service name; none means 1). A client request
    goes to the worker with the most credit left, with the client's routing id as the
    envelope; a REPLY goes back to the client named by its envelope and gives the worker
    one credit back. DISCONNECT removes a worker; HEARTBEAT is ignored. While no worker has
    credit the frontend is not read, so waiting requests stay in libzmq's queues: nothing is
    queued, re-queued or timed out here, and the service name is not looked at (every
    worker serves every request). Frames are moved with zmq_msg_send, never copied; the
    few protocol frames built per message are at most 33 bytes, which libzmq keeps inside
    the zmq_msg_t, so the forwarder itself allocates nothing per request.

    usage: bench_forwarder FRONTEND BACKEND   (both bound; exits 0 on SIGINT/SIGTERM)
*/
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "actorcore/wire.h"

#define MAX_WORKERS 16
#define MAX_FRAMES 16 /* a message with more is dropped */
#define MAX_ID 255    /* ZeroMQ routing ids are 1..255 bytes */
#define BATCH 256     /* messages read from one socket per turn */

typedef struct {
    unsigned char id[MAX_ID]; /* routing id */
    size_t id_len;            /* 0: the slot is free */
    char service[256];        /* named in READY; replies carry it */
    int credit;               /* requests it may hold */
    int inflight;             /* requests it holds */
} worker_t;

typedef struct {
    void *frontend, *backend;      /* clients' and workers' ROUTERs */
    worker_t workers[MAX_WORKERS]; /* free slots have id_len 0 */
    long long dropped;             /* malformed or unroutable messages */
} fwd_t;

static volatile sig_atomic_t s_stop;

static void on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

/* Reads one whole message into f; its frame count, or 0 when there is none, or -1 when it
   had more than MAX_FRAMES (it is then consumed and dropped). */
static int recv_message(void *sock, zmq_msg_t *f)
{
    int n = 0;
    for (;;) {
        zmq_msg_t *m = &f[n < MAX_FRAMES ? n : MAX_FRAMES];
        zmq_msg_init(m);
        int rc;
        /* The parts of a message arrive together: after the first, only a signal waits. */
        while ((rc = zmq_msg_recv(m, sock, n ? 0 : ZMQ_DONTWAIT)) < 0 && n && errno == EINTR)
            ;
        if (rc < 0) {
            zmq_msg_close(m);
            for (int i = 0; i < n && i < MAX_FRAMES; i++)
                zmq_msg_close(&f[i]);
            return 0;
        }
        bool more = zmq_msg_more(m);
        if (n >= MAX_FRAMES)
            zmq_msg_close(m); /* the spare slot f[MAX_FRAMES] */
        n++;
        if (!more)
            break;
    }
    if (n > MAX_FRAMES) {
        for (int i = 0; i < MAX_FRAMES; i++)
            zmq_msg_close(&f[i]);
        return -1;
    }
    return n;
}

static void close_frames(zmq_msg_t *f, int n)
{
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

/* Replaces *m with a frame holding those bytes: inside the zmq_msg_t (no heap) up to 33. */
static void set_frame(zmq_msg_t *m, const void *data, size_t len)
{
    zmq_msg_close(m);
    zmq_msg_init_size(m, len);
    memcpy(zmq_msg_data(m), data, len);
}

static bool frame_is(zmq_msg_t *m, const char *s)
{
    size_t len = strlen(s);
    return zmq_msg_size(m) == len && memcmp(zmq_msg_data(m), s, len) == 0;
}

/* Sends the frames order[0..n-1] of f as one message; each frame is moved (zmq_msg_send
   leaves it empty), so closing all of f afterwards is right whether or not it went. With
   ROUTER_MANDATORY an unroutable peer fails the first frame only. */
static int send_frames(void *sock, zmq_msg_t *f, const int *order, int n)
{
    for (int i = 0; i < n; i++)
        if (zmq_msg_send(&f[order[i]], sock, (i + 1 < n ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0)
            return -1;
    return 0;
}

static worker_t *worker_find(fwd_t *fw, zmq_msg_t *id)
{
    for (int i = 0; i < MAX_WORKERS; i++) {
        worker_t *w = &fw->workers[i];
        if (w->id_len && w->id_len == zmq_msg_size(id) &&
            memcmp(w->id, zmq_msg_data(id), w->id_len) == 0)
            return w;
    }
    return NULL;
}

/* The worker with the most credit left, or NULL when all are full. */
static worker_t *worker_pick(fwd_t *fw)
{
    worker_t *best = NULL;
    for (int i = 0; i < MAX_WORKERS; i++) {
        worker_t *w = &fw->workers[i];
        if (w->id_len && w->inflight < w->credit &&
            (!best || w->credit - w->inflight > best->credit - best->inflight))
            best = w;
    }
    return best;
}

static void on_ready(fwd_t *fw, zmq_msg_t *f, int n)
{
    worker_t *w = worker_find(fw, &f[0]);
    for (int i = 0; !w && i < MAX_WORKERS; i++)
        if (!fw->workers[i].id_len)
            w = &fw->workers[i];
    if (!w || n < 5 || zmq_msg_size(&f[4]) >= sizeof w->service) {
        fw->dropped++;
        return;
    }
    memcpy(w->id, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]));
    w->id_len = zmq_msg_size(&f[0]);
    memcpy(w->service, zmq_msg_data(&f[4]), zmq_msg_size(&f[4]));
    w->service[zmq_msg_size(&f[4])] = '\0';
    w->credit = 1;
    if (n >= 6) {
        char digits[16] = "";
        size_t len = zmq_msg_size(&f[5]);
        memcpy(digits, zmq_msg_data(&f[5]), len < sizeof digits - 1 ? len : sizeof digits - 1);
        int credit = atoi(digits);
        w->credit = credit > 0 ? credit : 1;
    }
    w->inflight = 0;
}

/* [worker][empty][MDPW01][cmd][...]: READY, REPLY or DISCONNECT (HEARTBEAT is ignored).
   A REPLY [envelope = client][empty][body...] leaves as [client][empty][MDPC01][service]
   [body...], reusing the received frames. */
static void on_backend(fwd_t *fw, zmq_msg_t *f, int n)
{
    if (n < 4 || zmq_msg_size(&f[1]) != 0 || !frame_is(&f[2], AC_MDPW) ||
        zmq_msg_size(&f[3]) != 1) {
        fw->dropped++;
        return;
    }
    int cmd = ((unsigned char *)zmq_msg_data(&f[3]))[0];
    worker_t *w = worker_find(fw, &f[0]);
    if (cmd == AC_MDPW_READY) {
        on_ready(fw, f, n);
    } else if (cmd == AC_MDPW_DISCONNECT) {
        if (w)
            w->id_len = 0;
    } else if (cmd == AC_MDPW_REPLY) {
        if (n < 7 || zmq_msg_size(&f[5]) != 0) {
            fw->dropped++;
            return;
        }
        if (w && w->inflight > 0)
            w->inflight--;
        const char *service = w ? w->service : AC_SERVICE;
        set_frame(&f[2], AC_MDPC, strlen(AC_MDPC));
        set_frame(&f[3], service, strlen(service));
        int order[MAX_FRAMES] = {4, 1, 2, 3};
        for (int i = 6; i < n; i++)
            order[i - 2] = i;
        if (send_frames(fw->frontend, f, order, n - 2) != 0)
            fw->dropped++;
    }
}

/* [client][empty][MDPC01][service][body...] to the worker with most credit left, as
   [worker][empty][MDPW01][REQUEST][envelope = client][empty][body...]. */
static void on_frontend(fwd_t *fw, zmq_msg_t *f, int n)
{
    worker_t *w = worker_pick(fw);
    if (!w || n < 5 || n + 2 > MAX_FRAMES || zmq_msg_size(&f[1]) != 0 ||
        !frame_is(&f[2], AC_MDPC)) {
        fw->dropped++;
        return;
    }
    /* The two frames a request lacks go in the spare slots n and n + 1. */
    unsigned char cmd = AC_MDPW_REQUEST;
    zmq_msg_init_size(&f[n], w->id_len);
    memcpy(zmq_msg_data(&f[n]), w->id, w->id_len);
    zmq_msg_init(&f[n + 1]);
    set_frame(&f[2], AC_MDPW, strlen(AC_MDPW));
    set_frame(&f[3], &cmd, 1);
    int order[MAX_FRAMES] = {n, 1, 2, 3, 0, n + 1};
    for (int i = 4; i < n; i++)
        order[i + 2] = i;
    if (send_frames(fw->backend, f, order, n + 2) == 0) {
        w->inflight++;
    } else {
        fw->dropped++;
        if (zmq_errno() == EHOSTUNREACH)
            w->id_len = 0; /* gone without a DISCONNECT; what it held is lost */
    }
    zmq_msg_close(&f[n]);
    zmq_msg_close(&f[n + 1]);
}

static bool any_credit(fwd_t *fw)
{
    return worker_pick(fw) != NULL;
}

static void *router(void *ctx, const char *endpoint)
{
    void *s = zmq_socket(ctx, ZMQ_ROUTER);
    int on = 1, zero = 0, hwm = 1000000;
    zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &on, sizeof on);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (zmq_bind(s, endpoint) != 0) {
        fprintf(stderr, "bench_forwarder: cannot bind %s: %s\n", endpoint,
                zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    return s;
}

static void run(fwd_t *fw)
{
    zmq_msg_t f[MAX_FRAMES + 2];
    while (!s_stop) {
        zmq_pollitem_t items[] = {{fw->backend, 0, ZMQ_POLLIN, 0},
                                  {fw->frontend, 0, ZMQ_POLLIN, 0}};
        /* A bounded wait only so that a signal taken by no blocked call is still seen. */
        if (zmq_poll(items, any_credit(fw) ? 2 : 1, 200) < 0 && zmq_errno() != EINTR)
            break;
        for (int i = 0; i < BATCH; i++) {
            int n = recv_message(fw->backend, f);
            if (n == 0)
                break;
            if (n > 0) {
                on_backend(fw, f, n);
                close_frames(f, n);
            }
        }
        for (int i = 0; i < BATCH && any_credit(fw); i++) {
            int n = recv_message(fw->frontend, f);
            if (n == 0)
                break;
            if (n > 0) {
                on_frontend(fw, f, n);
                close_frames(f, n);
            }
        }
    }
}

int main(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: bench_forwarder FRONTEND BACKEND\n");
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: bench_forwarder FRONTEND BACKEND\n");
        return 2;
    }
    /* libzmq's threads inherit a mask with the stop signals blocked, so that they reach
       this thread and interrupt zmq_poll. */
    sigset_t stops, old;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    pthread_sigmask(SIG_BLOCK, &stops, &old);
    static fwd_t fw;
    void *ctx = zmq_ctx_new();
    fw.frontend = router(ctx, argv[1]);
    fw.backend = router(ctx, argv[2]);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    int status = 2;
    if (fw.frontend && fw.backend) {
        run(&fw);
        status = 0;
    }
    if (fw.frontend)
        zmq_close(fw.frontend);
    if (fw.backend)
        zmq_close(fw.backend);
    zmq_ctx_term(ctx);
    if (status == 0 && fw.dropped)
        fprintf(stderr, "bench_forwarder: %lld messages dropped\n", fw.dropped);
    return status;
}
