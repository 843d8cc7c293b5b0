/*
 * sub.c - the client library's event subscriber: a SUB socket on the events
 * endpoint that repairs gaps with events.since (PROTOCOL.md section 7, the
 * Clone pattern) and keeps the newest signed head the heartbeats carry.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "client_int.h"

#define SUB_DEFAULT_PAGE 1000
#define SUB_MAX_PAGE PROTO_EVENTS_MAX

typedef struct sub_ev {
    uint64_t seq;
    lb_val_t *body;
    lb_buf_t raw;
    struct sub_ev *next;
} sub_ev_t;

struct lbc_sub {
    lbc_t *req;
    void *sock;
    char **topics;
    size_t ntopics;
    uint32_t page;
    /* Every event with seq <= covered is queued, delivered or known not to match. */
    uint64_t covered;
    /* Highest seq known to exist (heartbeat, live event); repair while > covered. */
    uint64_t target;
    bool catchup;   /* catch up to the daemon's last_seq before anything else */
    sub_ev_t *head; /* ready to deliver, ascending seq */
    sub_ev_t *tail;
    sub_ev_t *pending; /* a live event that arrived after a gap, held until repaired */
    bool has_hb;       /* hb: the newest signed head a heartbeat carried */
    lbc_head_t hb;
};

/* ---------------------------------------------------------------------- */
/* Events                                                                  */
/* ---------------------------------------------------------------------- */

int lbc_event_topic(const lb_val_t *body, char *out, size_t outlen)
{
    const char *kind = lb_map_str(body, "kind"), *area = lb_map_str(body, "area");
    if (!kind || !area || !out)
        return LB_EBADREQ;
    int n = snprintf(out, outlen, "%s.%s", kind, area);
    return (n < 0 || (size_t)n >= outlen) ? LB_EBADREQ : 0;
}

static bool sub_matches(const lbc_sub_t *s, const char *topic)
{
    if (s->ntopics == 0)
        return true;
    for (size_t i = 0; i < s->ntopics; i++)
        if (strncmp(topic, s->topics[i], strlen(s->topics[i])) == 0)
            return true;
    return false;
}

static bool body_matches(const lbc_sub_t *s, const lb_val_t *body)
{
    char topic[256];
    if (s->ntopics == 0)
        return true;
    return lbc_event_topic(body, topic, sizeof topic) == 0 && sub_matches(s, topic);
}

static void ev_free(sub_ev_t **pe)
{
    if (!pe || !*pe)
        return;
    lb_val_free(&(*pe)->body);
    lb_buf_free(&(*pe)->raw);
    free(*pe);
    *pe = NULL;
}

/* A new event record taking over body and the raw bytes. */
static sub_ev_t *ev_new(uint64_t seq, lb_val_t *body, const void *raw, size_t rawlen)
{
    sub_ev_t *e = calloc(1, sizeof *e);
    if (!e || lb_buf_append(&e->raw, raw, rawlen) != 0) {
        free(e);
        lb_val_free(&body);
        return NULL;
    }
    e->seq = seq;
    e->body = body;
    return e;
}

static void sub_enqueue(lbc_sub_t *s, sub_ev_t *e)
{
    e->next = NULL;
    if (s->tail)
        s->tail->next = e;
    else
        s->head = e;
    s->tail = e;
}

static int body_seq(const lb_val_t *body, uint64_t *seq)
{
    int64_t v;
    if (!body || body->type != LB_MAP || lb_map_int(body, "seq", &v) != 0 || v < 0)
        return LB_ECORRUPT;
    *seq = (uint64_t)v;
    return 0;
}

/* Turns one element of events.since's list into a body and its published bytes. */
static int since_item(const lb_val_t *item, lb_val_t **body, lb_buf_t *raw)
{
    proto_err_t perr;
    *body = NULL;
    if (item->type == LB_BIN) {
        if (proto_unpack(item->s.p, item->s.n, &lbc_reply_limits, body, &perr) != 0)
            return LB_ECORRUPT;
        if (lb_buf_append(raw, item->s.p, item->s.n) != 0) {
            lb_val_free(body);
            return LB_ENOMEM;
        }
        return 0;
    }
    if (item->type != LB_MAP)
        return LB_ECORRUPT;
    *body = lb_val_dup(item);
    if (!*body || proto_pack(*body, raw) != 0) {
        lb_val_free(body);
        return LB_ENOMEM;
    }
    return 0;
}

