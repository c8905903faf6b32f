/*  bench.h - what the benchmark programs share: clocks, sorting for medians, free ports,
    a process's CPU time. */
#ifndef AC_BENCH_H
#define AC_BENCH_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* n (at most 8) loopback tcp endpoints on ports free now: all bound to port 0 at once (so
   they differ), read back, then released for the programs to bind. Exits when there are
   none. */
static inline void bench_free_endpoints(char (*ep)[64], int n)
{
    int fds[8];
    for (int i = 0; i < n && i < 8; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fds[i], (struct sockaddr *)&a, &len) != 0) {
            perror("bench: no free loopback port");
            exit(1);
        }
        snprintf(ep[i], sizeof ep[i], "tcp://127.0.0.1:%d", ntohs(a.sin_port));
    }
    for (int i = 0; i < n && i < 8; i++)
        close(fds[i]);
}

/* CPU time pid has used so far (every thread, user + system), in seconds: utime and
   stime, fields 14 and 15 of /proc/<pid>/stat, counted after the ")" that ends the
   command name (which may hold spaces). Exits when the file cannot be read. */
static inline double bench_cpu_seconds(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) {
        fprintf(stderr, "bench: cannot read %s\n", path);
        exit(1);
    }
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Resident memory of pid in kB (VmRSS of /proc/<pid>/status), -1 when unreadable. */
static inline long bench_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* A worker's flags for the W2 workload (WORKLOADS.md): the shipped registries and subsystem
   tables, with no L3 store. */
#define BENCH_W2_WORKER_FLAGS                                        \
    "--combiner", AC_SOURCE_DIR "/config/combiner.yaml", "--layers", \
        AC_SOURCE_DIR "/config/cap_layers.yaml", "--subsystems",     \
        AC_SOURCE_DIR "/config/subsystems", "--store", "none"

#endif
