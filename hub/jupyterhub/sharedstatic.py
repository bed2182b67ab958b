"""JupyterLab's build files at one shared, versioned address, so a classroom PC downloads them
once for every student instead of once per student's own server (``/user/<name>/static/lab/``).

sabaq's service serves them (``sabaq.hub.service.shared_static``) at
``/services/sabaq/static-shared/<version>/lab/...`` (JupyterLab's static folder) and
``.../ext/<extension>/static/...`` (the federated extensions installed in the environment)
and ``.../notebook/...`` (Notebook 7's own build, which its views, the lesson's among them, load);
every user's server is told to load them from there (``server_args``). The version is
JupyterLab's and a digest of the files' names, sizes and times, so an upgrade or a new
extension changes the address and a browser can keep each file for a year.

Only the environment's and the system's folders are served (root's, the same ones users'
servers serve, ``spawner.closed_route_args``), never a user's: these are public build files,
served without a login, and a path that would leave its folder (``..``, a link) is refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path

from sabaq.lessons.lessonview import NotebookFiles

SERVICE_PREFIX = "/services/sabaq"
ROUTE = "static-shared"
CACHE_CONTROL = "public, max-age=31536000, immutable"
LAB = "lab"
EXTENSIONS = "ext"
NOTEBOOK = "notebook"
OLD_VERSION_CACHE = "no-cache"  # what a page of a server started before an upgrade is answered with
# the files on disk are looked at again (an upgrade, a new extension, while sabaq runs) at
# most this often: a spawn or a request must not cost a walk of the folders each time
RECHECK_SECONDS = 30.0
_known: dict[str, object] = {"version": "", "at": float("-inf")}


def lab_static_dir() -> Path:
    """JupyterLab's built application (its webpack chunks, styles, fonts), as LabApp finds it."""
    from jupyterlab.commands import get_app_dir

    return Path(get_app_dir()) / "static"


def notebook_static_dir() -> Path:
    """Notebook 7's built application, the folder its server serves at ``/static/notebook/``
    (``JupyterNotebookApp.static_dir``'s default), found without importing Notebook's server."""
    from importlib.util import find_spec

    return Path(find_spec("notebook").origin).parent / "static"


def labextension_folders() -> list[Path]:
    """The folders of installed federated extensions that users' servers serve: the
    environment's and the system's (root's), not a user's own ~/.local."""
    from jupyter_core.paths import ENV_JUPYTER_PATH, SYSTEM_JUPYTER_PATH

    return [Path(p) / "labextensions" for p in dict.fromkeys([*ENV_JUPYTER_PATH, *SYSTEM_JUPYTER_PATH])]


def installed_extensions() -> dict[str, Path]:
    """Each federated extension's name (``@scope/name`` or ``name``) and its folder; the first
    folder that has it wins, as in JupyterLab."""
    found: dict[str, Path] = {}
    for folder in labextension_folders():
        for package in sorted(folder.glob("*/package.json")) + sorted(folder.glob("@*/*/package.json")):
            name = package.parent.relative_to(folder).as_posix()
            found.setdefault(name, package.parent)
    return found


def _listing(root: Path) -> list[str]:
    """Every file under root (links to folders followed once: a dev install links the whole
    extension), with its size and time: what changes when a file is rebuilt."""
    lines = []
    for folder, _dirs, files in os.walk(root, followlinks=True):
        for name in sorted(files):
            path = Path(folder) / name
            try:
                st = path.stat()
            except OSError:
                continue
            lines.append(f"{path.relative_to(root).as_posix()} {st.st_size} {st.st_mtime_ns}")
    return sorted(lines)


def current_version() -> str:
    """``<JupyterLab's version>-<digest>``: changes with JupyterLab and with any extension's
    files; looked for again at most every RECHECK_SECONDS."""
    now = time.monotonic()
    if now - _known["at"] >= RECHECK_SECONDS:
        _known.update(version=version_on_disk(), at=now)
    return _known["version"]


