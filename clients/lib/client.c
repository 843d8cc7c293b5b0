/*
 * client.c - the shared client library's request side: a DEALER connection
 * that speaks PROTOCOL.md section 2 with idempotent retries and pipelined
 * sends. The event subscriber is sub.c.
 */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "../../proto/proto.h"
#include "call_as.h"
#include "client_int.h"

const proto_limits_t lbc_reply_limits = {

    .max_depth = 32,
    .max_items = 1000000,
    .max_str = 16 * 1024 * 1024,
    .max_nodes = 20000000,
};

int64_t lbc_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------------- */
/* Defaults                                                                */
/* ---------------------------------------------------------------------- */

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return (v && *v) ? v : dflt;
}

lbc_paths_t lbc_default_paths(void)
{
    lbc_paths_t p = {
        .endpoint = env_or("LOGBOOK_ENDPOINT", LBC_DEFAULT_ENDPOINT),
        .events_endpoint = env_or("LOGBOOK_EVENTS_ENDPOINT", LBC_DEFAULT_EVENTS_ENDPOINT),
        .client_cert = env_or("LOGBOOK_CERT", LBC_DEFAULT_CERT),
        .server_cert = env_or("LOGBOOK_SERVER_CERT", LBC_DEFAULT_SERVER_CERT),
    };
    /* Outside a checkout (no var/data here), the installed daemon's keys, when readable. */
    bool here = access("var/data", F_OK) == 0;
    if (!here && p.client_cert == (const char *)LBC_DEFAULT_CERT &&
        access(LBC_INSTALLED_CERT, R_OK) == 0) {
        p.client_cert = LBC_INSTALLED_CERT;
        p.installed_keys = true;
    }
    if (!here && p.server_cert == (const char *)LBC_DEFAULT_SERVER_CERT &&
        access(LBC_INSTALLED_SERVER_CERT, R_OK) == 0) {
        p.server_cert = LBC_INSTALLED_SERVER_CERT;
        p.installed_keys = true;
    }
    return p;
}

void lbc_opts_init(lbc_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->timeout_ms = LBC_DEFAULT_TIMEOUT_MS;
    o->retries = LBC_DEFAULT_RETRIES;
}

void lbc_new_id(char out[LBC_ID_LEN + 1])
{
    uint8_t raw[LBC_ID_LEN / 2];
    /* randombytes_buf needs no sodium_init on Linux, but calling it is cheap and safe. */
    if (sodium_init() < 0)
        abort(); /* no entropy source at all: nothing sensible to continue with */
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, LBC_ID_LEN + 1, raw, sizeof raw);
}

/* ---------------------------------------------------------------------- */
/* Sockets                                                                 */
/* ---------------------------------------------------------------------- */

static int sock_opts(void *s, const lbc_t *c, char *err, size_t errlen)
{
    int zero = 0, timeout = c->timeout_ms;
    int64_t maxmsg = CLIENT_MAX_MSG;
    /* HWM 0 = unbounded: a pipelined benchmark must never block or drop its own requests. */
    if (zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof timeout) != 0 ||
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0)
        goto fail;
    if (c->ckey) {
        if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, c->skey->public_key, LB_CERT_KEY_BYTES) != 0 ||
            zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, c->ckey->public_key, LB_CERT_KEY_BYTES) != 0 ||
            zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, c->ckey->secret_key, LB_CERT_KEY_BYTES) != 0)
            goto fail;
    }
    return 0;
fail:
    lb_set_err(err, errlen, "socket option: %s", zmq_strerror(zmq_errno()));
    return LB_EIO;
}

static void close_socket(lbc_t *c)
{
    if (c->mon) {
        zmq_socket_monitor(c->sock, NULL, 0);
        zmq_close(c->mon);
        c->mon = NULL;
    }
    if (c->sock) {
        zmq_close(c->sock);
        c->sock = NULL;
    }
}

