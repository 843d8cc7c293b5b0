/*
 * cursor.c - see cursor.h. The file format is a few short text lines so an
 * operator can read (and, with the consumer stopped, edit) it:
 *
 *     logbook-cursor 1      <- 2 when the head line is there
 *     seq 1234
 *     pending 1235 2        <- only while a delivery is in flight
 *     head 1240 CHAIN SIG   <- version 2: the newest signed head, hex
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/file.h>
#include <unistd.h>

#include "cursor.h"

#define CURSOR_MAGIC "logbook-cursor 1"
#define CURSOR_MAGIC2 "logbook-cursor 2"

/* A decimal uint64 with no sign, no leading zeros (except "0") and no overflow. */
static int parse_u64(const char *s, const char **end, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return -1;
    if (*p == '0' && p[1] >= '0' && p[1] <= '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *end = p;
    *out = v;
    return 0;
}

/* n bytes of lower-case hex at s into out: 0, or -1. */
static int parse_hex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < 2 * n; i++) {
        char ch = s[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] | d : d << 4);
    }
    return 0;
}

/* "head SEQ CHAIN SIG\n" and nothing after it. */
static int parse_head(const char *p, lbc_head_t *h, char *err, size_t errlen)
{
    const char *e;
    if (strncmp(p, "head ", 5) != 0 || parse_u64(p + 5, &e, &h->seq) != 0 || *e != ' ' ||
        parse_hex(e + 1, h->chain, 32) != 0 || e[65] != ' ' || parse_hex(e + 66, h->sig, 64) ||
        strcmp(e + 194, "\n") != 0) {
        lb_set_err(err, errlen, "last line: expected \"head SEQ CHAIN SIG\" and nothing after it");
        return LB_ECORRUPT;
    }
    return 0;
}

static int parse_cursor(const char *text, lbc_cursor_t *c, char *err, size_t errlen)
{
    const char *p = text, *e;
    uint64_t v;
    memset(c, 0, sizeof *c);
    bool v2 = strncmp(p, CURSOR_MAGIC2 "\n", sizeof CURSOR_MAGIC2) == 0;
    if (!v2 && strncmp(p, CURSOR_MAGIC "\n", sizeof CURSOR_MAGIC) != 0) {
        lb_set_err(err, errlen, "not a logbook cursor file (version 1 or 2)");
        return LB_ECORRUPT;
    }
    p += sizeof CURSOR_MAGIC;
    if (strncmp(p, "seq ", 4) != 0 || parse_u64(p + 4, &e, &c->seq) != 0 || *e != '\n') {
        lb_set_err(err, errlen, "line 2: expected \"seq N\"");
        return LB_ECORRUPT;
    }
    p = e + 1;
    if (v2 && strncmp(p, "head ", 5) == 0) {
        c->has_head = true;
        return parse_head(p, &c->head, err, errlen);
    }
    if (*p == '\0' && !v2)
        return 0;
    if (strncmp(p, "pending ", 8) != 0 || parse_u64(p + 8, &e, &c->pending) != 0 || *e != ' ' ||
        parse_u64(e + 1, &e, &v) != 0 || *e != '\n' || (e[1] != '\0' && !v2)) {
        lb_set_err(err, errlen, "line 3: expected \"pending SEQ ATTEMPTS\" and nothing after it");
        return LB_ECORRUPT;
    }
    if (v2) {
        /* Version 2 is written only with a head: without one it is not ours. */
        c->has_head = true;
        if (parse_head(e + 1, &c->head, err, errlen))
            return LB_ECORRUPT;
    }
    if (c->pending <= c->seq || v == 0 || v > UINT32_MAX) {
        lb_set_err(err, errlen, "pending %" PRIu64 " with %" PRIu64 " attempts after seq %" PRIu64,
                   c->pending, v, c->seq);
        return LB_ECORRUPT;
    }
    c->attempts = (uint32_t)v;
    return 0;
}

