/*
 * lb.c - the shared vocabulary of lb.h: error texts, the growable byte buffer,
 * JSON output of values, UTF-8 validation, crash-safe file replacement and the
 * identifier formats of DOMAIN.md (the value tree itself is lb_val.c). libc and
 * POSIX only: this file must not include msgpack, ZeroMQ or LMDB, so every
 * module can link it.
 */
#include "lb.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------------- */
/* Errors                                                                  */
/* ---------------------------------------------------------------------- */

const char *lb_strerror(int err)
{
    switch (err) {
    case LB_OK:
        return "success";
    case LB_EBADREQ:
        return "bad request";
    case LB_EBADVER:
        return "unsupported protocol version";
    case LB_EUNKNOWNOP:
        return "unknown operation";
    case LB_ENOTFOUND:
        return "not found";
    case LB_ECONFLICT:
        return "conflict";
    case LB_EINVALID:
        return "transition not allowed from the current state";
    case LB_EGUARD:
        return "required data missing or invalid";
    case LB_EFORBIDDEN:
        return "forbidden";
    case LB_ETOOLARGE:
        return "too large";
    case LB_EUNAVAIL:
        return "unavailable";
    case LB_EINTERNAL:
        return "internal error";
    case LB_ERATELIMIT:
        return "too many requests; retry later";
    case LB_ENOMEM:
        return "out of memory";
    case LB_EIO:
        return "I/O error";
    case LB_ECORRUPT:
        return "stored data is corrupt";
    case LB_EVERSION:
        return "data format newer than this build";
    case LB_ECONFIG:
        return "invalid configuration";
    case LB_EEXIST:
        return "already exists";
    case LB_EMAPFULL:
        return "database map full";
    case LB_EDISKFULL:
        return "disk full";
    default:
        return "unknown error";
    }
}

const char *lb_errcode(int err)
{
    switch (err) {
    case LB_OK:
        return "ok";
    case LB_EBADREQ:
        return "bad_request";
    case LB_EBADVER:
        return "bad_version";
    case LB_EUNKNOWNOP:
        return "unknown_op";
    case LB_ENOTFOUND:
        return "not_found";
    case LB_ECONFLICT:
        return "conflict";
    case LB_EINVALID:
        return "invalid_transition";
    case LB_EGUARD:
        return "guard_failed";
    case LB_EFORBIDDEN:
        return "forbidden";
    case LB_ETOOLARGE:
        return "too_large";
    case LB_EUNAVAIL:
        return "unavailable";
    case LB_ERATELIMIT:
        return "rate_limited";
    case LB_EEXIST:
        return "conflict";
    /* The store could not take the write: the client may retry later. */
    case LB_EIO:
    case LB_EMAPFULL:
    case LB_EDISKFULL:
        return "unavailable";
    default:
        return "internal";
    }
}

void lb_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------------- */
/* Byte buffer                                                             */
/* ---------------------------------------------------------------------- */

void lb_buf_init(lb_buf_t *b)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
}

void lb_buf_free(lb_buf_t *b)
{
    if (!b)
        return;
    free(b->p);
    lb_buf_init(b);
}

int lb_buf_reserve(lb_buf_t *b, size_t n)
{
    if (n <= b->cap - b->len)
        return 0;
    if (n > SIZE_MAX - b->len)
        return LB_ENOMEM;
    size_t need = b->len + n;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return LB_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int lb_buf_append(lb_buf_t *b, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    int rc = lb_buf_reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* JSON                                                                    */
/* ---------------------------------------------------------------------- */

static int buf_puts(lb_buf_t *b, const char *s)
{
    return lb_buf_append(b, s, strlen(s));
}

static int json_string(lb_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = lb_buf_append(b, "\"", 1);
    size_t run = 0; /* start of the pending run of bytes copied verbatim */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t elen = 0;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            elen = 2;
        } else if (c == '\n') {
            memcpy(esc, "\\n", 2);
            elen = 2;
        } else if (c == '\t') {
            memcpy(esc, "\\t", 2);
            elen = 2;
        } else if (c == '\r') {
            memcpy(esc, "\\r", 2);
            elen = 2;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        if (elen) {
            rc = lb_buf_append(b, s + run, i - run);
            if (rc == 0)
                rc = lb_buf_append(b, esc, elen);
            run = i + 1;
        }
    }
    if (rc == 0)
        rc = lb_buf_append(b, s + run, n - run);
    if (rc == 0)
        rc = lb_buf_append(b, "\"", 1);
    return rc;
}

static int json_hex(lb_buf_t *b, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (n > (SIZE_MAX - 2) / 2)
        return LB_ENOMEM;
    int rc = lb_buf_append(b, "\"", 1);
    if (rc == 0)
        rc = lb_buf_reserve(b, 2 * n + 1);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        b->p[b->len++] = (uint8_t)hex[p[i] >> 4];
        b->p[b->len++] = (uint8_t)hex[p[i] & 15];
    }
    b->p[b->len++] = '"';
    return 0;
}

