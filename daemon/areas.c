/*
 * areas.c - the daemon's use of the gazetteer (PROTOCOL.md 9.16): loading
 * the config's `areas` file, refusing area codes that name no place, and
 * adding an area's names to replies. Without a gazetteer (areas: "") every
 * area of the right shape is accepted and replies carry codes only.
 */
#include <stdio.h>
#include <string.h>

#include "ops.h"

int lbd_areas_load(const lbd_config_t *cfg, wf_areas_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!cfg->areas || cfg->areas[0] == '\0')
        return 0;
    return wf_areas_load(cfg->areas, out, err, errlen);
}

int lbd_areas_put(const wf_areas_t *areas, lb_val_t *m, const char *code)
{
    char th[WF_AREA_LABEL_MAX], en[WF_AREA_LABEL_MAX];
    if (!areas || !code || !code[0] ||
        wf_areas_label(areas, code, th, sizeof th, en, sizeof en) != 0) {
        /* m may be reused for another area (report rows): no stale name stays */
        lb_map_del(m, "area_name");
        lb_map_del(m, "area_name_en");
        return 0;
    }
    int rc = 0;
    lb_put_str(m, "area_name", th, &rc);
    lb_put_str(m, "area_name_en", en, &rc);
    return rc ? LB_ENOMEM : 0;
}

int lbd_areas_check(lbd_ctx_t *ctx, const char *area, const char *field)
{
    if (!ctx->d->areas)
        return 0;
    char msg[sizeof ctx->errmsg];
    int rc = wf_areas_check(ctx->d->areas, area, msg, sizeof msg);
    if (rc == 0)
        return 0;
    if (rc != LB_EBADREQ)
        return rc;
    return lbd_fail(ctx, LB_EBADREQ, field, "%s", msg);
}
