/*  metrics.c - see metrics.h. */
#include "service/metrics.h"

#include "actorcore/error.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t ac_hist_count(const ac_hist_t *h)
{
    uint64_t n = 0;
    for (int i = 0; i <= AC_HIST_BUCKETS; i++)
        n += h->bucket[i];
    return n;
}

void ac_mtext_init(ac_mtext_t *t)
{
    memset(t, 0, sizeof *t);
}

void ac_mtext_fini(ac_mtext_t *t)
{
    free(t->data);
    memset(t, 0, sizeof *t);
}

void ac_mtext_reset(ac_mtext_t *t)
{
    t->len = 0;
    t->oom = false;
    if (t->data)
        t->data[0] = '\0';
}

__attribute__((format(printf, 2, 3))) static void put(ac_mtext_t *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    for (;;) {
        size_t room = t->cap - t->len;
        va_list ap;
        va_start(ap, fmt);
        int n = t->data ? vsnprintf(t->data + t->len, room, fmt, ap) : -1;
        va_end(ap);
        if (n >= 0 && (size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t want = t->cap ? t->cap * 2 : 16384;
        while (n >= 0 && want < t->len + (size_t)n + 1)
            want *= 2;
        char *p = realloc(t->data, want);
        if (!p) {
            t->oom = true;
            return;
        }
        t->data = p;
        t->cap = want;
    }
}

void ac_mtext_family(ac_mtext_t *t, const char *name, const char *type, const char *help)
{
    put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void ac_mtext_u64(ac_mtext_t *t, const char *name, const char *labels, uint64_t v)
{
    if (labels && *labels)
        put(t, "%s{%s} %" PRIu64 "\n", name, labels, v);
    else
        put(t, "%s %" PRIu64 "\n", name, v);
}

void ac_mtext_double(ac_mtext_t *t, const char *name, const char *labels, double v)
{
    if (labels && *labels)
        put(t, "%s{%s} %.17g\n", name, labels, v);
    else
        put(t, "%s %.17g\n", name, v);
}

void ac_mtext_codes(ac_mtext_t *t, const char *name, const char *labels, const uint64_t *by_code,
                    int n)
{
    for (int c = 1; c < n; c++) {
        const char *code = ac_code_name(-c);
        bool seen = false;
        for (int k = 1; k < c && !seen; k++)
            seen = strcmp(ac_code_name(-k), code) == 0;
        uint64_t v = 0;
        for (int k = c; k < n && !seen; k++)
            v += strcmp(ac_code_name(-k), code) == 0 ? by_code[k] : 0;
        if (seen || !v)
            continue;
        char lab[160];
        snprintf(lab, sizeof lab, "%s%scode=\"%s\"", labels ? labels : "",
                 labels && *labels ? "," : "", code);
        ac_mtext_u64(t, name, lab, v);
    }
}

/* Microseconds as exact decimal seconds ("0.000128", "33.554432"). */
static void seconds(char *out, size_t size, uint64_t us)
{
    snprintf(out, size, "%" PRIu64 ".%06" PRIu64, us / 1000000u, us % 1000000u);
}

void ac_mtext_hist(ac_mtext_t *t, const char *name, const char *labels, const ac_hist_t *h)
{
    const char *sep = labels && *labels ? "," : "";
    const char *lab = labels ? labels : "";
    uint64_t cum = 0;
    char le[32];
    for (int i = 0; i < AC_HIST_BUCKETS; i++) {
        cum += h->bucket[i];
        seconds(le, sizeof le, (uint64_t)1 << (i + AC_HIST_SHIFT));
        put(t, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", name, lab, sep, le, cum);
    }
    cum += h->bucket[AC_HIST_BUCKETS];
    put(t, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, lab, sep, cum);
    seconds(le, sizeof le, h->sum_us);
    if (*lab) {
        put(t, "%s_sum{%s} %s\n", name, lab, le);
        put(t, "%s_count{%s} %" PRIu64 "\n", name, lab, cum);
    } else {
        put(t, "%s_sum %s\n%s_count %" PRIu64 "\n", name, le, name, cum);
    }
}

void ac_mtext_single(ac_mtext_t *t, const char *name, const char *type, const char *help,
                     uint64_t v)
{
    ac_mtext_family(t, name, type, help);
    ac_mtext_u64(t, name, NULL, v);
}

void ac_mtext_counter_by(ac_mtext_t *t, const char *name, const char *help, const char *key,
                         const char *const *labels, const uint64_t *v, int n)
{
    char lab[128];
    ac_mtext_family(t, name, "counter", help);
    for (int i = 0; i < n; i++) {
        snprintf(lab, sizeof lab, "%s=\"%s\"", key, labels[i]);
        ac_mtext_u64(t, name, lab, v[i]);
    }
}
