/*
 * output.c - how logbook prints results for people: aligned tables, label
 * lines, and lb_val_t values, times and findings as table text; JSON as is.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logbook.h"

/* ---------------------------------------------------------------------- */
/* Text output                                                             */
/* ---------------------------------------------------------------------- */

void print_json(const lb_val_t *v)
{
    lb_val_fprint_json(v, 2, stdout);
    fputc('\n', stdout);
}

const char *map_str_or(const lb_val_t *m, const char *key, const char *dflt)
{
    const char *s = lb_map_str(m, key);
    return s ? s : dflt;
}

/* A value as table text, newly allocated: scalars plainly, lists joined, maps as JSON. */
char *val_text(const lb_val_t *v)
{
    char *s = NULL;
    if (!v)
        return strdup("");
    switch (v->type) {
    case LB_NIL:
        return strdup("");
    case LB_BOOL:
        return strdup(v->b ? "yes" : "no");
    case LB_INT:
        if (asprintf(&s, "%" PRId64, v->i) < 0)
            s = NULL;
        return s;
    case LB_FLOAT:
        if (asprintf(&s, "%g", v->f) < 0)
            s = NULL;
        return s;
    case LB_STR:
        return strdup(v->s.p);
    default:
        break;
    }
    bool scalars = v->type == LB_ARR;
    for (uint32_t i = 0; scalars && i < v->a.n; i++)
        scalars = v->a.items[i]->type != LB_ARR && v->a.items[i]->type != LB_MAP;
    lb_buf_t b;
    lb_buf_init(&b);
    if (scalars) {
        for (uint32_t i = 0; i < v->a.n; i++) {
            char *t = val_text(v->a.items[i]);
            if (i)
                lb_buf_append(&b, ", ", 2);
            if (t)
                lb_buf_append(&b, t, strlen(t));
            free(t);
        }
    } else {
        lb_val_to_json(v, 0, &b);
    }
    if (lb_buf_append(&b, "", 1) != 0) {
        lb_buf_free(&b);
        return NULL;
    }
    return (char *)b.p;
}

/* A time in ms under key, as local time text ("" when absent). */
char *time_text(const lb_val_t *m, const char *key)
{
    int64_t ms;
    char buf[32];
    if (lb_map_int(m, key, &ms) != 0)
        return strdup("");
    lbc_format_time(ms, buf, sizeof buf);
    return strdup(buf);
}

/* {dimension: [indicator...]} as "income: bmn22, bmn20; health: bmn4". */
char *findings_text(const lb_val_t *f)
{
    if (!f || f->type != LB_MAP)
        return val_text(f);
    lb_buf_t b;
    lb_buf_init(&b);
    for (uint32_t i = 0; i < f->m.n; i++) {
        char *t = val_text(f->m.vals[i]);
        if (i)
            lb_buf_append(&b, "; ", 2);
        lb_buf_append(&b, f->m.keys[i], strlen(f->m.keys[i]));
        lb_buf_append(&b, ": ", 2);
        if (t)
            lb_buf_append(&b, t, strlen(t));
        free(t);
    }
    if (lb_buf_append(&b, "", 1) != 0) {
        lb_buf_free(&b);
        return NULL;
    }
    return (char *)b.p;
}

void table_init(table_t *t, size_t ncols, const char *const *hdr)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    char **row = calloc(ncols, sizeof *row);
    for (size_t i = 0; row && i < ncols; i++)
        row[i] = strdup(hdr[i]);
    if (row) {
        t->cells = row;
        t->nrows = 1;
        t->cap = 1;
    }
}

/* Appends a row of ncols strings, taking them over (NULL cells print empty). */
void table_add_owned(table_t *t, char **vals)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        char **cells = realloc(t->cells, cap * t->ncols * sizeof *cells);
        if (!cells) {
            for (size_t i = 0; i < t->ncols; i++)
                free(vals[i]);
            return;
        }
        t->cells = cells;
        t->cap = cap;
    }
    memcpy(t->cells + t->nrows * t->ncols, vals, t->ncols * sizeof *vals);
    t->nrows++;
}

void table_print(const table_t *t, FILE *f)
{
    size_t *w = calloc(t->ncols, sizeof *w);
    if (!w)
        return;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            size_t dw = s ? lbc_display_width(s) : 0;
            if (dw > w[c])
                w[c] = dw;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        /* Trailing empty cells would only leave trailing blanks. */
        size_t last = t->ncols;
        while (last > 1 &&
               !(t->cells[r * t->ncols + last - 1] && *t->cells[r * t->ncols + last - 1]))
            last--;
        for (size_t c = 0; c < last; c++) {
            const char *s = t->cells[r * t->ncols + c];
            if (!s)
                s = "";
            fputs(s, f);
            if (c + 1 < last)
                for (size_t k = lbc_display_width(s); k < w[c] + 2; k++)
                    fputc(' ', f);
        }
        fputc('\n', f);
    }
    free(w);
}

void table_free(table_t *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

/* Prints "label  value" lines with labels padded to one width. */
char *area_text(const lb_val_t *m)
{
    const char *code = lb_map_str(m, "area"), *th = lb_map_str(m, "area_name"),
               *en = lb_map_str(m, "area_name_en");
    char *s = NULL;
    if (!code)
        return strdup("");
    if (!th && !en)
        return strdup(code);
    if (asprintf(&s, "%s %s%s%s%s", code, th ? th : "", th && en ? " (" : "", en ? en : "",
                 th && en ? ")" : "") < 0)
        s = NULL;
    return s;
}

void kv_line(const char *label, const char *value)
{
    if (!value || !*value)
        return;
    printf("%-12s %s\n", label, value);
}
