/*
 * cli.h - the report command, shared by `logbook report` and
 * `logbook-report` so both print the same thing. Not part of the client
 * library: the programs that offer the command link cli.c.
 */
#ifndef LBC_REPORT_CLI_H
#define LBC_REPORT_CLI_H

#include <stdbool.h>

#include "../lib/report.h"

#define LBC_REPORT_WATCH_MAX 86400 /* seconds */
#define LBC_REPORT_PAGES_MAX 2000  /* pages of one -o DIR/ report */

/* Connection settings taken over from the caller (logbook's global options). */
typedef struct {
    const char *endpoint;        /* requests endpoint */
    const char *events_endpoint; /* events endpoint, for --watch */
    const char *client_cert;     /* NAME.key_secret */
    const char *server_cert;     /* NAME.key */
    bool no_curve;               /* plain connection */
    bool json;                   /* JSON output unless --format says otherwise */
    int timeout_ms;              /* <= 0: LBC_DEFAULT_TIMEOUT_MS */
    int retries;                 /* < 0: LBC_DEFAULT_RETRIES */
} lbc_report_cli_t;

/* Fills cli from lbc_default_paths(), no JSON, default timeout and retries. */
void lbc_report_cli_init(lbc_report_cli_t *cli);

/*
 * The report command, shared by `logbook report` and `logbook-report`:
 *   report [--area A] [--by LEVEL] [--format text|csv|html|json] [-o FILE]
 *          [--watch SECONDS] plus the global options -e, -E, -k, -s,
 *          --timeout, --retries, --no-curve, --json, -h/--help,
 * which override cli. argv[0] is the command's name and is not parsed; prog
 * names the program in messages and --help ("logbook report").
 * Unlike the rest of this library it returns a process exit status:
 * 0 done (also after SIGINT/SIGTERM in --watch), 1 refused by the daemon or
 * an output error, 2 usage error, 3 the daemon cannot be reached.
 */
int lbc_report_main(const char *prog, const lbc_report_cli_t *cli, int argc, char **argv);

/*
 * `-o DIR/` (folder.c): writes DIR/index.html for area (NULL: the key's
 * whole scope) grouped by `by`, and DIR/KEY.html for every child area with
 * cases above the villages, each linking to its children's pages and up to
 * its parent's; at most LBC_REPORT_PAGES_MAX pages. Creates DIR when
 * missing. Messages go to standard error. Returns 0 or the first error
 * (LB_EIO for a file, the fetch's code).
 */
int lbc_report_folder(const char *prog, lbc_t *c, const char *dir, const char *area,
                      const char *by);

#endif
