"""Where the peers' own test suites are (openTSNE's, umap-learn's): unmodified copies kept outside the repository,
in a ``shared/peer-tests`` folder beside it (``../shared/peer-tests`` from the repository root, or beside any folder
above it, as a clone in a scratch directory has), or where ``NEMBED_PEER_TESTS`` points. None when absent: the
runners then skip with a message."""
import os
import pathlib
from typing import Optional

REPO = pathlib.Path(__file__).resolve().parents[2]


def peer_suite(name: str) -> Optional[pathlib.Path]:
    """The folder of the suite `name` (e.g. "opentsne-1.0.4/tests", "umap-learn-0.5.12"), or None."""
    env = os.environ.get("NEMBED_PEER_TESTS")
    roots = [pathlib.Path(env)] if env else []
    roots += [p / "shared" / "peer-tests" for p in REPO.parents]
    for root in roots:
        if (root / name).is_dir():
            return root / name
    return None
