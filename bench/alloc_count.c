/*  alloc_count - an LD_PRELOAD library that counts a process's heap allocations, so that
    bench_service can report a broker's allocations per request without changing it.

    malloc, calloc and realloc are interposed: each adds one to a process-wide counter
    (all threads, libzmq's C++ `new` included, since it calls malloc) and forwards to
    glibc's own __libc_* entry points; free is left alone. When the environment names a
    file in AC_ALLOC_COUNT_FILE, SIGUSR1 writes the count there as one decimal line: the
    handler writes a temporary file and renames it over the name, with async-signal-safe
    calls only, so a reader that waits for the name to appear sees the whole line. The
    reader takes the count at two moments (after a warm-up, after a run) and divides.

    usage: LD_PRELOAD=libac_alloc_count.so AC_ALLOC_COUNT_FILE=/tmp/x program...
           kill -USR1 <pid>; cat /tmp/x
*/
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static uint64_t s_count;     /* allocations so far, all threads */
static char s_path[4096];    /* AC_ALLOC_COUNT_FILE */
static char s_tmp[4096 + 8]; /* s_path + ".tmp", written then renamed */

void *malloc(size_t n)
{
    __atomic_fetch_add(&s_count, 1, __ATOMIC_RELAXED);
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    __atomic_fetch_add(&s_count, 1, __ATOMIC_RELAXED);
    return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    __atomic_fetch_add(&s_count, 1, __ATOMIC_RELAXED);
    return __libc_realloc(p, n);
}

/* Async-signal-safe: a stack buffer, open, write, close, rename; errno is kept. */
static void on_usr1(int sig)
{
    (void)sig;
    int saved = errno;
    char line[24];
    size_t i = sizeof line;
    uint64_t v = __atomic_load_n(&s_count, __ATOMIC_RELAXED);
    line[--i] = '\n';
    do {
        line[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    int fd = open(s_tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        ssize_t w = write(fd, line + i, sizeof line - i);
        close(fd);
        if (w == (ssize_t)(sizeof line - i))
            rename(s_tmp, s_path);
    }
    errno = saved;
}

__attribute__((constructor)) static void alloc_count_init(void)
{
    const char *path = getenv("AC_ALLOC_COUNT_FILE");
    if (!path || !*path || strlen(path) >= sizeof s_path)
        return;
    memcpy(s_path, path, strlen(path) + 1);
    memcpy(s_tmp, path, strlen(path));
    memcpy(s_tmp + strlen(path), ".tmp", 5);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
}
