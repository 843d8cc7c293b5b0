/*
 * replay.c - runs a libFuzzer target's LLVMFuzzerTestOneInput over every file
 * of the folders (or the single files) given as arguments, so `make test`
 * replays the committed corpora with the ordinary gcc build and no libFuzzer:
 * a crash once fixed stays fixed. Each input is read into a buffer of exactly
 * its size, so a sanitizer build catches any read past its end.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads the whole file into a new buffer of exactly its size; 0 or -1 with a message. */
static int read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    uint8_t *p = NULL;
    int rc = -1;

    *out = NULL;
    *len = 0;
    if (!f || fstat(fileno(f), &st) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        goto cleanup;
    }
    /* malloc(0) may return NULL; one byte keeps the empty input distinct from a failure. */
    p = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    if (!p) {
        fprintf(stderr, "%s: out of memory\n", path);
        goto cleanup;
    }
    if (st.st_size > 0 && fread(p, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        fprintf(stderr, "%s: short read\n", path);
        goto cleanup;
    }
    *out = p;
    *len = (size_t)st.st_size;
    p = NULL;
    rc = 0;

cleanup:
    free(p);
    if (f)
        fclose(f);
    return rc;
}

static int run_file(const char *path)
{
    uint8_t *data;
    size_t len;
    if (read_file(path, &data, &len) != 0)
        return -1;
    LLVMFuzzerTestOneInput(data, len);
    free(data);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays every regular file of dir in name order (so failures reproduce in the same order). */
static int run_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL, *path = NULL;
    size_t n = 0, cap = 0;
    int rc = -1;

    *count = 0;
    if (!d) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nn = realloc(names, ncap * sizeof(*nn));
            if (!nn)
                goto cleanup;
            names = nn;
            cap = ncap;
        }
        if (!(names[n] = strdup(de->d_name)))
            goto cleanup;
        n++;
    }
    if (n) /* names is NULL when the folder is empty */
        qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        size_t plen = strlen(dir) + strlen(names[i]) + 2;
        free(path);
        if (!(path = malloc(plen)))
            goto cleanup;
        snprintf(path, plen, "%s/%s", dir, names[i]);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (run_file(path) != 0)
            goto cleanup;
        (*count)++;
    }
    rc = 0;

cleanup:
    if (rc)
        fprintf(stderr, "%s: replay failed\n", dir);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(path);
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    int status = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        size_t count = 0;
        if (stat(argv[i], &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(argv[i]) != 0) {
                status = 1;
                continue;
            }
            printf("replayed 1 input from %s\n", argv[i]);
        } else if (run_dir(argv[i], &count) != 0) {
            status = 1;
        } else if (count == 0) {
            /* An empty corpus would make the test pass without testing anything. */
            fprintf(stderr, "%s: no inputs\n", argv[i]);
            status = 1;
        } else {
            printf("replayed %zu inputs from %s\n", count, argv[i]);
        }
    }
    return status;
}
