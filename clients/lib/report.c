/*
 * report.c - the committee report's model (see report.h): fetched with one
 * ping and one report.summary, so a province costs the same as a village (the
 * daemon answers from maintained counters), parsed into rows, and handed to
 * the renderers (report_text.c, report_html.c) by lbc_report_render.
 */
#include <errno.h>
#include <time.h>

#include "conn.h"
#include "report_int.h"

const char *const lbc_report_area_levels[4] = {"province", "district", "subdistrict", "village"};
const char *const lbc_report_trend_names[LBC_REPORT_NTREND] = {"opened",   "visited", "assisted",
                                                               "resolved", "closed",  "escalated"};

/*
 * Province codes (the first two digits of every area code) and names. There
 * is no gazetteer for the smaller areas, which are shown as codes.
 */
static const struct {
    char code[3];
    const char *en, *th;
} provinces[] = {
    {"10", "Bangkok", "กรุงเทพมหานคร"},
    {"11", "Samut Prakan", "สมุทรปราการ"},
    {"12", "Nonthaburi", "นนทบุรี"},
    {"13", "Pathum Thani", "ปทุมธานี"},
    {"14", "Phra Nakhon Si Ayutthaya", "พระนครศรีอยุธยา"},
    {"15", "Ang Thong", "อ่างทอง"},
    {"16", "Lop Buri", "ลพบุรี"},
    {"17", "Sing Buri", "สิงห์บุรี"},
    {"18", "Chai Nat", "ชัยนาท"},
    {"19", "Saraburi", "สระบุรี"},
    {"20", "Chon Buri", "ชลบุรี"},
    {"21", "Rayong", "ระยอง"},
    {"22", "Chanthaburi", "จันทบุรี"},
    {"23", "Trat", "ตราด"},
    {"24", "Chachoengsao", "ฉะเชิงเทรา"},
    {"25", "Prachin Buri", "ปราจีนบุรี"},
    {"26", "Nakhon Nayok", "นครนายก"},
    {"27", "Sa Kaeo", "สระแก้ว"},
    {"30", "Nakhon Ratchasima", "นครราชสีมา"},
    {"31", "Buri Ram", "บุรีรัมย์"},
    {"32", "Surin", "สุรินทร์"},
    {"33", "Si Sa Ket", "ศรีสะเกษ"},
    {"34", "Ubon Ratchathani", "อุบลราชธานี"},
    {"35", "Yasothon", "ยโสธร"},
    {"36", "Chaiyaphum", "ชัยภูมิ"},
    {"37", "Amnat Charoen", "อำนาจเจริญ"},
    {"38", "Bueng Kan", "บึงกาฬ"},
    {"39", "Nong Bua Lam Phu", "หนองบัวลำภู"},
    {"40", "Khon Kaen", "ขอนแก่น"},
    {"41", "Udon Thani", "อุดรธานี"},
    {"42", "Loei", "เลย"},
    {"43", "Nong Khai", "หนองคาย"},
    {"44", "Maha Sarakham", "มหาสารคาม"},
    {"45", "Roi Et", "ร้อยเอ็ด"},
    {"46", "Kalasin", "กาฬสินธุ์"},
    {"47", "Sakon Nakhon", "สกลนคร"},
    {"48", "Nakhon Phanom", "นครพนม"},
    {"49", "Mukdahan", "มุกดาหาร"},
    {"50", "Chiang Mai", "เชียงใหม่"},
    {"51", "Lamphun", "ลำพูน"},
    {"52", "Lampang", "ลำปาง"},
    {"53", "Uttaradit", "อุตรดิตถ์"},
    {"54", "Phrae", "แพร่"},
    {"55", "Nan", "น่าน"},
    {"56", "Phayao", "พะเยา"},
    {"57", "Chiang Rai", "เชียงราย"},
    {"58", "Mae Hong Son", "แม่ฮ่องสอน"},
    {"60", "Nakhon Sawan", "นครสวรรค์"},
    {"61", "Uthai Thani", "อุทัยธานี"},
    {"62", "Kamphaeng Phet", "กำแพงเพชร"},
    {"63", "Tak", "ตาก"},
    {"64", "Sukhothai", "สุโขทัย"},
    {"65", "Phitsanulok", "พิษณุโลก"},
    {"66", "Phichit", "พิจิตร"},
    {"67", "Phetchabun", "เพชรบูรณ์"},
    {"70", "Ratchaburi", "ราชบุรี"},
    {"71", "Kanchanaburi", "กาญจนบุรี"},
    {"72", "Suphan Buri", "สุพรรณบุรี"},
    {"73", "Nakhon Pathom", "นครปฐม"},
    {"74", "Samut Sakhon", "สมุทรสาคร"},
    {"75", "Samut Songkhram", "สมุทรสงคราม"},
    {"76", "Phetchaburi", "เพชรบุรี"},
    {"77", "Prachuap Khiri Khan", "ประจวบคีรีขันธ์"},
    {"80", "Nakhon Si Thammarat", "นครศรีธรรมราช"},
    {"81", "Krabi", "กระบี่"},
    {"82", "Phang Nga", "พังงา"},
    {"83", "Phuket", "ภูเก็ต"},
    {"84", "Surat Thani", "สุราษฎร์ธานี"},
    {"85", "Ranong", "ระนอง"},
    {"86", "Chumphon", "ชุมพร"},
    {"90", "Songkhla", "สงขลา"},
    {"91", "Satun", "สตูล"},
    {"92", "Trang", "ตรัง"},
    {"93", "Phatthalung", "พัทลุง"},
    {"94", "Pattani", "ปัตตานี"},
    {"95", "Yala", "ยะลา"},
    {"96", "Narathiwat", "นราธิวาส"},
};

