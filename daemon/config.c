/*
 * config.c - logbookd.yaml (PROTOCOL.md section 8) as one table of options
 * with type, bounds and default. Unknown keys and bad values refuse the
 * start with the reason; relative paths resolve against the file's folder.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

typedef enum { OPT_PATH, OPT_STR, OPT_PATHS, OPT_STRS, OPT_BOOL, OPT_INT, OPT_LOGLEVEL } opt_type_t;

typedef struct {
    const char *key; /* dotted path */
    opt_type_t type;
    const char *def; /* default as text, NULL = required */
    int64_t min, max;
    size_t off;   /* offset of the field */
    size_t n_off; /* offset of the count for lists */
} opt_t;

#define F(x) offsetof(lbd_config_t, x)
static const opt_t options[] = {
    {"data_dir", OPT_PATH, NULL, 0, 0, F(data_dir), 0},
    {"endpoints.requests", OPT_STRS, "tcp://127.0.0.1:5560", 0, 0, F(req_endpoints), F(n_req)},
    {"endpoints.events", OPT_STRS, "tcp://127.0.0.1:5561", 0, 0, F(ev_endpoints), F(n_ev)},
    {"workflows", OPT_PATHS, NULL, 0, 0, F(workflows), F(n_workflows)},
    {"indicators", OPT_PATH, NULL, 0, 0, F(indicators), 0},
    {"holidays", OPT_PATH, "", 0, 0, F(holidays), 0},
    {"areas", OPT_PATH, "", 0, 0, F(areas), 0},
    {"default_workflow", OPT_STR, "tpmap-household", 0, 0, F(default_workflow), 0},
    {"security.curve", OPT_BOOL, "true", 0, 0, F(curve), 0},
    {"security.server_cert", OPT_PATH, "", 0, 0, F(server_cert), 0},
    {"security.clients", OPT_PATH, "", 0, 0, F(clients), 0},
    {"security.keys_dir", OPT_PATH, "", 0, 0, F(keys_dir), 0},
    {"security.bootstrap_admin", OPT_BOOL, "true", 0, 0, F(bootstrap_admin), 0},
    {"security.users", OPT_PATH, "", 0, 0, F(users), 0},
    {"limits.max_message_bytes", OPT_INT, "1048576", 1024, 256 << 20, F(max_message_bytes), 0},
    {"limits.batch_max", OPT_INT, "512", 1, 100000, F(batch_max), 0},
    {"limits.case_records", OPT_INT, "2000", 10, 100000, F(case_records), 0},
    {"limits.rate_per_key", OPT_INT, "200", 1, 10000000, F(rate_per_key), 0},
    {"limits.burst_per_key", OPT_INT, "400", 1, 10000000, F(burst_per_key), 0},
    {"limits.max_connections", OPT_INT, "10000", 16, 10000000, F(max_connections), 0},
    {"log_level", OPT_LOGLEVEL, "info", 0, 0, F(log_level), 0},
    {"readers", OPT_INT, "2", 0, 64, F(readers), 0},
    {"readers_hold_for_test", OPT_PATH, "", 0, 0, F(readers_hold), 0},
};
#undef F
#define N_OPTIONS (sizeof options / sizeof options[0])

static const char *const sections[] = {"endpoints", "security", "limits"};

static char *resolve(const char *dir, const char *p)
{
    if (p[0] == '\0')
        return strdup("");
    if (p[0] == '/')
        return strdup(p);
    size_t n = strlen(dir) + strlen(p) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", dir, p);
    return s;
}

/* The value at a dotted path in the tree, or NULL. */
static const lb_val_t *lookup(const lb_val_t *root, const char *key)
{
    const char *dot = strchr(key, '.');
    if (!dot)
        return lb_map_get(root, key);
    char sect[64];
    snprintf(sect, sizeof sect, "%.*s", (int)(dot - key), key);
    const lb_val_t *s = lb_map_get(root, sect);
    return s ? lb_map_get(s, dot + 1) : NULL;
}

