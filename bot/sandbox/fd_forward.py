"""Inside a container: open FIFOs onto file descriptor numbers, then exec a command.

    python3 -I -S fd_forward.py N=FIFO [N=FIFO ...] -- COMMAND...

Standard library only (it runs on the Docker image's interpreter). Each FIFO is opened for
writing and placed on descriptor N, inheritable, so the command finds the descriptor the host
handed it (`pass_fds`) under the same number. The command replaces this process (`exec`), so
its exit status and signals are its own. It holds no privilege: the FIFOs are write-only here.
"""

from __future__ import annotations

import os
import sys


def _place(number: int, path: str) -> None:
    opened = os.open(path, os.O_WRONLY)  # the host holds the read end open: this never blocks
    if opened != number:
        os.dup2(opened, number, inheritable=True)
        os.close(opened)
    else:
        os.set_inheritable(number, True)


def main(argv: list[str]) -> int:
    """Place each descriptor and exec the command; an exit status only when that fails."""
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        print("usage: fd_forward.py N=FIFO ... -- COMMAND...", file=sys.stderr)
        return 2
    split = argv.index("--")
    command = argv[split + 1 :]
    for spec in argv[:split]:
        number, _, path = spec.partition("=")
        try:
            _place(int(number), path)
        except (OSError, ValueError) as exc:
            print(f"draftsmith fd forwarder: cannot open {spec}: {exc}", file=sys.stderr)
            return 126
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        print(f"{command[0]}: {exc.strerror}", file=sys.stderr)
        return 127 if isinstance(exc, FileNotFoundError) else 126
    return 126  # not reached: exec replaced the process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
