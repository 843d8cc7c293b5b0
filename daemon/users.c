/*
 * users.c - the people gateway keys act for (PROTOCOL.md 9.15): the users
 * file of security.users, loaded, watched by polling its identity from the
 * loop, staged on reload; and lbd_act_as, the one place a request's `as`
 * becomes the client it runs as.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "users.h"

static lbd_file_id_t file_id(const char *path)
{
    lbd_file_id_t id = {0};
    struct stat st;
    if (stat(path, &st) == 0) {
        id.exists = true;
        id.dev = st.st_dev;
        id.ino = st.st_ino;
        id.size = st.st_size;
        id.mtime = st.st_mtim;
    }
    return id;
}

static bool same_id(const lbd_file_id_t *a, const lbd_file_id_t *b)
{
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static bool configured(const char *path)
{
    return path && path[0];
}

/* Loads path into *out; the users.h codes become LB_ECONFIG (LB_ENOMEM stays). */
static int load(const char *path, lb_users_t *out, char *err, size_t errlen)
{
    int rc = lb_users_load(path, out, err, errlen);
    return rc == 0 || rc == LB_ENOMEM ? rc : LB_ECONFIG;
}

int lbd_users_init(lbd_users_t *u, const char *path, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    if (!configured(path))
        return 0;
    u->seen = file_id(path);
    int rc = load(path, &u->list, err, errlen);
    if (rc == 0)
        lbd_log(LBD_LOG_INFO, "users: %zu people from %s", u->list.n, path);
    return rc;
}

int lbd_users_stage(lbd_users_t *u, const char *path, char *err, size_t errlen)
{
    lb_users_t fresh = {0};
    if (!configured(path))
        return 0;
    lbd_file_id_t id = file_id(path);
    int rc = load(path, &fresh, err, errlen);
    if (rc)
        return rc;
    lb_users_clear(&u->staged);
    u->staged = fresh;
    u->staged_seen = id;
    u->has_staged = true;
    return 0;
}

static void put_in_force(lbd_users_t *u, lb_users_t *fresh, const char *path)
{
    if (u->before_swap)
        u->before_swap(u->swap_arg); /* nobody may still read the list freed next */
    lb_users_clear(&u->list);
    u->list = *fresh;
    memset(fresh, 0, sizeof *fresh);
    lbd_log(LBD_LOG_INFO, "users: %zu people from %s", u->list.n, path);
}

void lbd_users_poll(lbd_users_t *u, const char *path, int64_t now_ms)
{
    if (u->has_staged) {
        put_in_force(u, &u->staged, path);
        u->seen = u->staged_seen;
        u->has_staged = false;
    }
    if (!configured(path) || now_ms < u->next_poll_ms)
        return;
    u->next_poll_ms = now_ms + LBD_USERS_POLL_MS;
    /* stat before reading: a change while reading shows at the next look */
    lbd_file_id_t id = file_id(path);
    if (same_id(&id, &u->seen))
        return;
    u->seen = id;
    lb_users_t fresh = {0};
    char err[512];
    int rc = load(path, &fresh, err, sizeof err);
    if (rc) {
        /* logged once: seen now holds this content, so it is not tried again until it changes */
        lbd_log(LBD_LOG_ERROR, "users file not reloaded, keeping %zu people: %s", u->list.n,
                rc == LB_ENOMEM ? "out of memory" : err);
        return;
    }
    put_in_force(u, &fresh, path);
}

void lbd_users_free(lbd_users_t *u)
{
    lb_users_clear(&u->list);
    lb_users_clear(&u->staged);
    memset(u, 0, sizeof *u);
}

static int refuse(const lbd_client_t *key, const char *as, proto_err_t *err, const char *fmt,
                  const char *arg)
{
    err->code = LB_EFORBIDDEN;
    snprintf(err->field, sizeof err->field, "as");
    snprintf(err->message, sizeof err->message, fmt, arg);
    lbd_log(LBD_LOG_INFO, "refused key %s acting as '%s': %s", key->name, as, err->message);
    return LB_EFORBIDDEN;
}

int lbd_act_as(const lbd_users_t *u, const lbd_client_t *key, const char *as, lbd_client_t *eff,
               const lbd_client_t **out, proto_err_t *err)
{
    *out = key;
    bool gateway = key->role == LBD_ROLE_GATEWAY;
    if (!as[0])
        return gateway ? refuse(key, as, err, "%s: a gateway key acts only for a user (send as)",
                                key->name)
                       : 0;
    if (!gateway)
        return refuse(key, as, err, "only a gateway key may act as a user (%s is not one)",
                      key->name);
    const lb_user_t *user = lb_users_find(&u->list, as);
    if (!user)
        return refuse(key, as, err, "unknown user %s", as);
    if (user->disabled)
        return refuse(key, as, err, "user %s is disabled", as);
    memset(eff, 0, sizeof *eff);
    snprintf(eff->name, sizeof eff->name, "%s via %.63s", user->name, key->name);
    memcpy(eff->key, key->key, sizeof eff->key);
    memcpy(eff->key_z85, key->key_z85, sizeof eff->key_z85);
    eff->role = user->role;
    eff->areas = user->areas;
    eff->n_areas = user->n_areas;
    eff->events = key->events;
    *out = eff;
    return 0;
}