def version_on_disk() -> str:
    import jupyterlab

    digest = hashlib.sha256()
    for line in _listing(lab_static_dir()):
        digest.update(f"lab/{line}\n".encode())
    for line in _listing(notebook_static_dir()):
        digest.update(f"{NOTEBOOK}/{line}\n".encode())
    for name, folder in sorted(installed_extensions().items()):
        for line in _listing(folder / "static"):
            digest.update(f"ext/{name}/{line}\n".encode())
    return f"{jupyterlab.__version__}-{digest.hexdigest()[:12]}"


def cache_control(version: str) -> str:
    """A year for the files of the current version. A server started before an upgrade still
    names its old version: its pages get today's files (as its own server would serve them),
    which no browser may keep under the old address."""
    return CACHE_CONTROL if version == current_version() else OLD_VERSION_CACHE


def base_path(version: str) -> str:
    return f"{SERVICE_PREFIX}/{ROUTE}/{version}/"


def _inside(root: Path, parts: list[str]) -> Path | None:
    """root/parts if it is a file that stays in root once every link is followed."""
    if not parts or any(p in ("", ".", "..") or "\\" in p or "\0" in p for p in parts):
        return None
    real_root = root.resolve()
    try:
        path = root.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not path.is_relative_to(real_root) or not path.is_file():
        return None
    return path


def find_file(kind: str, path: str) -> Path | None:
    """The file a shared address names (after its version), or None. ``lab/<file>`` is in
    JupyterLab's static folder, ``notebook/<file>`` in Notebook 7's; ``ext/<extension>/static/<file>``
    in that extension's ``static`` folder (the extension's other files are not served)."""
    parts = path.split("/")
    if kind == LAB:
        return _inside(lab_static_dir(), parts)
    if kind == NOTEBOOK:
        return _inside(notebook_static_dir(), parts)
    if kind != EXTENSIONS:
        return None
    extensions = installed_extensions()
    for length in (1, 2):  # name, or @scope/name
        name = "/".join(parts[:length])
        if name in extensions and parts[length:length + 1] == ["static"]:
            return _inside(extensions[name] / "static", parts[length + 1:])
    return None


COMPRESS = "--ServerApp.tornado_settings=compress_response=True"


def server_args(hub_address: str = "") -> list[str]:
    """What every user's server is told on its command line (which outranks the user's own
    config files): compress its text answers, and load JupyterLab's and Notebook 7's files from
    the shared address. ``hub_address`` (``scheme://host[:port]``) when users' servers are on origins of
    their own (``[hub] host``): the service stays on the hub's address."""
    base = hub_address.rstrip("/") + base_path(current_version())
    # a path without a scheme and host is put after the server's own base URL by
    # jupyterlab_server: leave the server's /user/<name>/ for the hub's /services/...
    extensions = base + EXTENSIONS + "/" if hub_address else "../.." + base + EXTENSIONS + "/"
    return [
        COMPRESS,
        f"--LabApp.override_static_url={base}{LAB}/",
        # every page's extensions: JupyterLab's (LabApp) and Notebook 7's (JupyterNotebookApp, a
        # LabServerApp but no LabApp). Set on LabApp alone, Notebook 7 still named its server's
        # /lab/extensions/, which then answered with JupyterLab's page: no sabaq-lessons there
        f"--LabServerApp.labextensions_url={extensions}",
        # Notebook 7 names its own /static/notebook/ (no setting): sabaq's server extension puts
        # this in its pages' configuration instead (no trailing slash, as Notebook's own)
        f"--{NotebookFiles.__name__}.shared_url={base}{NOTEBOOK}",
    ]


def with_light_pages(hook, hub_address: str = "", shared: bool = True):
    """A pre_spawn_hook that runs ``hook``, then gives the server ``server_args`` of the files
    on disk at this start (an extension installed while sabaq runs changes the address); without
    ``shared`` (``[hub] shared_static``) only the compression."""

    async def light_pages(spawner) -> None:
        await hook(spawner)
        spawner.args = await asyncio.to_thread(server_args, hub_address) if shared else [COMPRESS]

    return light_pages
