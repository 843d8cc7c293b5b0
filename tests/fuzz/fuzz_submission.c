/*
 * fuzz_submission.c - libFuzzer target for what an ODK client posts to
 * /submission: the input's first line is the Content-Type header, the rest
 * the body. The multipart reader must find the xml_submission_file part or
 * refuse; the part must lie inside the body; the XML reader must refuse or
 * give a form id, an instance id and a map of fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../clients/web/web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    if (!nl)
        return 0;
    size_t ctlen = (size_t)(nl - data);
    char *ct = malloc(ctlen + 1);
    if (!ct)
        return 0;
    memcpy(ct, data, ctlen);
    ct[ctlen] = '\0';
    const uint8_t *body = nl + 1, *part = NULL;
    size_t len = size - ctlen - 1, plen = 0;
    char err[256];
    int rc =
        web_multipart_find(ct, body, len, "xml_submission_file", &part, &plen, err, sizeof err);
    if (rc == 0 && (part < body || part + plen > body + len))
        abort();
    /* The XML reader also gets the raw body, so it is fuzzed without a valid multipart. */
    const uint8_t *xml = rc == 0 ? part : body;
    size_t xlen = rc == 0 ? plen : len;
    web_submission_t sub;
    if (web_submission_parse(xml, xlen, &sub, err, sizeof err) == 0) {
        if (!sub.form_id[0] || !sub.instance_id[0] || !sub.fields || sub.fields->type != LB_MAP)
            abort();
        web_submission_free(&sub);
        if (sub.fields)
            abort();
    }
    free(ct);
    return 0;
}
