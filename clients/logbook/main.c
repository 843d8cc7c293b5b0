/*
 * main.c - logbook, the command-line client for field teams, committees and admins: the
 * command table (one subcommand per operation of PROTOCOL.md), help texts and dispatch.
 */
#include <stdio.h>
#include <string.h>

#include "logbook.h"

int show_help(const char *name)
{
    const command_t *c = find_command(name);
    if (c)
        printf("usage: logbook [GLOBAL OPTIONS] %s\n\n%s\n", c->usage, c->summary);
    return EX_OK;
}

/* ---------------------------------------------------------------------- */

static const command_t commands[] = {
    {"ping", cmd_ping, "ping", "Checks that the daemon answers; prints its version and last seq."},
    {"open", cmd_open,
     "open HOUSE_ID AREA [--workflow W] [--head NAME] [--member NID[:NAME]]... "
     "[--deprived CODE,...] [--source tpmap|socialmap|field] [--team T]",
     "Opens a case for a household (11-digit house id, 8-digit village code)."},
    {"act", cmd_act, "act CASE ACTION [KEY=VALUE...] [--at TIME] [--expect STATE]",
     "Runs a workflow action. KEY=VALUE pairs form its data: dotted keys nest\n"
     "(findings.income=bmn22,bmn20), a comma makes a list (x, = one-item list),\n"
     "whole numbers stay numbers, \"...\" keeps text as is. TIME is unix ms or\n"
     "ISO-8601 (2024-03-01, 2024-03-01T14:30, ...Z or +07:00; local time otherwise)."},
    {"schedule", cmd_schedule, "schedule CASE TEAM [--at TIME]",
     "Schedules a visit by TEAM (the workflow's action that requires a team)."},
    {"visit", cmd_visit,
     "visit CASE DIMENSION=CODE[,CODE...]... [--team T] [--note TEXT] [--at TIME]",
     "Records a visit and its findings, e.g. visit C000000001 income=bmn22 health=bmn4,bmn7."},
    {"assist", cmd_assist,
     "assist CASE --agency A --dimension D --kind K [--amount THB] [--meets CODE,...] "
     "[--note TEXT] [--at TIME]",
     "Records assistance; kind is cash, goods, occupation, training, loan, housing,\n"
     "health_service, education_support, welfare_registration, referral or other."},
    {"followup", cmd_followup, "followup CASE LEVEL [--met CODE,...] [--note TEXT] [--at TIME]",
     "Records a follow-up at LEVEL survive, sufficient or sustainable."},
    {"close", cmd_close, "close CASE REASON [--note TEXT] [--at TIME]",
     "Closes the case without resolution (moved, deceased, refused, duplicate, not_poor)."},
    {"resolve", cmd_resolve, "resolve CASE LEVEL [--note TEXT] [--at TIME]",
     "Resolves the case at LEVEL sufficient or sustainable."},
    {"ack", cmd_ack, "ack CASE [--note TEXT]",
     "Acknowledges the case's latest escalation (committee)."},
    {"show", cmd_show, "show CASE", "Shows a case with its records, escalations and timers."},
    {"history", cmd_history, "history CASE [--after SEQ]", "Lists a case's events."},
    {"find", cmd_find, "find --house HOUSE_ID | --nid NATIONAL_ID", "Finds cases of a household."},
    {"list", cmd_list,
     "list [--area A] [--state S] [--team T] [--workflow W] [--overdue] [--unacked] "
     "[--limit N]",
     "Lists case summaries (default limit 100), following the daemon's cursor.\n"
     "--unacked: cases whose latest escalation no committee has acknowledged (ACKED no)."},
    {"import", cmd_import, "import FILE.csv [--workflow W] [--source S] [--batch N]",
     "Opens cases from a CSV file with the header house_id,area,head,nid,deprived\n"
     "(deprived codes separated by ';'). UTF-8, with or without BOM, CRLF or LF.\n"
     "Prints opened/skipped counts and every refused row with its line; exits 1\n"
     "when any row was refused. Running it again skips the households already open."},
    {"watch", cmd_watch, "watch [TOPIC_PREFIX...] [--after SEQ] [-E EVENTS_ENDPOINT]",
     "Prints events as they happen, one per line (topic = KIND.AREA, e.g.\n"
     "escalation.6501), with gaps repaired. --after replays from a seq on."},
    {"keygen", cmd_keygen, "keygen NAME [--dir D] [--force]",
     "Writes a CURVE certificate pair D/NAME.key and D/NAME.key_secret (0600)."},
    {"verify", cmd_verify, "verify [--witness FILE [--audit-key FILE]]",
     "Recomputes the audit chain and compares every case with its events (admin.verify);\n"
     "with --witness, also checks that the store still holds the signed head kept in FILE\n"
     "(by logbook witness or logbook-notify). Exits 1 when anything is broken."},
    {"witness", cmd_witness, "witness --state FILE [--once] [--audit-key FILE]",
     "Follows the daemon's signed heartbeats and keeps the newest head in FILE (keep it\n"
     "off the daemon's disk); --once records the current head and exits. The audit key is\n"
     "audit.pub beside the server certificate (-s). Exits 1 on a head that goes back."},
    {"admin", cmd_admin,
     "admin stats | admin backup PATH | admin reload | admin clock ADVANCE |\n"
     "    admin remap OLD=NEW...",
     "Daemon statistics, a hot backup to PATH (on the daemon's machine), a reload\n"
     "of workflows and the clients registry, or moving the clock of a daemon run\n"
     "with --clock manual forward by ADVANCE (8d, 12h, 30m, 45s or plain seconds;\n"
     "escalations due by then fire at once); prints the daemon's new time. remap\n"
     "moves every case under area code OLD to NEW (same length), a slice at a time\n"
     "until done; run it again to resume one that was interrupted."},
    {"workflows", cmd_workflows, "workflows", "Lists the loaded workflows."},
    {"transfer", cmd_transfer, "transfer CASE AREA --reason TEXT",
     "Moves a case to village AREA when its household moved (committee of the case's\n"
     "area, or admin): same case id and history, team cleared, escalation clock\n"
     "started again. When AREA is outside your areas you no longer see the case."},
    {"reassign", cmd_reassign, "reassign [--area A] [--team T] [--state S] --to TEAM [--expect N]",
     "Gives every open case the filter matches within your areas to TEAM (at most\n"
     "10,000, one transaction). With --expect, nothing changes unless exactly N match."},
    {"user", cmd_user,
     "user add NAME --role ROLE --areas A,B | user passwd NAME | user disable NAME |\n"
     "    user enable NAME | user list   [--users FILE] [--password-stdin]",
     "People who log in to logbook-web, in the users file that logbookd and the gateway\n"
     "watch (a change applies within 2 seconds). ROLE is field, committee, reporter or\n"
     "admin; AREAS are 2-8 digit prefixes or *. The password is asked twice on the\n"
     "terminal, or read as one line with --password-stdin, and stored as an argon2id\n"
     "hash. FILE: --users, $LOGBOOK_USERS, config/users.tsv beside config/logbookd.yaml,\n"
     "else PREFIX/etc/logbook/users.tsv. Needs no daemon."},
    {"member", cmd_member,
     "member CASE join|leave|head|deceased NID [--name N] [--birth-year Y] [--sex m|f] "
     "[--new-head NID] [--action A] [--at TIME]",
     "Records a household change (the workflow's update_members action, or A). The head\n"
     "leaving or dying while others remain needs --new-head. Warns when the national id\n"
     "is also a member of another open case."},
    {"duplicates", cmd_duplicates, "duplicates [--area A]",
     "Lists pairs of open cases that share a member's national id (committee)."},
    {"merge", cmd_merge, "merge KEEP DROP",
     "Merges case DROP into KEEP: its records and members move, DROP is closed as a\n"
     "duplicate (committee)."},
    {"report", cmd_report,
     "report [--area A] [--by LEVEL] [--format text|csv|html|json] [-o FILE] [--watch SECONDS]",
     "The committee's report: per child area the households targeted, visited, assisted,\n"
     "resolved, open needs per dimension, overdue, unacknowledged escalations and levels\n"
     "reached, as text, CSV or one HTML page (logbook report --help for the details)."},
    {"ledger", cmd_ledger, "ledger [--area A] [--by agency|dimension]",
     "The agency ledger: pledged against delivered, in count and baht, with the pledges\n"
     "still open, per agency (default) or per dimension."},
    {"agenda", cmd_agenda, "agenda --level LEVEL [--area A] [--limit N]",
     "What needs the committee at LEVEL (team, subdistrict, district, province): its\n"
     "unacknowledged escalations, cases waiting for a committee action, overdue pledges."},
};