/*
 * lbc_call for the subscriber's own requests: a refusal is an error too, its
 * LB_E* returned with "OP: CODE: MESSAGE" in err. *reply: caller frees.
 */
static int sub_call(lbc_t *req, const char *op, const lb_val_t *args, lb_val_t **reply, char *err,
                    size_t errlen)
{
    int rc = lbc_call(req, op, args, reply, err, errlen);
    if (rc == 0 && !lbc_reply_ok(*reply)) {
        const char *code, *msg;
        /* Never 0: lbc_reply_error gives LB_EINTERNAL for a code it does not know. */
        rc = lbc_reply_error(*reply, &code, &msg, NULL);
        lb_set_err(err, errlen, "%s: %s: %s", op, code, msg);
    }
    return rc;
}

/*
 * Fetches events after `covered` with events.since until covered >= upto
 * (UINT64_MAX: until the daemon's last_seq), queueing the matching ones.
 */
static int sub_repair(lbc_sub_t *s, uint64_t upto, char *err, size_t errlen)
{
    int rc = 0;
    lb_val_t *args = NULL, *reply = NULL;
    bool until_last = upto == UINT64_MAX;
    while (s->covered < upto) {
        args = lb_map();
        if (!args || lb_map_set_int(args, "seq", (int64_t)s->covered) != 0 ||
            lb_map_set_int(args, "limit", s->page) != 0) {
            rc = LB_ENOMEM;
            goto done;
        }
        rc = sub_call(s->req, "events.since", args, &reply, err, errlen);
        if (rc)
            goto done;
        const lb_val_t *res = lbc_reply_result(reply);
        const lb_val_t *evs = lb_map_get(res, "events");
        int64_t last = -1;
        if (!evs || evs->type != LB_ARR) {
            lb_set_err(err, errlen, "events.since: reply without an events list");
            rc = LB_ECORRUPT;
            goto done;
        }
        if (until_last && lb_map_int(res, "last_seq", &last) == 0)
            upto = last > 0 ? (uint64_t)last : 0;
        bool progressed = false;
        for (uint32_t i = 0; i < evs->a.n; i++) {
            lb_val_t *body = NULL;
            lb_buf_t raw;
            uint64_t seq = 0;
            lb_buf_init(&raw);
            rc = since_item(evs->a.items[i], &body, &raw);
            if (rc == 0)
                rc = body_seq(body, &seq);
            if (rc) {
                lb_val_free(&body);
                lb_buf_free(&raw);
                lb_set_err(err, errlen, "events.since: event %u of the page is unreadable", i);
                goto done;
            }
            /* A daemon that counts `seq` inclusively repeats one event: skip it. */
            if (seq <= s->covered) {
                lb_val_free(&body);
                lb_buf_free(&raw);
                continue;
            }
            if (body_matches(s, body)) {
                sub_ev_t *e = calloc(1, sizeof *e);
                if (!e) {
                    lb_val_free(&body);
                    lb_buf_free(&raw);
                    rc = LB_ENOMEM;
                    goto done;
                }
                e->seq = seq;
                e->body = body;
                e->raw = raw;
                sub_enqueue(s, e);
            } else {
                lb_val_free(&body);
                lb_buf_free(&raw);
            }
            s->covered = seq;
            progressed = true;
        }
        /* A key that sees only some areas gets only their events: `scanned` says how far
         * the daemon read for it, so the events of other areas are no gap. */
        int64_t scanned = -1;
        if (lb_map_int(res, "scanned", &scanned) == 0 && scanned > 0 &&
            (uint64_t)scanned > s->covered) {
            s->covered = (uint64_t)scanned;
            progressed = true;
        }
        lb_val_free(&args);
        lb_val_free(&reply);
        if (!progressed && s->covered < upto) {
            if (until_last)
                break;
            /*
             * Events are published after commit, so the store should hold what
             * was announced. Report it once and step over the hole, rather
             * than failing the same way on every later call.
             */
            lb_set_err(err, errlen,
                       "events.since returned nothing after seq %llu, but seq %llu was announced",
                       (unsigned long long)s->covered, (unsigned long long)upto);
            s->covered = upto;
            rc = LB_ECORRUPT;
            goto done;
        }
    }
done:
    lb_val_free(&args);
    lb_val_free(&reply);
    return rc;
}

