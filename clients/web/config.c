/*
 * config.c - logbook-web's YAML configuration and the indicator catalog,
 * read with libyaml into flat "path = scalar" pairs ("daemon.endpoint",
 * "indicators.3.code") and then checked against one table of keys.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "web.h"

#define FLAT_MAX 4096 /* scalars in one file */
#define DEPTH_MAX 8
#define FILE_MAX (4 << 20)

typedef struct {
    char key[128];
    char *val;
    int line;
} flat_t;

typedef struct {
    flat_t *v;
    size_t n;
} flat_list_t;

static void flat_free(flat_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].val);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int flat_add(flat_list_t *l, const char *key, const char *val, int line)
{
    if (l->n >= FLAT_MAX)
        return LB_ETOOLARGE;
    flat_t *v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (!v)
        return LB_ENOMEM;
    l->v = v;
    snprintf(v[l->n].key, sizeof v[l->n].key, "%s", key);
    v[l->n].line = line;
    if (!(v[l->n].val = strdup(val)))
        return LB_ENOMEM;
    l->n++;
    return 0;
}

/* One level of nesting: a mapping (expects a key next) or a sequence (counts items). */
typedef struct {
    bool seq;
    bool want_key;
    long index;
    size_t keylen; /* length of the path before this level's part */
} level_t;

/* The path of the next value at the current level, written into path. */
static void level_path(char *path, size_t cap, level_t *lv, const char *mapkey)
{
    if (lv->seq) {
        size_t n = strlen(path);
        snprintf(path + n, cap - n, "%s%ld", n ? "." : "", lv->index++);
    } else {
        size_t n = strlen(path);
        snprintf(path + n, cap - n, "%s%s", n ? "." : "", mapkey);
    }
}

/* Walks the events of one document, flattening scalars; refuses aliases and anchors. */
static int flatten(yaml_parser_t *p, flat_list_t *out, char *err, size_t errlen, const char *file)
{
    level_t lv[DEPTH_MAX];
    int depth = -1, rc = 0;
    char path[128] = "", key[128] = "";
    for (bool done = false; !done && !rc;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(p, &ev)) {
            lb_set_err(err, errlen, "%s:%zu: %s", file, p->problem_mark.line + 1,
                       p->problem ? p->problem : "YAML error");
            return LB_ECONFIG;
        }
        int line = (int)ev.start_mark.line + 1;
        level_t *cur = depth >= 0 ? &lv[depth] : NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_ALIAS_EVENT:
            lb_set_err(err, errlen, "%s:%d: aliases are not allowed", file, line);
            rc = LB_ECONFIG;
            break;
        case YAML_SCALAR_EVENT:
            if (ev.data.scalar.anchor) {
                lb_set_err(err, errlen, "%s:%d: anchors are not allowed", file, line);
                rc = LB_ECONFIG;
            } else if (!cur) {
                lb_set_err(err, errlen, "%s:%d: expected a mapping", file, line);
                rc = LB_ECONFIG;
            } else if (!cur->seq && cur->want_key) {
                snprintf(key, sizeof key, "%s", (const char *)ev.data.scalar.value);
                cur->want_key = false;
            } else {
                size_t keep = strlen(path);
                level_path(path, sizeof path, cur, key);
                rc = flat_add(out, path, (const char *)ev.data.scalar.value, line);
                path[keep] = '\0';
                cur->want_key = true;
            }
            break;
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (depth + 1 >= DEPTH_MAX || (cur && !cur->seq && cur->want_key)) {
                lb_set_err(err, errlen, "%s:%d: unexpected nesting", file, line);
                rc = LB_ECONFIG;
                break;
            }
            {
                size_t keep = strlen(path);
                if (cur)
                    level_path(path, sizeof path, cur, key);
                depth++;
                lv[depth] = (level_t){
                    .seq = ev.type == YAML_SEQUENCE_START_EVENT, .want_key = true, .keylen = keep};
            }
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            /* libyaml pairs ends with starts; an unpaired end must not index lv[-1]. */
            if (!cur) {
                lb_set_err(err, errlen, "%s:%d: unexpected end of a collection", file, line);
                rc = LB_ECONFIG;
                break;
            }
            path[cur->keylen] = '\0';
            depth--;
            if (depth >= 0)
                lv[depth].want_key = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    return rc;
}

