/*
 * client/fake.c - the fake daemon: a ROUTER served by a thread (ping, echo, events.since, refusals,
 * optional ZAP that refuses every key) and an XPUB driven by the test itself, both on
 * tcp://127.0.0.1 with a random port.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "client_test.h"

static int fake_send_reply(fake_t *f, const void *route, size_t rlen, lb_val_t *reply)
{
    lb_buf_t out;
    lb_buf_init(&out);
    int rc = proto_pack(reply, &out);
    if (rc == 0) {
        zmq_send(f->router, route, rlen, ZMQ_SNDMORE);
        if (!f->no_delim)
            zmq_send(f->router, "", 0, ZMQ_SNDMORE);
        zmq_send(f->router, out.p, out.len, 0);
    }
    lb_buf_free(&out);
    return rc;
}

/* {v:1, ok, id} plus value (consumed) under key ("result" or "error"; NULL: none). */
static lb_val_t *fake_reply(const char *id, bool ok, const char *key, lb_val_t *value)
{
    lb_val_t *r = tvalf("{'v':1,'ok':%s}", ok ? "true" : "false");
    lb_map_set_str(r, "id", id); /* the client's id, not parsed as text */
    if (key)
        lb_map_set(r, key, value);
    return r;
}

static lb_val_t *fake_since(fake_t *f, const lb_val_t *args)
{
    int64_t seq = 0, limit = 1000;
    lb_map_int(args, "seq", &seq);
    lb_map_int(args, "limit", &limit);
    int visible = atomic_load(&f->visible);
    lb_val_t *res = lb_map(), *evs = lb_arr();
    for (int s = (int)seq + 1; s <= visible && (int64_t)evs->a.n < limit; s++) {
        if (f->events_as_bin) {
            lb_arr_push(evs, lb_bin(f->events[s].p, f->events[s].len));
        } else {
            lb_val_t *v = NULL;
            proto_err_t perr;
            proto_unpack(f->events[s].p, f->events[s].len, &proto_default_limits, &v, &perr);
            lb_arr_push(evs, v);
        }
    }
    lb_map_set(res, "events", evs);
    lb_map_set_int(res, "last_seq", visible);
    atomic_fetch_add(&f->since_calls, 1);
    return res;
}

/* The reply to op: ping, echo, events.since (unless since_forbidden), else an error. */
static lb_val_t *fake_answer(fake_t *f, const char *id, const char *op, const lb_val_t *args)
{
    if (strcmp(op, "ping") == 0)
        return fake_reply(
            id, true, "result",
            tvalf("{'version':'fake','uptime_s':1,'last_seq':%d}", atomic_load(&f->visible)));
    if (strcmp(op, "echo") == 0)
        return fake_reply(id, true, "result", args ? lb_val_dup(args) : lb_map());
    if (strcmp(op, "events.since") == 0 && !f->since_forbidden)
        return fake_reply(id, true, "result", fake_since(f, args));
    const char *error =
        strcmp(op, "fail") == 0
            ? "{'code':'not_found','message':'no case C000000042','field':'case_id'}"
        : strcmp(op, "events.since") == 0 ? "{'code':'forbidden','message':'no events'}"
                                          : "{'code':'unknown_op','message':'no such op'}";
    return fake_reply(id, false, "error", tval(error));
}

/* Receives one multipart message, keeping its first max parts (the caller closes them). */
static int recv_parts(void *sock, zmq_msg_t *parts, int max)
{
    int n = 0;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        bool more = zmq_msg_more(&m);
        if (n < max) {
            zmq_msg_init(&parts[n]);
            zmq_msg_move(&parts[n++], &m);
        }
        zmq_msg_close(&m);
        if (!more)
            break;
    }
    return n;
}