static int sub_ping_last(lbc_t *req, uint64_t *last, char *err, size_t errlen)
{
    lb_val_t *reply = NULL;
    int64_t v = 0;
    int rc = sub_call(req, "ping", NULL, &reply, err, errlen);
    if (rc)
        goto done;
    if (lb_map_int(lbc_reply_result(reply), "last_seq", &v) != 0 || v < 0) {
        lb_set_err(err, errlen, "ping: reply without last_seq");
        rc = LB_ECORRUPT;
        goto done;
    }
    *last = (uint64_t)v;
done:
    lb_val_free(&reply);
    return rc;
}

int lbc_sub_open(lbc_t *req, const lbc_sub_opts_t *opts, lbc_sub_t **out, char *err, size_t errlen)
{
    int rc = 0;
    lbc_sub_t *s = NULL;
    if (!out)
        return LB_EBADREQ;
    *out = NULL;
    if (!req || !opts || !opts->endpoint || !*opts->endpoint || (opts->ntopics && !opts->topics)) {
        lb_set_err(err, errlen, "no events endpoint or topic list given");
        rc = LB_EBADREQ;
        goto done;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        rc = LB_ENOMEM;
        goto done;
    }
    s->req = req;
    s->page =
        opts->page ? (opts->page > SUB_MAX_PAGE ? SUB_MAX_PAGE : opts->page) : SUB_DEFAULT_PAGE;
    if (opts->ntopics) {
        s->topics = calloc(opts->ntopics, sizeof *s->topics);
        if (!s->topics) {
            rc = LB_ENOMEM;
            goto done;
        }
        for (size_t i = 0; i < opts->ntopics; i++) {
            if (!opts->topics[i] || !(s->topics[i] = strdup(opts->topics[i]))) {
                rc = opts->topics[i] ? LB_ENOMEM : LB_EBADREQ;
                goto done;
            }
            s->ntopics = i + 1;
        }
    }
    s->sock = zmq_socket(req->ctx, ZMQ_SUB);
    if (!s->sock) {
        lb_set_err(err, errlen, "zmq_socket: %s", zmq_strerror(zmq_errno()));
        rc = LB_EIO;
        goto done;
    }
    int zero = 0;
    int64_t maxmsg = CLIENT_MAX_MSG;
    /* A deep receive queue: what PUB drops for a slow reader must be repaired by requests. */
    int hwm = 100000;
    if (zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(s->sock, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(s->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        (req->ckey && (zmq_setsockopt(s->sock, ZMQ_CURVE_SERVERKEY, req->skey->public_key,
                                      LB_CERT_KEY_BYTES) != 0 ||
                       zmq_setsockopt(s->sock, ZMQ_CURVE_PUBLICKEY, req->ckey->public_key,
                                      LB_CERT_KEY_BYTES) != 0 ||
                       zmq_setsockopt(s->sock, ZMQ_CURVE_SECRETKEY, req->ckey->secret_key,
                                      LB_CERT_KEY_BYTES) != 0))) {
        lb_set_err(err, errlen, "socket option: %s", zmq_strerror(zmq_errno()));
        rc = LB_EIO;
        goto done;
    }
    bool all = s->ntopics == 0;
    for (size_t i = 0; i < s->ntopics; i++)
        if (!*s->topics[i])
            all = true;
    if (all) {
        rc = zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, "", 0);
    } else {
        rc = zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, "hb", 2);
        for (size_t i = 0; rc == 0 && i < s->ntopics; i++)
            rc = zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, s->topics[i], strlen(s->topics[i]));
    }
    if (rc != 0) {
        lb_set_err(err, errlen, "subscribe: %s", zmq_strerror(zmq_errno()));
        rc = LB_EIO;
        goto done;
    }
    /* Subscribe before catching up, so nothing published meanwhile is lost for good. */
    if (zmq_connect(s->sock, opts->endpoint) != 0) {
        lb_set_err(err, errlen, "%s: %s", opts->endpoint, zmq_strerror(zmq_errno()));
        rc = LB_EIO;
        goto done;
    }
    if (opts->after_seq == LBC_SEQ_NOW) {
        rc = sub_ping_last(req, &s->covered, err, errlen);
        if (rc)
            goto done;
        s->target = s->covered;
    } else {
        s->covered = s->target = opts->after_seq;
        s->catchup = true;
        rc = sub_repair(s, UINT64_MAX, err, errlen);
        if (rc == 0)
            s->catchup = false;
        else if (rc == LB_EUNAVAIL)
            rc = 0; /* lbc_sub_next tries again; a daemon that is still starting is no error */
    }