const command_t *find_command(const char *name)
{
    for (size_t i = 0; name && i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

const char *nearest_command(const char *name)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        size_t d = edit_distance(name, commands[i].name);
        if (d < best_d) {
            best_d = d;
            best = commands[i].name;
        }
    }
    /* Two edits for a word of up to six letters, three beyond: typos, not other words. */
    size_t n = strlen(name);
    return best && best_d <= (n <= 6 ? 2u : 3u) && best_d < n ? best : NULL;
}

static void main_usage(FILE *f)
{
    fprintf(f,
            "usage: logbook [GLOBAL OPTIONS] COMMAND [ARGS]\n\n"
            "global options (also accepted after the command):\n"
            "  -e, --endpoint EP         requests endpoint ($LOGBOOK_ENDPOINT, %s)\n"
            "  -E, --events-endpoint EP  events endpoint ($LOGBOOK_EVENTS_ENDPOINT, %s)\n"
            "  -k, --cert FILE           client secret certificate ($LOGBOOK_CERT, %s)\n"
            "  -s, --server-cert FILE    server public certificate ($LOGBOOK_SERVER_CERT, %s)\n"
            "      --no-curve            plain connection, for a daemon run with curve: false\n"
            "      --json                print results as JSON\n"
            "      --timeout MS          wait per try (default %d); --retries N (default %d)\n"
            "  -h, --help                this text; COMMAND --help for a command\n\n"
            "commands:\n",
            LBC_DEFAULT_ENDPOINT, LBC_DEFAULT_EVENTS_ENDPOINT, LBC_DEFAULT_CERT,
            LBC_DEFAULT_SERVER_CERT, LBC_DEFAULT_TIMEOUT_MS, LBC_DEFAULT_RETRIES);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %s\n", commands[i].usage);
    fprintf(f,
            "\nexit status: 0 ok, 1 refused by the daemon, 2 usage error, 3 daemon unreachable\n");
}