static void fake_handle(fake_t *f)
{
    zmq_msg_t parts[4];
    int n = recv_parts(f->router, parts, 4);
    lb_val_t *req = NULL, *reply = NULL;
    proto_err_t perr;
    if (n < 2 || proto_unpack(zmq_msg_data(&parts[n - 1]), zmq_msg_size(&parts[n - 1]),
                              &proto_default_limits, &req, &perr) != 0)
        goto done;
    const char *id = lb_map_str(req, "id"), *op = lb_map_str(req, "op");
    const void *route = zmq_msg_data(&parts[0]);
    size_t rlen = zmq_msg_size(&parts[0]);
    pthread_mutex_lock(&f->mu);
    int k = atomic_load(&f->nreq);
    if (k < FAKE_MAX_REQ) {
        snprintf(f->ids[k], sizeof f->ids[k], "%s", id ? id : "");
        f->route_len[k] = rlen < 64 ? rlen : 64;
        memcpy(f->routes[k], route, f->route_len[k]);
        atomic_store(&f->nreq, k + 1);
    }
    pthread_mutex_unlock(&f->mu);
    if (f->drop_first > 0) {
        f->drop_first--;
        goto done;
    }
    if (f->silent || !id || !op)
        goto done;
    if (f->stale_first) {
        lb_val_t *stale = fake_reply("0000stale0000000", true, "result", tval("{'stale':true}"));
        fake_send_reply(f, route, rlen, stale);
        lb_val_free(&stale);
    }
    reply = fake_answer(f, id, op, lb_map_get(req, "args"));
    fake_send_reply(f, route, rlen, reply);
done:
    lb_val_free(&req);
    lb_val_free(&reply);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&parts[i]);
}

/* Refuses every client key, as the daemon does for an unregistered one. */
static void fake_zap(fake_t *f)
{
    zmq_msg_t parts[8];
    int n = recv_parts(f->zap, parts, 8);
    if (n >= 2) {
        zmq_send(f->zap, "1.0", 3, ZMQ_SNDMORE);
        zmq_send(f->zap, zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]), ZMQ_SNDMORE);
        zmq_send(f->zap, "400", 3, ZMQ_SNDMORE);
        zmq_send(f->zap, "unknown key", 11, ZMQ_SNDMORE);
        zmq_send(f->zap, "", 0, ZMQ_SNDMORE);
        zmq_send(f->zap, "", 0, 0);
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&parts[i]);
}

static void *fake_main(void *arg)
{
    fake_t *f = arg;
    for (;;) {
        zmq_pollitem_t items[3] = {{f->ctl_peer, 0, ZMQ_POLLIN, 0},
                                   {f->router, 0, ZMQ_POLLIN, 0},
                                   {f->zap, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, f->zap ? 3 : 2, -1) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            break;
        }
        if (items[0].revents & ZMQ_POLLIN)
            break;
        if (items[1].revents & ZMQ_POLLIN)
            fake_handle(f);
        if (f->zap && (items[2].revents & ZMQ_POLLIN))
            fake_zap(f);
    }
    return NULL;
}

static void make_event(lb_buf_t *out, int64_t seq, const char *kind, const char *area)
{
    uint8_t chain[32] = {0};
    lb_val_t *m = tvalf("{'v':1,'seq':%lld,'at':%lld,'kind':'%s','type':'test',"
                        "'case_id':'C000000001','house_id':'65010000001','area':'%s',"
                        "'workflow':'tpmap-household','actor':'admin'}",
                        (long long)seq, 1700000000000LL + (long long)seq, kind, area);
    lb_map_set(m, "chain", lb_bin(chain, sizeof chain));
    lb_buf_init(out);
    CU_ASSERT_EQUAL(proto_pack(m, out), 0);
    lb_val_free(&m);
}

/* Adds event seq = nevents + 1 to the fake's store (before fake_start). */
void fake_add_event(fake_t *f, const char *kind, const char *area)
{
    f->nevents++;
    make_event(&f->events[f->nevents], f->nevents, kind, area);
}

