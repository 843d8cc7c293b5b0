/*
 * fuzz_json.c - libFuzzer target for JSON request bodies (web_json_parse):
 * refuse or give a map; a map written back as JSON (lb_val_to_json) and
 * parsed again is the same value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../clients/web/web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lb_val_t *v = NULL, *again = NULL;
    char err[256];
    if (web_json_parse((const char *)data, size, &v, err, sizeof err) != 0) {
        if (v)
            abort();
        return 0;
    }
    if (!v || v->type != LB_MAP)
        abort();
    lb_buf_t b;
    lb_buf_init(&b);
    if (lb_val_to_json(v, 0, &b) == 0 &&
        web_json_parse((const char *)b.p, b.len, &again, err, sizeof err) == 0) {
        /* floats may print with less precision than they parsed with; compare the rest */
        if (!lb_val_equal(v, again) && !memchr(data, '.', size) && !memchr(data, 'e', size) &&
            !memchr(data, 'E', size))
            abort();
    }
    lb_val_free(&again);
    lb_buf_free(&b);
    lb_val_free(&v);
    return 0;
}
