"""JupyterLab's Kazakh language pack: JupyterLab finds locale/kk_KZ/LC_MESSAGES/*.json next to this file."""

__version__ = "4.6.0"