done:
    if (rc)
        lbc_sub_destroy(&s);
    *out = s;
    return rc;
}

void lbc_sub_destroy(lbc_sub_t **ps)
{
    if (!ps || !*ps)
        return;
    lbc_sub_t *s = *ps;
    if (s->sock)
        zmq_close(s->sock);
    for (size_t i = 0; i < s->ntopics; i++)
        free(s->topics[i]);
    free(s->topics);
    while (s->head) {
        sub_ev_t *e = s->head;
        s->head = e->next;
        ev_free(&e);
    }
    ev_free(&s->pending);
    free(s);
    *ps = NULL;
}

uint64_t lbc_sub_cursor(const lbc_sub_t *s)
{
    if (!s)
        return 0;
    return s->head ? s->head->seq - 1 : s->covered;
}

/* Places a live event: next in line, a duplicate, or the far side of a gap. */
static void sub_live(lbc_sub_t *s, sub_ev_t *e, bool matches)
{
    if (e->seq <= s->covered) {
        ev_free(&e);
    } else if (e->seq == s->covered + 1) {
        s->covered = e->seq;
        if (matches)
            sub_enqueue(s, e);
        else
            ev_free(&e);
    } else {
        /* Hold it: the events in between come first, from events.since. */
        if (s->target < e->seq - 1)
            s->target = e->seq - 1;
        if (matches) {
            ev_free(&s->pending);
            s->pending = e;
        } else {
            ev_free(&e);
        }
    }
}

/* Keeps a heartbeat's signed head when it is the newest seen. */
static void sub_hb_head(lbc_sub_t *s, uint64_t seq, const lb_val_t *hb)
{
    const lb_val_t *chain = lb_map_get(hb, "chain"), *sig = lb_map_get(hb, "sig");
    if (!chain || chain->type != LB_BIN || chain->s.n != 32 || !sig || sig->type != LB_BIN ||
        sig->s.n != 64 || (s->has_hb && seq < s->hb.seq))
        return;
    s->hb.seq = seq;
    memcpy(s->hb.chain, chain->s.p, 32);
    memcpy(s->hb.sig, sig->s.p, 64);
    s->has_hb = true;
}