static int json_float(lb_buf_t *b, double f)
{
    /* JSON has no NaN or infinities. */
    if (!isfinite(f))
        return buf_puts(b, "null");
    char tmp[40];
    /* Shortest of %.15g / %.17g that reads back as the same double. */
    snprintf(tmp, sizeof(tmp), "%.15g", f);
    if (strtod(tmp, NULL) != f)
        snprintf(tmp, sizeof(tmp), "%.17g", f);
    return buf_puts(b, tmp);
}

static int json_newline(lb_buf_t *b, int indent, int level)
{
    if (indent <= 0)
        return 0;
    int rc = lb_buf_append(b, "\n", 1);
    size_t n = (size_t)indent * (size_t)level;
    if (rc == 0 && n) {
        rc = lb_buf_reserve(b, n);
        if (rc == 0) {
            memset(b->p + b->len, ' ', n);
            b->len += n;
        }
    }
    return rc;
}

static int json_val(const lb_val_t *v, int indent, int level, lb_buf_t *b)
{
    char tmp[32];
    int rc = 0;
    if (!v)
        return buf_puts(b, "null");
    switch (v->type) {
    case LB_NIL:
        return buf_puts(b, "null");
    case LB_BOOL:
        return buf_puts(b, v->b ? "true" : "false");
    case LB_INT:
        snprintf(tmp, sizeof(tmp), "%" PRId64, v->i);
        return buf_puts(b, tmp);
    case LB_FLOAT:
        return json_float(b, v->f);
    case LB_STR:
        return json_string(b, v->s.p, v->s.n);
    case LB_BIN:
    case LB_RAW:
        return json_hex(b, (const uint8_t *)v->s.p, v->s.n);
    case LB_ARR:
        if (v->a.n == 0)
            return buf_puts(b, "[]");
        rc = buf_puts(b, "[");
        for (uint32_t i = 0; rc == 0 && i < v->a.n; i++) {
            if (i)
                rc = buf_puts(b, indent > 0 ? "," : ", ");
            if (rc == 0)
                rc = json_newline(b, indent, level + 1);
            if (rc == 0)
                rc = json_val(v->a.items[i], indent, level + 1, b);
        }
        if (rc == 0)
            rc = json_newline(b, indent, level);
        return rc ? rc : buf_puts(b, "]");
    case LB_MAP:
        if (v->m.n == 0)
            return buf_puts(b, "{}");
        rc = buf_puts(b, "{");
        for (uint32_t i = 0; rc == 0 && i < v->m.n; i++) {
            if (i)
                rc = buf_puts(b, indent > 0 ? "," : ", ");
            if (rc == 0)
                rc = json_newline(b, indent, level + 1);
            if (rc == 0)
                rc = json_string(b, v->m.keys[i], strlen(v->m.keys[i]));
            if (rc == 0)
                rc = buf_puts(b, ": ");
            if (rc == 0)
                rc = json_val(v->m.vals[i], indent, level + 1, b);
        }
        if (rc == 0)
            rc = json_newline(b, indent, level);
        return rc ? rc : buf_puts(b, "}");
    }
    return LB_EINTERNAL;
}

int lb_val_to_json(const lb_val_t *v, int indent, lb_buf_t *out)
{
    /* On failure out keeps its previous length: no half-written document. */
    size_t mark = out->len;
    int rc = json_val(v, indent, 0, out);
    if (rc)
        out->len = mark;
    return rc;
}

/* Writes the document without a trailing newline; LB_EIO when the stream fails. */
int lb_val_fprint_json(const lb_val_t *v, int indent, FILE *f)
{
    lb_buf_t b;
    lb_buf_init(&b);
    int rc = lb_val_to_json(v, indent, &b);
    if (rc == 0 && b.len && fwrite(b.p, 1, b.len, f) != b.len)
        rc = LB_EIO;
    lb_buf_free(&b);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* UTF-8                                                                   */
/* ---------------------------------------------------------------------- */

/* RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF. */
bool lb_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    if (n && !s)
        return false;
    while (i < n) {
        /* Eight ASCII bytes without NUL at a time: most text on the wire is such. */
        if (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, sizeof w);
            const uint64_t high = UINT64_C(0x8080808080808080), ones = UINT64_C(0x0101010101010101);
            if (((w | ((w - ones) & ~w)) & high) == 0) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        i += len;
    }
    return true;
}

