/*
 * yamlval.c - a YAML file as an lb_val_t tree, for the daemon's own config
 * files (logbookd.yaml, the clients registry). Scalars stay strings: each
 * reader types them against its own schema.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "daemon.h"

#define YAML_MAX_DEPTH 32

static int convert(const char *path, yaml_document_t *doc, yaml_node_t *node, int depth,
                   lb_val_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (depth > YAML_MAX_DEPTH) {
        snprintf(err, errlen, "%s:%zu:%zu: nested too deeply", path, node->start_mark.line + 1,
                 node->start_mark.column + 1);
        return LB_ECONFIG;
    }
    switch (node->type) {
    case YAML_SCALAR_NODE:
        *out = lb_strn((const char *)node->data.scalar.value, node->data.scalar.length);
        return *out ? 0 : LB_ENOMEM;
    case YAML_SEQUENCE_NODE: {
        lb_val_t *a = lb_arr();
        if (!a)
            return LB_ENOMEM;
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             it < node->data.sequence.items.top; it++) {
            lb_val_t *v;
            int rc = convert(path, doc, yaml_document_get_node(doc, *it), depth + 1, &v, err,
                             errlen);
            if (rc == 0)
                rc = lb_arr_push(a, v);
            if (rc) {
                lb_val_free(&a);
                return rc;
            }
        }
        *out = a;
        return 0;
    }
    case YAML_MAPPING_NODE: {
        lb_val_t *m = lb_map();
        if (!m)
            return LB_ENOMEM;
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
             p < node->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            if (k->type != YAML_SCALAR_NODE) {
                snprintf(err, errlen, "%s:%zu:%zu: keys must be plain strings", path,
                         k->start_mark.line + 1, k->start_mark.column + 1);
                lb_val_free(&m);
                return LB_ECONFIG;
            }
            const char *key = (const char *)k->data.scalar.value;
            if (lb_map_get(m, key)) {
                snprintf(err, errlen, "%s:%zu:%zu: duplicate key '%s'", path,
                         k->start_mark.line + 1, k->start_mark.column + 1, key);
                lb_val_free(&m);
                return LB_ECONFIG;
            }
            lb_val_t *v;
            int rc = convert(path, doc, yaml_document_get_node(doc, p->value), depth + 1, &v,
                             err, errlen);
            if (rc == 0)
                rc = lb_map_set(m, key, v);
            if (rc) {
                lb_val_free(&m);
                return rc;
            }
        }
        *out = m;
        return 0;
    }
    default:
        *out = lb_nil();
        return *out ? 0 : LB_ENOMEM;
    }
}

int lbd_yaml_load(const char *path, lb_val_t **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return LB_ECONFIG;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = LB_ECONFIG;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return LB_ENOMEM;
    }
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%zu:%zu: %s", path, parser.problem_mark.line + 1,
                 parser.problem_mark.column + 1,
                 parser.problem ? parser.problem : "invalid YAML");
        goto out;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        snprintf(err, errlen, "%s:1:1: the file is empty", path);
    } else {
        rc = convert(path, &doc, root, 0, out, err, errlen);
    }
    yaml_document_delete(&doc);
out:
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}
