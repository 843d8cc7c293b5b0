/*
 * people.c - the people behind the gateway: the users file (watched, and
 * reloaded within a second of a change), password checks with a login rate
 * limit per user and per address, and sessions (random 256-bit tokens with
 * a CSRF token each and an idle timeout). A disabled or removed user loses
 * every session at the next request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>

#include <sodium.h>

#include "web.h"

#define LIMITER_SLOTS 4096

typedef struct {
    char token[WEB_TOKEN_HEX + 1];
    char csrf[WEB_TOKEN_HEX + 1];
    char name[LB_USER_NAME_MAX];
    int64_t last_used; /* monotonic seconds */
} session_t;

typedef struct {
    char key[LB_USER_NAME_MAX + 8]; /* "u:NAME" or "a:ADDR" */
    unsigned fails;
    int64_t window_start;
} limit_t;

struct web_people {
    char path[PATH_MAX];
    pthread_mutex_t mu;
    lb_users_t users;
    struct stat st;
    bool have_st;
    session_t *sess;
    size_t n_sess;
    limit_t *lim;
    uint64_t n_failures;
};

static int64_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

int web_people_new(const char *users_path, web_people_t **out, char *err, size_t errlen)
{
    web_people_t *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p || !(p->sess = calloc(WEB_SESSIONS_MAX, sizeof *p->sess)) ||
        !(p->lim = calloc(LIMITER_SLOTS, sizeof *p->lim))) {
        if (p) {
            free(p->sess);
            free(p);
        }
        return LB_ENOMEM;
    }
    snprintf(p->path, sizeof p->path, "%s", users_path);
    pthread_mutex_init(&p->mu, NULL);
    if (p->path[0]) {
        int rc = lb_users_load(p->path, &p->users, err, errlen);
        if (rc) {
            web_people_destroy(&p);
            return rc;
        }
        p->have_st = stat(p->path, &p->st) == 0;
    }
    *out = p;
    return 0;
}

void web_people_destroy(web_people_t **pp)
{
    web_people_t *p = pp ? *pp : NULL;
    if (!p)
        return;
    lb_users_clear(&p->users);
    sodium_memzero(p->sess, WEB_SESSIONS_MAX * sizeof *p->sess);
    free(p->sess);
    free(p->lim);
    pthread_mutex_destroy(&p->mu);
    free(p);
    *pp = NULL;
}

static bool same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int web_people_poll(web_people_t *p, bool force)
{
    struct stat st;
    if (!p->path[0])
        return 0;
    bool have = stat(p->path, &st) == 0;
    pthread_mutex_lock(&p->mu);
    bool changed = force || have != p->have_st || (have && !same_stat(&st, &p->st));
    pthread_mutex_unlock(&p->mu);
    if (!changed)
        return 0;
    lb_users_t fresh = {0};
    char err[512] = "";
    int rc = lb_users_load(p->path, &fresh, err, sizeof err);
    if (rc) {
        syslog(LOG_ERR, "users file not reloaded, keeping the old list: %s", err);
        fprintf(stderr, "logbook-web: users file not reloaded, keeping the old list: %s\n", err);
    }
    pthread_mutex_lock(&p->mu);
    if (!rc) {
        lb_users_clear(&p->users);
        p->users = fresh;
    }
    /* A bad file is not retried until it changes again. */
    p->st = st;
    p->have_st = have;
    pthread_mutex_unlock(&p->mu);
    if (!rc)
        fprintf(stderr, "logbook-web: users file %s loaded: %zu users\n", p->path, fresh.n);
    return rc ? rc : 1;
}

static void join_areas(const lb_user_t *u, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < u->n_areas && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "",
                              u->areas[i][0] ? u->areas[i] : "*");
}

/* Copies the active user called name into *out; the lock is held. */
static int get_locked(web_people_t *p, const char *name, web_person_t *out)
{
    const lb_user_t *u = lb_users_find(&p->users, name);
    if (!u || u->disabled)
        return LB_ENOTFOUND;
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", u->name);
    out->role = u->role;
    join_areas(u, out->areas, sizeof out->areas);
    return 0;
}

