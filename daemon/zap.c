/*
 * zap.c - the ZAP handler (RFC 27): who may connect to the requests and
 * events sockets, by CURVE key, from the clients registry. Loop thread only.
 */
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "internal.h"

static void zap_reply(lbd_t *d, const char *reqid, size_t reqid_len, const char *status,
                      const char *text, const char *user)
{
    zmq_send(d->zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(d->zap, reqid, reqid_len, ZMQ_SNDMORE);
    zmq_send(d->zap, status, strlen(status), ZMQ_SNDMORE);
    zmq_send(d->zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(d->zap, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(d->zap, "", 0, 0);
}

void lbd_zap_handle(lbd_t *d)
{
    char frames[7][256];
    size_t lens[7] = {0};
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, d->zap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            if (n == 0)
                return;
            break;
        }
        more = zmq_msg_more(&m);
        if (n < 7) {
            size_t sz = zmq_msg_size(&m);
            lens[n] = sz < sizeof frames[n] ? sz : sizeof frames[n] - 1;
            memcpy(frames[n], zmq_msg_data(&m), lens[n]);
            frames[n][lens[n]] = '\0';
        }
        n++;
        zmq_msg_close(&m);
    }
    /* version, request id, domain, address, identity, mechanism, credentials */
    if (n < 6)
        return;
    const char *domain = frames[2], *mech = frames[5];
    if (n != 7 || strcmp(mech, "CURVE") != 0 || lens[6] != 32) {
        zap_reply(d, frames[1], lens[1], "400", "CURVE required", "");
        return;
    }
    const lbd_client_t *c = lbd_registry_by_key(&d->reg, (const uint8_t *)frames[6]);
    /* The published stream is one byte sequence for all and names house ids and actors, so a
     * reporter never subscribes, events: true or not; it reads redacted events.since (9.14). */
    bool ok = c && (strcmp(domain, "events") != 0 || (c->events && c->role != LBD_ROLE_REPORTER));
    if (!ok) {
        char z[41];
        zmq_z85_encode(z, (const uint8_t *)frames[6], 32);
        lbd_log(LBD_LOG_INFO, "refused %s key %s from %s", domain, z, frames[3]);
        zap_reply(d, frames[1], lens[1], "400", "unknown key", "");
        return;
    }
    zap_reply(d, frames[1], lens[1], "200", "OK", c->key_z85);
}
