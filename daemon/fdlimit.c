/*
 * fdlimit.c - the descriptor budget (finding 12): every client connection
 * is a descriptor, so the soft RLIMIT_NOFILE (often 1024) is raised to the
 * hard limit at start, with a warning when even that is short of what
 * limits.max_connections needs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "daemon.h"

/* Descriptors the daemon holds besides connections: store, signalfd, libzmq's own, logs. */
#define LBD_FD_RESERVE 64

/* The most a process may ask for when the hard limit is unlimited (Linux: fs.nr_open). */
static rlim_t nr_open(void)
{
    FILE *f = fopen("/proc/sys/fs/nr_open", "r");
    unsigned long long n = 0;
    if (f) {
        if (fscanf(f, "%llu", &n) != 1)
            n = 0;
        fclose(f);
    }
    return n ? (rlim_t)n : 1024 * 1024;
}

rlim_t lbd_fd_limit_raise(int64_t max_connections)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        lbd_log(LBD_LOG_WARN, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
        return 0;
    }
    rlim_t want = rl.rlim_max == RLIM_INFINITY ? nr_open() : rl.rlim_max;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want) {
        want = rl.rlim_cur;
    } else {
        struct rlimit up = {.rlim_cur = want, .rlim_max = rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) != 0) {
            lbd_log(LBD_LOG_WARN, "cannot raise the descriptor limit from %llu to %llu: %s",
                    (unsigned long long)rl.rlim_cur, (unsigned long long)want, strerror(errno));
            want = rl.rlim_cur;
        } else {
            lbd_log(LBD_LOG_DEBUG, "descriptor limit raised from %llu to %llu",
                    (unsigned long long)rl.rlim_cur, (unsigned long long)want);
        }
    }
    rlim_t need = (rlim_t)max_connections + LBD_FD_RESERVE;
    if (want != RLIM_INFINITY && want < need)
        lbd_log(LBD_LOG_WARN,
                "the descriptor limit is %llu, below limits.max_connections (%lld) + %d: "
                "connections past about %llu will be refused; raise LimitNOFILE= in the unit "
                "(or ulimit -Hn) to at least %llu, or lower limits.max_connections",
                (unsigned long long)want, (long long)max_connections, LBD_FD_RESERVE,
                (unsigned long long)(want > LBD_FD_RESERVE ? want - LBD_FD_RESERVE : 0),
                (unsigned long long)need);
    return want;
}
