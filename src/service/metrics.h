/*  metrics.h - Prometheus metrics of the service processes: the latency histogram the hot
    path records into, and the writer of the text exposition format 0.0.4 that the
    `/metrics` endpoint (service/http.h) serves. Shared by the broker and the workers.

    The hot path pays one plain increment per counter and, per timed request, one
    count-leading-zeros, two increments and an add into a fixed array: no allocation, no
    lock, no floating point. Buckets are powers of two of microseconds (le = 4 us, 8 us,
    16 us ... 2^25 us = 33.554432 s, then +Inf), so a duration's bucket is its bit length
    (less 2); the sum is kept in integer microseconds. Seconds (the unit Prometheus wants) are only
    computed when the text is written, as exact decimals ("0.000128").

    The writer is called from the process's own loop thread (the HTTP endpoint runs in
    that loop), so it reads the counters without locks. It appends to a growable buffer;
    a failed allocation is remembered and the whole text is then refused (the endpoint
    answers 500), never served half-written.
*/
#ifndef AC_SERVICE_METRICS_H
#define AC_SERVICE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AC_HIST_BUCKETS 24 /* finite buckets: le = 2^2 .. 2^25 microseconds */
#define AC_HIST_SHIFT 2    /* the first bucket's bound: 2^AC_HIST_SHIFT microseconds */

/* One latency histogram: counts per bucket (not cumulative: that is done when written). */
typedef struct {
    uint64_t bucket[AC_HIST_BUCKETS + 1]; /* [i]: in (2^(i+1), 2^(i+2)] us ([0]: from 0) */
    uint64_t sum_us;                      /* sum of every duration recorded, microseconds */
} ac_hist_t;

/* Records one duration of `us` microseconds. This function can't fail. */
static inline void ac_hist_add(ac_hist_t *h, uint64_t us)
{
    unsigned bits = us <= 1 ? 0 : 64u - (unsigned)__builtin_clzll(us - 1); /* 2^bits >= us */
    unsigned i = bits <= AC_HIST_SHIFT ? 0 : bits - AC_HIST_SHIFT;
    h->bucket[i < AC_HIST_BUCKETS ? i : AC_HIST_BUCKETS]++;
    h->sum_us += us;
}

/* The number of durations recorded (the histogram's _count). */
uint64_t ac_hist_count(const ac_hist_t *h);

/* The text being written. */
typedef struct {
    char *data; /* NUL-terminated text, malloc'd */
    size_t len; /* bytes of text */
    size_t cap; /* bytes allocated */
    bool oom;   /* an append failed: the text is incomplete */
} ac_mtext_t;

void ac_mtext_init(ac_mtext_t *t);
void ac_mtext_fini(ac_mtext_t *t);
/* Empties the text (keeps its buffer). */
void ac_mtext_reset(ac_mtext_t *t);
/* Starts a metric family: its `# HELP` and `# TYPE` lines. type: counter, gauge,
   histogram. help is one line without backslashes. */
void ac_mtext_family(ac_mtext_t *t, const char *name, const char *type, const char *help);
/* One sample `name{labels} value`; labels is `k="v",...` without braces, or NULL/"" for
   none. Label values are the program's own fixed names (nothing to escape). */
void ac_mtext_u64(ac_mtext_t *t, const char *name, const char *labels, uint64_t v);
/* A counter family with one sample per label value: `name{key="labels[i]"} v[i]`. */
void ac_mtext_counter_by(ac_mtext_t *t, const char *name, const char *help, const char *key,
                         const char *const *labels, const uint64_t *v, int n);
/* A family of one unlabelled sample: its HELP and TYPE lines, then `name v`. */
void ac_mtext_single(ac_mtext_t *t, const char *name, const char *type, const char *help,
                     uint64_t v);
void ac_mtext_double(ac_mtext_t *t, const char *name, const char *labels, double v);
/* Samples `name{labels,code="..."} v` of a count per error code (by_code[-code], n
   entries; [0] unused), one per SPEC 7 code name with a count (codes that share a wire
   name, such as AC_ENOMEM and AC_EINTERNAL, `internal`, are summed into one series). */
void ac_mtext_codes(ac_mtext_t *t, const char *name, const char *labels, const uint64_t *by_code,
                    int n);
/* The samples of one histogram of the family `name` (declared with ac_mtext_family):
   cumulative `name_bucket{labels,le="..."}` lines up to `+Inf`, `name_sum` in seconds and
   `name_count`. */
void ac_mtext_hist(ac_mtext_t *t, const char *name, const char *labels, const ac_hist_t *h);

#endif
