/*
 * head.c - see cursor.h: the daemon's audit public key and the signed chain
 * heads it verifies (PROTOCOL.md 9.12), for witnesses and notifiers.
 */
#include <errno.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cursor.h"

int lbc_audit_key_load(const char *path, uint8_t pk[32], char *err, size_t errlen)
{
    struct stat st;
    if (!path || stat(path, &st) != 0) {
        lb_set_err(err, errlen, "%s: %s", path ? path : "(null)", strerror(errno));
        return LB_EIO;
    }
    if (st.st_size == 32) {
        FILE *f = fopen(path, "rb");
        size_t got = f ? fread(pk, 1, 32, f) : 0;
        if (f)
            fclose(f);
        if (got == 32)
            return 0;
        lb_set_err(err, errlen, "%s: cannot read", path);
        return LB_EIO;
    }
    lb_cert_t *c = NULL;
    int rc = lb_cert_load(path, &c, err, errlen);
    if (rc == 0)
        memcpy(pk, c->public_key, 32);
    lb_cert_destroy(&c);
    return rc;
}

int lbc_audit_key_beside(const char *server_cert, uint8_t pk[32], char *err, size_t errlen)
{
    static const char *const names[] = {"audit.pub", "audit.key"};
    char copy[4096], path[4200];
    snprintf(copy, sizeof copy, "%s", server_cert ? server_cert : "");
    const char *dir = dirname(copy);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (access(path, F_OK) == 0)
            return lbc_audit_key_load(path, pk, err, errlen);
    }
    lb_set_err(err, errlen, "no audit.pub beside %s", server_cert ? server_cert : "(null)");
    return LB_EIO;
}

bool lbc_head_verify(const lbc_head_t *h, const uint8_t pk[32])
{
    uint8_t msg[40];
    for (int i = 0; i < 8; i++)
        msg[i] = (uint8_t)(h->seq >> (56 - 8 * i));
    memcpy(msg + 8, h->chain, 32);
    return sodium_init() >= 0 && crypto_sign_verify_detached(h->sig, msg, sizeof msg, pk) == 0;
}