static int open_socket(lbc_t *c, char *err, size_t errlen)
{
    int rc = 0;
    char mon_ep[96];
    c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
    if (!c->sock) {
        lb_set_err(err, errlen, "zmq_socket: %s", zmq_strerror(zmq_errno()));
        rc = LB_EIO;
        goto done;
    }
    rc = sock_opts(c->sock, c, err, errlen);
    if (rc)
        goto done;
    if (c->ckey) {
        /* Without this, a refused key shows only as silence; with it, we can say why. */
        snprintf(mon_ep, sizeof mon_ep, "inproc://lbc-monitor-%p-%u", (void *)c, c->gen++);
        if (zmq_socket_monitor(
                c->sock, mon_ep,
                ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_SUCCEEDED) == 0) {
            c->mon = zmq_socket(c->ctx, ZMQ_PAIR);
            int zero = 0;
            if (c->mon && (zmq_setsockopt(c->mon, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
                           zmq_connect(c->mon, mon_ep) != 0)) {
                zmq_socket_monitor(c->sock, NULL, 0);
                zmq_close(c->mon);
                c->mon = NULL;
            }
        }
    }
    if (zmq_connect(c->sock, c->endpoint) != 0) {
        lb_set_err(err, errlen, "%s: %s", c->endpoint, zmq_strerror(zmq_errno()));
        rc = LB_EIO;
        goto done;
    }
done:
    if (rc)
        close_socket(c);
    return rc;
}

static int reconnect(lbc_t *c, char *err, size_t errlen)
{
    close_socket(c);
    return open_socket(c, err, errlen);
}

/* Reads the monitor's pending events and remembers the latest handshake verdict. */
static void drain_monitor(lbc_t *c)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        uint16_t event = 0;
        uint32_t value = 0;
        bool first = zmq_msg_size(&m) == 6;
        if (first) {
            memcpy(&event, zmq_msg_data(&m), 2);
            memcpy(&value, (uint8_t *)zmq_msg_data(&m) + 2, 4);
        }
        /* Consume the endpoint frame that follows. */
        while (zmq_msg_more(&m)) {
            zmq_msg_close(&m);
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, c->mon, 0) < 0)
                break;
        }
        zmq_msg_close(&m);
        if (!first)
            continue;
        switch (event) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
            c->handshake[0] = '\0';
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
            snprintf(c->handshake, sizeof c->handshake,
                     "the daemon refused this client's key (ZAP status %u): is it registered?",
                     (unsigned)value);
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
            snprintf(c->handshake, sizeof c->handshake,
                     "CURVE handshake failed (protocol error 0x%x): does the server certificate "
                     "match the daemon?",
                     (unsigned)value);
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
            snprintf(c->handshake, sizeof c->handshake,
                     "CURVE handshake failed (%s): does the server certificate match the daemon?",
                     zmq_strerror((int)value));
            break;
        default:
            break;
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Connect                                                                 */
/* ---------------------------------------------------------------------- */

static int copy_cert(const lb_cert_t *src, lb_cert_t **dst)
{
    int rc = lb_cert_generate(dst); /* sodium-guarded storage of the right shape */
    if (rc)
        return rc;
    memcpy(*dst, src, sizeof *src);
    return 0;
}

int lbc_connect(const lbc_opts_t *opts, lbc_t **out, char *err, size_t errlen)
{
    int rc = 0;
    lbc_t *c = NULL;

    if (!out)
        return LB_EBADREQ;
    *out = NULL;
    if (!opts || !opts->endpoint || !*opts->endpoint) {
        lb_set_err(err, errlen, "no endpoint given");
        rc = LB_EBADREQ;
        goto done;
    }
    bool have_client = opts->client_key || (opts->client_cert && *opts->client_cert);
    bool have_server = opts->server_key || (opts->server_cert && *opts->server_cert);
    if (have_client != have_server) {
        lb_set_err(err, errlen, "CURVE needs both a client certificate and the server's");
        rc = LB_EBADREQ;
        goto done;
    }
    c = calloc(1, sizeof *c);
    if (!c || !(c->endpoint = strdup(opts->endpoint))) {
        rc = LB_ENOMEM;
        goto done;
    }
    c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : LBC_DEFAULT_TIMEOUT_MS;
    c->retries = opts->retries > 0 ? opts->retries : 0;
    if (have_client) {
        rc = opts->client_key ? copy_cert(opts->client_key, &c->ckey)
                              : lb_cert_load(opts->client_cert, &c->ckey, err, errlen);
        if (rc)
            goto done;
        if (!c->ckey->has_secret) {
            lb_set_err(err, errlen,
                       "%s: the client certificate needs its secret key (NAME.key_secret)",
                       opts->client_cert ? opts->client_cert : "client certificate");
            rc = LB_ECONFIG;
            goto done;
        }
        rc = opts->server_key ? copy_cert(opts->server_key, &c->skey)
                              : lb_cert_load(opts->server_cert, &c->skey, err, errlen);
        if (rc)
            goto done;
    }
    if (opts->zmq_ctx) {
        c->ctx = opts->zmq_ctx;
    } else {
        c->ctx = zmq_ctx_new();
        if (!c->ctx) {
            lb_set_err(err, errlen, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
            rc = LB_EIO;
            goto done;
        }
        c->own_ctx = true;
    }
    rc = open_socket(c, err, errlen);
done:
    if (rc)
        lbc_destroy(&c);
    *out = c;
    return rc;
}

void lbc_destroy(lbc_t **pc)
{
    if (!pc || !*pc)
        return;
    lbc_t *c = *pc;
    close_socket(c);
    if (c->own_ctx && c->ctx)
        zmq_ctx_term(c->ctx);
    lb_cert_destroy(&c->ckey);
    lb_cert_destroy(&c->skey);
    free(c->endpoint);
    free(c);
    *pc = NULL;
}

void *lbc_zmq_ctx(const lbc_t *c)
{
    return c ? c->ctx : NULL;
}

/* ---------------------------------------------------------------------- */
/* Requests                                                                */
/* ---------------------------------------------------------------------- */

static int pack_str(lb_buf_t *out, const char *s)
{
    lb_val_t *v = lb_str(s);
    if (!v)
        return LB_ENOMEM;
    int rc = proto_pack(v, out);
    lb_val_free(&v);
    return rc;
}

/*
 * Encodes {v, id, op, args?} around the borrowed args: writing the map header
 * by hand avoids copying args (a case.import batch may be a megabyte).
 */
static int pack_request(const char *as, const char *id, const char *op, const lb_val_t *args,
                        lb_buf_t *out)
{
    uint8_t hdr = (uint8_t)(0x80 | (3 + (args ? 1 : 0) + (as ? 1 : 0))); /* msgpack fixmap */
    uint8_t one = 0x01;                                                  /* positive fixint 1 */
    int rc = lb_buf_append(out, &hdr, 1);
    if (rc == 0)
        rc = pack_str(out, "v");
    if (rc == 0)
        rc = lb_buf_append(out, &one, 1);
    if (rc == 0)
        rc = pack_str(out, "id");
    if (rc == 0)
        rc = pack_str(out, id);
    if (rc == 0)
        rc = pack_str(out, "op");
    if (rc == 0)
        rc = pack_str(out, op);
    if (rc == 0 && args) {
        rc = pack_str(out, "args");
        if (rc == 0)
            rc = proto_pack(args, out);
    }
    if (rc == 0 && as) {
        rc = pack_str(out, "as");
        if (rc == 0)
            rc = pack_str(out, as);
    }
    return rc;
}

static int check_request(const char *id, const char *op, const lb_val_t *args, char *err,
                         size_t errlen)
{
    if (!op || !*op) {
        lb_set_err(err, errlen, "no operation given");
        return LB_EBADREQ;
    }
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > PROTO_ID_MAX) {
        lb_set_err(err, errlen, "request id must be 1-%d bytes", PROTO_ID_MAX);
        return LB_EBADREQ;
    }
    if (args && args->type != LB_MAP) {
        lb_set_err(err, errlen, "%s: args must be a map", op);
        return LB_EBADREQ;
    }
    return 0;
}

/* Sends [empty delimiter, body] so the daemon's ROUTER sees what a REQ socket sends. */
static int send_body(lbc_t *c, const lb_buf_t *body)
{
    if (zmq_send(c->sock, "", 0, ZMQ_SNDMORE) < 0 || zmq_send(c->sock, body->p, body->len, 0) < 0)
        return zmq_errno() == EAGAIN ? LB_EUNAVAIL : LB_EIO;
    return 0;
}

/*
 * Reads one whole message and decodes its body: [body] or ["", body].
 * 0 with *reply a map; LB_ECORRUPT for anything else (the caller drops it).
 */
static int read_reply(lbc_t *c, lb_val_t **reply)
{
    int rc = 0;
    int nframes = 0;
    size_t first_len = 0;
    zmq_msg_t m;
    *reply = NULL;
    for (;;) {
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return nframes == 0 ? LB_ECORRUPT : LB_EIO;
        }
        nframes++;
        if (nframes == 1)
            first_len = zmq_msg_size(&m);
        if (!zmq_msg_more(&m))
            break;
        zmq_msg_close(&m);
    }
    if (nframes == 1 || (nframes == 2 && first_len == 0)) {
        proto_err_t perr;
        rc = proto_unpack(zmq_msg_data(&m), zmq_msg_size(&m), &lbc_reply_limits, reply, &perr);
        if (rc == 0 && (*reply)->type != LB_MAP) {
            lb_val_free(reply);
            rc = LB_ECORRUPT;
        }
        if (rc)
            rc = LB_ECORRUPT;
    } else {
        rc = LB_ECORRUPT;
    }
    zmq_msg_close(&m);
    return rc;
}

