/*
 * users.c - the users file of users.h: parsing it strictly (a bad line refuses
 * the whole file), loading, saving crash-safely, editing the sorted list, and
 * the argon2id password hashes through libsodium.
 */
#include <errno.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lb.h"
#include "users.h"

#define AREAS_MAX 1000    /* prefixes one user may hold */
#define PASSWORD_MAX 1024 /* bytes */
#define HASH_PREFIX "$argon2id$"

_Static_assert(crypto_pwhash_STRBYTES <= LB_USER_HASH_MAX, "LB_USER_HASH_MAX holds a hash");

static const char *const role_names[LB_ROLE_COUNT] = {"field", "committee", "reporter", "admin",
                                                      "gateway"};

int lb_role_parse(const char *s, lb_role_t *out)
{
    for (int i = 0; s && i < LB_ROLE_COUNT; i++)
        if (strcmp(s, role_names[i]) == 0) {
            *out = (lb_role_t)i;
            return 0;
        }
    return LB_EBADREQ;
}

const char *lb_role_name(lb_role_t r)
{
    return (unsigned)r < LB_ROLE_COUNT ? role_names[r] : "?";
}

/* ---------------------------------------------------------------------- */
/* checks shared by parsing and lb_users_put                               */
/* ---------------------------------------------------------------------- */

