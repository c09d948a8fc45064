"""Launch a published setup: ``python -m experiments.run SETUP [--tiny] [options]``.

Run from the repository root. ``SETUP`` is a row of :data:`experiments.setups.SETUPS`
(``python -m experiments.run --list`` lists them); the options (``--tiny``, ``--games`` /
``--envs``, the machine's cores and GPUs, ``--dry-run``...) are listed by
``python -m experiments.run SETUP --help`` and described in :mod:`experiments.launching`.
"""

import sys

from experiments.launching import launch
from experiments.setups import SETUPS
from rlpyt.utils.launching.variant import did_you_mean

__all__ = ["main"]

USAGE = "usage: python -m experiments.run SETUP [--tiny] [options] | --list"


def main(argv=None) -> int:
    """The exit status: :func:`~experiments.launching.launch`'s, or 2 for an unknown setup."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "--list"):
        if argv[:1] != ["--list"]:
            print(f"{USAGE}\n\nThe published setups:")
        for name, setup in SETUPS.items():
            print(f"  {name:<18} {setup.summary}")
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in SETUPS:
        hint = did_you_mean(name, SETUPS)
        print(f"unknown setup {name!r}{'; ' + hint if hint else ''} ({USAGE})", file=sys.stderr)
        return 2
    return launch(SETUPS[name], rest)


if __name__ == "__main__":
    sys.exit(main())
