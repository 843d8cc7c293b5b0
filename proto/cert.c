/*
 * cert.c - ZeroMQ CURVE certificate files (czmq zcert / pyzmq zmq.auth
 * format), Z85 and key generation. The files are ZPL (ZeroMQ RFC 4): comment
 * lines, a `metadata` section and a `curve` section whose indented entries
 * are `public-key = "..."` and, in the secret file, `secret-key = "..."`.
 */
#include "cert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "lb.h"

/* Certificates are a few hundred bytes; anything far larger is not one. */
#define CERT_FILE_MAX (64 * 1024)

static const char z85_chars[85 + 1] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/* ---------------------------------------------------------------------- */
/* Z85                                                                     */
/* ---------------------------------------------------------------------- */

int lb_cert_z85_encode(const uint8_t *data, size_t n, char *out, size_t outsize)
{
    if (n % 4 != 0 || !out || outsize < n / 4 * 5 + 1)
        return LB_EBADREQ;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = (uint32_t)data[i] << 24 | (uint32_t)data[i + 1] << 16 |
                     (uint32_t)data[i + 2] << 8 | (uint32_t)data[i + 3];
        /* Most significant digit first, as RFC 32 specifies. */
        for (int k = 4; k >= 0; k--) {
            out[o + (size_t)k] = z85_chars[v % 85];
            v /= 85;
        }
        o += 5;
    }
    out[o] = '\0';
    return 0;
}

static int z85_value(unsigned char c)
{
    /* The alphabet is small; a linear search keeps the table obviously right. */
    const char *p = c ? strchr(z85_chars, c) : NULL;
    return p ? (int)(p - z85_chars) : -1;
}

int lb_cert_z85_decode(const char *text, size_t len, uint8_t *out, size_t outsize)
{
    if (!text || len % 5 != 0 || outsize < len / 5 * 4)
        return LB_EBADREQ;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 5) {
        uint64_t v = 0;
        for (size_t k = 0; k < 5; k++) {
            int d = z85_value((unsigned char)text[i + k]);
            if (d < 0)
                return LB_EBADREQ;
            v = v * 85 + (uint64_t)d;
        }
        /* "#####" and friends exceed 32 bits: not the encoding of any bytes. */
        if (v > UINT32_MAX)
            return LB_EBADREQ;
        out[o++] = (uint8_t)(v >> 24);
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Keys                                                                    */
/* ---------------------------------------------------------------------- */

static int cert_alloc(lb_cert_t **out)
{
    *out = NULL;
    if (sodium_init() < 0)
        return LB_EINTERNAL;
    lb_cert_t *c = sodium_malloc(sizeof *c);
    if (!c)
        return LB_ENOMEM;
    sodium_memzero(c, sizeof *c);
    *out = c;
    return 0;
}

void lb_cert_destroy(lb_cert_t **cert)
{
    if (!cert || !*cert)
        return;
    /* sodium_free wipes the memory before releasing it. */
    sodium_free(*cert);
    *cert = NULL;
}

int lb_cert_generate(lb_cert_t **out)
{
    lb_cert_t *c = NULL;
    if (!out)
        return LB_EBADREQ;
    int rc = cert_alloc(&c);
    if (rc)
        goto done;
    if (crypto_box_keypair(c->public_key, c->secret_key) != 0) {
        rc = LB_EINTERNAL;
        goto done;
    }
    c->has_secret = true;
    rc = lb_cert_z85_encode(c->public_key, LB_CERT_KEY_BYTES, c->public_z85, sizeof c->public_z85);
    if (rc == 0)
        rc = lb_cert_z85_encode(c->secret_key, LB_CERT_KEY_BYTES, c->secret_z85,
                                sizeof c->secret_z85);
done:
    if (rc)
        lb_cert_destroy(&c);
    *out = c;
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Reading                                                                 */
/* ---------------------------------------------------------------------- */

/* Reads a whole (small) file into sodium-guarded memory, NUL-terminated. */
static int read_small_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
    int rc = 0;
    char *buf = NULL;
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        lb_set_err(err, errlen, "%s: %s", path, strerror(errno));
        rc = LB_EIO;
        goto done;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        lb_set_err(err, errlen, "%s: %s", path, strerror(errno));
        rc = LB_EIO;
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        lb_set_err(err, errlen, "%s: not a regular file", path);
        rc = LB_EIO;
        goto done;
    }
    buf = sodium_malloc(CERT_FILE_MAX + 1);
    if (!buf) {
        rc = LB_ENOMEM;
        goto done;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, CERT_FILE_MAX + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            lb_set_err(err, errlen, "%s: %s", path, strerror(errno));
            rc = LB_EIO;
            goto done;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > CERT_FILE_MAX) {
            lb_set_err(err, errlen, "%s: larger than %d bytes, not a certificate", path,
                       CERT_FILE_MAX);
            rc = LB_ECONFIG;
            goto done;
        }
    }
    buf[n] = '\0';
done:
    if (fd >= 0)
        close(fd);
    if (rc && buf) {
        sodium_free(buf);
        buf = NULL;
    }
    *data = buf;
    *len = n;
    return rc;
}

