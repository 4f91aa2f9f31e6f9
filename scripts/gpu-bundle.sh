#!/usr/bin/env bash
# Packs everything a GPU machine with no JDK, no Maven and no network needs to run Tiller's GPU check:
#   a jlink'd Java 25 runtime, the jars (Tiller's and their dependencies), the test classes, the JUnit console
#   launcher, the ../shared files the GPU tests read, and scripts/gpu-check.sh.
# Output: .gpu/tiller-gpu-bundle.tar.xz (at most 63 MiB: the device tool carries 64 MiB in all). On the GPU machine:
#   tar xJf tiller-gpu-bundle.tar.xz -C /tmp && /tmp/tiller-gpu-bundle/gpu-check.sh
# Usage: scripts/gpu-bundle.sh [--no-build]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${TILLER_SHARED:-$root/../shared}"
out="$root/.gpu"
stage="$out/tiller-gpu-bundle"
cd "$root"

java_major() { "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1; }
jdk=""
for d in "${JAVA_HOME:-}" /usr/lib/jvm/* /opt/java/* "$HOME"/.sdkman/candidates/java/*; do
  [ -n "$d" ] && [ -x "$d/bin/jlink" ] || continue
  v="$(java_major "$d/bin/java" || true)"
  if [ -n "$v" ] && [ "${v%%.*}" -ge 25 ] 2>/dev/null; then jdk="$d"; break; fi
done
[ -n "$jdk" ] || { echo "gpu-bundle: no JDK >= 25 with jlink found (set JAVA_HOME)" >&2; exit 1; }

if [ "${1:-}" != "--no-build" ]; then
  mvn -B -q -DskipTests install -pl cli -am
fi
rm -rf "$stage" && mkdir -p "$stage/lib" "$stage/tests" "$stage/junit" "$stage/shared"

# the application's runtime class path (cli sits on top of every library module), then Tiller's own jars
# (less what the check never loads: XChart's PDF export, JMH's statistics library)
mvn -B -q -pl cli dependency:copy-dependencies -DincludeScope=runtime -DexcludeGroupIds=dev.tiller \
  -DexcludeArtifactIds=pdfbox,fontbox,pdfbox-io,commons-math3 -DoutputDirectory="$stage/lib"
for m in testsupport loader kernels models engine steering bench cli; do
  jar="$(ls "$m"/target/tiller-"$m"-*.jar 2>/dev/null | grep -v -E -- '-(tests|javadoc|sources|job)\.jar$' | head -1)"
  [ -n "$jar" ] || { echo "gpu-bundle: $m has no jar; build first" >&2; exit 1; }
  cp "$jar" "$stage/lib/tiller-$m.jar"
  [ -d "$m/target/test-classes" ] && (cd "$m/target/test-classes" && "$jdk/bin/jar" --create --file "$stage/tests/tiller-$m-tests.jar" .)
done
# test-only dependencies the GPU tests use (JUnit itself comes with the console launcher)
mvn -B -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.11.4 -DoutputDirectory="$stage/junit"
mv "$stage"/junit/junit-platform-console-standalone-*.jar "$stage/junit/console.jar"

# a Java runtime with the modules Tiller and its libraries use (Jinjava needs java.desktop for java.beans)
"$jdk/bin/jlink" --add-modules java.base,java.desktop,java.logging,java.management,java.sql,java.xml,java.naming,jdk.incubator.vector,jdk.unsupported,jdk.management,jdk.zipfs \
  --strip-debug --no-header-files --no-man-pages --compress=zip-0 --output "$stage/jre"

# the shared files the GPU tests and the comparisons read
# (the Qwen2.5 tokenizer for the 0.5B-shaped models is taken from tiny-random-qwen2.gguf, which holds it)
for f in models/stories260K.gguf models/tiny-random-qwen2.gguf models/arith-mini.gguf reference/stories260K data/arith/dev.jsonl data/arith/train.jsonl tokenizers/smollm2; do
  mkdir -p "$stage/shared/$(dirname "$f")"
  cp -r "$shared/$f" "$stage/shared/$f"
done
cp scripts/gpu-check.sh "$stage/gpu-check.sh"
chmod +x "$stage/gpu-check.sh"
git rev-parse --short HEAD > "$stage/COMMIT" 2>/dev/null || true

(cd "$out" && tar cf - tiller-gpu-bundle | xz -T0 -9 > tiller-gpu-bundle.tar.xz)
size=$(stat -c %s "$out/tiller-gpu-bundle.tar.xz")
echo "wrote $out/tiller-gpu-bundle.tar.xz ($((size >> 20)) MiB; runtime $(du -sh "$stage/jre" | cut -f1), jars $(du -sh "$stage/lib" | cut -f1), tests $(du -sh "$stage/tests" | cut -f1), shared $(du -sh "$stage/shared" | cut -f1) unpacked)"
[ "$size" -le $((63 << 20)) ] || { echo "gpu-bundle: the bundle is over 63 MiB (the device tool carries at most 64 MiB)" >&2; exit 1; }
