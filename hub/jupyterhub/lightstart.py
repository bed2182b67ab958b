"""What a user's server need not do at each start.

Profiled in a storm of warm starts (`sabaq bench storm`), a forked server spent about a third
of its CPU on two things no student uses:

- JupyterLab's PyPI extension manager, which builds an HTTPS client (loading the system's
  certificates) at every start to offer installing extensions from PyPI. Nobody installs
  extensions into sabaq's shared environment from a browser (an administrator does, with
  pip): the read-only manager still lists what is installed.
- jupyter-lsp's search for language servers (the entry points of every package, ``npm prefix``
  as a command, node folders), repeated by every server. The hub looks once; when none is
  installed, servers do not search. An administrator who installs one (``python-lsp-server``,
  say) restarts sabaq, and every server searches again.

Both are settings of one value each: a dictionary such as ``ServerApp.jpserver_extensions``
given on the command line would replace the one in the user's config file (the role's
extensions, ``serverroles``), not add to it.
"""

from __future__ import annotations

import functools
import logging

log = logging.getLogger(__name__)

EXTENSION_MANAGER = "readonly"
READ_ONLY_EXTENSIONS = f"--LabApp.extension_manager={EXTENSION_MANAGER}"
NO_LSP_SEARCH = "--LanguageServerManager.autodetect=False"


@functools.cache
def language_servers_installed() -> bool:
    """Whether jupyter-lsp finds any language server here (looked for once per process)."""
    try:
        from jupyter_lsp import LanguageServerManager
    except ImportError:
        return False
    try:
        manager = LanguageServerManager()
        manager.init_language_servers()
    except Exception:  # its search failed: let each server search as it would by itself
        log.warning("sabaq: could not look for language servers; servers will look themselves", exc_info=True)
        return True
    return bool(manager.language_servers)


def apply_light_start(c) -> None:
    """In a pod's server config (Kubernetes): the read-only extension manager. A pod looks for
    language servers itself (its config runs in the server: looking here would cost the same)."""
    c.LabApp.extension_manager = EXTENSION_MANAGER


def light_start_args() -> list[str]:
    """Command-line settings that spare each server's start the work above (call it from a
    thread: the first call searches for language servers)."""
    return [READ_ONLY_EXTENSIONS, *([] if language_servers_installed() else [NO_LSP_SEARCH])]
