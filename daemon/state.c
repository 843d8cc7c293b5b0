/*
 * state.c - what the request loop (server.c) and the operation handlers both
 * use of the daemon's state: its clocks, and loading and reloading the
 * definitions. Kept apart so the handlers never call into the loop: the
 * dependencies run server.c -> optable.c/ops_*.c -> case_io.c -> state.c;
 * lbd_reload's case migrations are in reload.c (state.c -> reload.c ->
 * case_io.c), which the handlers do not call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

int64_t lbd_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t lbd_real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void lbd_sign_head(lbd_t *d, uint64_t seq, const uint8_t chain[32], uint8_t sig[64])
{
    pthread_mutex_lock(&d->audit_mu);
    lbd_audit_sign(d->audit, seq, chain, sig);
    pthread_mutex_unlock(&d->audit_mu);
}

int64_t lbd_now(const lbd_t *d)
{
    return d->manual_clock ? d->manual_now : lbd_real_ms();
}

int lbd_load_definitions(const lbd_config_t *cfg, wf_set_t **wfs, wf_catalog_t **cat, char *err,
                         size_t errlen)
{
    int rc = wf_catalog_load(cfg->indicators, cat, err, errlen);
    if (rc)
        return rc;
    if (cfg->n_workflows == 1)
        rc = wf_set_load(cfg->workflows[0], wfs, err, errlen);
    else
        rc = wf_set_load_files((const char *const *)cfg->workflows, cfg->n_workflows, wfs, err,
                               errlen);
    if (rc == 0 && !wf_set_get(*wfs, cfg->default_workflow, 0)) {
        snprintf(err, errlen, "default_workflow '%s' is not among the loaded workflows",
                 cfg->default_workflow);
        rc = LB_ECONFIG;
    }
    if (rc) {
        wf_catalog_destroy(cat);
        wf_set_destroy(wfs);
    }
    return rc;
}

void lbd_retired_free(lbd_t *d)
{
    for (size_t i = 0; i < d->n_retired; i++)
        lbd_registry_clear(&d->retired[i]);
    free(d->retired);
    d->retired = NULL;
    d->n_retired = 0;
}

int lbd_reload(lbd_t *d, char *err, size_t errlen)
{
    wf_set_t *wfs = NULL;
    wf_catalog_t *cat = NULL;
    wf_calendar_t *cal = NULL;
    wf_areas_t *areas = NULL;
    lbd_registry_t reg = {0};
    lbd_ids_t move = {0}; /* cases to migrate after the swap */
    int rc = lbd_load_definitions(&d->cfg, &wfs, &cat, err, errlen);
    if (rc == 0)
        rc = lbd_calendar_load(&d->cfg, lbd_now(d), &cal, err, errlen);
    if (rc == 0)
        rc = lbd_areas_load(&d->cfg, &areas, err, errlen);
    if (rc == 0)
        rc = lbd_reload_check(d, wfs, &move, err, errlen);
    if (rc == 0)
        rc = lbd_registry_load_cfg(&d->cfg, d->keys.admin_public, &reg, err, errlen);
    /* the users file goes in force at the loop's next turn, after the batch in flight */
    if (rc == 0)
        rc = lbd_users_stage(&d->users, d->cfg.users, err, errlen);
    if (rc == 0) {
        /* room to retire the old registry: requests of this batch still point into it */
        lbd_registry_t *r = realloc(d->retired, (d->n_retired + 1) * sizeof *r);
        if (r)
            d->retired = r;
        else
            rc = LB_ENOMEM;
        if (rc)
            lb_set_err(err, errlen, "out of memory");
    }
    if (rc) {
        lbd_ids_free(&move);
        wf_set_destroy(&wfs);
        wf_catalog_destroy(&cat);
        wf_calendar_destroy(&cal);
        wf_areas_destroy(&areas);
        lbd_registry_clear(&reg);
        lbd_log(LBD_LOG_ERROR, "reload refused, keeping the old definitions: %s", err);
        return rc;
    }
    /* Live subscribers were admitted under the old registry: the loop re-binds them. */
    if (d->cfg.curve && lbd_events_scopes_changed(&d->reg, &reg))
        d->ev_rebind = true;
    wf_set_destroy(&d->wfs);
    wf_catalog_destroy(&d->cat);
    wf_calendar_destroy(&d->cal);
    d->retired[d->n_retired++] = d->reg;
    d->wfs = wfs;
    d->cat = cat;
    d->cal = cal; /* timers already set keep their due times (PROTOCOL.md 9.20) */
    d->reg = reg;
    /* replies copy the names they carry, so none borrows from the old gazetteer */
    wf_areas_destroy(&d->areas);
    d->areas = areas;
    lbd_log(LBD_LOG_INFO, "reloaded: %zu workflows, %zu indicators, %zu areas, %zu clients",
            wf_set_count(wfs), wf_catalog_count(cat), wf_areas_count(areas, 0), reg.n);
    size_t moved = 0;
    rc = lbd_reload_migrate(d, &move, &moved, err, errlen);
    if (move.n)
        lbd_log(rc ? LBD_LOG_ERROR : LBD_LOG_INFO, "%zu cases migrated%s%s", moved, rc ? ": " : "",
                rc ? err : "");
    lbd_ids_free(&move);
    return rc;
}
