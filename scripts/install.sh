#!/bin/sh
# Install sabaq and everything it needs on Debian 12 (run as root).
#   sh scripts/install.sh          the platform: Python env, JupyterHub, proxy
#   sh scripts/install.sh --test   also what the tests need: Chromium, PostgreSQL, pytest
# Installs into $SABAQ_PREFIX (default /opt/sabaq): a Python environment that
# every system user can read (students' servers run from it) and the proxy.
set -eu
PREFIX="${SABAQ_PREFIX:-/opt/sabaq}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
WITH_TESTS=0
[ "${1:-}" = "--test" ] && WITH_TESTS=1

export DEBIAN_FRONTEND=noninteractive
# the olympiad judge's languages: C, C++, Java, Free Pascal (Python 3 is above)
PACKAGES="python3 python3-venv bubblewrap gcc g++ default-jdk-headless fp-compiler"
# olympiad statements as PDF (problemtools renders LaTeX with LuaLaTeX, Markdown through pandoc)
PACKAGES="$PACKAGES texlive-luatex texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended texlive-lang-cyrillic texlive-plain-generic fonts-cmu ghostscript pandoc"
[ "$WITH_TESTS" = 1 ] && PACKAGES="$PACKAGES chromium postgresql"
command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs npm"
missing=""
for p in $PACKAGES; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    apt-get update -q
    apt-get install -y -q $missing
fi

mkdir -p "$PREFIX"
chmod 755 "$PREFIX"
# Debian's own Python: readable by the unprivileged users that run students' servers.
[ -x "$PREFIX/venv/bin/python" ] || /usr/bin/python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install -q --disable-pip-version-check --upgrade pip
EXTRAS=""
[ "$WITH_TESTS" = 1 ] && EXTRAS="[test]"
# SABAQ_DEV=1 installs in editable mode (the checkout must be readable by all users).
if [ "${SABAQ_DEV:-0}" = 1 ]; then
    "$PREFIX/venv/bin/pip" install -q --disable-pip-version-check -e "$REPO$EXTRAS"
    # an editable install copies no data files: the lessons' JupyterLab extension is linked
    mkdir -p "$PREFIX/venv/share/jupyter/labextensions"
    ln -sfn "$REPO/lessons/labextension" "$PREFIX/venv/share/jupyter/labextensions/sabaq-lessons"
else
    "$PREFIX/venv/bin/pip" install -q --disable-pip-version-check "$REPO$EXTRAS"
fi
[ -x "$PREFIX/node_modules/.bin/configurable-http-proxy" ] || \
    npm install --silent --no-audit --no-fund --prefix "$PREFIX" configurable-http-proxy@5
# the browser tests' accessibility check (tests/axe.py)
[ "$WITH_TESTS" = 0 ] || [ -f "$PREFIX/node_modules/axe-core/axe.min.js" ] || \
    npm install --silent --no-audit --no-fund --prefix "$PREFIX" axe-core@4
chmod -R a+rX "$PREFIX"
echo "sabaq installed in $PREFIX; run: $PREFIX/venv/bin/sabaq up"
