/*
 * fdlimit.c - the descriptor budget (finding 12): every client connection
 * is a descriptor, so the soft RLIMIT_NOFILE (often 1024) is raised to the
 * hard limit at start, with a warning when even that is short of what
 * limits.max_connections needs; a watcher thread logs when libzmq cannot
 * accept a connection for want of descriptors.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <zmq.h>

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

/* ---------------------------------------------------------------------- */
/* the watcher: accept(2) failing with EMFILE/ENFILE inside libzmq         */
/* ---------------------------------------------------------------------- */

/* At most one warning this often: libzmq retries the accept as fast as it can. */
#define LBD_FDMON_LOG_MS 10000
#define LBD_FDMON_MAX 4

struct lbd_fdmon {
    void *pairs[LBD_FDMON_MAX]; /* the watcher thread's ends of the monitors */
    size_t n;
    pthread_t thread;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One monitor event: frame 1 is u16 event + u32 value (host order), frame 2 the endpoint. */
static int next_event(void *pair, uint16_t *event, uint32_t *value, char *ep, size_t eplen)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, pair, 0) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    bool ok = zmq_msg_size(&m) >= 6 && zmq_msg_more(&m);
    if (ok) {
        memcpy(event, zmq_msg_data(&m), 2);
        memcpy(value, (const char *)zmq_msg_data(&m) + 2, 4);
    }
    ep[0] = '\0';
    while (zmq_msg_more(&m)) {
        if (zmq_msg_recv(&m, pair, 0) < 0) {
            zmq_msg_close(&m);
            return -1;
        }
        size_t n = zmq_msg_size(&m) < eplen ? zmq_msg_size(&m) : eplen - 1;
        memcpy(ep, zmq_msg_data(&m), n);
        ep[n] = '\0';
    }
    zmq_msg_close(&m);
    return ok ? 0 : 1;
}

/* Logs one failed accept; *last and *refused rate-limit the lines. */
static void note(uint16_t event, uint32_t value, const char *ep, int64_t *last,
                 unsigned long long *refused)
{
    if (event != ZMQ_EVENT_ACCEPT_FAILED)
        return;
    if (value != EMFILE && value != ENFILE) {
        lbd_log(LBD_LOG_DEBUG, "accept on %s failed: %s", ep, strerror((int)value));
        return;
    }
    ++*refused;
    if (mono_ms() - *last < LBD_FDMON_LOG_MS)
        return;
    *last = mono_ms();
    lbd_log(LBD_LOG_ERROR,
            "out of descriptors: cannot accept connections on %s (%s), %llu attempts failed; "
            "raise the descriptor limit (LimitNOFILE=) or shed clients",
            ep, strerror((int)value), *refused);
}

/* Drains the monitors at once, so libzmq's I/O thread never blocks on them, until ETERM. */
static void *fdmon_run(void *arg)
{
    struct lbd_fdmon *m = arg;
    int64_t last = -LBD_FDMON_LOG_MS;
    unsigned long long refused = 0;
    char ep[256];
    uint16_t event = 0;
    uint32_t value = 0;
    bool on = true;
    while (on) {
        zmq_pollitem_t items[LBD_FDMON_MAX];
        for (size_t i = 0; i < m->n; i++)
            items[i] = (zmq_pollitem_t){m->pairs[i], 0, ZMQ_POLLIN, 0};
        if (zmq_poll(items, (int)m->n, -1) < 0) {
            on = zmq_errno() == EINTR;
            continue;
        }
        for (size_t i = 0; on && i < m->n; i++) {
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            int rc = next_event(m->pairs[i], &event, &value, ep, sizeof ep);
            if (rc == 0)
                note(event, value, ep, &last, &refused);
            on = rc >= 0 || zmq_errno() == EINTR;
        }
    }
    for (size_t i = 0; i < m->n; i++)
        zmq_close(m->pairs[i]);
    return NULL;
}

/* Stops the monitors of socks[0..m->n) and closes their pairs; frees m. */
static void fdmon_undo(struct lbd_fdmon *m, void *const *socks)
{
    for (size_t i = 0; i < m->n; i++) {
        zmq_close(m->pairs[i]);
        zmq_socket_monitor(socks[i], NULL, 0);
    }
    free(m);
}

int lbd_fdmon_start(void *zctx, void *const *socks, size_t n, lbd_fdmon_t **out)
{
    *out = NULL;
    struct lbd_fdmon *m = calloc(1, sizeof *m);
    if (!m || n == 0 || n > LBD_FDMON_MAX) {
        free(m);
        return LB_EIO;
    }
    int zero = 0;
    for (; m->n < n; m->n++) {
        char ep[64];
        snprintf(ep, sizeof ep, "inproc://logbookd-fdmon-%p", socks[m->n]);
        void *pair = NULL;
        if (zmq_socket_monitor(socks[m->n], ep, ZMQ_EVENT_ACCEPT_FAILED) != 0 ||
            !(pair = zmq_socket(zctx, ZMQ_PAIR)) ||
            zmq_setsockopt(pair, ZMQ_LINGER, &zero, sizeof zero) || zmq_connect(pair, ep)) {
            if (pair)
                zmq_close(pair);
            zmq_socket_monitor(socks[m->n], NULL, 0);
            fdmon_undo(m, socks);
            return LB_EIO;
        }
        m->pairs[m->n] = pair;
    }
    if (pthread_create(&m->thread, NULL, fdmon_run, m) != 0) {
        fdmon_undo(m, socks);
        return LB_EIO;
    }
    *out = m;
    return 0;
}

void lbd_fdmon_join(lbd_fdmon_t **m)
{
    if (!m || !*m)
        return;
    pthread_join((*m)->thread, NULL);
    free(*m);
    *m = NULL;
}