/* ---------------------------------------------------------------------- */
/* Files                                                                   */
/* ---------------------------------------------------------------------- */

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The sequence of Mosquitto's persist_write.c. */
int lb_file_replace(const char *path, const void *data, size_t len, mode_t mode, char *err,
                    size_t errlen)
{
    int rc = 0, fd = -1, dfd = -1, e = 0;
    bool created = false, renamed = false;
    char *dir = NULL, *tmp = NULL;
    const char *step = "";
    const char *slash = path ? strrchr(path, '/') : NULL;
    const char *base = slash ? slash + 1 : path;
    if (!path || !*base) {
        lb_set_err(err, errlen, "'%s' is not a file name", path ? path : "");
        errno = EINVAL;
        return LB_EBADREQ;
    }
    if (len && !data) {
        lb_set_err(err, errlen, "%s: no data to write", path);
        errno = EINVAL;
        return LB_EBADREQ;
    }
    if (!slash)
        dir = strdup(".");
    else if (slash == path)
        dir = strdup("/");
    else
        dir = strndup(path, (size_t)(slash - path));
    size_t dirlen = (size_t)(base - path); /* with its '/' */
    /* Hidden and next to the target, so the rename stays within one file system. */
    size_t tmplen = dirlen + 1 + strlen(base) + sizeof ".tmp." + 3 * sizeof(long);
    tmp = malloc(tmplen);
    if (!dir || !tmp) {
        rc = LB_ENOMEM;
        e = ENOMEM;
        goto done;
    }
    snprintf(tmp, tmplen, "%.*s.%s.tmp.%ld", (int)dirlen, path, base, (long)getpid());
    unlink(tmp); /* left by a crashed process that had our pid */
    step = "create";
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        goto fail;
    created = true;
    /* open() narrowed mode by the umask; the caller asked for exactly mode. */
    step = "set the mode of";
    if (fchmod(fd, mode) != 0)
        goto fail;
    step = "write";
    if (write_all(fd, data, len) != 0)
        goto fail;
    /* Without this fsync the rename could reach the disk before the data does. */
    step = "fsync";
    if (fsync(fd) != 0)
        goto fail;
    step = "close";
    int cfd = fd;
    fd = -1;
    if (close(cfd) != 0)
        goto fail;
    step = "rename";
    if (rename(tmp, path) != 0)
        goto fail;
    renamed = true;
    /* The rename lives in the folder: fsync it, or a crash may bring the old file back. */
    step = "open the folder";
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        goto fail;
    step = "fsync the folder";
    if (fsync(dfd) != 0)
        goto fail;
    goto done;
fail:
    e = errno;
    lb_set_err(err, errlen, "%s: %s %s: %s", path, step, renamed ? dir : tmp, strerror(e));
    rc = (e == ENOSPC || e == EDQUOT) ? LB_EDISKFULL : LB_EIO;
done:
    if (fd >= 0)
        close(fd);
    if (created && !renamed)
        unlink(tmp);
    if (dfd >= 0)
        close(dfd);
    free(dir);
    free(tmp);
    if (rc)
        errno = e;
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Identifiers                                                             */
/* ---------------------------------------------------------------------- */

/* Length of the run of ASCII digits at s (stops at the first non-digit). */
static size_t digit_run(const char *s)
{
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    return n;
}

const char *const lb_dimensions[LB_NDIM] = {"health", "living", "education", "income",
                                            "accessibility"};
const char *const lb_esc_levels[LB_NESC_LEVEL] = {"team", "subdistrict", "district", "province"};
const char *const lb_progress_levels[LB_NPROGRESS] = {"survive", "sufficient", "sustainable"};

bool lb_valid_house_id(const char *s)
{
    return s && digit_run(s) == 11 && s[11] == '\0';
}

bool lb_valid_area(const char *s, bool exact8)
{
    if (!s)
        return false;
    size_t n = digit_run(s);
    if (s[n] != '\0')
        return false;
    if (exact8)
        return n == 8;
    return n == 2 || n == 4 || n == 6 || n == 8;
}

bool lb_valid_nid(const char *s)
{
    if (!s || digit_run(s) != 13 || s[13] != '\0')
        return false;
    if (s[0] < '1' || s[0] > '8')
        return false;
    int sum = 0;
    for (int i = 0; i < 12; i++)
        sum += (s[i] - '0') * (13 - i);
    int check = (11 - sum % 11) % 10;
    return s[12] - '0' == check;
}

void lb_case_id_format(uint64_t n, char out[LB_CASE_ID_MAX])
{
    snprintf(out, LB_CASE_ID_MAX, "C%09" PRIu64, n);
}

int lb_case_id_parse(const char *s, uint64_t *out)
{
    if (!s || s[0] != 'C')
        return LB_EBADREQ;
    size_t n = digit_run(s + 1);
    /* 9 digits minimum; 20 is the most a uint64 needs. */
    if (n < 9 || n > 20 || s[1 + n] != '\0')
        return LB_EBADREQ;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(s[1 + i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return LB_EBADREQ;
        v = v * 10 + d;
    }
    /* Only the canonical spelling is an id: "C0000000042" is not "C000000042". */
    if (n > 9 && s[1] == '0')
        return LB_EBADREQ;
    if (out)
        *out = v;
    return 0;
}
