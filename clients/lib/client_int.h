/*
 * client_int.h - what the client library's request side (client.c) and its
 * event subscriber (sub.c) share: the connection's struct and the reply
 * limits. Not a public header.
 */
#ifndef LBC_CLIENT_INT_H
#define LBC_CLIENT_INT_H

#include "client.h"

#include "../../proto/proto.h"

/* Replies (a page of 10,000 events) may be far larger than a request. */
extern const proto_limits_t lbc_reply_limits;

/* Refuse absurd frames before libzmq allocates them. */
#define CLIENT_MAX_MSG ((int64_t)256 * 1024 * 1024)

struct lbc {
    void *ctx;
    bool own_ctx;
    void *sock;
    void *mon; /* PAIR receiving handshake failures; NULL without CURVE */
    char *endpoint;
    lb_cert_t *ckey, *skey; /* NULL without CURVE */
    int timeout_ms;
    int retries;
    unsigned gen;        /* counts sockets, to name monitor endpoints uniquely */
    char handshake[200]; /* last handshake failure seen, "" if none */
};

#endif