static bool valid_name(const char *s, size_t n)
{
    if (n < 1 || n >= LB_USER_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool valid_hash(const char *s, size_t n)
{
    if (n == 1 && s[0] == '!')
        return true;
    if (n >= LB_USER_HASH_MAX || n <= strlen(HASH_PREFIX) ||
        strncmp(s, HASH_PREFIX, strlen(HASH_PREFIX)) != 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    return true;
}

/* The user's areas: "" alone (every area), or 1..AREAS_MAX area prefixes. */
static const char *areas_problem(char *const *areas, size_t n)
{
    if (n < 1 || n > AREAS_MAX)
        return "areas must be \"*\" or 1 to 1000 area prefixes";
    for (size_t i = 0; i < n; i++) {
        if (areas[i][0] == '\0' && n == 1)
            return NULL;
        if (!lb_valid_area(areas[i], false))
            return "an area must be 2, 4, 6 or 8 digits, or \"*\" alone";
    }
    return NULL;
}

static void user_free(lb_user_t *u)
{
    for (size_t i = 0; i < u->n_areas; i++)
        free(u->areas[i]);
    free(u->areas);
    u->areas = NULL;
    u->n_areas = 0;
}

/* ---------------------------------------------------------------------- */
/* parsing                                                                 */
/* ---------------------------------------------------------------------- */

typedef struct {
    lb_user_t u;
    size_t line;
} entry_t;

/* Splits "A,B,C" (len bytes) into u's areas; "*" is every area (""). NULL, or the problem. */
static const char *parse_areas(const char *s, size_t len, lb_user_t *u, bool *nomem)
{
    if (len == 1 && s[0] == '*') {
        u->areas = calloc(1, sizeof(char *));
        if (!u->areas || !(u->areas[0] = strdup(""))) {
            *nomem = true;
            return "out of memory";
        }
        u->n_areas = 1;
        return NULL;
    }
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += s[i] == ',';
    if (n > AREAS_MAX)
        return "more than 1000 areas";
    u->areas = calloc(n, sizeof(char *));
    if (!u->areas) {
        *nomem = true;
        return "out of memory";
    }
    const char *p = s, *end = s + len;
    while (u->n_areas < n) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t alen = (size_t)((comma ? comma : end) - p);
        char buf[16];
        if (alen >= sizeof buf)
            return "an area must be 2, 4, 6 or 8 digits, or \"*\" alone";
        memcpy(buf, p, alen);
        buf[alen] = '\0';
        if (!lb_valid_area(buf, false))
            return "an area must be 2, 4, 6 or 8 digits, or \"*\" alone";
        if (!(u->areas[u->n_areas] = strdup(buf))) {
            *nomem = true;
            return "out of memory";
        }
        u->n_areas++;
        p = comma ? comma + 1 : end;
    }
    return NULL;
}

/* One line of five fields into e->u. NULL, or the problem (e->u may hold areas then). */
static const char *parse_line(const char *s, size_t len, entry_t *e, bool *nomem)
{
    const char *f[5];
    size_t fl[5];
    size_t nf = 0;
    const char *p = s, *end = s + len;
    for (;;) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        if (nf == 5)
            return "expected 5 TAB-separated fields: NAME ROLE AREAS STATE HASH";
        f[nf] = p;
        fl[nf++] = (size_t)((tab ? tab : end) - p);
        if (!tab)
            break;
        p = tab + 1;
    }
    if (nf != 5)
        return "expected 5 TAB-separated fields: NAME ROLE AREAS STATE HASH";
    if (!valid_name(f[0], fl[0]))
        return "the name must be 1 to 63 of a-z 0-9 . _ -";
    memcpy(e->u.name, f[0], fl[0]);
    e->u.name[fl[0]] = '\0';
    char role[16];
    if (fl[1] >= sizeof role)
        return "the role must be field, committee, reporter or admin";
    memcpy(role, f[1], fl[1]);
    role[fl[1]] = '\0';
    if (lb_role_parse(role, &e->u.role) || e->u.role == LB_ROLE_GATEWAY)
        return "the role must be field, committee, reporter or admin";
    if (fl[3] == 6 && memcmp(f[3], "active", 6) == 0)
        e->u.disabled = false;
    else if (fl[3] == 8 && memcmp(f[3], "disabled", 8) == 0)
        e->u.disabled = true;
    else
        return "the state must be active or disabled";
    if (!valid_hash(f[4], fl[4]))
        return "the hash must be \"!\" or an argon2id string from crypto_pwhash_str";
    memcpy(e->u.hash, f[4], fl[4]);
    e->u.hash[fl[4]] = '\0';
    return parse_areas(f[2], fl[2], &e->u, nomem);
}

static int entry_cmp(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    int c = strcmp(x->u.name, y->u.name);
    if (c)
        return c;
    return x->line < y->line ? -1 : x->line > y->line;
}

static void entries_free(entry_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        user_free(&v[i].u);
    free(v);
}

/* Sorts by name and refuses a name listed twice (naming its second line). */
static int sort_entries(entry_t *v, size_t n, const char *path, char *err, size_t errlen)
{
    if (n > 1)
        qsort(v, n, sizeof *v, entry_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i - 1].u.name, v[i].u.name) == 0) {
            lb_set_err(err, errlen, "%s:%zu: user %s is listed twice (first on line %zu)", path,
                       v[i].line, v[i].u.name, v[i - 1].line);
            return LB_EBADREQ;
        }
    return 0;
}

int lb_users_parse(const char *text, size_t len, const char *path, lb_users_t *out, char *err,
                   size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!path)
        path = "users";
    if (len > LB_USERS_FILE_MAX) {
        lb_set_err(err, errlen, "%s:0: the file is over %d bytes", path, LB_USERS_FILE_MAX);
        return LB_EBADREQ;
    }
    if (len == 0)
        return 0; /* text may be NULL then */
    entry_t *v = NULL;
    size_t n = 0, cap = 0, line = 0;
    int rc = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = (size_t)((nl ? nl : end) - p);
        const char *s = p;
        p = nl ? nl + 1 : end;
        line++;
        if (ll && s[ll - 1] == '\r')
            ll--;
        if (ll == 0 || s[0] == '#')
            continue;
        if (memchr(s, '\0', ll)) {
            lb_set_err(err, errlen, "%s:%zu: a NUL byte", path, line);
            rc = LB_EBADREQ;
            goto out;
        }
        if (n == LB_USERS_MAX) {
            lb_set_err(err, errlen, "%s:%zu: more than %d users", path, line, LB_USERS_MAX);
            rc = LB_EBADREQ;
            goto out;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            entry_t *nv = realloc(v, ncap * sizeof *v);
            if (!nv) {
                rc = LB_ENOMEM;
                goto out;
            }
            v = nv;
            cap = ncap;
        }
        entry_t *e = &v[n++];
        memset(e, 0, sizeof *e);
        e->line = line;
        bool nomem = false;
        const char *why = parse_line(s, ll, e, &nomem);
        if (why) {
            lb_set_err(err, errlen, "%s:%zu: %s", path, line, why);
            rc = nomem ? LB_ENOMEM : LB_EBADREQ;
            goto out;
        }
    }
    if ((rc = sort_entries(v, n, path, err, errlen)))
        goto out;
    if (n) {
        out->v = calloc(n, sizeof *out->v);
        if (!out->v) {
            rc = LB_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            out->v[i] = v[i].u; /* the areas move over */
        out->n = n;
    }
    free(v);
    return 0;
out:
    entries_free(v, n);
    return rc;
}

