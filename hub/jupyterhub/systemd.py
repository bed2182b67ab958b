"""A systemd unit that runs `sabaq up` as the machine's service (`sabaq install-service`).

`sabaq up` keeps its own processes running and stops them all on SIGTERM within 10 s;
systemd starts it at boot, starts it again if it fails, and, should a stop hang anyway,
kills what is left of the unit after TimeoutStopSec (KillMode=mixed: SIGTERM to `sabaq up`
alone, which stops the rest in order; SIGKILL to the whole unit only at the end).
"""

from __future__ import annotations

import shlex
import sys

from sabaq.settings import Settings

UNIT_PATH = "/etc/systemd/system/sabaq.service"
STOP_SECONDS = 30  # `sabaq up` needs 10 at most; more leaves room for a busy machine


def unit_text(settings: Settings) -> str:
    command = [sys.executable, "-m", "sabaq", "up", "--data", settings.data_dir]
    if settings.config_file:
        command += ["--config", settings.config_file]
    exec_line = shlex.join(command).replace("%", "%%").replace("$", "$$")  # systemd's specifiers, variables
    return f"""\
# Written by `sabaq install-service`; run it again after moving the data or the settings.
[Unit]
Description=sabaq: JupyterHub, the sabaq service and its grading workers
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
ExecStart={exec_line}
Environment=PYTHONUNBUFFERED=1
Restart=on-failure
RestartSec=5
KillMode=mixed
KillSignal=SIGTERM
TimeoutStopSec={STOP_SECONDS}

[Install]
WantedBy=multi-user.target
"""
