/*
 * main.c - logbook-report: the committee report as a program of its own,
 * for cron jobs and web folders (`logbook-report --area 65 --format html
 * -o FILE --watch 60`). The command is cli.c, which `logbook report` runs too.
 */
#include "cli.h"

int main(int argc, char **argv)
{
    lbc_report_cli_t cli;
    lbc_report_cli_init(&cli);
    return lbc_report_main("logbook-report", &cli, argc, argv);
}