/* Waits until deadline (monotonic ms; < 0 = forever) for one decodable reply. */
static int wait_reply(lbc_t *c, int64_t deadline, lb_val_t **reply)
{
    *reply = NULL;
    for (;;) {
        long left = -1;
        if (deadline >= 0) {
            int64_t d = deadline - lbc_mono_ms();
            left = d > 0 ? (long)d : 0;
        }
        zmq_pollitem_t items[2] = {{c->sock, 0, ZMQ_POLLIN, 0}, {c->mon, 0, ZMQ_POLLIN, 0}};
        int n = zmq_poll(items, c->mon ? 2 : 1, left);
        if (n < 0 && zmq_errno() != EINTR)
            return LB_EIO;
        if (n > 0 && c->mon && (items[1].revents & ZMQ_POLLIN))
            drain_monitor(c);
        if (n > 0 && (items[0].revents & ZMQ_POLLIN)) {
            int rc = read_reply(c, reply);
            if (rc != LB_ECORRUPT)
                return rc;
        }
        if (deadline >= 0 && lbc_mono_ms() >= deadline)
            return LB_EUNAVAIL;
    }
}

/*
 * A rate_limited reply (the daemon's per-key token bucket) is waited out, not
 * returned: back off 25 ms doubling to 1 s, each wait drawn from its second
 * half (jitter, so many clients do not come back at once), while the wait
 * ends before `until`. true when the caller should send again (same id:
 * rate_limited stores nothing); false to hand the reply over.
 */
static bool backoff_limited(const lb_val_t *r, int *n, int64_t until)
{
    const char *code = lb_map_str(lb_map_get(r, "error"), "code");
    if (!code || strcmp(code, "rate_limited") != 0)
        return false;
    int64_t cap = *n < 6 ? 25LL << *n : 1000;
    int64_t ms = cap / 2 + (int64_t)randombytes_uniform((uint32_t)(cap / 2 + 1));
    if (lbc_mono_ms() + ms >= until)
        return false;
    (*n)++;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return true;
}

int lbc_call_as(lbc_t *c, const char *as, const char *id, const char *op, const lb_val_t *args,
                lb_val_t **reply, char *err, size_t errlen)
{
    int rc = 0;
    int tries = 0;
    lb_buf_t req;
    lb_buf_init(&req);

    if (!c || !reply) {
        rc = LB_EBADREQ;
        goto done;
    }
    *reply = NULL;
    rc = check_request(id, op, args, err, errlen);
    if (rc)
        goto done;
    if (as && (!*as || strlen(as) > LBC_AS_MAX)) {
        lb_set_err(err, errlen, "as: a user name is 1-%d bytes", LBC_AS_MAX);
        rc = LB_EBADREQ;
        goto done;
    }
    rc = pack_request(as, id, op, args, &req);
    if (rc)
        goto done;
    c->handshake[0] = '\0';
    for (tries = 0; tries <= c->retries; tries++) {
        /* A fresh socket per retry: the old connection may be dead or wedged. */
        if (tries > 0 || !c->sock) {
            rc = reconnect(c, err, errlen);
            if (rc)
                goto done;
        }
        rc = send_body(c, &req);
        if (rc == LB_EIO) {
            lb_set_err(err, errlen, "%s: send: %s", c->endpoint, zmq_strerror(zmq_errno()));
            goto done;
        }
        if (rc)
            continue;
        int64_t deadline = lbc_mono_ms() + c->timeout_ms;
        int limited = 0;
        for (;;) {
            lb_val_t *r = NULL;
            rc = wait_reply(c, deadline, &r);
            if (rc == LB_EIO) {
                lb_set_err(err, errlen, "%s: receive: %s", c->endpoint, zmq_strerror(zmq_errno()));
                goto done;
            }
            if (rc)
                break;
            const char *rid = lbc_reply_id(r);
            /* Anything else is the late answer to an earlier request on this socket. */
            if (!*rid || strcmp(rid, id) == 0) {
                if (backoff_limited(r, &limited, deadline) && send_body(c, &req) == 0) {
                    lb_val_free(&r);
                    continue;
                }
                *reply = r;
                goto done;
            }
            lb_val_free(&r);
        }
    }
    /* Start the next call on a clean socket, free of whatever still arrives for this one. */
    close_socket(c);
    lb_set_err(err, errlen, "no reply from %s to %s within %d ms (%d %s)%s%s", c->endpoint, op,
               c->timeout_ms, tries, tries == 1 ? "try" : "tries", c->handshake[0] ? ": " : "",
               c->handshake);
    rc = LB_EUNAVAIL;
done:
    lb_buf_free(&req);
    return rc;
}

