/*
 * registry.c - the clients registry (PROTOCOL.md section 6): which CURVE
 * public keys may connect, with which role, over which areas, and whether
 * they may subscribe to events. The generated admin certificate is in unless
 * security.bootstrap_admin is false.
 * The roles are proto/users.h's list; a gateway key acts for people (users.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "daemon.h"

const char *lbd_role_name(lbd_role_t r)
{
    return lb_role_name(r);
}

static void client_clear(lbd_client_t *c)
{
    for (size_t i = 0; i < c->n_areas; i++)
        free(c->areas[i]);
    free(c->areas);
    memset(c, 0, sizeof *c);
}

void lbd_registry_clear(lbd_registry_t *reg)
{
    for (size_t i = 0; i < reg->n; i++)
        client_clear(&reg->v[i]);
    free(reg->v);
    reg->v = NULL;
    reg->n = 0;
}

static int add_areas(lbd_client_t *c, const lb_val_t *areas, const char *path, char *err,
                     size_t errlen)
{
    if (!areas || areas->type != LB_ARR || areas->a.n == 0 || areas->a.n > 1000) {
        snprintf(err, errlen, "%s: client '%s': areas must be a list of 1 to 1000 prefixes", path,
                 c->name);
        return LB_ECONFIG;
    }
    c->areas = calloc(areas->a.n, sizeof(char *));
    if (!c->areas)
        return LB_ENOMEM;
    for (uint32_t i = 0; i < areas->a.n; i++) {
        const lb_val_t *a = areas->a.items[i];
        if (a->type != LB_STR || (strcmp(a->s.p, "*") != 0 && !lb_valid_area(a->s.p, false))) {
            snprintf(err, errlen, "%s: client '%s': area %u must be \"*\" or 2, 4, 6 or 8 digits",
                     path, c->name, i);
            return LB_ECONFIG;
        }
        c->areas[i] = strdup(strcmp(a->s.p, "*") == 0 ? "" : a->s.p);
        if (!c->areas[i])
            return LB_ENOMEM;
        c->n_areas++;
    }
    return 0;
}

static int parse_client(const lb_val_t *e, uint32_t idx, lbd_client_t *c, const char *path,
                        char *err, size_t errlen)
{
    static const char *const keys[] = {"name", "public_key", "role", "areas", "events"};
    if (e->type != LB_MAP) {
        snprintf(err, errlen, "%s: client %u must be a mapping", path, idx);
        return LB_ECONFIG;
    }
    for (uint32_t i = 0; i < e->m.n; i++) {
        bool ok = false;
        for (size_t k = 0; k < 5; k++)
            ok |= strcmp(e->m.keys[i], keys[k]) == 0;
        if (!ok) {
            snprintf(err, errlen, "%s: client %u: unknown key '%s'", path, idx, e->m.keys[i]);
            return LB_ECONFIG;
        }
    }
    const char *name = lb_map_str(e, "name");
    if (!name || !name[0] || strlen(name) >= LB_USER_NAME_MAX) {
        snprintf(err, errlen, "%s: client %u: name must be 1 to 63 characters", path, idx);
        return LB_ECONFIG;
    }
    snprintf(c->name, sizeof c->name, "%s", name);
    const char *key = lb_map_str(e, "public_key");
    if (!key || strlen(key) != 40 || !zmq_z85_decode(c->key, key)) {
        snprintf(err, errlen, "%s: client '%s': public_key must be 40 characters of Z85", path,
                 name);
        return LB_ECONFIG;
    }
    memcpy(c->key_z85, key, 41);
    const char *role = lb_map_str(e, "role");
    if (!role || lb_role_parse(role, &c->role)) {
        snprintf(err, errlen,
                 "%s: client '%s': role must be field, committee, reporter, admin or gateway", path,
                 name);
        return LB_ECONFIG;
    }
    /* A gateway acts with its people's areas; its own (optional) scope only its events. */
    const lb_val_t *areas = lb_map_get(e, "areas");
    int rc = c->role == LBD_ROLE_GATEWAY && !areas ? 0 : add_areas(c, areas, path, err, errlen);
    if (rc)
        return rc;
    const char *ev = lb_map_str(e, "events");
    if (lb_map_get(e, "events") && (!ev || (strcmp(ev, "true") != 0 && strcmp(ev, "false") != 0))) {
        snprintf(err, errlen, "%s: client '%s': events must be true or false", path, name);
        return LB_ECONFIG;
    }
    c->events = ev && strcmp(ev, "true") == 0;
    return 0;
}

