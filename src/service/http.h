/*  http.h - the operational HTTP endpoint of the broker and the workers (libmicrohttpd):
    `/metrics` (Prometheus text exposition format 0.0.4, written by the program's own
    callback with service/metrics.h), `/healthz` (liveness: 200 whenever the process loop
    answers at all) and `/readyz` (200 or 503, as the program's callback says).

    Threading: none of its own. The broker and the workers are single-threaded zmq_poll
    loops; libmicrohttpd runs without an internal thread, in its epoll mode
    (MHD_USE_EPOLL): the loop adds ac_http_fd() (the daemon's epoll descriptor) to its
    zmq_pollitem_t list as a plain file descriptor and calls ac_http_run() when it is
    readable or when ac_http_wait() said a connection timeout is due. So the callbacks run
    in the loop's thread, between messages, and read the loop's counters as they are: no
    lock, no atomic, and no zmq socket is ever touched from another thread. ac_http_run()
    never blocks: libmicrohttpd does non-blocking I/O, so a slow or hostile client cannot
    stall the loop; it is bounded by a connection limit, a per-connection memory limit
    (headers past it get 431 / 414) and an idle timeout.

    Answers: GET (and HEAD) of the three paths; another path is 404; another method is
    405 (with `Allow: GET, HEAD`, answered at once, the body never read).
*/
#ifndef AC_SERVICE_HTTP_H
#define AC_SERVICE_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "actorcore/error.h"
#include "service/metrics.h"

typedef struct ac_http ac_http_t;

typedef struct {
    void (*metrics)(void *ctx, ac_mtext_t *out); /* writes the /metrics text */
    bool (*ready)(void *ctx);                    /* /readyz: 200 when true, else 503 */
    void *ctx;                                   /* passed to both */
} ac_http_handlers_t;

/* Listens on `addr` (HOST:PORT as checked by settings.h's AC_SET_LISTEN; HOST `*` is
   every IPv4 interface). `setting` names the flag in errors ("metrics"). NULL with err
   set when the address cannot be resolved or bound. */
ac_http_t *ac_http_start(const char *setting, const char *addr, const ac_http_handlers_t *h,
                         ac_error_t *err);
/* Stops listening and closes every connection; safe on NULL and twice. */
void ac_http_stop(ac_http_t **self_p);
/* The descriptor to poll for reading (zmq_pollitem_t.fd). */
int ac_http_fd(const ac_http_t *self);
/* wait_ms bounded by the time until libmicrohttpd must run again (a connection's timeout,
   or 0 when it has work left over); the poll's timeout. */
long ac_http_wait(const ac_http_t *self, long wait_ms);
/* Runs libmicrohttpd when `readable` (the descriptor polled readable) or its timeout is
   due; else nothing (no system call). Never blocks. */
void ac_http_run(ac_http_t *self, bool readable);
/* Polls the descriptor without waiting (one system call) and runs libmicrohttpd when it
   is readable: for a loop busy with a backlog that does not come back to its poll. */
void ac_http_check(ac_http_t *self);
/* Requests answered, by outcome (for the program's own metrics). */
uint64_t ac_http_served(const ac_http_t *self);

#endif
