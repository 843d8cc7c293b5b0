/*
 * model.c - see model.h. Files are followed as inodes, names as a list of
 * metadata operations, so a rename that did not survive brings the old
 * file back with whatever of its own writes survived. The assumptions and
 * their limits are in docs/CRASHTEST.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"

#define PIECE 4096u

struct crash_log {
    unsigned char *buf;
    size_t len;
    size_t n;
    size_t *at;       /* offset of each event's header */
    crash_rec_t *hdr; /* the headers, copied out: in the file they are not aligned */
};

static void set_err(char *err, size_t errlen, const char *fmt, const char *a, long long b)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, a, b);
}

int crash_log_load(const char *path, crash_log_t **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_err(err, errlen, "cannot read %s (errno %lld)", path, errno);
        return -1;
    }
    crash_log_t *l = calloc(1, sizeof *l);
    struct stat st;
    if (!l || fstat(fileno(f), &st) != 0)
        goto fail;
    l->len = (size_t)st.st_size;
    l->buf = malloc(l->len ? l->len : 1);
    if (!l->buf || fread(l->buf, 1, l->len, f) != l->len)
        goto fail;
    size_t cap = 1024, off = 0;
    l->at = malloc(cap * sizeof *l->at);
    l->hdr = malloc(cap * sizeof *l->hdr);
    if (!l->at || !l->hdr)
        goto fail;
    while (off + sizeof(crash_rec_t) <= l->len) {
        crash_rec_t h;
        memcpy(&h, l->buf + off, sizeof h);
        if (h.magic != CRASH_MAGIC || h.seq != l->n) {
            set_err(err, errlen, "%s: bad record at byte %lld", path, (long long)off);
            goto fail_quiet;
        }
        size_t body = (size_t)h.plen + h.p2len + (h.type == CRASH_WRITE ? (size_t)h.len : 0);
        if (off + sizeof h + body > l->len)
            break; /* torn by the kill */
        if (l->n == cap) {
            size_t *a = realloc(l->at, 2 * cap * sizeof *a);
            if (a)
                l->at = a;
            crash_rec_t *r = realloc(l->hdr, 2 * cap * sizeof *r);
            if (r)
                l->hdr = r;
            if (!a || !r)
                goto fail;
            cap *= 2;
        }
        l->hdr[l->n] = h;
        l->at[l->n++] = off;
        off += sizeof h + body;
    }
    fclose(f);
    *out = l;
    return 0;
fail:
    set_err(err, errlen, "cannot load %s (errno %lld)", path, errno);
fail_quiet:
    fclose(f);
    crash_log_destroy(&l);
    return -1;
}

void crash_log_destroy(crash_log_t **l)
{
    if (!l || !*l)
        return;
    free((*l)->buf);
    free((*l)->at);
    free((*l)->hdr);
    free(*l);
    *l = NULL;
}

size_t crash_log_count(const crash_log_t *l)
{
    return l->n;
}

const crash_rec_t *crash_log_event(const crash_log_t *l, size_t i)
{
    return &l->hdr[i];
}

/* Event i's paths and data, right after its header in the file. */
static const unsigned char *ev_bytes(const crash_log_t *l, size_t i)
{
    return l->buf + l->at[i] + sizeof(crash_rec_t);
}

static size_t ev_body(const crash_rec_t *h)
{
    return (size_t)h->plen + h->p2len + (h->type == CRASH_WRITE ? (size_t)h->len : 0);
}

uint64_t crash_log_end(const crash_log_t *l, size_t i)
{
    return l->at[i] + sizeof(crash_rec_t) + ev_body(crash_log_event(l, i));
}

/* ---- replay state ---- */

enum pop_kind { POP_WRITE, POP_TRUNC, POP_EXTEND };

typedef struct {
    enum pop_kind kind;
    bool forced; /* an O_SYNC/O_DSYNC write: durable when it returned */
    uint64_t off, len;
    const unsigned char *data;
} pop_t;

typedef struct {
    bool dir;
    unsigned char *dur; /* the durable image */
    size_t dlen, dcap;
    pop_t *pend; /* not yet durable, in order */
    size_t np, pcap;
} inode_t;

