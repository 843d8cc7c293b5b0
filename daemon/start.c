/*
 * start.c - logbookd's start (lbd_new): the configuration and every file it
 * names are checked before keys or the data folder are touched, then keys,
 * registry, users, the store and the sockets, in that order. The loop that
 * serves them is server.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "internal.h"
/* ---------------------------------------------------------------------- */
/* setup                                                                   */
/* ---------------------------------------------------------------------- */

static int bind_all(void *sock, char **eps, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        if (zmq_bind(sock, eps[i]) != 0) {
            snprintf(err, errlen, "cannot bind %s: %s", eps[i], zmq_strerror(zmq_errno()));
            return LB_ECONFIG;
        }
    return 0;
}

static int setup_socket(lbd_t *d, void *s, const char *domain)
{
    int one = 1, zero = 0;
    int64_t max = d->cfg.max_message_bytes;
    const struct {
        int opt;
        const void *val;
        size_t len;
    } opts[] = {
        {ZMQ_MAXMSGSIZE, &max, sizeof max},
        {ZMQ_LINGER, &zero, sizeof zero},
        /* CURVE only from here */
        {ZMQ_CURVE_SERVER, &one, sizeof one},
        {ZMQ_CURVE_SECRETKEY, d->keys.server_secret, 32},
        {ZMQ_ZAP_DOMAIN, domain, strlen(domain)},
    };
    size_t n = d->cfg.curve ? sizeof opts / sizeof opts[0] : 2;
    for (size_t i = 0; i < n; i++)
        if (zmq_setsockopt(s, opts[i].opt, opts[i].val, opts[i].len) != 0)
            return LB_EIO;
    return 0;
}

/* The newest stored event's time, for the manual clock's start. */
static int64_t newest_event_at(store_t *s)
{
    store_txn_t *r;
    int64_t at = 0;
    if (store_read_begin(s, &r))
        return 0;
    uint64_t seq;
    uint8_t chain[32];
    const void *body;
    size_t len;
    if (store_event_tip(r, &seq, chain) == 0 && seq && store_event_get(r, seq, &body, &len) == 0) {
        lb_val_t *v = NULL;
        proto_err_t perr;
        if (proto_unpack(body, len, &proto_default_limits, &v, &perr) == 0)
            lb_map_int(v, "at", &at);
        lb_val_free(&v);
    }
    store_read_end(&r);
    return at;
}

/* mkdir -p, new folders mode 0700 (the data folder holds keys). */
static int mkdir_p(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/*
 * fsyncs the folder path, and with parent its parent folder: a new file's or
 * folder's name lives in its parent, which nothing else syncs (LMDB never
 * syncs the folder it creates data.mdb in; mkdir_p and the keys folder's
 * mkdir neither). 0, or LB_EIO with the reason in err.
 */
static int sync_folder(const char *path, bool parent, char *err, size_t errlen)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        snprintf(err, errlen, "path too long: %s", path);
        return LB_EIO;
    }
    const char *dir = parent ? dirname(buf) : buf;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        snprintf(err, errlen, "cannot sync the folder %s: %s", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return LB_EIO;
    }
    close(fd);
    return 0;
}

/*
 * Blocks the signals (then taken through a signalfd), starts libzmq and binds
 * the sockets, the ZAP handler first. 0, LB_EIO or LB_ECONFIG (a bind) with
 * the reason in err; what was made is freed by lbd_destroy.
 */
static int start_zmq(lbd_t *d, char *err, size_t errlen)
{
    /* Signals arrive through a signalfd polled with the sockets; block them before
     * zmq_ctx_new starts libzmq's threads so no thread takes them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (d->sigfd < 0) {
        snprintf(err, errlen, "signalfd: %s", strerror(errno));
        return LB_EIO;
    }
    d->zctx = zmq_ctx_new();
    if (!d->zctx) {
        snprintf(err, errlen, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
        return LB_EIO;
    }
    if (d->cfg.curve) {
        /* The ZAP handler must be bound before any socket that uses it. */
        d->zap = zmq_socket(d->zctx, ZMQ_REP);
        if (!d->zap || zmq_bind(d->zap, "inproc://zeromq.zap.01") != 0) {
            snprintf(err, errlen, "cannot start the ZAP handler: %s", zmq_strerror(zmq_errno()));
            return LB_EIO;
        }
    } else {
        lbd_log(LBD_LOG_WARN, "security.curve is false: every client is admin, nothing is "
                              "encrypted on the wire (development only)");
    }
    d->router = zmq_socket(d->zctx, ZMQ_ROUTER);
    d->pub = zmq_socket(d->zctx, ZMQ_XPUB);
    if (!d->router || !d->pub || setup_socket(d, d->router, "requests") ||
        setup_socket(d, d->pub, "events")) {
        snprintf(err, errlen, "cannot set up sockets: %s", zmq_strerror(zmq_errno()));
        return LB_EIO;
    }
    int hwm = 100000;
    if (zmq_setsockopt(d->pub, ZMQ_SNDHWM, &hwm, sizeof hwm) ||
        zmq_setsockopt(d->router, ZMQ_SNDHWM, &hwm, sizeof hwm) ||
        zmq_setsockopt(d->router, ZMQ_RCVHWM, &hwm, sizeof hwm)) {
        snprintf(err, errlen, "cannot set socket queue sizes: %s", zmq_strerror(zmq_errno()));
        return LB_EIO;
    }
    int rc = bind_all(d->router, d->cfg.req_endpoints, d->cfg.n_req, err, errlen);
    if (rc == 0)
        rc = lbd_events_bind(d, err, errlen);
    /* The events socket has a monitor of its own (events.c: re-binds wait for its
     * listeners to close), and libzmq allows one monitor a socket: watch requests. */
    void *watched[] = {d->router};
    if (rc == 0 && lbd_fdmon_start(d->zctx, watched, 1, &d->fdmon))
        lbd_log(LBD_LOG_WARN, "cannot watch for running out of descriptors");
    return rc;
}