static bool known_key(const char *sect, const char *key)
{
    char full[128];
    if (sect)
        snprintf(full, sizeof full, "%s.%s", sect, key);
    else
        snprintf(full, sizeof full, "%s", key);
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strcmp(options[i].key, full) == 0)
            return true;
    if (!sect)
        for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
            if (strcmp(sections[i], key) == 0)
                return true;
    return false;
}

static int check_unknown(const lb_val_t *root, const char *path, char *err, size_t errlen)
{
    for (uint32_t i = 0; i < root->m.n; i++) {
        const char *k = root->m.keys[i];
        if (!known_key(NULL, k)) {
            snprintf(err, errlen, "%s: unknown key '%s'", path, k);
            return LB_ECONFIG;
        }
        const lb_val_t *v = root->m.vals[i];
        bool is_section = false;
        for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++)
            is_section |= strcmp(sections[s], k) == 0;
        if (!is_section)
            continue;
        if (v->type != LB_MAP) {
            snprintf(err, errlen, "%s: '%s' must be a mapping", path, k);
            return LB_ECONFIG;
        }
        for (uint32_t j = 0; j < v->m.n; j++)
            if (!known_key(k, v->m.keys[j])) {
                snprintf(err, errlen, "%s: unknown key '%s.%s'", path, k, v->m.keys[j]);
                return LB_ECONFIG;
            }
    }
    return 0;
}

static int set_list(const opt_t *o, lbd_config_t *cfg, const lb_val_t *v, const char *dir,
                    const char *path, char *err, size_t errlen)
{
    /* v is never NULL: the caller substitutes the default for a missing key */
    char ***list = (char ***)((char *)cfg + o->off);
    size_t *n = (size_t *)((char *)cfg + o->n_off);
    // cppcheck-suppress ctunullpointer
    size_t count = v->type == LB_ARR ? v->a.n : 1;
    if (count == 0 || count > 64) {
        snprintf(err, errlen, "%s: '%s' needs 1 to 64 entries", path, o->key);
        return LB_ECONFIG;
    }
    *list = calloc(count, sizeof(char *));
    if (!*list)
        return LB_ENOMEM;
    *n = count;
    for (size_t i = 0; i < count; i++) {
        const lb_val_t *e = v->type == LB_ARR ? v->a.items[i] : v;
        if (e->type != LB_STR || e->s.n == 0) {
            snprintf(err, errlen, "%s: '%s' entries must be non-empty strings", path, o->key);
            return LB_ECONFIG;
        }
        (*list)[i] = o->type == OPT_PATHS ? resolve(dir, e->s.p) : strdup(e->s.p);
        if (!(*list)[i])
            return LB_ENOMEM;
    }
    return 0;
}

static int set_option(const opt_t *o, lbd_config_t *cfg, const lb_val_t *v, const char *dir,
                      const char *path, char *err, size_t errlen)
{
    void *field = (char *)cfg + o->off;
    if (o->type == OPT_PATHS || o->type == OPT_STRS)
        return set_list(o, cfg, v, dir, path, err, errlen);
    if (v->type != LB_STR) {
        snprintf(err, errlen, "%s: '%s' must be a scalar", path, o->key);
        return LB_ECONFIG;
    }
    const char *s = v->s.p;
    switch (o->type) {
    case OPT_PATH:
    case OPT_STR:
        *(char **)field = o->type == OPT_PATH ? resolve(dir, s) : strdup(s);
        return *(char **)field ? 0 : LB_ENOMEM;
    case OPT_BOOL:
        if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "on") == 0)
            *(bool *)field = true;
        else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 || strcmp(s, "off") == 0)
            *(bool *)field = false;
        else {
            snprintf(err, errlen, "%s: '%s' must be true or false, not '%s'", path, o->key, s);
            return LB_ECONFIG;
        }
        return 0;
    case OPT_INT: {
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (errno || end == s || *end || x < o->min || x > o->max) {
            snprintf(err, errlen, "%s: '%s' must be an integer from %lld to %lld, not '%s'", path,
                     o->key, (long long)o->min, (long long)o->max, s);
            return LB_ECONFIG;
        }
        *(int64_t *)field = x;
        return 0;
    }
    case OPT_LOGLEVEL: {
        int l = lbd_log_level_parse(s);
        if (l < 0) {
            snprintf(err, errlen, "%s: 'log_level' must be error, warn, info or debug, not '%s'",
                     path, s);
            return LB_ECONFIG;
        }
        *(int *)field = l;
        return 0;
    }
    default:
        return LB_EINTERNAL;
    }
}