int lbd_registry_load(const char *path, const uint8_t admin_key[32], lbd_registry_t *reg, char *err,
                      size_t errlen)
{
    lb_val_t *root = NULL;
    lbd_registry_t r = {0};
    int rc = 0;
    const lb_val_t *list = NULL;
    if (path && path[0]) {
        if ((rc = wf_yaml_load_val(path, &root, err, errlen)))
            goto out;
        list = lb_map_get(root, "clients");
        rc = LB_ECONFIG;
        if (root->type != LB_MAP || root->m.n != 1 || !list ||
            (list->type != LB_ARR && !(list->type == LB_STR && list->s.n == 0))) {
            snprintf(err, errlen, "%s: expected one key 'clients' holding a list", path);
            goto out;
        }
        if (list->type != LB_ARR)
            list = NULL;
    }
    size_t n = list ? list->a.n : 0;
    r.v = calloc(n + 1, sizeof *r.v);
    if (!r.v) {
        rc = LB_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        lbd_client_t *c = &r.v[r.n];
        r.n++;
        if ((rc = parse_client(list->a.items[i], (uint32_t)i, c, path, err, errlen)))
            goto out;
        for (size_t j = 0; j + 1 < r.n; j++) {
            if (strcmp(r.v[j].name, c->name) == 0 || memcmp(r.v[j].key, c->key, 32) == 0) {
                snprintf(err, errlen, "%s: client '%s': name or key listed twice", path, c->name);
                rc = LB_ECONFIG;
                goto out;
            }
        }
    }
    if (admin_key && !lbd_registry_by_key(&r, admin_key)) {
        lbd_client_t *c = &r.v[r.n];
        if (lbd_registry_by_name(&r, "admin")) {
            snprintf(err, errlen, "%s: the name 'admin' is reserved for the generated certificate",
                     path);
            rc = LB_ECONFIG;
            goto out;
        }
        r.n++;
        snprintf(c->name, sizeof c->name, "admin");
        memcpy(c->key, admin_key, 32);
        zmq_z85_encode(c->key_z85, admin_key, 32);
        c->role = LBD_ROLE_ADMIN;
        c->events = true;
        c->areas = calloc(1, sizeof(char *));
        if (!c->areas || !(c->areas[0] = strdup(""))) {
            rc = LB_ENOMEM;
            goto out;
        }
        c->n_areas = 1;
    }
    *reg = r;
    memset(&r, 0, sizeof r);
    rc = 0;
out:
    lbd_registry_clear(&r);
    lb_val_free(&root);
    return rc;
}

int lbd_registry_load_cfg(const lbd_config_t *cfg, const uint8_t admin_key[32], lbd_registry_t *reg,
                          char *err, size_t errlen)
{
    lbd_registry_t r = {0};
    int rc =
        lbd_registry_load(cfg->clients, cfg->bootstrap_admin ? admin_key : NULL, &r, err, errlen);
    if (rc || cfg->bootstrap_admin)
        goto out;
    /* Without the generated key only the registry's admins can reload, back up or fix it. */
    bool admin = false;
    for (size_t i = 0; i < r.n; i++)
        admin |= r.v[i].role == LBD_ROLE_ADMIN;
    if (!admin) {
        snprintf(err, errlen,
                 "security.bootstrap_admin is false but %s lists no client of role admin: "
                 "nobody could administer the daemon; add one, or set bootstrap_admin: true",
                 cfg->clients && cfg->clients[0] ? cfg->clients : "the clients registry");
        rc = LB_ECONFIG;
    }
out:
    if (rc == 0)
        *reg = r;
    else
        lbd_registry_clear(&r);
    return rc;
}

const lbd_client_t *lbd_registry_by_key(const lbd_registry_t *reg, const uint8_t key[32])
{
    for (size_t i = 0; i < reg->n; i++)
        if (memcmp(reg->v[i].key, key, 32) == 0)
            return &reg->v[i];
    return NULL;
}

const lbd_client_t *lbd_registry_by_name(const lbd_registry_t *reg, const char *name)
{
    for (size_t i = 0; i < reg->n; i++)
        if (strcmp(reg->v[i].name, name) == 0)
            return &reg->v[i];
    return NULL;
}

bool lbd_client_covers(const lbd_client_t *c, const char *area)
{
    for (size_t i = 0; i < c->n_areas; i++) {
        size_t n = strlen(c->areas[i]);
        if (strncmp(area, c->areas[i], n) == 0)
            return true;
    }
    return false;
}