static int read_flat(const char *path, flat_list_t *out, bool missing_ok, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (missing_ok && errno == ENOENT)
            return 0;
        lb_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return LB_EIO;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    if (size < 0 || size > FILE_MAX) {
        lb_set_err(err, errlen, "%s: over %d bytes", path, FILE_MAX);
        return LB_ECONFIG;
    }
    f = fopen(path, "rb");
    if (!f) {
        lb_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return LB_EIO;
    }
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    int rc = flatten(&p, out, err, errlen, path);
    yaml_parser_delete(&p);
    fclose(f);
    if (rc)
        flat_free(out);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* logbook-web.yaml                                                        */
/* ---------------------------------------------------------------------- */

typedef enum { K_LISTEN, K_STR, K_PATH, K_BOOL } ktype_t;

typedef struct {
    const char *key;
    ktype_t type;
    size_t off;
    size_t size;
} key_t_;

#define F(field) offsetof(web_config_t, field), sizeof(((web_config_t *)0)->field)
static const key_t_ keys[] = {
    {"listen", K_LISTEN, 0, 0},
    {"daemon.endpoint", K_STR, F(endpoint)},
    {"daemon.events_endpoint", K_STR, F(events_endpoint)},
    {"cert", K_PATH, F(cert)},
    {"server_cert", K_PATH, F(server_cert)},
    {"users", K_PATH, F(users)},
    {"indicators", K_PATH, F(indicators)},
    {"tls.cert", K_PATH, F(tls_cert)},
    {"tls.key", K_PATH, F(tls_key)},
    {"static", K_PATH, F(static_dir)},
    {"behind_tls_proxy", K_BOOL, F(behind_tls_proxy)},
};

static int set_listen(web_config_t *cfg, const char *v)
{
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v || (size_t)(colon - v) >= sizeof cfg->listen_addr)
        return LB_ECONFIG;
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 1 || port > 65535)
        return LB_ECONFIG;
    snprintf(cfg->listen_addr, sizeof cfg->listen_addr, "%.*s", (int)(colon - v), v);
    cfg->port = (int)port;
    return 0;
}

static int set_key(web_config_t *cfg, const key_t_ *k, const char *v, const char *dir)
{
    char *field = (char *)cfg + k->off;
    switch (k->type) {
    case K_LISTEN:
        return set_listen(cfg, v);
    case K_BOOL:
        if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
            return LB_ECONFIG;
        *(bool *)field = strcmp(v, "true") == 0;
        return 0;
    case K_STR:
        return snprintf(field, k->size, "%s", v) < (int)k->size ? 0 : LB_ECONFIG;
    case K_PATH:
        if (!*v || v[0] == '/')
            return snprintf(field, k->size, "%s", v) < (int)k->size ? 0 : LB_ECONFIG;
        return snprintf(field, k->size, "%s/%s", dir, v) < (int)k->size ? 0 : LB_ECONFIG;
    }
    return LB_ECONFIG;
}

static void config_defaults(web_config_t *cfg, const char *dir)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen_addr, sizeof cfg->listen_addr, "127.0.0.1");
    cfg->port = 8080;
    snprintf(cfg->endpoint, sizeof cfg->endpoint, "%s", LBC_DEFAULT_ENDPOINT);
    snprintf(cfg->events_endpoint, sizeof cfg->events_endpoint, "%s", LBC_DEFAULT_EVENTS_ENDPOINT);
    if (strlen(dir) + 17 < sizeof cfg->indicators)
        snprintf(cfg->indicators, sizeof cfg->indicators, "%.*s/indicators.yaml",
                 (int)(sizeof cfg->indicators - 17), dir);
}

