/*
 * main.c - logbookd's command line: logbookd --config FILE [--clock manual]
 * [--foreground]. Exit 0 on a clean shutdown, 2 on a bad configuration.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: logbookd --config FILE [--clock manual] [--foreground]\n"
               "  --config FILE    the daemon configuration (see logbookd(8))\n"
               "  --clock manual   time moves only by admin.clock (tests, simulations)\n"
               "  --foreground     stay attached to the terminal (systemd, tests, make run);\n"
               "                   without it logbookd detaches once it serves\n");
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
    /* Without --foreground the process detaches once it serves; the parent exits with
     * the child's start-up status, so a bad configuration still exits 2 for the caller.
     * The fork comes before libzmq starts any thread. */
    int ready[2] = {-1, -1};
    if (!opts.foreground) {
        if (pipe(ready) != 0) {
            perror("logbookd: pipe");
            return 1;
        }
        pid_t pid = fork();
        if (pid < 0) {
            perror("logbookd: fork");
            return 1;
        }
        if (pid > 0) {
            close(ready[1]);
            unsigned char status = 1;
            if (read(ready[0], &status, 1) != 1)
                status = 1;
            if (status == 0)
                printf("logbookd: serving, pid %ld\n", (long)pid);
            return status;
        }
        close(ready[0]);
        setsid();
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            dup2(fd, 0);
            dup2(fd, 1);
            close(fd);
        }
    }
    char err[1024] = "";
    lbd_t *d = NULL;
    int rc = lbd_new(&opts, &d, err, sizeof err);
    unsigned char status = rc == 0 ? 0 : rc == LB_ECONFIG || rc == LB_EVERSION ? 2 : 1;
    if (rc)
        fprintf(stderr, "logbookd: %s\n", err[0] ? err : lb_strerror(rc));
    if (ready[1] >= 0) {
        if (write(ready[1], &status, 1) != 1)
            status = 1;
        close(ready[1]);
    }
    if (rc)
        return status;
    rc = lbd_run(d);
    lbd_destroy(&d);
    return rc ? 1 : 0;
}