enum meta_kind { META_LINK, META_UNLINK, META_RENAME };

typedef struct {
    enum meta_kind kind;
    char *path, *path2; /* path2: a rename's target */
    int ino;
    bool durable;
} meta_t;

typedef struct {
    char *path;
    int ino;
} name_t;

typedef struct {
    int ino; /* -1 = not open */
    bool sync;
    char *path;
} fdent_t;

typedef struct {
    inode_t *in;
    size_t nin, incap;
    meta_t *meta;
    size_t nmeta, metacap;
    name_t *ns; /* the current names, for resolving paths while replaying */
    size_t nns, nscap;
    fdent_t *fds;
    size_t nfds;
    bool oom;
} state_t;

static void *grow(void *p, size_t *cap, size_t need, size_t size, bool *oom)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(p, c * size);
    if (!q) {
        *oom = true;
        return p;
    }
    *cap = c;
    return q;
}

static int new_inode(state_t *s, bool dir)
{
    s->in = grow(s->in, &s->incap, s->nin + 1, sizeof *s->in, &s->oom);
    if (s->oom)
        return -1;
    memset(&s->in[s->nin], 0, sizeof s->in[0]);
    s->in[s->nin].dir = dir;
    return (int)s->nin++;
}

static int ns_find(const state_t *s, const char *path)
{
    if (!s->ns)
        return -1;
    for (size_t i = 0; i < s->nns; i++)
        if (strcmp(s->ns[i].path, path) == 0)
            return (int)i;
    return -1;
}

static int ns_lookup(const state_t *s, const char *path)
{
    int i = ns_find(s, path);
    return i < 0 ? -1 : s->ns[i].ino;
}

static void ns_set(state_t *s, const char *path, int ino)
{
    int i = ns_find(s, path);
    if (i >= 0 && s->ns) {
        s->ns[i].ino = ino;
        return;
    }
    s->ns = grow(s->ns, &s->nscap, s->nns + 1, sizeof *s->ns, &s->oom);
    if (s->oom)
        return;
    s->ns[s->nns].path = strdup(path);
    s->ns[s->nns++].ino = ino;
}

static void ns_del(state_t *s, const char *path)
{
    int i = ns_find(s, path);
    if (i < 0)
        return;
    free(s->ns[i].path);
    s->ns[i] = s->ns[--s->nns];
}

static void add_meta(state_t *s, enum meta_kind k, const char *p, const char *p2, int ino,
                     bool durable)
{
    s->meta = grow(s->meta, &s->metacap, s->nmeta + 1, sizeof *s->meta, &s->oom);
    if (s->oom)
        return;
    meta_t *m = &s->meta[s->nmeta++];
    m->kind = k;
    m->path = strdup(p);
    m->path2 = p2 ? strdup(p2) : NULL;
    m->ino = ino;
    m->durable = durable;
}

static fdent_t *fd_get(state_t *s, int64_t fd)
{
    if (fd < 0 || fd > (1 << 20))
        return NULL;
    if ((size_t)fd >= s->nfds) {
        size_t n = (size_t)fd + 64;
        fdent_t *f = realloc(s->fds, n * sizeof *f);
        if (!f) {
            s->oom = true;
            return NULL;
        }
        for (size_t i = s->nfds; i < n; i++)
            f[i] = (fdent_t){.ino = -1};
        s->fds = f;
        s->nfds = n;
    }
    return &s->fds[fd];
}

static void add_pop(state_t *s, int ino, pop_t p)
{
    inode_t *in = &s->in[ino];
    in->pend = grow(in->pend, &in->pcap, in->np + 1, sizeof *in->pend, &s->oom);
    if (!s->oom)
        in->pend[in->np++] = p;
}