/* ZPL name characters (RFC 4). */
static bool zpl_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("$-_@.&+/", c) != NULL;
}

typedef struct {
    const char *name;
    size_t name_len;
    const char *value; /* NULL when the line has no "= value" */
    size_t value_len;
    size_t indent;
} zpl_line_t;

/*
 * Splits one ZPL line (without its newline). Returns 0 with *blank set for
 * an empty or comment line, LB_ECONFIG with a reason for a malformed one.
 */
static int zpl_parse_line(const char *s, size_t n, zpl_line_t *ln, bool *blank, const char **why)
{
    size_t i = 0;
    *blank = false;
    memset(ln, 0, sizeof *ln);
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i == n || s[i] == '#') {
        *blank = true;
        return 0;
    }
    ln->indent = i;
    ln->name = s + i;
    while (i < n && zpl_name_char((unsigned char)s[i]))
        i++;
    ln->name_len = (size_t)(s + i - ln->name);
    if (ln->name_len == 0) {
        *why = "expected a name";
        return LB_ECONFIG;
    }
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i < n && s[i] == '=') {
        i++;
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i < n && (s[i] == '"' || s[i] == '\'')) {
            char q = s[i++];
            ln->value = s + i;
            while (i < n && s[i] != q)
                i++;
            if (i == n) {
                *why = "unterminated quoted value";
                return LB_ECONFIG;
            }
            ln->value_len = (size_t)(s + i - ln->value);
            i++;
        } else {
            ln->value = s + i;
            while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '#')
                i++;
            ln->value_len = (size_t)(s + i - ln->value);
        }
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
    }
    if (i < n && s[i] != '#') {
        *why = "unexpected text after the value";
        return LB_ECONFIG;
    }
    return 0;
}

static bool name_is(const zpl_line_t *ln, const char *name)
{
    return ln->name_len == strlen(name) && memcmp(ln->name, name, ln->name_len) == 0;
}

/* A curve section's public-key or secret-key line into c (other names are skipped). */
static int cert_take_key(lb_cert_t *c, const zpl_line_t *ln, bool *have_public, const char *path,
                         size_t lineno, char *err, size_t errlen)
{
    bool is_pub = name_is(ln, "public-key"), is_sec = name_is(ln, "secret-key");
    if (!is_pub && !is_sec)
        return 0;
    const char *name = is_pub ? "public-key" : "secret-key";
    if ((is_pub && *have_public) || (is_sec && c->has_secret)) {
        lb_set_err(err, errlen, "%s:%zu: duplicate %s", path, lineno, name);
        return LB_ECONFIG;
    }
    uint8_t *key = is_pub ? c->public_key : c->secret_key;
    char *txt = is_pub ? c->public_z85 : c->secret_z85;
    if (!ln->value || ln->value_len != LB_CERT_Z85_LEN ||
        lb_cert_z85_decode(ln->value, ln->value_len, key, LB_CERT_KEY_BYTES) != 0) {
        lb_set_err(err, errlen, "%s:%zu: %s is not a %d-character Z85 key", path, lineno, name,
                   LB_CERT_Z85_LEN);
        return LB_ECONFIG;
    }
    memcpy(txt, ln->value, LB_CERT_Z85_LEN);
    txt[LB_CERT_Z85_LEN] = '\0';
    if (is_pub)
        *have_public = true;
    else
        c->has_secret = true;
    return 0;
}