const char *lbc_report_province_name(const char *code, bool thai)
{
    if (!code || strlen(code) != 2)
        return NULL;
    for (size_t i = 0; i < sizeof provinces / sizeof provinces[0]; i++)
        if (strcmp(provinces[i].code, code) == 0)
            return thai ? provinces[i].th : provinces[i].en;
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Grouping and fetching                                                   */
/* ---------------------------------------------------------------------- */

int lbc_report_area_index(const char *by)
{
    for (int i = 0; by && i < 4; i++)
        if (strcmp(by, lbc_report_area_levels[i]) == 0)
            return i;
    return -1;
}

int lbc_report_resolve_by(const char *area, const char *by, const char **out, char *err,
                          size_t errlen)
{
    size_t alen = area ? strlen(area) : 0;
    if (alen && !lb_valid_area(area, false)) {
        lb_set_err(err, errlen, "area must be a 2, 4, 6 or 8-digit code, not '%s'", area);
        return LB_EBADREQ;
    }
    if (!by) {
        /* The level below the area; a village has nothing below it. */
        *out = lbc_report_area_levels[alen >= 6 ? 3 : alen / 2];
        return 0;
    }
    int lv = lbc_report_area_index(by);
    if (lv < 0) {
        lb_set_err(err, errlen, "by must be province, district, subdistrict or village, not '%s'",
                   by);
        return LB_EBADREQ;
    }
    /* A coarser row would be labelled with a code it only partly covers. A valid area has
     * 2, 4, 6 or 8 digits: its level is alen / 2 - 1, at most 3. */
    size_t alv = alen / 2;
    if (alv > (size_t)lv + 1 && alv <= 4) {
        lb_set_err(err, errlen, "by %s is coarser than area %s (a %s)", by, area,
                   lbc_report_area_levels[alv - 1]);
        return LB_EBADREQ;
    }
    *out = lbc_report_area_levels[lv];
    return 0;
}

static int64_t count_of(const lb_val_t *m, const char *key)
{
    int64_t v = 0;
    if (lb_map_int(m, key, &v) != 0 || v < 0)
        return 0;
    return v;
}

void lbc_report_row_parse(const lb_val_t *m, lbc_report_row_t *row)
{
    const char *key = lb_map_str(m, "key");
    memset(row, 0, sizeof *row);
    snprintf(row->key, sizeof row->key, "%s", key ? key : "");
    row->cases = count_of(m, "cases");
    row->open = count_of(m, "open");
    row->visited = count_of(m, "visited");
    row->assisted = count_of(m, "assisted");
    row->resolved = count_of(m, "resolved");
    row->closed = count_of(m, "closed");
    row->overdue = count_of(m, "overdue");
    row->unacked = count_of(m, "unacked");
    const lb_val_t *needs = lb_map_get(m, "needs_open"), *levels = lb_map_get(m, "levels");
    for (int i = 0; i < LB_NDIM; i++)
        row->needs[i] = count_of(needs, lb_dimensions[i]);
    for (int i = 0; i < LB_NPROGRESS; i++)
        row->levels[i] = count_of(levels, lb_progress_levels[i]);
    const char *name = lb_map_str(m, "area_name"), *en = lb_map_str(m, "area_name_en");
    snprintf(row->name, sizeof row->name, "%s", name ? name : "");
    snprintf(row->name_en, sizeof row->name_en, "%s", en ? en : "");
}

/* The months of the totals' trend into r->months; 0 or LB_EBADREQ. */
static int trend_months(const lb_val_t *result, lbc_report_t *r)
{
    const lb_val_t *t = lb_map_get(lb_map_get(result, "totals"), "trend");
    r->nmonths = 0;
    if (!t)
        return 0;
    if (t->type != LB_ARR || t->a.n > LBC_REPORT_MONTHS_MAX)
        return LB_EBADREQ;
    for (uint32_t i = 0; i < t->a.n; i++) {
        const char *m = lb_map_str(t->a.items[i], "month");
        if (!m || strlen(m) != 7)
            return LB_EBADREQ;
        memcpy(r->months[i], m, 8);
    }
    r->nmonths = t->a.n;
    return 0;
}

/* A row's trend (m: the row as received) into its part of the block; months matched by name. */
static void trend_row(const lbc_report_t *r, const lb_val_t *m, int64_t *dst)
{
    const lb_val_t *t = lb_map_get(m, "trend");
    for (uint32_t i = 0; t && t->type == LB_ARR && i < t->a.n; i++) {
        const char *month = lb_map_str(t->a.items[i], "month");
        for (size_t k = 0; month && k < r->nmonths; k++)
            if (strcmp(month, r->months[k]) == 0)
                for (int j = 0; j < LBC_REPORT_NTREND; j++)
                    dst[k * LBC_REPORT_NTREND + j] =
                        count_of(t->a.items[i], lbc_report_trend_names[j]);
    }
}

static int cmp_rank(const void *a, const void *b)
{
    const lbc_report_row_t *x = a, *y = b;
    if (x->overdue != y->overdue)
        return x->overdue > y->overdue ? -1 : 1;
    if (x->unacked != y->unacked)
        return x->unacked > y->unacked ? -1 : 1;
    return strcmp(x->key, y->key);
}

static int cmp_case_age(const void *a, const void *b)
{
    const lbc_report_case_t *x = a, *y = b;
    if (x->entered_at != y->entered_at)
        return x->entered_at < y->entered_at ? -1 : 1;
    size_t xl = strlen(x->case_id), yl = strlen(y->case_id);
    return xl != yl ? (xl < yl ? -1 : 1) : strcmp(x->case_id, y->case_id);
}

void lbc_report_rank(lbc_report_t *r)
{
    if (r->nrows > 1)
        qsort(r->rows, r->nrows, sizeof *r->rows, cmp_rank);
    if (r->nact > 1)
        qsort(r->act, r->nact, sizeof *r->act, cmp_case_age);
}

int lbc_report_parse(const lb_val_t *result, const char *area, const char *by, lbc_report_t **out)
{
    *out = NULL;
    const lb_val_t *rows = lb_map_get(result, "rows");
    if (!result || result->type != LB_MAP || !rows || rows->type != LB_ARR)
        return LB_EBADREQ;
    lbc_report_t *r = calloc(1, sizeof *r);
    if (!r)
        return LB_ENOMEM;
    r->rows = calloc(rows->a.n ? rows->a.n : 1, sizeof *r->rows);
    r->result = lb_val_dup(result);
    if (!r->rows || !r->result) {
        lbc_report_destroy(&r);
        return LB_ENOMEM;
    }
    snprintf(r->area, sizeof r->area, "%s", area ? area : "");
    snprintf(r->by, sizeof r->by, "%s", by ? by : "");
    if (trend_months(result, r)) {
        lbc_report_destroy(&r);
        return LB_EBADREQ;
    }
    size_t per = r->nmonths * LBC_REPORT_NTREND;
    if (per && !(r->trend_block = calloc((rows->a.n + 1) * per, sizeof *r->trend_block))) {
        lbc_report_destroy(&r);
        return LB_ENOMEM;
    }
    for (uint32_t i = 0; i < rows->a.n; i++)
        if (rows->a.items[i]->type == LB_MAP) {
            lbc_report_row_t *w = &r->rows[r->nrows];
            lbc_report_row_parse(rows->a.items[i], w);
            if (per) {
                trend_row(r, rows->a.items[i], r->trend_block + (r->nrows + 1) * per);
                w->trend = r->trend_block + (r->nrows + 1) * per;
            }
            r->nrows++;
        }
    lbc_report_row_parse(lb_map_get(result, "totals"), &r->totals);
    snprintf(r->totals.key, sizeof r->totals.key, "%s", r->area);
    if (per) {
        trend_row(r, lb_map_get(result, "totals"), r->trend_block);
        r->totals.trend = r->trend_block;
    }
    lbc_report_rank(r);
    *out = r;
    return 0;
}

void lbc_report_destroy(lbc_report_t **r)
{
    if (!r || !*r)
        return;
    free((*r)->rows);
    free((*r)->trend_block);
    free((*r)->act);
    for (size_t i = 0; i < (*r)->nledger; i++)
        free((*r)->ledger[i].key);
    free((*r)->ledger);
    lb_val_free(&(*r)->result);
    free(*r);
    *r = NULL;
}

/*
 * The generation time: $SOURCE_DATE_EPOCH (the reproducible-builds
 * convention), else the daemon's clock (daemon_ms > 0), else this machine's.
 */
static int64_t generated_now_ms(int64_t daemon_ms)
{
    const char *s = getenv("SOURCE_DATE_EPOCH");
    if (s && *s) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (!*end && !errno && v >= 0 && v < INT64_MAX / 1000)
            return (int64_t)v * 1000;
    }
    if (daemon_ms > 0)
        return daemon_ms;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int lbc_report_fetch(lbc_t *c, const char *area, const char *by, lbc_report_t **out, char *err,
                     size_t errlen)
{
    const char *grp;
    lb_val_t *args = NULL, *reply = NULL;
    uint64_t last = 0;
    int64_t now = 0;
    *out = NULL;
    if (area && !*area)
        area = NULL;
    int rc = lbc_report_resolve_by(area, by, &grp, err, errlen);
    if (rc)
        return rc;
    /* ping first: whatever report.summary then counts includes every event up to last_seq. */
    rc = lbc_call_ok(c, "ping", NULL, &reply, err, errlen);
    if (rc)
        return rc;
    int64_t v = -1;
    if (lb_map_int(lbc_reply_result(reply), "last_seq", &v) != 0 || v < 0) {
        lb_set_err(err, errlen, "the daemon's ping result has no last_seq");
        lb_val_free(&reply);
        return LB_EINTERNAL;
    }
    last = (uint64_t)v;
    if (lb_map_int(lbc_reply_result(reply), "now", &now) != 0)
        now = 0; /* a daemon older than ping's now */
    lb_val_free(&reply);
    args = lb_map();
    rc = args ? 0 : LB_ENOMEM;
    if (!rc && area)
        rc = lb_map_set_str(args, "area", area);
    if (!rc)
        rc = lb_map_set_str(args, "by", grp);
    if (!rc)
        rc = lb_map_set_int(args, "months", LBC_REPORT_MONTHS);
    if (!rc)
        rc = lbc_call_ok(c, "report.summary", args, &reply, err, errlen);
    if (!rc) {
        rc = lbc_report_parse(lbc_reply_result(reply), area, grp, out);
        if (rc == LB_EBADREQ) {
            lb_set_err(err, errlen, "the daemon's report.summary result has no rows");
            rc = LB_EINTERNAL;
        }
    }
    if (!rc) {
        (*out)->last_seq = last;
        (*out)->generated_ms = generated_now_ms(now);
        rc = lbc_report_fetch_act(c, *out, err, errlen);
        if (!rc)
            rc = lbc_report_fetch_ledger(c, *out, err, errlen);
        if (!rc)
            rc = lb_map_set_int((*out)->result, "generated_ms", (*out)->generated_ms);
        if (rc)
            lbc_report_destroy(out);
    }
    if (rc == LB_ENOMEM)
        lb_set_err(err, errlen, "out of memory");
    lb_val_free(&args);
    lb_val_free(&reply);
    return rc;
}

int lbc_report_table_parse(const char *s, lbc_report_table_t *t)
{
    static const char *const names[] = {"areas", "trend", "cases"};
    for (int i = 0; s && i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *t = (lbc_report_table_t)i;
            return 0;
        }
    return LB_EBADREQ;
}

int lbc_report_format_parse(const char *s, lbc_report_format_t *f)
{
    static const char *const names[] = {"text", "csv", "html", "json"};
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *f = (lbc_report_format_t)i;
            return 0;
        }
    return LB_EBADREQ;
}

