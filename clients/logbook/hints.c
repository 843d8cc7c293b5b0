/*
 * hints.c - help for the person at the keyboard: the nearest command to a mistyped one,
 * positional arguments named from the usage text and checked by kind (case ids, house ids,
 * village codes), Buddhist-era years, endpoints without a scheme.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logbook.h"

/* ---------------------------------------------------------------------- */
/* Nearest command                                                         */
/* ---------------------------------------------------------------------- */

size_t edit_distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 64 || nb > 64)
        return (size_t)-1; /* nobody mistypes a command that long */
    /* Optimal string alignment: a swap of two neighbours ("lsit") is one edit. */
    size_t d[65][65];
    for (size_t i = 0; i <= na; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= nb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= na; i++) {
        for (size_t j = 1; j <= nb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            size_t best = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[na][nb];
}

/* ---------------------------------------------------------------------- */
/* Positional arguments named by the usage text                            */
/* ---------------------------------------------------------------------- */

/*
 * The k-th positional word of usage ("act CASE ACTION [KEY=VALUE...]": 0 is
 * CASE) into out, without its "[...]" tail; false when usage names fewer.
 * Positionals end at the first option, optional part or alternative.
 */
bool usage_positional(const char *usage, int k, char *out, size_t outlen)
{
    const char *p = strchr(usage, ' '); /* skip the command's own name */
    for (int i = 0; p; i++) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n == 0 || *p == '[' || *p == '-' || *p == '|')
            return false;
        if (i == k) {
            size_t cut = strcspn(p, " [.");
            snprintf(out, outlen, "%.*s", (int)(cut < n ? cut : n), p);
            return true;
        }
        p += n;
    }
    return false;
}

/* True when s is exactly n ASCII digits. */
static bool all_digits(const char *s, size_t n)
{
    size_t i = 0;
    while (s[i] >= '0' && s[i] <= '9')
        i++;
    return i == n && s[i] == '\0';
}

/* The number of characters in s, for "got 10 digits" (UTF-8 counted by code point). */
static size_t char_count(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

int check_digits(const char *cmd, const char *what, const char *s, size_t n, const char *example)
{
    if (all_digits(s, n))
        return 0;
    usage_error(cmd, "%s must be %zu digits (like %s); '%s' has %zu %s", what, n, example, s,
                char_count(s), strspn(s, "0123456789") == strlen(s) ? "digits" : "characters");
    return EX_USAGE;
}

int check_case_id(const char *cmd, char *s)
{
    if (s[0] == 'c')
        s[0] = 'C'; /* case ids are accepted in lower case */
    if (lb_case_id_parse(s, NULL) == 0)
        return 0;
    usage_error(cmd, "a case id is C and 9 or more digits (like C000000001); '%s' is not one", s);
    return EX_USAGE;
}

int check_nid(const char *cmd, const char *s)
{
    if (lb_valid_nid(s))
        return 0;
    if (!all_digits(s, 13))
        usage_error(cmd, "a national id must be 13 digits; '%s' has %zu %s", s, char_count(s),
                    strspn(s, "0123456789") == strlen(s) ? "digits" : "characters");
    else
        usage_error(cmd, "national id %s: its last digit is not the check digit of the first 12",
                    s);
    return EX_USAGE;
}

/* Checks (and for a case id normalises) the k-th positional by its usage name. */
static int check_positional(const char *cmd, const char *name, char *s)
{
    if (strcmp(name, "CASE") == 0)
        return check_case_id(cmd, s);
    if (strcmp(name, "HOUSE_ID") == 0)
        return check_digits(cmd, "a house id", s, 11, "65010000001");
    if (strcmp(name, "AREA") == 0)
        return check_digits(cmd, "a village code (AREA)", s, 8, "65010101");
    return 0;
}

int check_positionals(const char *cmd, const char *usage, args_t *a)
{
    char name[64];
    for (int k = 0; k < a->npos && usage_positional(usage, k, name, sizeof name); k++) {
        int rc = check_positional(cmd, name, (char *)a->pos[k]);
        if (rc)
            return rc;
    }
    return 0;
}

/* Option values that hold a person's or a team's name, where a space splits the shell word. */
static bool names_a_name(const char *opt_spec)
{
    static const char *const names[] = {"head=", "member=*", "note=", "agency=", "team="};
    for (size_t i = 0; opt_spec && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(opt_spec, names[i]) == 0)
            return true;
    return false;
}

int count_error(const char *cmd, const char *usage, const args_t *a, int min_pos, int max_pos)
{
    char name[64];
    if (a->npos < min_pos) {
        if (usage_positional(usage, a->npos, name, sizeof name))
            usage_error(cmd, "missing %s", name);
        else
            usage_error(cmd, "missing an argument");
    } else {
        const char *extra = a->pos[max_pos];
        const char *after = a->pos_after[max_pos];
        bool prev_name = max_pos > 0 && usage_positional(usage, max_pos - 1, name, sizeof name) &&
                         (strcmp(name, "TEAM") == 0 || strcmp(name, "NAME") == 0);
        if (names_a_name(after) || prev_name) {
            char what[64];
            if (names_a_name(after))
                snprintf(what, sizeof what, "--%.*s", (int)strcspn(after, "="), after);
            else
                snprintf(what, sizeof what, "%s", name);
            usage_error(cmd,
                        "unexpected argument '%s' after %s '%s': quote names that contain "
                        "spaces (\"%s %s\")",
                        extra, what, a->pos_prev[max_pos], a->pos_prev[max_pos], extra);
        } else
            usage_error(cmd, "unexpected extra argument '%s'", extra);
    }
    fprintf(stderr, "usage: logbook %s\n", usage);
    return EX_USAGE;
}

/* ---------------------------------------------------------------------- */
/* Times and endpoints                                                     */
/* ---------------------------------------------------------------------- */

int parse_time_arg(const char *cmd, const char *what, const char *s, int64_t *ms)
{
    /* An ISO date starts with its year: 2569-03-01 is a Thai calendar's date. */
    if (strlen(s) >= 5 && all_digits_prefix(s, 4) && s[4] == '-') {
        int year = atoi(s);
        if (year > 2400) {
            char here[48] = "";
            if (year != 2569)
                snprintf(here, sizeof here, "; %d BE = %d CE", year, year - 543);
            usage_error(cmd,
                        "%s '%s': this looks like a Buddhist-era year; use the Common Era "
                        "(2569 BE = 2026 CE%s)",
                        what, s, here);
            return EX_USAGE;
        }
    }
    if (lbc_parse_time(s, ms) != 0) {
        usage_error(cmd, "%s: '%s' is neither unix ms nor an ISO-8601 date/time", what, s);
        return EX_USAGE;
    }
    return 0;
}

bool all_digits_prefix(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

const char *endpoint_with_scheme(const char *ep, char *buf, size_t buflen)
{
    if (!ep || !*ep || strstr(ep, "://"))
        return ep;
    snprintf(buf, buflen, "tcp://%s", ep);
    return buf;
}