int lb_users_load(const char *path, lb_users_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        lb_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return LB_EIO;
    }
    struct stat st;
    char *buf = NULL;
    int rc = 0;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        lb_set_err(err, errlen, "%s: not a readable regular file", path);
        rc = LB_EIO;
        goto out;
    }
    if (st.st_size > LB_USERS_FILE_MAX) {
        lb_set_err(err, errlen, "%s:0: the file is over %d bytes", path, LB_USERS_FILE_MAX);
        rc = LB_EBADREQ;
        goto out;
    }
    /* One byte more than the size: a file that grew meanwhile is seen as too long, not cut. */
    size_t cap = (size_t)st.st_size + 1;
    buf = malloc(cap);
    if (!buf) {
        rc = LB_ENOMEM;
        goto out;
    }
    size_t n = fread(buf, 1, cap, f);
    if (ferror(f)) {
        lb_set_err(err, errlen, "%s: read error", path);
        rc = LB_EIO;
        goto out;
    }
    if (n == cap) {
        lb_set_err(err, errlen, "%s: the file changed while it was read", path);
        rc = LB_EIO;
        goto out;
    }
    rc = lb_users_parse(buf, n, path, out, err, errlen);
out:
    free(buf);
    fclose(f);
    return rc;
}

void lb_users_clear(lb_users_t *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->n; i++)
        user_free(&u->v[i]);
    free(u->v);
    u->v = NULL;
    u->n = 0;
}

