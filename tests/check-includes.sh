#!/bin/sh
# check-includes.sh - the include graph of STYLE.md, checked (`make check-includes`):
#   only store/ includes <lmdb.h>; only proto/ includes <msgpack.h>;
#   workflow/ does no I/O beyond its loaders: no <zmq.h>, <lmdb.h>, <msgpack.h>,
#     <sodium.h>, and <yaml.h> only in its YAML loader (a file named *yaml* or *load*);
#   store/ and workflow/ never include each other, nor <zmq.h>;
#   clients/ includes nothing under daemon/, store/ or workflow/.
# Prints each violation as FILE:LINE: message and exits 1 when there is one.
# Usage: sh tests/check-includes.sh [FOLDER...]   (default: the product folders)
set -eu
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- proto workflow store daemon clients
dirs=""
for d in "$@"; do [ -d "$d" ] && dirs="$dirs $d"; done
# shellcheck disable=SC2086
files=$(find $dirs -type f \( -name '*.c' -o -name '*.h' \) | sort)
[ -n "$files" ] || { echo "check-includes: no sources under $*" >&2; exit 2; }
# shellcheck disable=SC2086
awk '
function module(path,    parts) {
    split(path, parts, "/")
    return parts[1]
}
# dir/inc with "." and ".." folded; "" when it climbs out of the tree.
function resolve(dir, inc,    parts, out, n, i, k, path) {
    path = (dir == "" ? "" : dir "/") inc
    n = split(path, parts, "/")
    k = 0
    for (i = 1; i <= n; i++) {
        if (parts[i] == "" || parts[i] == ".")
            continue
        if (parts[i] == "..") {
            if (k == 0)
                return ""
            k--
            continue
        }
        out[++k] = parts[i]
    }
    path = ""
    for (i = 1; i <= k; i++)
        path = path (i > 1 ? "/" : "") out[i]
    return path
}
function bad(msg) {
    printf "%s:%d: %s\n", FILENAME, FNR, msg
    violations++
}
/^[ \t]*#[ \t]*include[ \t]*[<"]/ {
    line = $0
    sub(/^[ \t]*#[ \t]*include[ \t]*/, "", line)
    quoted = substr(line, 1, 1) == "\""
    inc = substr(line, 2)
    sub(/[>"].*$/, "", inc)
    src = module(FILENAME)
    base = FILENAME
    sub(/^.*\//, "", base)
    if (!quoted) {
        if (inc == "lmdb.h" && src != "store")
            bad("<lmdb.h> outside store/ (only the store talks to LMDB)")
        if ((inc == "msgpack.h" || inc ~ /^msgpack\//) && src != "proto")
            bad("<" inc "> outside proto/ (only proto/ encodes msgpack)")
        if (inc == "zmq.h" && (src == "store" || src == "workflow"))
            bad("<zmq.h> in " src "/ (store/ and workflow/ never talk ZeroMQ)")
        if (inc == "sodium.h" && src == "workflow")
            bad("<sodium.h> in workflow/ (the engine is pure)")
        if (inc == "yaml.h" && src == "workflow" && base !~ /yaml|load/)
            bad("<yaml.h> in workflow/ outside its YAML loader")
        next
    }
    dir = FILENAME
    if (dir ~ /\//)
        sub(/\/[^\/]*$/, "", dir)
    else
        dir = ""
    target = resolve(dir, inc)
    if (target == "")
        next
    dst = module(target)
    if (src == "clients" && (dst == "daemon" || dst == "store" || dst == "workflow"))
        bad("\"" inc "\": clients/ includes " dst "/ (clients speak the protocol only)")
    if ((src == "store" && dst == "workflow") || (src == "workflow" && dst == "store"))
        bad("\"" inc "\": " src "/ includes " dst "/ (they never include each other)")
}
END {
    if (violations) {
        printf "check-includes: %d violation(s) of the include graph (STYLE.md)\n", violations
        exit 1
    }
}
' $files
echo "check-includes: ok ($(echo "$files" | wc -l) files)"
