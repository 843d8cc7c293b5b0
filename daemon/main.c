/*
 * main.c - logbookd's command line: logbookd --config FILE [--clock manual]
 * [--foreground]. Exit 0 on a clean shutdown, 2 on a bad configuration.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: logbookd --config FILE [--clock manual] [--foreground]\n"
               "  --config FILE    the daemon configuration (see logbookd(8))\n"
               "  --clock manual   time moves only by admin.clock (tests, simulations)\n"
               "  --foreground     stay attached to the terminal (the default under systemd)\n");
}

int main(int argc, char **argv)
{
    lbd_opts_t opts = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            opts.config_path = argv[++i];
        } else if (strcmp(argv[i], "--clock") == 0 && i + 1 < argc) {
            if (strcmp(argv[++i], "manual") != 0) {
                fprintf(stderr, "logbookd: --clock takes only 'manual'\n");
                return 2;
            }
            opts.manual_clock = true;
        } else if (strcmp(argv[i], "--foreground") == 0) {
            opts.foreground = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "logbookd: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!opts.config_path) {
        usage(stderr);
        return 2;
    }
    /* The process stays in the foreground either way: systemd (Type=notify) and the
     * tests supervise it; a classic double-fork daemon would only hide its pid. */
    char err[1024] = "";
    lbd_t *d = NULL;
    int rc = lbd_new(&opts, &d, err, sizeof err);
    if (rc) {
        fprintf(stderr, "logbookd: %s\n", err[0] ? err : lb_strerror(rc));
        return rc == LB_ECONFIG || rc == LB_EVERSION ? 2 : 1;
    }
    rc = lbd_run(d);
    lbd_destroy(&d);
    return rc ? 1 : 0;
}
