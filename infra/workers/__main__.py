"""``python -m infra.workers NAME``: one worker process, as ``ronin up`` starts them.

``ronin worker NAME`` runs the same through the CLI, which loads every command's
modules first; this entry loads the settings and the one worker's module only.
"""

from __future__ import annotations

import logging
import sys

from events.errors import RoninError
from infra.settings import load_settings
from infra.workers import WORKER_ENTRYPOINTS, run_worker


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(f"usage: python -m infra.workers {{{'|'.join(WORKER_ENTRYPOINTS)}}}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        run_worker(argv[0], load_settings())
    except RoninError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
