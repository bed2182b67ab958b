"""axe-core in a Playwright page: the accessibility check the browser tests share (issue 16).

axe-core comes from npm into the prefix's node_modules (scripts/install.sh), next to
configurable-http-proxy; nothing of it is committed.

    from axe import axe_violations, describe
    bad = axe_violations(page)                    # serious and critical ones
    assert not bad, describe(bad)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

IMPACTS = ("serious", "critical")


def axe_script() -> Path:
    """axe.min.js from the prefix's node_modules (SABAQ_AXE overrides the path)."""
    if os.environ.get("SABAQ_AXE"):
        return Path(os.environ["SABAQ_AXE"])
    for root in (Path(sys.prefix).parent, Path(sys.prefix), Path(os.environ.get("SABAQ_PREFIX", "/opt/sabaq"))):
        candidate = root / "node_modules" / "axe-core" / "axe.min.js"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("axe-core is not installed: run sh scripts/install.sh --test "
                            "(npm install --prefix /opt/sabaq axe-core@4)")


def axe_violations(page, impacts=IMPACTS, exclude=(), include=None, rules=None) -> list[dict]:
    """The violations axe-core finds in the page as it is now, of the given impacts.

    exclude: CSS selectors left out (e.g. a third party's widgets, documented by the caller);
    include: check only inside this selector (or these); rules: {rule id: {"enabled": False}} to turn
    a rule off. Each violation is axe's own dict (id, impact, help, nodes with their targets).
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_script().read_text())
    context = {"exclude": [[s] for s in exclude]}
    if include:
        context["include"] = [[s] for s in ([include] if isinstance(include, str) else include)]
    options = {"resultTypes": ["violations"]}
    if rules:
        options["rules"] = rules
    result = page.evaluate("([context, options]) => window.axe.run(context, options)", [context, options])
    return [v for v in result["violations"] if v.get("impact") in impacts]


def describe(violations) -> str:
    """One line per violation and offending element, for an assertion's message."""
    lines = []
    for v in violations:
        for node in v["nodes"]:
            why = " ".join(line.strip() for line in node.get("failureSummary", "").splitlines()[1:])
            lines.append(f"{v['impact']} {v['id']}: {v['help']} at {node['target']}: {why[:300]}")
    return "\n".join(lines)
