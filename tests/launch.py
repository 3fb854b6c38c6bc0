"""Running a script under `accelerate launch` in a subprocess, as the multi-process tests do."""

import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]
TWO_PROCESSES = ("--multi_gpu", "--num_processes", "2")  # real 2-process DDP (gloo) on a CPU-only machine


def free_port() -> str:
    """A free TCP port, so concurrent DDP runs on this machine do not collide on accelerate's default 29500."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def accelerate_launch(
    script: str | os.PathLike,
    script_args: Sequence[str] = (),
    launch_args: Sequence[str] = TWO_PROCESSES,
    extra_env: dict[str, str] | None = None,
    timeout: int = 300,
) -> subprocess.CompletedProcess:
    """Runs `accelerate launch <launch_args> script <script_args>` with one torch thread per process, offline, on a
    free port, and fails the test with the end of stderr if it exits non-zero."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", *launch_args, "--num_cpu_threads_per_process", "1"]
    cmd += ["--main_process_port", free_port(), str(script), *script_args]
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", **(extra_env or {}))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc
