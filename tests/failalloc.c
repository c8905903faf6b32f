/*  failalloc.c - the wrappers of failalloc.h. Counters are atomic: the store's writer
    thread allocates too. */
#include "failalloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static atomic_bool s_armed;     /* counting */
static atomic_size_t s_count;   /* allocations made while armed */
static atomic_size_t s_fail_at; /* the one to fail, 0 none */
static atomic_bool s_failed;    /* it was reached */

void fa_arm(size_t fail_at)
{
    atomic_store(&s_count, 0);
    atomic_store(&s_fail_at, fail_at);
    atomic_store(&s_failed, false);
    atomic_store(&s_armed, true);
}

size_t fa_disarm(void)
{
    atomic_store(&s_armed, false);
    return atomic_load(&s_count);
}

bool fa_failed(void)
{
    return atomic_load(&s_failed);
}

/* True when this allocation is the one to fail. */
static bool fail_now(void)
{
    if (!atomic_load(&s_armed))
        return false;
    size_t n = atomic_fetch_add(&s_count, 1) + 1;
    if (n != atomic_load(&s_fail_at))
        return false;
    atomic_store(&s_failed, true);
    return true;
}

void *__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return fail_now() ? NULL : __real_strndup(s, n);
}