int lbc_cursor_load(const char *path, lbc_cursor_t *out, char *err, size_t errlen)
{
    char buf[LBC_CURSOR_FILE_MAX + 1];
    size_t len = 0;
    int rc = 0;
    if (!path || !out)
        return LB_EBADREQ;
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return LB_ENOTFOUND;
        lb_set_err(err, errlen, "open %s: %s", path, strerror(errno));
        return LB_EIO;
    }
    /* Read one byte past the limit to tell "exactly at the limit" from "larger". */
    while (len < sizeof buf) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            lb_set_err(err, errlen, "read %s: %s", path, strerror(errno));
            rc = LB_EIO;
            goto done;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > LBC_CURSOR_FILE_MAX) {
        lb_set_err(err, errlen, "%s: larger than %d bytes", path, LBC_CURSOR_FILE_MAX);
        rc = LB_ECORRUPT;
        goto done;
    }
    if (memchr(buf, '\0', len)) {
        lb_set_err(err, errlen, "%s: contains a NUL byte", path);
        rc = LB_ECORRUPT;
        goto done;
    }
    buf[len] = '\0';
    char why[200] = "";
    rc = parse_cursor(buf, out, why, sizeof why);
    if (rc) {
        lb_set_err(err, errlen, "%s: %s", path, why);
        memset(out, 0, sizeof *out);
    }
done:
    close(fd);
    return rc;
}

int lbc_cursor_save(const char *path, const lbc_cursor_t *c, char *err, size_t errlen)
{
    char text[512];
    int n;
    if (!c || (c->pending && (c->pending <= c->seq || c->attempts == 0)) ||
        (!c->pending && c->attempts)) {
        lb_set_err(err, errlen, "cursor breaks its invariant");
        return LB_EBADREQ;
    }
    const char *magic = c->has_head ? CURSOR_MAGIC2 : CURSOR_MAGIC;
    if (c->pending)
        n = snprintf(text, sizeof text, "%s\nseq %" PRIu64 "\npending %" PRIu64 " %" PRIu32 "\n",
                     magic, c->seq, c->pending, c->attempts);
    else
        n = snprintf(text, sizeof text, "%s\nseq %" PRIu64 "\n", magic, c->seq);
    if (n > 0 && (size_t)n < sizeof text && c->has_head) {
        char chain[65], sig[129];
        sodium_bin2hex(chain, sizeof chain, c->head.chain, 32);
        sodium_bin2hex(sig, sizeof sig, c->head.sig, 64);
        n += snprintf(text + n, sizeof text - (size_t)n, "head %" PRIu64 " %s %s\n", c->head.seq,
                      chain, sig);
    }
    if (n < 0 || (size_t)n >= sizeof text)
        return LB_EINTERNAL;
    return lb_file_replace(path, text, (size_t)n, 0600, err, errlen);
}

int lbc_cursor_lock(const char *path, int *fd, char *err, size_t errlen)
{
    if (!path || !*path || !fd)
        return LB_EBADREQ;
    *fd = -1;
    size_t plen = strlen(path);
    char *lock = malloc(plen + 6);
    if (!lock)
        return LB_ENOMEM;
    memcpy(lock, path, plen);
    memcpy(lock + plen, ".lock", 6);
    int rc = 0;
    int f = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (f < 0) {
        lb_set_err(err, errlen, "open %s: %s", lock, strerror(errno));
        rc = LB_EIO;
        goto done;
    }
    /* flock, not fcntl locks: those would be dropped by closing any other fd of the file. */
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(f);
        if (e == EWOULDBLOCK) {
            lb_set_err(err, errlen, "%s is held by another process", lock);
            rc = LB_ECONFLICT;
        } else {
            lb_set_err(err, errlen, "lock %s: %s", lock, strerror(e));
            rc = LB_EIO;
        }
        goto done;
    }
    *fd = f;
done:
    free(lock);
    return rc;
}

void lbc_cursor_unlock(int *fd)
{
    if (!fd || *fd < 0)
        return;
    close(*fd); /* closing the only descriptor of the open file drops the flock */
    *fd = -1;
}
