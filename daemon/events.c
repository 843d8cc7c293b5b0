/*
 * events.c - the events socket: an XPUB in manual mode, so the daemon decides
 * which topics reach each subscriber (the intersection of what it asked for and
 * its key's areas), and a re-bind after a reload that took events away from a
 * key, which drops every subscriber and lets the ZAP handler admit them again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "internal.h"

#define EV_MONITOR "inproc://logbookd-events-monitor"
#define EV_REBIND_MS 1000 /* the longest a re-bind waits for the old listeners to close */
#define EV_PREFIX_MAX 64  /* longer subscriptions match no topic (KIND.AREA8 is shorter) */

/* The KINDs of section 7's topics KIND.AREA8. */
static const char *const ev_kinds[] = {"case", "visit",      "assist", "followup",
                                       "note", "escalation", "member", "decision"};

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void subscribe(lbd_t *d, const char *prefix, size_t n)
{
    if (zmq_setsockopt(d->pub, ZMQ_SUBSCRIBE, prefix, n) != 0)
        lbd_log(LBD_LOG_WARN, "events: cannot subscribe a peer: %s", zmq_strerror(zmq_errno()));
}

/* Subscribes the last peer to KIND.AREA for each of the key's area prefixes. */
static void subscribe_kind(lbd_t *d, const lbd_client_t *c, const char *kind)
{
    for (size_t i = 0; i < c->n_areas; i++) {
        char t[EV_PREFIX_MAX + 16];
        int n = snprintf(t, sizeof t, "%s.%s", kind, c->areas[i]);
        if (n > 0 && (size_t)n < sizeof t)
            subscribe(d, t, (size_t)n);
    }
}

/*
 * Subscribes the peer of the last subscription message to the topics that
 * both start with p (its request) and lie in c's areas. Topics are KIND.AREA8
 * and `hb`; an area prefix A admits KIND.A*, so "" becomes every KIND.A,
 * "escalation.65" becomes "escalation.6501" for a key of 6501, and stays as it
 * is for a key of 65.
 */
static void subscribe_scoped(lbd_t *d, const lbd_client_t *c, const char *p, size_t n)
{
    if (strncmp(p, "hb", n < 2 ? n : 2) == 0) {
        subscribe(d, n < 2 ? "hb" : p, n < 2 ? 2 : n); /* heartbeats: every admitted key */
        if (n >= 2)
            return;
    }
    const char *dot = memchr(p, '.', n);
    if (!dot) {
        for (size_t k = 0; k < sizeof ev_kinds / sizeof ev_kinds[0]; k++)
            if (strncmp(ev_kinds[k], p, n) == 0)
                subscribe_kind(d, c, ev_kinds[k]);
        return;
    }
    const char *q = dot + 1; /* the area part of the request */
    size_t qn = n - (size_t)(q - p);
    for (size_t i = 0; i < c->n_areas; i++) {
        const char *a = c->areas[i];
        size_t an = strlen(a);
        if (an <= qn && memcmp(a, q, an) == 0) {
            subscribe(d, p, n); /* asked for a part of this area */
        } else if (qn < an && memcmp(a, q, qn) == 0) {
            char t[EV_PREFIX_MAX + 16];
            int tn = snprintf(t, sizeof t, "%.*s%s", (int)(q - p), p, a);
            if (tn > 0 && (size_t)tn < sizeof t)
                subscribe(d, t, (size_t)tn); /* asked for more: narrowed to this area */
        }
    }
}

/* The registered client a subscription message came from, or NULL (refused). */
static const lbd_client_t *subscriber(lbd_t *d, zmq_msg_t *m, lbd_client_t *anon)
{
    if (!d->cfg.curve) {
        static char *all[] = {""};
        memset(anon, 0, sizeof *anon);
        anon->areas = all;
        anon->n_areas = 1;
        anon->events = true;
        return anon;
    }
    const char *uid = zmq_msg_gets(m, "User-Id");
    uint8_t key[32];
    if (!uid || strlen(uid) != 40 || !zmq_z85_decode(key, uid))
        return NULL;
    const lbd_client_t *c = lbd_registry_by_key(&d->reg, key);
    return c && c->events ? c : NULL;
}

void lbd_events_handle(lbd_t *d)
{
    for (int budget = 0; budget < 1000; budget++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, d->pub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        const char *b = zmq_msg_data(&m);
        size_t n = zmq_msg_size(&m);
        lbd_client_t anon;
        const lbd_client_t *c = subscriber(d, &m, &anon);
        /*
         * Only subscriptions (first byte 1) are applied. An unsubscription is
         * not: two requests may map to the same scoped prefix, and the SUB
         * socket filters on its side anyway; the peer's prefixes go with it.
         */
        if (c && n >= 1 && b[0] == 1 && n - 1 <= EV_PREFIX_MAX) {
            char p[EV_PREFIX_MAX + 1];
            memcpy(p, b + 1, n - 1);
            p[n - 1] = '\0';
            lbd_log(LBD_LOG_DEBUG, "events: %s subscribes to '%s'", c->name, p);
            bool national = false;
            for (size_t i = 0; i < c->n_areas; i++)
                national |= c->areas[i][0] == '\0';
            if (national)
                subscribe(d, p, n - 1);
            else
                subscribe_scoped(d, c, p, n - 1);
        }
        zmq_msg_close(&m);
    }
}

