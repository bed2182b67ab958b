"""JupyterLab and Notebook 7 in the user's language: the locale a server starts in.

The language pack is chosen by the setting ``locale`` of
``@jupyterlab/translation-extension:plugin``. Its default ("default") asks the server for
the locale of its process, read once at import, and so the fork server's for every warm
start. Instead each server gets, on its command line, a settings folder whose
``overrides.json`` sets that default to the user's language (``lab-settings/<locale>/``, one
per language sabaq speaks); a language the user picks in Settings → Language is her own
setting and still wins.

On Kubernetes (``python -m sabaq.hub.jupyterhub.labsettings``) this module prints the singleuser
image's ``jupyter_server_config.py``: the language, and the role's extensions (``serverroles``).
"""

from __future__ import annotations

from pathlib import Path

SETTINGS_FOLDERS = Path(__file__).resolve().parent / "lab-settings"
# sabaq's languages → the locales of the installed language packs (en is JupyterLab's own)
LAB_LOCALES = {"kk": "kk_KZ", "ru": "ru_RU", "en": "en"}
TRANSLATION_PLUGIN = "@jupyterlab/translation-extension:plugin"


def lab_locale(language: str) -> str:
    """The JupyterLab locale of a sabaq language ("kk" → "kk_KZ"); English for one sabaq lacks."""
    return LAB_LOCALES.get((language or "").split("-")[0].split("_")[0].lower(), "en")


def lab_settings_folder(language: str) -> Path:
    return SETTINGS_FOLDERS / lab_locale(language)


def lab_language_args(language: str) -> list[str]:
    """Command-line settings that start JupyterLab and Notebook 7 in this language."""
    return [f"--LabServerApp.app_settings_dir={lab_settings_folder(language)}"]


SERVER_CONFIG = """\
# sabaq: JupyterLab and Notebook 7 start in the user's language (SABAQ_LANG, set by the hub),
# with the server extensions and JupyterLab plugins of her role (SABAQ_ROLE, set by the hub),
# and JupyterLab's read-only extension manager (sabaq.hub.jupyterhub.lightstart)
import os
from sabaq.hub.jupyterhub.labsettings import lab_settings_folder
from sabaq.hub.jupyterhub.lightstart import apply_light_start
from sabaq.hub.jupyterhub.serverroles import apply_role
c.LabServerApp.app_settings_dir = str(lab_settings_folder(os.environ.get("SABAQ_LANG", "")))
apply_role(c)
apply_light_start(c)
"""


if __name__ == "__main__":  # the singleuser image's jupyter_server_config.py (images/singleuser/Dockerfile)
    print(SERVER_CONFIG, end="")