/* Reads one published message: [topic, body]. */
static int sub_read(lbc_sub_t *s)
{
    int rc = 0;
    zmq_msg_t topic, body;
    zmq_msg_init(&topic);
    zmq_msg_init(&body);
    if (zmq_msg_recv(&topic, s->sock, ZMQ_DONTWAIT) < 0) {
        rc = zmq_errno() == EAGAIN ? 0 : LB_EIO;
        goto done;
    }
    if (!zmq_msg_more(&topic))
        goto done; /* malformed: a missed event shows up as a gap later */
    if (zmq_msg_recv(&body, s->sock, 0) < 0) {
        rc = LB_EIO;
        goto done;
    }
    if (zmq_msg_more(&body)) {
        /* Swallow extra frames of a malformed message. */
        zmq_msg_t extra;
        do {
            zmq_msg_init(&extra);
            if (zmq_msg_recv(&extra, s->sock, 0) < 0) {
                zmq_msg_close(&extra);
                rc = LB_EIO;
                goto done;
            }
            bool more = zmq_msg_more(&extra);
            zmq_msg_close(&extra);
            if (!more)
                break;
        } while (1);
        goto done;
    }
    char tbuf[256];
    size_t tlen = zmq_msg_size(&topic);
    if (tlen >= sizeof tbuf)
        goto done;
    memcpy(tbuf, zmq_msg_data(&topic), tlen);
    tbuf[tlen] = '\0';

    lb_val_t *v = NULL;
    proto_err_t perr;
    uint64_t seq = 0;
    if (proto_unpack(zmq_msg_data(&body), zmq_msg_size(&body), &lbc_reply_limits, &v, &perr) != 0 ||
        body_seq(v, &seq) != 0) {
        lb_val_free(&v);
        goto done;
    }
    if (strcmp(tbuf, "hb") == 0) {
        if (seq > s->target)
            s->target = seq;
        sub_hb_head(s, seq, v);
        lb_val_free(&v);
        goto done;
    }
    sub_ev_t *e = ev_new(seq, v, zmq_msg_data(&body), zmq_msg_size(&body));
    if (!e) {
        rc = LB_ENOMEM;
        goto done;
    }
    sub_live(s, e, sub_matches(s, tbuf));
done:
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
    return rc;
}

int lbc_sub_head(const lbc_sub_t *s, lbc_head_t *out)
{
    if (!s || !s->has_hb)
        return LB_ENOTFOUND;
    *out = s->hb;
    return 0;
}

int lbc_sub_next(lbc_sub_t *s, int timeout_ms, uint64_t *seq, lb_val_t **body, lb_buf_t *raw,
                 char *err, size_t errlen)
{
    int rc = 0;
    if (!s || !body)
        return LB_EBADREQ;
    *body = NULL;
    int64_t deadline = timeout_ms < 0 ? -1 : lbc_mono_ms() + timeout_ms;
    for (;;) {
        if (s->head) {
            sub_ev_t *e = s->head;
            s->head = e->next;
            if (!s->head)
                s->tail = NULL;
            if (seq)
                *seq = e->seq;
            *body = e->body;
            e->body = NULL;
            if (raw) {
                raw->len = 0;
                rc = lb_buf_append(raw, e->raw.p, e->raw.len);
            }
            ev_free(&e);
            if (rc)
                lb_val_free(body);
            return rc;
        }
        if (s->catchup) {
            rc = sub_repair(s, UINT64_MAX, err, errlen);
            if (rc)
                return rc;
            s->catchup = false;
            continue;
        }
        if (s->target > s->covered) {
            rc = sub_repair(s, s->target, err, errlen);
            if (rc)
                return rc;
            continue;
        }
        if (s->pending) {
            /* The gap before it is closed now: it is a duplicate or next in line. */
            sub_ev_t *e = s->pending;
            s->pending = NULL;
            sub_live(s, e, true);
            continue;
        }
        long left = -1;
        if (deadline >= 0) {
            int64_t d = deadline - lbc_mono_ms();
            left = d > 0 ? (long)d : 0;
        }
        zmq_pollitem_t item = {s->sock, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&item, 1, left);
        if (n < 0 && zmq_errno() != EINTR) {
            lb_set_err(err, errlen, "poll: %s", zmq_strerror(zmq_errno()));
            return LB_EIO;
        }
        if (n > 0) {
            rc = sub_read(s);
            if (rc) {
                lb_set_err(err, errlen, "receive: %s", zmq_strerror(zmq_errno()));
                return rc;
            }
            continue;
        }
        if (deadline >= 0 && lbc_mono_ms() >= deadline)
            return LB_ENOTFOUND;
    }
}
