/*
 * cursor.c - see cursor.h. The file format is three short text lines so an
 * operator can read (and, with the consumer stopped, edit) it:
 *
 *     logbook-cursor 1
 *     seq 1234
 *     pending 1235 2        <- only while a delivery is in flight
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cursor.h"

#define CURSOR_MAGIC "logbook-cursor 1"

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

static int parse_cursor(const char *text, lbc_cursor_t *c, char *err, size_t errlen)
{
    const char *p = text, *e;
    uint64_t v;
    memset(c, 0, sizeof *c);
    if (strncmp(p, CURSOR_MAGIC "\n", sizeof CURSOR_MAGIC) != 0) {
        lb_set_err(err, errlen, "not a logbook cursor file (version 1)");
        return LB_ECORRUPT;
    }
    p += sizeof CURSOR_MAGIC;
    if (strncmp(p, "seq ", 4) != 0 || parse_u64(p + 4, &e, &c->seq) != 0 || *e != '\n') {
        lb_set_err(err, errlen, "line 2: expected \"seq N\"");
        return LB_ECORRUPT;
    }
    p = e + 1;
    if (*p == '\0')
        return 0;
    if (strncmp(p, "pending ", 8) != 0 || parse_u64(p + 8, &e, &c->pending) != 0 || *e != ' ' ||
        parse_u64(e + 1, &e, &v) != 0 || *e != '\n' || e[1] != '\0') {
        lb_set_err(err, errlen, "line 3: expected \"pending SEQ ATTEMPTS\" and nothing after it");
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
    char text[128];
    int n;
    if (!c || (c->pending && (c->pending <= c->seq || c->attempts == 0)) ||
        (!c->pending && c->attempts)) {
        lb_set_err(err, errlen, "cursor breaks its invariant");
        return LB_EBADREQ;
    }
    if (c->pending)
        n = snprintf(text, sizeof text,
                     CURSOR_MAGIC "\nseq %" PRIu64 "\npending %" PRIu64 " %" PRIu32 "\n", c->seq,
                     c->pending, c->attempts);
    else
        n = snprintf(text, sizeof text, CURSOR_MAGIC "\nseq %" PRIu64 "\n", c->seq);
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