int lbc_call_id(lbc_t *c, const char *id, const char *op, const lb_val_t *args, lb_val_t **reply,
                char *err, size_t errlen)
{
    return lbc_call_as(c, NULL, id, op, args, reply, err, errlen);
}

int lbc_call(lbc_t *c, const char *op, const lb_val_t *args, lb_val_t **reply, char *err,
             size_t errlen)
{
    char id[LBC_ID_LEN + 1];
    lbc_new_id(id);
    return lbc_call_id(c, id, op, args, reply, err, errlen);
}

int lbc_call_ok(lbc_t *c, const char *op, const lb_val_t *args, lb_val_t **reply, char *err,
                size_t errlen)
{
    int rc = lbc_call(c, op, args, reply, err, errlen);
    if (rc)
        return rc;
    if (!lbc_reply_ok(*reply)) {
        const char *code, *msg, *field;
        rc = lbc_reply_error(*reply, &code, &msg, &field);
        lb_set_err(err, errlen, "%s: %s%s%s%s", code, msg, *field ? " (field: " : "", field,
                   *field ? ")" : "");
        lb_val_free(reply);
        return rc ? rc : LB_EINTERNAL;
    }
    return 0;
}

int lbc_send(lbc_t *c, const char *id, const char *op, const lb_val_t *args)
{
    int rc = 0;
    lb_buf_t req;
    lb_buf_init(&req);
    if (!c) {
        rc = LB_EBADREQ;
        goto done;
    }
    rc = check_request(id, op, args, NULL, 0);
    if (rc)
        goto done;
    if (!c->sock) {
        rc = reconnect(c, NULL, 0);
        if (rc)
            goto done;
    }
    rc = pack_request(NULL, id, op, args, &req);
    if (rc == 0)
        rc = send_body(c, &req);
done:
    lb_buf_free(&req);
    return rc;
}

int lbc_recv(lbc_t *c, int timeout_ms, lb_val_t **reply)
{
    if (!c || !reply)
        return LB_EBADREQ;
    *reply = NULL;
    if (!c->sock) {
        int rc = reconnect(c, NULL, 0);
        if (rc)
            return rc;
    }
    return wait_reply(c, timeout_ms < 0 ? -1 : lbc_mono_ms() + timeout_ms, reply);
}

/* ---------------------------------------------------------------------- */
/* Replies                                                                 */
/* ---------------------------------------------------------------------- */

bool lbc_reply_ok(const lb_val_t *reply)
{
    const lb_val_t *ok = lb_map_get(reply, "ok");
    return ok && ok->type == LB_BOOL && ok->b;
}

const lb_val_t *lbc_reply_result(const lb_val_t *reply)
{
    return lbc_reply_ok(reply) ? lb_map_get(reply, "result") : NULL;
}

const char *lbc_reply_id(const lb_val_t *reply)
{
    const char *id = lb_map_str(reply, "id");
    return id ? id : "";
}

static const struct {
    const char *code;
    int err;
} wire_codes[] = {
    {"bad_request", LB_EBADREQ},  {"bad_version", LB_EBADVER},  {"unknown_op", LB_EUNKNOWNOP},
    {"not_found", LB_ENOTFOUND},  {"conflict", LB_ECONFLICT},   {"invalid_transition", LB_EINVALID},
    {"guard_failed", LB_EGUARD},  {"forbidden", LB_EFORBIDDEN}, {"too_large", LB_ETOOLARGE},
    {"unavailable", LB_EUNAVAIL}, {"internal", LB_EINTERNAL},   {"rate_limited", LB_ERATELIMIT},
};

int lbc_errcode_parse(const char *code)
{
    for (size_t i = 0; code && i < sizeof wire_codes / sizeof wire_codes[0]; i++)
        if (strcmp(code, wire_codes[i].code) == 0)
            return wire_codes[i].err;
    return LB_EINTERNAL;
}

int lbc_reply_error(const lb_val_t *reply, const char **code, const char **message,
                    const char **field)
{
    const char *c = "", *m = "", *f = "";
    int rc = 0;
    if (!reply || reply->type != LB_MAP || !lb_map_get(reply, "ok")) {
        c = "internal";
        m = "not a reply";
        rc = LB_EINTERNAL;
    } else if (!lbc_reply_ok(reply)) {
        const lb_val_t *e = lb_map_get(reply, "error");
        const char *s;
        c = (s = lb_map_str(e, "code")) ? s : "internal";
        m = (s = lb_map_str(e, "message")) ? s : "";
        f = (s = lb_map_str(e, "field")) ? s : "";
        rc = lbc_errcode_parse(c);
    }
    if (code)
        *code = c;
    if (message)
        *message = m;
    if (field)
        *field = f;
    return rc;
}