int web_people_get(web_people_t *p, const char *name, web_person_t *out)
{
    pthread_mutex_lock(&p->mu);
    int rc = get_locked(p, name, out);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

bool web_person_covers(const web_person_t *who, const char *area)
{
    char buf[WEB_AREAS_MAX];
    snprintf(buf, sizeof buf, "%s", who->areas);
    for (char *save = NULL, *a = strtok_r(buf, ",", &save); a; a = strtok_r(NULL, ",", &save))
        if (strcmp(a, "*") == 0 || (area && strncmp(area, a, strlen(a)) == 0))
            return true;
    return false;
}

/* ---------------------------------------------------------------------- */
/* Login rate limit                                                        */
/* ---------------------------------------------------------------------- */

/* The slot for key (found, or the emptiest/oldest one taken over); the lock is held. */
static limit_t *limit_slot(web_people_t *p, const char *key, int64_t now)
{
    uint32_t h = 2166136261u;
    for (const char *c = key; *c; c++)
        h = (h ^ (uint8_t)*c) * 16777619u;
    limit_t *victim = NULL;
    for (int probe = 0; probe < 8; probe++) {
        limit_t *l = &p->lim[(h + (uint32_t)probe) % LIMITER_SLOTS];
        if (strcmp(l->key, key) == 0)
            return l;
        if (!victim || l->fails == 0 || l->window_start < victim->window_start)
            victim = l;
    }
    memset(victim, 0, sizeof *victim);
    snprintf(victim->key, sizeof victim->key, "%s", key);
    victim->window_start = now;
    return victim;
}

/* Seconds until key may try again, 0 when it may now; the lock is held. */
static int limit_wait(web_people_t *p, const char *key, int64_t now)
{
    limit_t *l = limit_slot(p, key, now);
    if (now - l->window_start >= WEB_LOGIN_WINDOW_S) {
        l->fails = 0;
        l->window_start = now;
    }
    if (l->fails < WEB_LOGIN_FAILS)
        return 0;
    return (int)(l->window_start + WEB_LOGIN_WINDOW_S - now);
}

static void limit_fail(web_people_t *p, const char *key, int64_t now)
{
    limit_t *l = limit_slot(p, key, now);
    l->fails++;
}

int web_people_login(web_people_t *p, const char *name, const char *password, const char *addr,
                     web_person_t *out, int *retry_s)
{
    char ukey[LB_USER_NAME_MAX + 8], akey[LB_USER_NAME_MAX + 8];
    lb_user_t copy;
    bool found = false;
    snprintf(ukey, sizeof ukey, "u:%.63s", name);
    snprintf(akey, sizeof akey, "a:%.63s", addr);
    int64_t now = now_s();
    pthread_mutex_lock(&p->mu);
    int wu = limit_wait(p, ukey, now), wa = limit_wait(p, akey, now);
    const lb_user_t *u = lb_users_find(&p->users, name);
    if (u) {
        copy = *u; /* areas are not read by the password check */
        copy.areas = NULL;
        copy.n_areas = 0;
        found = true;
    }
    pthread_mutex_unlock(&p->mu);
    if (wu || wa) {
        *retry_s = wu > wa ? wu : wa;
        syslog(LOG_WARNING, "login refused for %s from %s: too many failures", name, addr);
        return LB_ERATELIMIT;
    }
    /* argon2id runs outside the lock: it is slow on purpose. */
    bool ok = found && lb_user_check_password(&copy, password);
    sodium_memzero(&copy, sizeof copy);
    pthread_mutex_lock(&p->mu);
    int rc = ok ? get_locked(p, name, out) : LB_EFORBIDDEN;
    if (rc) {
        limit_fail(p, ukey, now);
        limit_fail(p, akey, now);
        p->n_failures++;
        rc = LB_EFORBIDDEN;
    }
    pthread_mutex_unlock(&p->mu);
    if (rc) {
        syslog(LOG_WARNING, "login failed for %s from %s", name, addr);
        fprintf(stderr, "logbook-web: login failed for %s from %s\n", name, addr);
    }
    return rc;
}

uint64_t web_login_failures(web_people_t *p)
{
    pthread_mutex_lock(&p->mu);
    uint64_t n = p->n_failures;
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* ---------------------------------------------------------------------- */
/* Sessions                                                                */
/* ---------------------------------------------------------------------- */

static void random_hex(char out[WEB_TOKEN_HEX + 1])
{
    uint8_t raw[WEB_TOKEN_HEX / 2];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, WEB_TOKEN_HEX + 1, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
}

/* The session with this token, or NULL; the lock is held. Constant time per slot. */
static session_t *find_locked(web_people_t *p, const char *token)
{
    if (!token || strlen(token) != WEB_TOKEN_HEX)
        return NULL;
    for (size_t i = 0; i < WEB_SESSIONS_MAX; i++)
        if (p->sess[i].token[0] && sodium_memcmp(p->sess[i].token, token, WEB_TOKEN_HEX) == 0)
            return &p->sess[i];
    return NULL;
}

int web_session_new(web_people_t *p, web_person_t *who)
{
    int64_t now = now_s();
    pthread_mutex_lock(&p->mu);
    session_t *slot = NULL;
    for (size_t i = 0; i < WEB_SESSIONS_MAX && !slot; i++)
        if (!p->sess[i].token[0] || now - p->sess[i].last_used > WEB_SESSION_IDLE_S)
            slot = &p->sess[i];
    if (slot) {
        if (!slot->token[0])
            p->n_sess++;
        random_hex(slot->token);
        random_hex(slot->csrf);
        snprintf(slot->name, sizeof slot->name, "%s", who->name);
        slot->last_used = now;
        memcpy(who->token, slot->token, sizeof who->token);
        memcpy(who->csrf, slot->csrf, sizeof who->csrf);
    }
    pthread_mutex_unlock(&p->mu);
    return slot ? 0 : LB_ETOOLARGE;
}

static void end_locked(web_people_t *p, session_t *s)
{
    sodium_memzero(s, sizeof *s);
    if (p->n_sess)
        p->n_sess--;
}

int web_session_get(web_people_t *p, const char *token, web_person_t *out)
{
    int64_t now = now_s();
    int rc = LB_ENOTFOUND;
    pthread_mutex_lock(&p->mu);
    session_t *s = find_locked(p, token);
    if (s) {
        /* Idle too long, or the user was disabled or removed: the session ends. */
        if (now - s->last_used > WEB_SESSION_IDLE_S || get_locked(p, s->name, out) != 0) {
            end_locked(p, s);
        } else {
            s->last_used = now;
            memcpy(out->token, s->token, sizeof out->token);
            memcpy(out->csrf, s->csrf, sizeof out->csrf);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void web_session_end(web_people_t *p, const char *token)
{
    pthread_mutex_lock(&p->mu);
    session_t *s = find_locked(p, token);
    if (s)
        end_locked(p, s);
    pthread_mutex_unlock(&p->mu);
}

size_t web_session_count(web_people_t *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->n_sess;
    pthread_mutex_unlock(&p->mu);
    return n;
}
