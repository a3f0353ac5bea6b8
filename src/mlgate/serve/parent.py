"""A server worker ends with the process that started it (imported by every worker at start-up)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time


def die_with_parent(parent_pid: int | None) -> None:
    """In a worker: end when the server's parent process ends, however it ends.

    Linux's ``PR_SET_PDEATHSIG`` has the kernel send SIGTERM at the parent's death (uvicorn then
    shuts the worker down within ``timeout_graceful_shutdown``); a thread that watches
    ``getppid()`` does the same elsewhere and covers a parent that died before the call.
    """
    if parent_pid is None:
        return
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # no prctl: the thread below still watches
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)  # a graceful stop that hangs must not keep the port
        os._exit(1)

    threading.Thread(target=watch, name="mlgate-parent-watch", daemon=True).start()


PR_SET_PDEATHSIG = 1