int lbd_config_load(const char *path, lbd_config_t *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    lb_val_t *root = NULL, *defv = NULL;
    char dir[PATH_MAX];
    int rc = wf_yaml_load_val(path, &root, err, errlen);
    if (rc)
        goto out;
    rc = LB_ECONFIG;
    if (root->type != LB_MAP) {
        snprintf(err, errlen, "%s: the configuration must be a mapping", path);
        goto out;
    }
    if ((rc = check_unknown(root, path, err, errlen)))
        goto out;
    /* The folder of the config file, absolute, so later chdir or relative use cannot move it. */
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = LB_ECONFIG;
        goto out;
    }
    snprintf(dir, sizeof dir, "%s", real);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash)
        *slash = '\0';
    cfg->path = strdup(real);
    if (!cfg->path) {
        rc = LB_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const opt_t *o = &options[i];
        const lb_val_t *v = lookup(root, o->key);
        if (!v) {
            if (!o->def) {
                snprintf(err, errlen, "%s: '%s' is required", path, o->key);
                rc = LB_ECONFIG;
                goto out;
            }
            defv = lb_str(o->def);
            if (!defv) {
                rc = LB_ENOMEM;
                goto out;
            }
            v = defv;
        }
        rc = set_option(o, cfg, v, dir, path, err, errlen);
        lb_val_free(&defv);
        if (rc)
            goto out;
    }
    if (cfg->keys_dir[0] == '\0') {
        free(cfg->keys_dir);
        if (asprintf(&cfg->keys_dir, "%s/keys", cfg->data_dir) < 0) {
            cfg->keys_dir = NULL;
            rc = LB_ENOMEM;
            goto out;
        }
    }
    if (cfg->server_cert[0] == '\0') {
        free(cfg->server_cert);
        if (asprintf(&cfg->server_cert, "%s/server.key_secret", cfg->keys_dir) < 0) {
            cfg->server_cert = NULL;
            rc = LB_ENOMEM;
            goto out;
        }
    }
    if (cfg->burst_per_key < cfg->rate_per_key) {
        snprintf(err, errlen,
                 "%s: limits.burst_per_key (%lld) must be at least limits.rate_per_key (%lld)",
                 path, (long long)cfg->burst_per_key, (long long)cfg->rate_per_key);
        rc = LB_ECONFIG;
        goto out;
    }
    rc = 0;
out:
    lb_val_free(&root);
    if (rc)
        lbd_config_clear(cfg);
    return rc;
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; l && i < n; i++)
        free(l[i]);
    free(l);
}

void lbd_config_clear(lbd_config_t *cfg)
{
    free(cfg->path);
    free(cfg->data_dir);
    free_list(cfg->req_endpoints, cfg->n_req);
    free_list(cfg->ev_endpoints, cfg->n_ev);
    free_list(cfg->workflows, cfg->n_workflows);
    free(cfg->indicators);
    free(cfg->holidays);
    free(cfg->areas);
    free(cfg->default_workflow);
    free(cfg->server_cert);
    free(cfg->clients);
    free(cfg->keys_dir);
    free(cfg->users);
    free(cfg->readers_hold);
    memset(cfg, 0, sizeof *cfg);
}