/* Applies bytes [from, to) of op p (relative to p->off) to the image. */
static bool apply(unsigned char **img, size_t *len, size_t *cap, const pop_t *p, uint64_t from,
                  uint64_t to)
{
    uint64_t want = *len;
    if (p->kind == POP_TRUNC)
        want = p->off;
    else if (p->kind == POP_EXTEND)
        want = p->off + p->len > *len ? p->off + p->len : *len;
    else if (p->off + to > *len)
        want = p->off + to;
    if (want > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < want)
            c *= 2;
        unsigned char *q = realloc(*img, c);
        if (!q)
            return false;
        *img = q;
        *cap = c;
    }
    if (want > *len)
        memset(*img + *len, 0, want - *len);
    *len = want;
    if (p->kind == POP_WRITE)
        memcpy(*img + p->off + from, p->data + from, to - from);
    return true;
}

static bool make_durable(inode_t *in)
{
    for (size_t i = 0; i < in->np; i++)
        if (!apply(&in->dur, &in->dlen, &in->dcap, &in->pend[i], 0, in->pend[i].len))
            return false;
    in->np = 0;
    return true;
}

static const char *ev_path(const crash_rec_t *h, const unsigned char *body, int which, char *buf,
                           size_t n)
{
    const char *p = (const char *)body;
    size_t len = which == 1 ? h->plen : h->p2len;
    if (which == 2)
        p += h->plen;
    snprintf(buf, n, "%.*s", (int)len, p);
    return buf;
}

static char *parent_of(const char *path, char *buf, size_t n)
{
    const char *sl = strrchr(path, '/');
    snprintf(buf, n, "%.*s", sl ? (int)(sl - path) : 0, path);
    return buf;
}

static int replay_one(state_t *s, const crash_rec_t *h, const unsigned char *body, char *err,
                      size_t errlen)
{
    char p1[4200], p2[4200], par[4200];
    fdent_t *f = NULL;
    int ino;
    switch (h->type) {
    case CRASH_OPEN:
        ev_path(h, body, 1, p1, sizeof p1);
        ino = ns_lookup(s, p1);
        if (ino < 0 || (h->bits & CRASH_B_CREATED)) {
            ino = new_inode(s, (h->bits & CRASH_B_DIR) != 0);
            if (ino < 0)
                break;
            ns_set(s, p1, ino);
            /* a name that was there before recording began is durable */
            add_meta(s, META_LINK, p1, NULL, ino, !(h->bits & CRASH_B_CREATED) || !*p1);
        } else if ((h->arg & O_TRUNC) && !(h->bits & CRASH_B_DIR)) {
            add_pop(s, ino, (pop_t){.kind = POP_TRUNC, .off = 0});
        }
        if ((f = fd_get(s, h->fd))) {
            free(f->path);
            *f = (fdent_t){.ino = ino, .sync = (h->bits & CRASH_B_SYNC) != 0, .path = strdup(p1)};
        }
        break;
    case CRASH_WRITE:
    case CRASH_TRUNC:
    case CRASH_FALLOC:
        if (h->fd < 0) {
            ino = ns_lookup(s, ev_path(h, body, 1, p1, sizeof p1));
        } else {
            f = fd_get(s, h->fd);
            ino = f ? f->ino : -1;
        }
        if (ino < 0) {
            set_err(err, errlen, "event on an unknown file (%s, fd %lld)", "", (long long)h->fd);
            return -1;
        }
        if (h->type == CRASH_WRITE)
            add_pop(s, ino,
                    (pop_t){.kind = POP_WRITE,
                            .forced = f && f->sync,
                            .off = h->off,
                            .len = h->len,
                            .data = body + h->plen + h->p2len});
        else if (h->type == CRASH_TRUNC)
            add_pop(s, ino, (pop_t){.kind = POP_TRUNC, .off = h->off});
        else if (h->arg == 0) /* mode 0 grows the file; KEEP_SIZE and holes do not */
            add_pop(s, ino, (pop_t){.kind = POP_EXTEND, .off = h->off, .len = h->len});
        break;
    case CRASH_FSYNC:
    case CRASH_FDATASYNC:
        f = fd_get(s, h->fd);
        if (!f || f->ino < 0)
            break;
        if (s->in[f->ino].dir) {
            /* the folder's entries so far are durable (a rename: its target's folder) */
            for (size_t i = 0; i < s->nmeta; i++) {
                const char *p = s->meta[i].kind == META_RENAME && s->meta[i].path2
                                    ? s->meta[i].path2
                                    : s->meta[i].path;
                if (strcmp(parent_of(p, par, sizeof par), f->path) == 0)
                    s->meta[i].durable = true;
            }
        } else if (!make_durable(&s->in[f->ino])) {
            s->oom = true;
        }
        break;
    case CRASH_SYNCALL:
        for (size_t i = 0; i < s->nmeta; i++)
            s->meta[i].durable = true;
        for (size_t i = 0; i < s->nin; i++)
            if (!make_durable(&s->in[i]))
                s->oom = true;
        break;
    case CRASH_RENAME:
        ev_path(h, body, 1, p1, sizeof p1);
        ev_path(h, body, 2, p2, sizeof p2);
        ino = ns_lookup(s, p1);
        if (ino >= 0 && s->in[ino].dir) {
            set_err(err, errlen, "renaming a folder (%s) is not modelled%lld", p1, 0);
            return -1;
        }
        if (!*p2) {
            add_meta(s, META_UNLINK, p1, NULL, -1, false);
        } else {
            add_meta(s, META_RENAME, p1, p2, ino, false);
            if (ino >= 0)
                ns_set(s, p2, ino);
        }
        ns_del(s, p1);
        break;
    case CRASH_UNLINK:
    case CRASH_RMDIR:
        ev_path(h, body, 1, p1, sizeof p1);
        add_meta(s, META_UNLINK, p1, NULL, -1, false);
        ns_del(s, p1);
        break;
    case CRASH_MKDIR:
        ev_path(h, body, 1, p1, sizeof p1);
        ino = new_inode(s, true);
        if (ino >= 0) {
            ns_set(s, p1, ino);
            add_meta(s, META_LINK, p1, NULL, ino, false);
        }
        break;
    case CRASH_CLOSE:
        if ((f = fd_get(s, h->fd))) {
            free(f->path);
            *f = (fdent_t){.ino = -1};
        }
        break;
    case CRASH_DUP: {
        fdent_t *from = fd_get(s, h->fd);
        fdent_t copy = from ? *from : (fdent_t){.ino = -1};
        if ((f = fd_get(s, h->arg))) {
            free(f->path);
            *f = copy;
            f->path = copy.path ? strdup(copy.path) : NULL;
        }
        break;
    }
    default: /* CRASH_SFR: not a durability point */
        break;
    }
    return 0;
}

