/*  procs.h - the child processes of the benchmark programs (actorcore-bench, bench_service,
    bench_fair, bench_failover): started with their output in a log file or /dev/null and
    an optional environment, remembered, stopped (SIGTERM, up to 3 s to exit, then
    SIGKILL) and reaped, so that whatever is left can be killed at exit or on a signal
    (procs_kill_all is async-signal-safe). One table per program: include it once. */
#ifndef AC_BENCH_PROCS_H
#define AC_BENCH_PROCS_H

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROCS_MAX 64

static pid_t s_procs[PROCS_MAX]; /* children not yet reaped; 0: a free slot */

static inline void procs_forget(pid_t pid)
{
    for (int i = 0; i < PROCS_MAX; i++)
        if (s_procs[i] == pid)
            s_procs[i] = 0;
}

/* Starts argv[0] with argv, stdout and stderr appended to `log` (NULL: /dev/null), stdin on
   /dev/null, and when env is not NULL these NAME=VALUE entries added to the environment
   (NULL-terminated). Returns the pid, or -1 when it cannot fork or the table is full. */
static inline pid_t procs_spawn(const char *const *argv, const char *const *env, const char *log)
{
    int slot = 0;
    while (slot < PROCS_MAX && s_procs[slot])
        slot++;
    if (slot == PROCS_MAX)
        return -1;
    /* The child's environment is built before fork: the child only execs. */
    size_t n = 0, extra = 0;
    while (environ[n])
        n++;
    while (env && env[extra])
        extra++;
    char **envp = calloc(n + extra + 1, sizeof *envp);
    if (!envp)
        return -1;
    memcpy(envp, environ, n * sizeof *envp);
    for (size_t i = 0; i < extra; i++)
        envp[n + i] = (char *)env[i];
    pid_t pid = fork();
    if (pid == 0) {
        int out =
            log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0600) : open("/dev/null", O_WRONLY);
        int in = open("/dev/null", O_RDONLY);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        if (in >= 0)
            dup2(in, 0);
        execve(argv[0], (char *const *)argv, envp);
        _exit(127);
    }
    free(envp);
    if (pid > 0)
        s_procs[slot] = pid;
    return pid;
}

/* Sends sig and reaps pid (SIGKILL: a crash on purpose). */
static inline void procs_signal(pid_t pid, int sig)
{
    if (pid <= 0)
        return;
    kill(pid, sig);
    waitpid(pid, NULL, 0);
    procs_forget(pid);
}

/* SIGTERM, up to 3 s to exit (a worker flushes, a broker answers what it holds), then
   SIGKILL; reaped either way. */
static inline void procs_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int waited = 0; waitpid(pid, NULL, WNOHANG) != pid; waited += 10) {
        if (waited >= 3000) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
        usleep(10000);
    }
    procs_forget(pid);
}

/* True (and forgotten) when pid has exited. */
static inline int procs_exited(pid_t pid)
{
    if (waitpid(pid, NULL, WNOHANG) != pid)
        return 0;
    procs_forget(pid);
    return 1;
}

/* SIGKILL and reap every child left (at exit, after a failure, in a signal handler). */
static inline void procs_kill_all(void)
{
    for (int i = 0; i < PROCS_MAX; i++)
        if (s_procs[i] > 0) {
            kill(s_procs[i], SIGKILL);
            waitpid(s_procs[i], NULL, 0);
            s_procs[i] = 0;
        }
}

#endif
