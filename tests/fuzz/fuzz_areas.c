/*
 * fuzz_areas.c - libFuzzer target for the gazetteer loader (workflow/wf_areas.c):
 * the input is an areas file's text, NULs included. When it loads, every area
 * must be found again by its code, every code and its villages must pass
 * wf_areas_check, and labels must fit WF_AREA_LABEL_MAX; when it is refused,
 * the message must say why in valid UTF-8. Codes cut from the input exercise
 * the lookups' refusals. Also built with gcc into replay_areas for `make test`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/lb.h"
#include "../../workflow/workflow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const char *err, size_t errlen)
{
    if (memchr(err, '\0', errlen) == NULL || !lb_utf8_valid(err, strlen(err)))
        abort();
}

/* One code that the gazetteer holds: found, checked, labelled, and so are its villages. */
static void check_area(const wf_areas_t *a, const char *code, const char *th, const char *en)
{
    const char *t = NULL, *e = NULL;
    char err[512], lth[WF_AREA_LABEL_MAX], len_[WF_AREA_LABEL_MAX];
    size_t n = strlen(code);
    if ((n != 2 && n != 4 && n != 6) || wf_areas_name(a, code, &t, &e) != 0 || t != th || e != en ||
        !*th || !*en || strlen(th) >= WF_AREA_NAME_MAX || strlen(en) >= WF_AREA_NAME_MAX ||
        !lb_utf8_valid(th, strlen(th)))
        abort();
    if (wf_areas_check(a, code, err, sizeof(err)) != 0 || err[0] != '\0')
        abort();
    if (n != 6)
        return;
    char village[9];
    memcpy(village, code, 6);
    memcpy(village + 6, "99", 3);
    if (wf_areas_name(a, village, &t, &e) != 99 || t != th || e != en ||
        wf_areas_check(a, village, err, sizeof(err)) != 0 ||
        wf_areas_label(a, village, lth, sizeof(lth), len_, sizeof(len_)) != 0 ||
        strlen(lth) != strlen(th) + strlen(" หมู่ 99") || strlen(len_) != strlen(en) + 7)
        abort();
    memcpy(village + 6, "00", 3);
    if (wf_areas_name(a, village, &t, &e) != LB_EBADREQ ||
        wf_areas_check(a, village, err, sizeof(err)) != LB_EBADREQ)
        abort();
    check_message(err, sizeof(err));
}

static void check_loaded(const wf_areas_t *a)
{
    size_t n = wf_areas_count(a, 0);
    if (n == 0 || n > WF_AREAS_MAX ||
        n != wf_areas_count(a, 2) + wf_areas_count(a, 4) + wf_areas_count(a, 6))
        abort();
    const char *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *code, *th, *en;
        if (wf_areas_at(a, i, &code, &th, &en) != 0 || (prev && strcmp(prev, code) >= 0))
            abort();
        check_area(a, code, th, en);
        prev = code;
    }
    if (wf_areas_at(a, n, NULL, NULL, NULL) != LB_ENOTFOUND)
        abort();
}

/* Codes cut from the input: whatever they are, a lookup answers and a refusal says why. */
static void probe(const wf_areas_t *a, const uint8_t *data, size_t size)
{
    for (size_t len = 0; len <= 9 && len <= size; len++) {
        char code[10], err[512], th[WF_AREA_LABEL_MAX], en[WF_AREA_LABEL_MAX];
        memcpy(code, data, len);
        code[len] = '\0';
        int rc = wf_areas_name(a, code, NULL, NULL);
        if (rc != LB_EBADREQ && rc != LB_ENOTFOUND && (rc < 0 || rc > 99))
            abort();
        rc = wf_areas_check(a, code, err, sizeof(err));
        if (rc != 0 && rc != LB_EBADREQ)
            abort();
        if (rc != 0 && err[0] == '\0')
            abort();
        check_message(err, sizeof(err));
        rc = wf_areas_label(a, code, th, sizeof(th), en, sizeof(en));
        if (rc == 0 && (!lb_utf8_valid(th, strlen(th)) || !*th || !*en))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    wf_areas_t *a = NULL;
    int rc = wf_areas_load_text("fuzz.tsv", (const char *)data, size, &a, err, sizeof(err));
    if (rc == 0) {
        if (!a)
            abort();
        check_loaded(a);
        probe(a, data, size);
    } else if (a || rc != LB_ECONFIG || err[0] == '\0') {
        abort(); /* a refusal always says why */
    } else {
        check_message(err, sizeof(err));
    }
    wf_areas_destroy(&a);
    return 0;
}