int web_config_load(const char *path, web_config_t *cfg, char *err, size_t errlen)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    snprintf(dir, sizeof dir, "%s", dirname(tmp));
    config_defaults(cfg, dir);
    flat_list_t l;
    int rc = read_flat(path, &l, false, err, errlen);
    for (size_t i = 0; !rc && i < l.n; i++) {
        const key_t_ *k = NULL;
        for (size_t j = 0; j < sizeof keys / sizeof keys[0]; j++)
            if (strcmp(keys[j].key, l.v[i].key) == 0)
                k = &keys[j];
        if (!k) {
            lb_set_err(err, errlen, "%s:%d: unknown key %s", path, l.v[i].line, l.v[i].key);
            rc = LB_ECONFIG;
        } else if (set_key(cfg, k, l.v[i].val, dir)) {
            lb_set_err(err, errlen, "%s:%d: bad value for %s", path, l.v[i].line, k->key);
            rc = LB_ECONFIG;
        }
    }
    flat_free(&l);
    if (!rc && (!cfg->tls_cert[0]) != (!cfg->tls_key[0])) {
        lb_set_err(err, errlen, "%s: tls needs both cert and key", path);
        rc = LB_ECONFIG;
    }
    if (!rc && (!cfg->cert[0] || !cfg->server_cert[0])) {
        lb_set_err(err, errlen, "%s: cert and server_cert are required", path);
        rc = LB_ECONFIG;
    }
    return rc;
}

/* ---------------------------------------------------------------------- */
/* The indicator catalog                                                   */
/* ---------------------------------------------------------------------- */

void web_catalog_free(web_catalog_t *cat)
{
    free(cat->v);
    cat->v = NULL;
    cat->n = 0;
}

/* "indicators.N.FIELD" = val into the catalog's item N (items arrive in order). */
static int catalog_put(web_catalog_t *cat, const flat_t *f)
{
    char *end = NULL;
    if (strncmp(f->key, "indicators.", 11) != 0)
        return LB_ECONFIG;
    unsigned long idx = strtoul(f->key + 11, &end, 10);
    if (*end != '.' || idx > cat->n || idx >= 1024)
        return LB_ECONFIG;
    if (idx == cat->n) {
        web_indicator_t *v = realloc(cat->v, (cat->n + 1) * sizeof *v);
        if (!v)
            return LB_ENOMEM;
        cat->v = v;
        memset(&v[cat->n++], 0, sizeof *v);
    }
    web_indicator_t *it = &cat->v[idx];
    const char *field = end + 1;
    struct {
        const char *name;
        char *dst;
        size_t size;
    } fs[] = {{"code", it->code, sizeof it->code},
              {"dimension", it->dimension, sizeof it->dimension},
              {"th", it->th, sizeof it->th},
              {"en", it->en, sizeof it->en}};
    for (size_t i = 0; i < 4; i++)
        if (strcmp(field, fs[i].name) == 0)
            return snprintf(fs[i].dst, fs[i].size, "%s", f->val) < (int)fs[i].size ? 0 : LB_ECONFIG;
    return LB_ECONFIG;
}

int web_catalog_load(const char *path, web_catalog_t *cat, char *err, size_t errlen)
{
    memset(cat, 0, sizeof *cat);
    flat_list_t l;
    int rc = read_flat(path, &l, true, err, errlen);
    for (size_t i = 0; !rc && i < l.n; i++)
        if ((rc = catalog_put(cat, &l.v[i])))
            lb_set_err(err, errlen, "%s:%d: bad catalog entry %s", path, l.v[i].line, l.v[i].key);
    flat_free(&l);
    for (size_t i = 0; !rc && i < cat->n; i++)
        if (!cat->v[i].code[0] || !cat->v[i].dimension[0]) {
            lb_set_err(err, errlen, "%s: indicator %zu lacks code or dimension", path, i);
            rc = LB_ECONFIG;
        }
    if (rc)
        web_catalog_free(cat);
    return rc;
}