/* The index of name, or of where it would go (*found false). */
static size_t find_index(const lb_users_t *u, const char *name, bool *found)
{
    size_t lo = 0, hi = u->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(u->v[mid].name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

const lb_user_t *lb_users_find(const lb_users_t *u, const char *name)
{
    bool found;
    if (!u || !name)
        return NULL;
    size_t i = find_index(u, name, &found);
    return found ? &u->v[i] : NULL;
}

bool lb_user_covers(const lb_user_t *u, const char *area)
{
    for (size_t i = 0; i < u->n_areas; i++)
        if (strncmp(area, u->areas[i], strlen(u->areas[i])) == 0)
            return true;
    return false;
}

/* ---------------------------------------------------------------------- */
/* passwords                                                               */
/* ---------------------------------------------------------------------- */

bool lb_user_check_password(const lb_user_t *u, const char *password)
{
    if (!u || !password || u->disabled || strcmp(u->hash, "!") == 0 || sodium_init() < 0)
        return false;
    size_t n = strlen(password);
    if (n == 0 || n > PASSWORD_MAX)
        return false;
    return crypto_pwhash_str_verify(u->hash, password, n) == 0;
}

int lb_user_hash_password(const char *password, char hash[LB_USER_HASH_MAX])
{
    size_t n = password ? strlen(password) : 0;
    if (n == 0 || n > PASSWORD_MAX)
        return LB_EBADREQ;
    if (sodium_init() < 0)
        return LB_EINTERNAL;
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(out, password, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return LB_ENOMEM;
    if (!valid_hash(out, strlen(out)))
        return LB_EINTERNAL;
    memcpy(hash, out, sizeof out);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* writing                                                                 */
/* ---------------------------------------------------------------------- */

static int buf_printf(lb_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends printf output (a line of the file, well under 64 KiB) to b. 0 or LB_ENOMEM. */
static int buf_printf(lb_buf_t *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return LB_EINTERNAL;
    if ((size_t)n < sizeof tmp)
        return lb_buf_append(b, tmp, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return LB_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = lb_buf_append(b, big, (size_t)n);
    free(big);
    return rc;
}

static int append_user(lb_buf_t *b, const lb_user_t *u)
{
    int rc = buf_printf(b, "%s\t%s\t", u->name, lb_role_name(u->role));
    for (size_t i = 0; rc == 0 && i < u->n_areas; i++)
        rc = buf_printf(b, "%s%s", i ? "," : "", u->areas[i][0] ? u->areas[i] : "*");
    if (rc == 0)
        rc = buf_printf(b, "\t%s\t%s\n", u->disabled ? "disabled" : "active", u->hash);
    return rc;
}

int lb_users_save(const lb_users_t *u, const char *path, char *err, size_t errlen)
{
    lb_buf_t b = {0};
    int rc = buf_printf(&b, "# Logbook users (PROTOCOL.md section 9.15), written by `logbook "
                            "user`.\n# NAME\tROLE\tAREAS\tSTATE\tHASH (TAB-separated)\n");
    for (size_t i = 0; rc == 0 && i < u->n; i++)
        rc = append_user(&b, &u->v[i]);
    if (rc == 0)
        rc = lb_file_replace(path, b.p, b.len, 0600, err, errlen);
    else
        lb_set_err(err, errlen, "out of memory");
    lb_buf_free(&b);
    return rc;
}

/* Checks user as lb_users_put takes it. 0, or LB_EBADREQ with err. */
static int check_user(const lb_user_t *user, char *err, size_t errlen)
{
    const char *why = NULL;
    if (!valid_name(user->name, strnlen(user->name, LB_USER_NAME_MAX)))
        why = "the name must be 1 to 63 of a-z 0-9 . _ -";
    else if ((unsigned)user->role >= LB_ROLE_GATEWAY)
        why = "the role must be field, committee, reporter or admin";
    else if (!valid_hash(user->hash, strnlen(user->hash, LB_USER_HASH_MAX)))
        why = "the hash must be \"!\" or an argon2id string from crypto_pwhash_str";
    else
        why = areas_problem(user->areas, user->n_areas);
    if (why) {
        lb_set_err(err, errlen, "%s", why);
        return LB_EBADREQ;
    }
    return 0;
}

int lb_users_put(lb_users_t *u, const lb_user_t *user, bool replace, char *err, size_t errlen)
{
    int rc = check_user(user, err, errlen);
    if (rc)
        return rc;
    bool found;
    size_t at = find_index(u, user->name, &found);
    if (found && !replace) {
        lb_set_err(err, errlen, "user %s exists already", user->name);
        return LB_ECONFLICT;
    }
    if (!found && u->n >= LB_USERS_MAX) {
        lb_set_err(err, errlen, "the file holds %d users already", LB_USERS_MAX);
        return LB_EBADREQ;
    }
    lb_user_t copy = *user;
    copy.n_areas = 0;
    copy.areas = calloc(user->n_areas, sizeof(char *));
    if (!copy.areas)
        return LB_ENOMEM;
    for (size_t i = 0; i < user->n_areas; i++, copy.n_areas++)
        if (!(copy.areas[i] = strdup(user->areas[i]))) {
            user_free(&copy);
            return LB_ENOMEM;
        }
    if (found) {
        user_free(&u->v[at]);
        u->v[at] = copy;
        return 0;
    }
    lb_user_t *nv = realloc(u->v, (u->n + 1) * sizeof *nv);
    if (!nv) {
        user_free(&copy);
        return LB_ENOMEM;
    }
    u->v = nv;
    memmove(&u->v[at + 1], &u->v[at], (u->n - at) * sizeof *nv);
    u->v[at] = copy;
    u->n++;
    return 0;
}