/* ---- the cut ---- */

static uint64_t rnd(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const name_t *)a)->path, ((const name_t *)b)->path);
}

static bool is_lock(const char *rel)
{
    const char *b = strrchr(rel, '/');
    return strcmp(b ? b + 1 : rel, "lock.mdb") == 0;
}

/* The names that survive: durable operations and a random prefix of the others. */
static void final_names(state_t *s, uint64_t *rng, state_t *fin, crash_stats_t *st)
{
    size_t pending = 0;
    for (size_t i = 0; i < s->nmeta; i++)
        pending += !s->meta[i].durable;
    size_t k = (size_t)(rnd(rng) % (pending + 1)), seen = 0;
    st->meta_pending = pending;
    st->meta_kept = k;
    for (size_t i = 0; i < s->nmeta; i++) {
        const meta_t *m = &s->meta[i];
        if (!m->durable && seen++ >= k)
            continue;
        if (m->kind == META_LINK) {
            ns_set(fin, m->path, m->ino);
        } else if (m->kind == META_UNLINK) {
            ns_del(fin, m->path);
        } else {
            int from = ns_find(fin, m->path);
            if (from >= 0 && fin->ns[from].ino == m->ino)
                ns_del(fin, m->path);
            if (m->ino >= 0)
                ns_set(fin, m->path2, m->ino);
        }
    }
}

static int write_file(const char *path, const unsigned char *img, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, img + off, len - off);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    return close(fd);
}

