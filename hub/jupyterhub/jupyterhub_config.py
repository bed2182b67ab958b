"""JupyterHub configuration for `sabaq up`: everything comes from sabaq's settings."""

from sabaq.hub.jupyterhub.hubconfig import configure
from sabaq.settings import Settings

c = get_config()  # noqa: F821 (provided by JupyterHub)
configure(c, Settings.load())