/* ---------------------------------------------------------------------- */
/* binding and re-binding                                                  */
/* ---------------------------------------------------------------------- */

int lbd_events_bind(lbd_t *d, char *err, size_t errlen)
{
    int one = 1;
    if (zmq_setsockopt(d->pub, ZMQ_XPUB_MANUAL, &one, sizeof one) != 0 ||
        zmq_socket_monitor(d->pub, EV_MONITOR, ZMQ_EVENT_CLOSED) != 0 ||
        !(d->ev_mon = zmq_socket(d->zctx, ZMQ_PAIR)) || zmq_connect(d->ev_mon, EV_MONITOR) != 0) {
        snprintf(err, errlen, "cannot set up the events socket: %s", zmq_strerror(zmq_errno()));
        return LB_EIO;
    }
    d->ev_bound = calloc(d->cfg.n_ev, sizeof *d->ev_bound);
    if (!d->ev_bound)
        return LB_ENOMEM;
    for (size_t i = 0; i < d->cfg.n_ev; i++) {
        char ep[256];
        size_t len = sizeof ep;
        if (zmq_bind(d->pub, d->cfg.ev_endpoints[i]) != 0) {
            snprintf(err, errlen, "cannot bind %s: %s", d->cfg.ev_endpoints[i],
                     zmq_strerror(zmq_errno()));
            return LB_ECONFIG;
        }
        /* The resolved address (a wildcard port made concrete) is what a re-bind takes again. */
        if (zmq_getsockopt(d->pub, ZMQ_LAST_ENDPOINT, ep, &len) != 0 ||
            !(d->ev_bound[i] = strdup(ep)))
            return LB_ENOMEM;
    }
    return 0;
}

/* Waits until every endpoint's listener has closed (its ipc file is gone). true when all did. */
static bool wait_closed(lbd_t *d, size_t n)
{
    int64_t end = lbd_mono_ms() + EV_REBIND_MS;
    size_t closed = 0;
    while (closed < n && lbd_mono_ms() < end) {
        zmq_pollitem_t it = {d->ev_mon, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, (long)(end - lbd_mono_ms())) <= 0)
            continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        int more = 1;
        uint16_t event = 0;
        for (int f = 0; more && zmq_msg_recv(&m, d->ev_mon, 0) >= 0; f++) {
            if (f == 0 && zmq_msg_size(&m) >= 2)
                memcpy(&event, zmq_msg_data(&m), 2);
            more = zmq_msg_more(&m);
        }
        zmq_msg_close(&m);
        closed += event == ZMQ_EVENT_CLOSED;
    }
    return closed >= n;
}

int lbd_events_rebind(lbd_t *d)
{
    d->ev_rebind = false;
    lbd_events_handle(d); /* subscriptions still queued belong to the old peers */
    size_t unbound = 0;
    for (size_t i = 0; i < d->cfg.n_ev; i++)
        unbound += zmq_unbind(d->pub, d->ev_bound[i]) == 0;
    if (!wait_closed(d, unbound))
        lbd_log(LBD_LOG_WARN, "events: the old listeners did not report closing in time");
    int rc = 0;
    for (size_t i = 0; i < d->cfg.n_ev; i++) {
        int64_t end = lbd_mono_ms() + EV_REBIND_MS;
        while (zmq_bind(d->pub, d->ev_bound[i]) != 0) {
            if (zmq_errno() != EADDRINUSE || lbd_mono_ms() >= end) {
                lbd_log(LBD_LOG_ERROR, "events: cannot bind %s again: %s", d->ev_bound[i],
                        zmq_strerror(zmq_errno()));
                rc = LB_EIO;
                break;
            }
            nap_ms(5);
        }
    }
    lbd_log(LBD_LOG_INFO, "events: the socket was bound again; subscribers reconnect under the "
                          "new registry and repair the gap with events.since");
    return rc;
}

/* true when a and b list the same area prefixes in the same order. */
static bool same_areas(const lbd_client_t *a, const lbd_client_t *b)
{
    if (a->n_areas != b->n_areas)
        return false;
    for (size_t i = 0; i < a->n_areas; i++)
        if (strcmp(a->areas[i], b->areas[i]) != 0)
            return false;
    return true;
}

bool lbd_events_scopes_changed(const lbd_registry_t *old, const lbd_registry_t *now)
{
    for (size_t i = 0; i < old->n; i++) {
        const lbd_client_t *o = &old->v[i];
        if (!o->events)
            continue;
        const lbd_client_t *c = lbd_registry_by_key(now, o->key);
        if (!c || !c->events || c->role != o->role || !same_areas(o, c))
            return true;
    }
    return false;
}

void lbd_events_close(lbd_t *d)
{
    if (d->ev_mon)
        zmq_close(d->ev_mon);
    d->ev_mon = NULL;
    for (size_t i = 0; d->ev_bound && i < d->cfg.n_ev; i++)
        free(d->ev_bound[i]);
    free(d->ev_bound);
    d->ev_bound = NULL;
}