/* The inode's image at the cut: durable, then each pending piece kept or not. */
static int cut_image(const inode_t *in, uint64_t *rng, unsigned char **img, size_t *len,
                     crash_stats_t *st)
{
    size_t cap = in->dlen ? in->dlen : 1;
    *img = malloc(cap);
    if (!*img)
        return -1;
    if (in->dlen)
        memcpy(*img, in->dur, in->dlen);
    *len = in->dlen;
    for (size_t i = 0; i < in->np; i++) {
        const pop_t *p = &in->pend[i];
        if (p->kind != POP_WRITE || p->forced) {
            bool keep = p->forced || (rnd(rng) & 1);
            if (keep && !apply(img, len, &cap, p, 0, p->len))
                return -1;
            continue;
        }
        /* torn at 4 KiB boundaries of the file: each piece reaches the disk or not */
        uint64_t from = 0;
        while (from < p->len) {
            uint64_t edge = ((p->off + from) / PIECE + 1) * PIECE - p->off;
            uint64_t to = edge < p->len ? edge : p->len;
            if (rnd(rng) & 1) {
                if (!apply(img, len, &cap, p, from, to))
                    return -1;
                st->pieces_kept++;
            } else {
                st->pieces_cut++;
            }
            from = to;
        }
    }
    return 0;
}

static void state_free(state_t *s, bool own_inodes)
{
    if (own_inodes)
        for (size_t i = 0; i < s->nin; i++) {
            free(s->in[i].dur);
            free(s->in[i].pend);
        }
    free(s->in);
    for (size_t i = 0; i < s->nmeta; i++) {
        free(s->meta[i].path);
        free(s->meta[i].path2);
    }
    free(s->meta);
    for (size_t i = 0; i < s->nns; i++)
        free(s->ns[i].path);
    free(s->ns);
    for (size_t i = 0; i < s->nfds; i++)
        free(s->fds[i].path);
    free(s->fds);
}

/* Writes the final names into outdir, parents before children. */
static int write_out(state_t *s, state_t *fin, uint64_t *rng, const char *outdir, crash_stats_t *st,
                     char *err, size_t errlen)
{
    qsort(fin->ns, fin->nns, sizeof *fin->ns, by_path);
    for (size_t i = 0; i < fin->nns; i++) {
        const name_t *n = &fin->ns[i];
        char par[4200], full[8400];
        if (!*n->path || is_lock(n->path))
            continue;
        parent_of(n->path, par, sizeof par);
        if (*par) {
            int pi = ns_find(fin, par);
            if (pi < 0 || !s->in[fin->ns[pi].ino].dir)
                continue; /* its folder did not survive */
        }
        snprintf(full, sizeof full, "%s/%s", outdir, n->path);
        const inode_t *in = &s->in[n->ino];
        if (in->dir) {
            if (mkdir(full, 0700) != 0) {
                set_err(err, errlen, "cannot create %s (errno %lld)", full, errno);
                return -1;
            }
            st->dirs++;
            continue;
        }
        unsigned char *img = NULL;
        size_t len = 0;
        int rc = cut_image(in, rng, &img, &len, st);
        if (rc == 0)
            rc = write_file(full, img, len);
        free(img);
        if (rc) {
            set_err(err, errlen, "cannot write %s (errno %lld)", full, errno);
            return -1;
        }
        st->files++;
    }
    return 0;
}

int crash_rebuild(const crash_log_t *l, size_t cut, uint64_t seed, const char *outdir,
                  crash_stats_t *st, char *err, size_t errlen)
{
    crash_stats_t dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof *st);
    state_t s = {0}, fin = {0};
    int rc = 0;
    /* the folder itself exists and is durable */
    int root = new_inode(&s, true);
    if (root >= 0)
        ns_set(&s, "", root);
    if (cut > l->n)
        cut = l->n;
    for (size_t i = 0; i < cut && rc == 0 && !s.oom; i++)
        rc = replay_one(&s, crash_log_event(l, i), ev_bytes(l, i), err, errlen);
    uint64_t rng = seed;
    if (rc == 0 && !s.oom) {
        ns_set(&fin, "", root);
        final_names(&s, &rng, &fin, st);
    }
    if (rc == 0 && !s.oom && !fin.oom)
        rc = write_out(&s, &fin, &rng, outdir, st, err, errlen);
    if (s.oom || fin.oom) {
        set_err(err, errlen, "out of memory%s%lld", "", 0);
        rc = -1;
    }
    state_free(&fin, false);
    state_free(&s, true);
    return rc;
}
