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
# the olympiad judge's languages: C, C++, Java, Free Pascal (Python 3 is above); Python's headers
# and gcc build the grading sandbox's native module
PACKAGES="python3 python3-venv python3-dev bubblewrap gcc g++ default-jdk-headless fp-compiler"
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
    # an editable install copies no data files: the lessons' JupyterLab extension, its server
    # extension's switch (the lesson view) and the kernels' configuration are linked
    mkdir -p "$PREFIX/venv/share/jupyter/labextensions"
    ln -sfn "$REPO/lessons/labextension" "$PREFIX/venv/share/jupyter/labextensions/sabaq-lessons"
    mkdir -p "$PREFIX/venv/etc/jupyter/jupyter_server_config.d"
    ln -sfn "$REPO/lessons/jupyter_server_config.d/sabaq-lessons.json" \
        "$PREFIX/venv/etc/jupyter/jupyter_server_config.d/sabaq-lessons.json"
    mkdir -p "$PREFIX/venv/etc/ipython"
    ln -sfn "$REPO/hub/jupyterhub/ipython_kernel_config.json" "$PREFIX/venv/etc/ipython/ipython_kernel_config.json"
else
    "$PREFIX/venv/bin/pip" install -q --disable-pip-version-check "$REPO$EXTRAS"
fi
# sabaq's JupyterLab extension (hub/exchange/labextension): built with JupyterLab's own tooling
# in $PREFIX/build/sabaq-lab, where its npm packages stay between runs; installed prebuilt, with
# its server extension (sabaq.hub.exchange.status) switched on for every server
LAB_SRC="$REPO/hub/exchange/labextension"
LAB_BUILD="$PREFIX/build/sabaq-lab"
mkdir -p "$LAB_BUILD"
cmp -s "$LAB_SRC/package.json" "$LAB_BUILD/package.json" || rm -rf "$LAB_BUILD/node_modules"
rm -rf "$LAB_BUILD/src" "$LAB_BUILD/style" "$LAB_BUILD/built"
cp -R "$LAB_SRC/package.json" "$LAB_SRC/src" "$LAB_SRC/style" "$LAB_BUILD/"
[ -d "$LAB_BUILD/node_modules" ] || npm install --silent --no-audit --no-fund --prefix "$LAB_BUILD"
LAB_CORE="$("$PREFIX/venv/bin/python" -c 'import jupyterlab, os; print(os.path.join(os.path.dirname(jupyterlab.__file__), "staging"))')"
PATH="$PREFIX/venv/bin:$PATH" "$PREFIX/venv/bin/jupyter" labextension build --core-path "$LAB_CORE" "$LAB_BUILD" >/dev/null
rm -rf "$PREFIX/venv/share/jupyter/labextensions/sabaq-lab"
cp -R "$LAB_BUILD/built" "$PREFIX/venv/share/jupyter/labextensions/sabaq-lab"
mkdir -p "$PREFIX/venv/etc/jupyter/jupyter_server_config.d"
cp "$LAB_SRC/jupyter-server-config.json" "$PREFIX/venv/etc/jupyter/jupyter_server_config.d/sabaq-lab.json"
# JupyterLab in Kazakh: the language pack built here from languagepack-kk/po (never editable:
# its JSON catalogues are made as it is built); the Russian one comes from PyPI with sabaq
"$PREFIX/venv/bin/pip" install -q --disable-pip-version-check "$REPO/languagepack-kk"
[ -x "$PREFIX/node_modules/.bin/configurable-http-proxy" ] || \
    npm install --silent --no-audit --no-fund --prefix "$PREFIX" configurable-http-proxy@5
# the browser tests' accessibility check (tests/axe.py)
[ "$WITH_TESTS" = 0 ] || [ -f "$PREFIX/node_modules/axe-core/axe.min.js" ] || \
    npm install --silent --no-audit --no-fund --prefix "$PREFIX" axe-core@4
chmod -R a+rX "$PREFIX"
echo "sabaq installed in $PREFIX; run: $PREFIX/venv/bin/sabaq up"
