/*  http.c - see http.h. */
#include "service/http.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HTTP_CONNECTIONS 32          /* connections at once; more are refused */
#define HTTP_CONNECTION_MEMORY 16384 /* bytes per connection: a larger head is refused */
#define HTTP_TIMEOUT_S 5             /* an idle connection is closed after this */

struct ac_http {
    struct MHD_Daemon *d; /* libmicrohttpd, epoll mode, no thread of its own */
    int fd;               /* its epoll descriptor */
    ac_http_handlers_t h; /* the program's callbacks */
    ac_mtext_t text;      /* the /metrics text, its buffer reused */
    int64_t due_ms;       /* when MHD must run again though nothing is readable */
    uint64_t served;      /* requests answered */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Queues a response of `len` bytes of `body` (copied) with status `code`. */
static enum MHD_Result answer(struct MHD_Connection *c, unsigned code, const char *type,
                              const char *body, size_t len, const char *allow)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned code, const char *s)
{
    return answer(c, code, "text/plain; charset=utf-8", s, strlen(s), NULL);
}

/* libmicrohttpd's access handler, called in the loop's thread from MHD_run. Answers on the
   first call, whatever the method: a request body is never read. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    ac_http_t *h = cls;
    h->served++;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
                      "method not allowed\n", 19, "GET, HEAD");
    if (strcmp(url, "/metrics") == 0) {
        ac_mtext_reset(&h->text);
        h->h.metrics(h->h.ctx, &h->text);
        if (h->text.oom || !h->text.data)
            return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        return answer(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", h->text.data,
                      h->text.len, NULL);
    }
    if (strcmp(url, "/healthz") == 0)
        return text(c, MHD_HTTP_OK, "ok\n");
    if (strcmp(url, "/readyz") == 0)
        return h->h.ready(h->h.ctx) ? text(c, MHD_HTTP_OK, "ready\n")
                                    : text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready\n");
    return text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* A bound, listening, non-blocking socket on host:port (host "*": every IPv4 interface);
   -1 with err set. Bound here rather than by libmicrohttpd, so a failure names its
   reason. */
static int listen_on(const char *setting, const char *addr, ac_error_t *err)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    size_t hl = colon ? (size_t)(colon - addr) : 0;
    if (!colon || hl == 0 || hl >= sizeof host) {
        ac_error_set(err, AC_ESCHEMA, setting, "--%s: expected HOST:PORT, found '%.60s'", setting,
                     addr);
        return -1;
    }
    memcpy(host, addr, hl);
    host[hl] = '\0';
    const char *name = host;
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        name = host + 1;
    }
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    bool any = strcmp(name, "*") == 0;
    hints.ai_family = any ? AF_INET : AF_UNSPEC;
    int rc = getaddrinfo(any ? NULL : name, colon + 1, &hints, &ai);
    if (rc != 0) {
        ac_error_set(err, AC_ESCHEMA, setting, "--%s: cannot resolve %.60s: %s", setting, addr,
                     gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        ac_error_set(err, AC_EUNAVAILABLE, setting, "--%s: cannot listen on %.60s: %s", setting,
                     addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

ac_http_t *ac_http_start(const char *setting, const char *addr, const ac_http_handlers_t *h,
                         ac_error_t *err)
{
    int fd = listen_on(setting, addr, err);
    if (fd < 0)
        return NULL;
    ac_http_t *self = calloc(1, sizeof *self);
    if (!self) {
        close(fd);
        ac_error_set(err, AC_ENOMEM, setting, "out of memory");
        return NULL;
    }
    self->h = *h;
    ac_mtext_init(&self->text);
    /* The listening socket is handed over: libmicrohttpd closes it when stopped. */
    self->d =
        MHD_start_daemon(MHD_USE_EPOLL, 0, NULL, NULL, on_request, self, MHD_OPTION_LISTEN_SOCKET,
                         fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTIONS,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S, MHD_OPTION_END);
    const union MHD_DaemonInfo *info =
        self->d ? MHD_get_daemon_info(self->d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
    if (!info) {
        ac_error_set(err, AC_EUNAVAILABLE, setting, "--%s: libmicrohttpd cannot serve %.60s",
                     setting, addr);
        if (self->d)
            MHD_stop_daemon(self->d);
        else
            close(fd);
        ac_mtext_fini(&self->text);
        free(self);
        return NULL;
    }
    self->fd = info->epoll_fd;
    self->due_ms = INT64_MAX;
    return self;
}

void ac_http_stop(ac_http_t **self_p)
{
    ac_http_t *self = *self_p;
    if (!self)
        return;
    MHD_stop_daemon(self->d);
    ac_mtext_fini(&self->text);
    free(self);
    *self_p = NULL;
}

int ac_http_fd(const ac_http_t *self)
{
    return self->fd;
}

long ac_http_wait(const ac_http_t *self, long wait_ms)
{
    if (self->due_ms == INT64_MAX)
        return wait_ms;
    int64_t left = self->due_ms - mono_ms();
    if (left < 0)
        left = 0;
    return left < wait_ms ? (long)left : wait_ms;
}

void ac_http_run(ac_http_t *self, bool readable)
{
    if (!readable && (self->due_ms == INT64_MAX || mono_ms() < self->due_ms))
        return;
    MHD_run(self->d);
    MHD_UNSIGNED_LONG_LONG t;
    self->due_ms = MHD_get_timeout(self->d, &t) == MHD_YES ? mono_ms() + (int64_t)t : INT64_MAX;
}

void ac_http_check(ac_http_t *self)
{
    struct pollfd p = {self->fd, POLLIN, 0};
    ac_http_run(self, poll(&p, 1, 0) == 1);
}

uint64_t ac_http_served(const ac_http_t *self)
{
    return self->served;
}
