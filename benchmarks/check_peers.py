"""Checks benchmarks/.venv-peers after `make bench` installs it: the peers import, torch is still the
CPU 2.13.0 of requirements.lock, and no torchvision came in. Exits non-zero with a message otherwise.

`pip check` cannot be used as is: backpack-for-pytorch (a curvlinops dependency) declares torchvision,
which is left out on purpose (it would pull a CUDA torch); that one line is the only one allowed.

    benchmarks/.venv-peers/bin/python -m benchmarks.check_peers      # from the repository root
"""
import importlib
import importlib.util
import subprocess
import sys

import torch


def main() -> None:
    problems = []
    if torch.__version__.split("+")[0] != "2.13.0" or torch.version.cuda is not None:
        problems.append(f"torch {torch.__version__} (CUDA {torch.version.cuda}); expected the CPU build of 2.13.0")
    if importlib.util.find_spec("torchvision") is not None:
        problems.append("torchvision is installed; expected none (it pulls a CUDA torch)")
    for module in ("pyhessian", "loss_landscapes", "curvlinops", "backpack", "rashomon_widgets", "psutil"):
        try:
            importlib.import_module(module)
        except Exception as exc:  # report every failure
            problems.append(f"import {module}: {type(exc).__name__}: {exc}")
    check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    unexpected = [line for line in check.stdout.splitlines()
                  if line.strip() and "requires torchvision, which is not installed" not in line
                  and not line.startswith("No broken requirements")]
    problems += [f"pip check: {line}" for line in unexpected]
    if problems:
        sys.exit("benchmarks/.venv-peers is not as expected:\n  " + "\n  ".join(problems))
    print(f"benchmarks/.venv-peers: torch {torch.__version__} (CPU), peers import, no torchvision")


if __name__ == "__main__":
    main()