/* The file's lines (data, len bytes) into c: sections, and the keys of the curve section. */
static int cert_parse(lb_cert_t *c, const char *data, size_t len, bool *have_public,
                      const char *path, char *err, size_t errlen)
{
    /* Zero-indent line currently open: entries below it belong to it. */
    bool in_section = false, in_curve = false;
    size_t pos = 0, lineno = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && data[end] != '\n')
            end++;
        size_t n = end - pos;
        lineno++;
        if (n > 0 && data[pos + n - 1] == '\r')
            n--;
        zpl_line_t ln;
        bool blank;
        const char *why = NULL;
        int rc;
        if (memchr(data + pos, '\0', n)) {
            why = "NUL byte";
            rc = LB_ECONFIG;
        } else {
            rc = zpl_parse_line(data + pos, n, &ln, &blank, &why);
        }
        if (rc) {
            lb_set_err(err, errlen, "%s:%zu: %s", path, lineno, why);
            return rc;
        }
        pos = end < len ? end + 1 : end;
        if (blank)
            continue;
        if (ln.indent == 0) {
            in_section = true;
            in_curve = name_is(&ln, "curve");
            continue;
        }
        if (!in_section) {
            lb_set_err(err, errlen, "%s:%zu: indented entry outside any section", path, lineno);
            return LB_ECONFIG;
        }
        if (!in_curve)
            continue; /* metadata and foreign sections carry nothing we need */
        rc = cert_take_key(c, &ln, have_public, path, lineno, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

/* A pasted or edited pair that does not match would fail only at handshake time. */
static int cert_check_pair(const lb_cert_t *c, const char *path, char *err, size_t errlen)
{
    uint8_t derived[LB_CERT_KEY_BYTES];
    int rc = 0;
    if (crypto_scalarmult_base(derived, c->secret_key) != 0 ||
        sodium_memcmp(derived, c->public_key, LB_CERT_KEY_BYTES) != 0) {
        lb_set_err(err, errlen, "%s: public-key does not belong to secret-key", path);
        rc = LB_ECONFIG;
    }
    sodium_memzero(derived, sizeof derived);
    return rc;
}

int lb_cert_load(const char *path, lb_cert_t **out, char *err, size_t errlen)
{
    int rc = 0;
    char *data = NULL;
    size_t len = 0;
    lb_cert_t *c = NULL;
    bool have_public = false;

    if (!out || !path) {
        rc = LB_EBADREQ;
        goto done;
    }
    *out = NULL;
    rc = cert_alloc(&c);
    if (rc == 0)
        rc = read_small_file(path, &data, &len, err, errlen);
    if (rc == 0)
        rc = cert_parse(c, data, len, &have_public, path, err, errlen);
    if (rc == 0 && !have_public) {
        lb_set_err(err, errlen, "%s: no curve public-key in the file", path);
        rc = LB_ECONFIG;
    }
    if (rc == 0 && c->has_secret)
        rc = cert_check_pair(c, path, err, errlen);
done:
    if (data)
        sodium_free(data);
    if (rc)
        lb_cert_destroy(&c);
    if (out)
        *out = c;
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Writing                                                                 */
/* ---------------------------------------------------------------------- */

static const char public_banner[] =
    "#   ZeroMQ CURVE Public Certificate\n"
    "#   Exchange securely, or use a secure mechanism to verify the contents\n"
    "#   of this file after exchange. Store public certificates in your home\n"
    "#   directory, in the .curve subdirectory.\n";

static const char secret_banner[] =
    "#   ZeroMQ CURVE **Secret** Certificate\n"
    "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n";

/* Formats a certificate file into buf (sodium memory, size bufsize). */
static int format_cert(const lb_cert_t *c, bool secret, char *buf, size_t bufsize)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tmv;
    if (!localtime_r(&now, &tmv) || strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tmv) == 0)
        snprintf(stamp, sizeof stamp, "%lld", (long long)now);
    int n = snprintf(buf, bufsize,
                     "#   ****  Generated on %s by Logbook  ****\n"
                     "%s\n"
                     "metadata\n"
                     "curve\n"
                     "    public-key = \"%s\"\n"
                     "%s%s%s",
                     stamp, secret ? secret_banner : public_banner, c->public_z85,
                     secret ? "    secret-key = \"" : "", secret ? c->secret_z85 : "",
                     secret ? "\"\n" : "");
    return (n < 0 || (size_t)n >= bufsize) ? LB_EINTERNAL : n;
}

int lb_cert_save_files(const lb_cert_t *cert, const char *public_path, const char *secret_path,
                       char *err, size_t errlen)
{
    int rc = 0;
    /* Large enough for the banner, both keys and the stamp with room to spare. */
    const size_t bufsize = 1024;
    char *buf = NULL;

    if (!cert || !public_path || !*public_path || (secret_path && !*secret_path)) {
        lb_set_err(err, errlen, "certificate path missing");
        rc = LB_EBADREQ;
        goto done;
    }
    if (secret_path && !cert->has_secret) {
        lb_set_err(err, errlen, "%s: certificate has no secret key to write", secret_path);
        rc = LB_EBADREQ;
        goto done;
    }
    buf = sodium_malloc(bufsize);
    if (!buf) {
        rc = LB_ENOMEM;
        goto done;
    }
    if (secret_path) {
        int n = format_cert(cert, true, buf, bufsize);
        if (n < 0) {
            rc = n;
            goto done;
        }
        rc = lb_file_replace(secret_path, buf, (size_t)n, 0600, err, errlen);
        sodium_memzero(buf, bufsize);
        if (rc)
            goto done;
    }
    int n = format_cert(cert, false, buf, bufsize);
    if (n < 0) {
        rc = n;
        goto done;
    }
    rc = lb_file_replace(public_path, buf, (size_t)n, 0644, err, errlen);
done:
    if (buf)
        sodium_free(buf);
    return rc;
}

int lb_cert_save(const lb_cert_t *cert, const char *dir, const char *name, char *err, size_t errlen)
{
    int rc = 0;
    char *pub = NULL, *sec = NULL;
    if (!name || !*name) {
        lb_set_err(err, errlen, "certificate name missing");
        return LB_EBADREQ;
    }
    const char *sep = (dir && *dir) ? "/" : "";
    if (!dir)
        dir = "";
    if (asprintf(&pub, "%s%s%s.key", dir, sep, name) < 0) {
        pub = NULL;
        rc = LB_ENOMEM;
        goto done;
    }
    if (asprintf(&sec, "%s%s%s.key_secret", dir, sep, name) < 0) {
        sec = NULL;
        rc = LB_ENOMEM;
        goto done;
    }
    rc = lb_cert_save_files(cert, pub, cert && cert->has_secret ? sec : NULL, err, errlen);
done:
    free(pub);
    free(sec);
    return rc;
}