int lbd_new(const lbd_opts_t *opts, lbd_t **out, char *err, size_t errlen)
{
    *out = NULL;
    lbd_t *d = calloc(1, sizeof *d);
    if (!d)
        return LB_ENOMEM;
    d->opts = *opts;
    d->sigfd = -1;
    pthread_mutex_init(&d->audit_mu, NULL);
    d->started_ms = lbd_mono_ms();
    int rc = lbd_optable_check(err, errlen);
    if (rc == 0)
        rc = lbd_config_load(opts->config_path, &d->cfg, err, errlen);
    if (rc)
        goto fail;
    lbd_log_level = d->cfg.log_level;
    lbd_fd_limit_raise(d->cfg.max_connections);
    /* Every configured file is read before keys are generated or data_dir is touched. */
    if ((rc = lbd_load_definitions(&d->cfg, &d->wfs, &d->cat, err, errlen)) ||
        (rc = lbd_calendar_load(&d->cfg, lbd_real_ms(), &d->cal, err, errlen)) ||
        (rc = lbd_areas_load(&d->cfg, &d->areas, err, errlen)) ||
        (rc = lbd_registry_load_cfg(&d->cfg, NULL, &d->reg, err, errlen)))
        goto fail;
    lbd_registry_clear(&d->reg); /* loaded again below, with the admin key */
    if (mkdir_p(d->cfg.data_dir) != 0) {
        snprintf(err, errlen, "cannot create data_dir %s: %s", d->cfg.data_dir, strerror(errno));
        rc = LB_ECONFIG;
        goto fail;
    }
    if ((rc = lbd_keys_load(&d->cfg, &d->keys, err, errlen)))
        goto fail;
    if ((rc = lbd_registry_load_cfg(&d->cfg, d->keys.admin_public, &d->reg, err, errlen)))
        goto fail;
    if ((rc = lbd_users_init(&d->users, d->cfg.users, err, errlen)))
        goto fail;
    if ((rc = lbd_batch_alloc(d)))
        goto fail;
    if (d->cfg.curve && (rc = lbd_rl_new(d->cfg.rate_per_key, d->cfg.burst_per_key, 0, &d->rl)))
        goto fail;
    store_opts_t so = {0};
    if ((rc = store_open(d->cfg.data_dir, &so, &d->store, err, errlen)))
        goto fail;
    /* Before the first reply: the names of the data folder, the keys folder and the store's
     * files must survive a power loss, or an acknowledged write could vanish with its file
     * (tests/crash, docs/CRASHTEST.md). */
    if ((rc = sync_folder(d->cfg.data_dir, true, err, errlen)) ||
        (rc = sync_folder(d->cfg.keys_dir, true, err, errlen)) ||
        (rc = sync_folder(d->cfg.data_dir, false, err, errlen)))
        goto fail;
    {
        store_txn_t *r;
        uint8_t chain[32];
        if ((rc = store_read_begin(d->store, &r)))
            goto fail;
        rc = store_event_tip(r, &d->last_seq, chain);
        store_read_end(&r);
        if (rc)
            goto fail;
    }
    if ((rc = lbd_audit_open(d->cfg.keys_dir, &d->audit, err, errlen)) ||
        (rc = lbd_audit_check_store(d->audit, d->store, err, errlen)))
        goto fail;
    d->manual_clock = opts->manual_clock;
    if (d->manual_clock) {
        int64_t at = newest_event_at(d->store);
        d->manual_now = lbd_real_ms() > at ? lbd_real_ms() : at;
    }

    if ((rc = start_zmq(d, err, errlen)))
        goto fail;
    if ((rc = lbd_readers_start(d))) {
        snprintf(err, errlen, "cannot start %lld reader threads: %s", (long long)d->cfg.readers,
                 lb_strerror(rc));
        goto fail;
    }
    *out = d;
    return 0;
fail:
    lbd_destroy(&d);
    return rc;
}
