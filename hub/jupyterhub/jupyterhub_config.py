"""JupyterHub configuration for `sabaq up`: everything comes from sabaq's settings."""

from sabaq.hub.jupyterhub.hubconfig import configure
from sabaq.hub.jupyterhub.kernelfork import shared_kernel_fork_server
from sabaq.hub.jupyterhub.warmstart import shared_fork_server
from sabaq.settings import Settings

c = get_config()  # noqa: F821 (provided by JupyterHub)
configure(c, Settings.load())
# the warm start's fork server imports JupyterLab while the hub starts: the first login does not wait
shared_fork_server().start_in_background()
# and the kernel fork server, which students' servers ask for their Python kernels
if c.SabaqSpawner.warm_kernels:
    kernels = shared_kernel_fork_server()
    kernels.start_in_background()
    c.SabaqSpawner.kernel_fork_socket = kernels.socket_path
