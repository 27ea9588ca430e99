# Sourced by ./fourfold, ./run-tests and .ci/run: points JAVA_HOME at a JDK 25 or newer.
# JAVA_HOME wins when it is 25+; otherwise the newest JDK 25+ in the system's JVM directory.

java_major() { # prints the feature version of the java binary in $1 (0 if it does not run)
  "$1" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2; f=1} END {if (!f) print 0}' | cut -d. -f1
}

find_jdk25() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/javac" ] && [ "$(java_major "$JAVA_HOME/bin/java")" -ge 25 ]; then
    return 0
  fi
  local best="" best_v=0 d v
  for d in /usr/lib/jvm/* /opt/java/* /opt/jdk*; do
    [ -x "$d/bin/javac" ] || continue
    v=$(java_major "$d/bin/java")
    if [ "$v" -ge 25 ] && [ "$v" -gt "$best_v" ]; then best="$d"; best_v="$v"; fi
  done
  if [ -z "$best" ]; then
    echo "fourfold: no JDK 25 or newer found (JAVA_HOME=${JAVA_HOME:-unset}; searched /usr/lib/jvm, /opt)." >&2
    echo "fourfold: install a JDK 25 (e.g. Temurin 25) and set JAVA_HOME to it." >&2
    return 1
  fi
  export JAVA_HOME="$best"
}

# Maven itself runs on this JDK; its bundled Guava would warn about sun.misc.Unsafe on every build.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