int main(int argc, char **argv)
{
    lbc_paths_t p = lbc_default_paths();
    app_t app = {
        .endpoint = p.endpoint,
        .events_endpoint = p.events_endpoint,
        .cert = p.client_cert,
        .server_cert = p.server_cert,
        .timeout_ms = 0,
        .retries = -1,
        .installed_keys = p.installed_keys,
    };
    int i = 1;
    /* Global options before the command. */
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            main_usage(stdout);
            return EX_OK;
        }
        int g = global_opt(&app, argc, argv, &i);
        if (g <= 0) {
            fprintf(stderr, "logbook: %s %s\n", argv[i],
                    g < 0 ? "needs a value" : "is not a global option");
            main_usage(stderr);
            return EX_USAGE;
        }
        i++;
    }
    if (i >= argc) {
        main_usage(stderr);
        return EX_USAGE;
    }
    if (strcmp(argv[i], "help") == 0) {
        if (i + 1 < argc && find_command(argv[i + 1]))
            return show_help(argv[i + 1]);
        main_usage(stdout);
        return EX_OK;
    }
    const command_t *cmd = find_command(argv[i]);
    if (!cmd) {
        const char *near = nearest_command(argv[i]);
        fprintf(stderr, "logbook: unknown command '%s'", argv[i]);
        if (near)
            fprintf(stderr, "; did you mean `%s`?\n(logbook --help lists the commands)\n", near);
        else
            fprintf(stderr, "\n");
        if (!near)
            main_usage(stderr);
        return EX_USAGE;
    }
    int rc = cmd->fn(&app, argc - i, argv + i);
    lbc_destroy(&app.c);
    return rc;
}
