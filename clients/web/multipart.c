/*
 * multipart.c - finds one named part of a multipart/form-data body (RFC
 * 7578), as ODK Collect posts a submission: the XML in the part called
 * xml_submission_file, attachments beside it. Only what that needs: the
 * boundary parameter, part headers, Content-Disposition's name. Fuzzed by
 * tests/fuzz/fuzz_submission.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "web.h"

#define BOUNDARY_MAX 70

/* The boundary parameter of content_type into out (1-70 bytes). 0 or LB_EBADREQ. */
static int boundary_of(const char *ct, char out[BOUNDARY_MAX + 1])
{
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0)
        return LB_EBADREQ;
    const char *p = strcasestr(ct, "boundary=");
    if (!p)
        return LB_EBADREQ;
    p += 9;
    size_t n = 0;
    if (*p == '"') {
        p++;
        while (p[n] && p[n] != '"')
            n++;
        if (p[n] != '"')
            return LB_EBADREQ;
    } else {
        while (p[n] && p[n] != ';' && !isspace((unsigned char)p[n]))
            n++;
    }
    if (n == 0 || n > BOUNDARY_MAX)
        return LB_EBADREQ;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

static const uint8_t *find(const uint8_t *hay, size_t hlen, const char *needle, size_t nlen)
{
    return nlen <= hlen ? memmem(hay, hlen, needle, nlen) : NULL;
}

/* The name="..." of a Content-Disposition header among the part's headers. */
static bool part_named(const uint8_t *hdr, size_t hlen, const char *name)
{
    size_t pos = 0;
    while (pos < hlen) {
        const uint8_t *eol = find(hdr + pos, hlen - pos, "\r\n", 2);
        size_t llen = eol ? (size_t)(eol - (hdr + pos)) : hlen - pos;
        char line[1024];
        if (llen < sizeof line) {
            memcpy(line, hdr + pos, llen);
            line[llen] = '\0';
            if (strncasecmp(line, "content-disposition:", 20) == 0) {
                char want[160];
                snprintf(want, sizeof want, "name=\"%s\"", name);
                /* "filename=" also ends in name=: look for a separator before it */
                for (char *m = strstr(line, want); m; m = strstr(m + 1, want))
                    if (m[-1] == ' ' || m[-1] == ';' || m[-1] == '\t')
                        return true;
            }
        }
        pos += llen + 2;
    }
    return false;
}

int web_multipart_find(const char *content_type, const uint8_t *body, size_t len, const char *name,
                       const uint8_t **part, size_t *part_len, char *err, size_t errlen)
{
    char b[BOUNDARY_MAX + 1], delim[BOUNDARY_MAX + 5];
    *part = NULL;
    *part_len = 0;
    if (boundary_of(content_type, b)) {
        lb_set_err(err, errlen, "not multipart/form-data with a boundary of 1-70 bytes");
        return LB_EBADREQ;
    }
    /* delim = CRLF "--" boundary; the first one may come without its CRLF */
    int dn = snprintf(delim, sizeof delim, "\r\n--%s", b);
    const uint8_t *p = NULL, *end = body + len;
    if (len >= (size_t)dn - 2 && memcmp(body, delim + 2, (size_t)dn - 2) == 0)
        p = body + dn - 2;
    else if ((p = find(body, len, delim, (size_t)dn)))
        p += dn;
    if (!p) {
        lb_set_err(err, errlen, "multipart: no boundary line");
        return LB_EBADREQ;
    }
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return LB_ENOTFOUND; /* the closing delimiter */
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            break;
        p += 2;
        const uint8_t *hend = find(p, (size_t)(end - p), "\r\n\r\n", 4);
        const uint8_t *empty = (end - p >= 2 && p[0] == '\r' && p[1] == '\n') ? p : NULL;
        const uint8_t *content = empty ? p + 2 : hend ? hend + 4 : NULL;
        if (!content)
            break;
        const uint8_t *next = find(content, (size_t)(end - content), delim, (size_t)dn);
        if (!next)
            break;
        if (!empty && part_named(p, (size_t)(hend - p), name)) {
            *part = content;
            *part_len = (size_t)(next - content);
            return 0;
        }
        p = next + dn;
    }
    lb_set_err(err, errlen, "multipart: a malformed part");
    return LB_EBADREQ;
}