void fake_init(fake_t *f)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    atomic_init(&f->visible, 0);
    atomic_init(&f->nreq, 0);
    atomic_init(&f->since_calls, 0);
}

static int bind_random(void *s, char *ep, size_t eplen)
{
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(s, "tcp://127.0.0.1:*") != 0)
        return -1;
    return zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &eplen);
}

/* Starts the fake; server_secret non-NULL = CURVE server on both sockets. */
int fake_start(fake_t *f, const lb_cert_t *server)
{
    char ctl_ep[64];
    int one = 1;
    f->ctx = zmq_ctx_new();
    if (f->zap_deny) {
        /* The ZAP handler must be bound before a CURVE server socket needs it. */
        f->zap = zmq_socket(f->ctx, ZMQ_REP);
        if (zmq_bind(f->zap, "inproc://zeromq.zap.01") != 0)
            return -1;
    }
    f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
    f->xpub = zmq_socket(f->ctx, ZMQ_XPUB);
    if (server) {
        zmq_setsockopt(f->router, ZMQ_CURVE_SERVER, &one, sizeof one);
        zmq_setsockopt(f->router, ZMQ_CURVE_SECRETKEY, server->secret_key, 32);
        zmq_setsockopt(f->xpub, ZMQ_CURVE_SERVER, &one, sizeof one);
        zmq_setsockopt(f->xpub, ZMQ_CURVE_SECRETKEY, server->secret_key, 32);
    }
    if (bind_random(f->router, f->endpoint, sizeof f->endpoint) != 0 ||
        bind_random(f->xpub, f->events_endpoint, sizeof f->events_endpoint) != 0)
        return -1;
    snprintf(ctl_ep, sizeof ctl_ep, "inproc://fake-ctl-%p", (void *)f);
    f->ctl = zmq_socket(f->ctx, ZMQ_PAIR);
    f->ctl_peer = zmq_socket(f->ctx, ZMQ_PAIR);
    if (zmq_bind(f->ctl, ctl_ep) != 0 || zmq_connect(f->ctl_peer, ctl_ep) != 0)
        return -1;
    if (pthread_create(&f->th, NULL, fake_main, f) != 0)
        return -1;
    f->running = true;
    return 0;
}

void fake_stop(fake_t *f)
{
    if (f->running) {
        zmq_send(f->ctl, "stop", 4, 0);
        pthread_join(f->th, NULL);
    }
    void *socks[] = {f->router, f->xpub, f->ctl, f->ctl_peer, f->zap};
    for (size_t i = 0; i < sizeof socks / sizeof socks[0]; i++) {
        if (socks[i]) {
            int zero = 0;
            zmq_setsockopt(socks[i], ZMQ_LINGER, &zero, sizeof zero);
            zmq_close(socks[i]);
        }
    }
    if (f->ctx)
        zmq_ctx_term(f->ctx);
    for (int i = 0; i <= FAKE_MAX_EVENTS; i++)
        lb_buf_free(&f->events[i]);
    pthread_mutex_destroy(&f->mu);
}

/* Waits (polling, bounded) until the fake has seen n requests. */
bool fake_wait_requests(fake_t *f, int n)
{
    int64_t end = mono_ms() + 5000;
    while (atomic_load(&f->nreq) < n && mono_ms() < end)
        nap_ms(1);
    return atomic_load(&f->nreq) >= n;
}

lbc_t *connect_plain(fake_t *f, int timeout_ms, int retries)
{
    lbc_opts_t o;
    lbc_t *c = NULL;
    char err[256] = "";
    lbc_opts_init(&o);
    o.endpoint = f->endpoint;
    o.timeout_ms = timeout_ms;
    o.retries = retries;
    CU_ASSERT_EQUAL(lbc_connect(&o, &c, err, sizeof err), 0);
    if (!c)
        fprintf(stderr, "\n  connect: %s\n", err);
    return c;
}
