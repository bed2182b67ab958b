"""JupyterLab's and Notebook 7's build files at one shared, versioned address (``sabaq.hub.jupyterhub.sharedstatic``
says which files and why): public, no login, kept by browsers for a year."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from sabaq.errors import NotFound
from sabaq.hub.jupyterhub.sharedstatic import ROUTE, cache_control, find_file
from sabaq.i18n import N_

router = APIRouter(include_in_schema=False)


@router.api_route(f"/{ROUTE}/{{version}}/{{kind}}/{{path:path}}", methods=["GET", "HEAD"])
def shared_file(version: str, kind: str, path: str):
    found = find_file(kind, path)
    if found is None:
        raise NotFound(N_("This file is not one of JupyterLab's shared files. If sabaq was upgraded "
                          "since the page was opened, reload the page."), code="no_shared_file")
    # fonts are read across origins when users' servers have their own (subdomains)
    return FileResponse(found, headers={"Cache-Control": cache_control(version), "Access-Control-Allow-Origin": "*"})