int lbc_report_render_csv(const lbc_report_t *r, lbc_report_table_t t, lb_buf_t *out)
{
    out_t o = {out, 0};
    size_t mark = out ? out->len : 0;
    if (!r || !out)
        return LB_EBADREQ;
    if (t == LBC_REPORT_TABLE_AREAS)
        lbc_report_put_csv(r, &o);
    else if (t == LBC_REPORT_TABLE_TREND)
        lbc_report_put_csv_trend(r, &o);
    else if (t == LBC_REPORT_TABLE_CASES)
        lbc_report_put_csv_cases(r, &o);
    else
        return LB_EBADREQ;
    if (o.rc)
        out->len = mark;
    return o.rc;
}

int lbc_report_render(const lbc_report_t *r, lbc_report_format_t f, int refresh_s, lb_buf_t *out)
{
    out_t o = {out, 0};
    size_t mark = out ? out->len : 0;
    if (!r || !out)
        return LB_EBADREQ;
    switch (f) {
    case LBC_REPORT_TEXT:
        lbc_report_put_text(r, &o);
        break;
    case LBC_REPORT_CSV:
        lbc_report_put_csv(r, &o);
        break;
    case LBC_REPORT_HTML:
        lbc_report_put_html(r, refresh_s, &o);
        break;
    case LBC_REPORT_JSON:
        o.rc = r->result ? lb_val_to_json(r->result, 2, out) : LB_EBADREQ;
        put(&o, "\n");
        break;
    default:
        return LB_EBADREQ;
    }
    /* No half-rendered report on failure. */
    if (o.rc)
        out->len = mark;
    return o.rc;
}
