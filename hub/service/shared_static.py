"""JupyterLab's build files at one shared, versioned address (``sabaq.hub.jupyterhub.sharedstatic``
says which files and why): public, no login, kept by browsers for a year."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from sabaq.errors import NotFound
from sabaq.hub.jupyterhub.sharedstatic import CACHE_CONTROL, ROUTE, find_file, is_current
from sabaq.i18n import N_

router = APIRouter(include_in_schema=False)


@router.api_route(f"/{ROUTE}/{{version}}/{{kind}}/{{path:path}}", methods=["GET", "HEAD"])
def shared_file(version: str, kind: str, path: str):
    found = find_file(kind, path) if is_current(version) else None
    if found is None:
        raise NotFound(N_("This file is not one of JupyterLab's shared files, or sabaq was upgraded "
                          "since the page was opened. Reload the page."), code="no_shared_file")
    # fonts are read across origins when users' servers have their own (subdomains)
    return FileResponse(found, headers={"Cache-Control": CACHE_CONTROL, "Access-Control-Allow-Origin": "*"})
