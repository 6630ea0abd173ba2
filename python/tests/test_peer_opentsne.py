"""openTSNE 1.0.4's own test suite, run against nembed with only the module name changed.

The suite is not part of the repository: it lives beside it, in ``../shared/peer-tests/opentsne-1.0.4/tests``
(relative to the repository root; this test skips when the folder is absent). It is copied into a scratch folder,
every ``openTSNE`` identifier is renamed ``nembed`` (imports such as ``from openTSNE.affinity import ...`` and
``import openTSNE.affinity``, attribute paths such as ``openTSNE.TSNE`` and the module paths in ``mock.patch``
strings), and run by pytest in a subprocess of this interpreter. Every test must pass except those in EXCLUDED, each
of which reaches into a part of openTSNE that is not its public API or needs a kNN feature that nembed's kNN layer
provides separately. Takes about 3 minutes on two cores.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from peer_suites import peer_suite

ROOT = Path(__file__).resolve().parents[2]
SUITE = peer_suite("opentsne-1.0.4/tests")

_NN = "tests/test_nearest_neighbors.py::"
_TSNE = "tests/test_tsne.py::"

# test id -> why it cannot pass against nembed.
EXCLUDED = {
    # The FFT interpolation grid is built inside nembed's C++ estimator; there is no prepare_interpolation_grid.
    _TSNE + "TestMisc::test_interpolation_grid_not_called_using_bh":
        "patches TSNEEmbedding.prepare_interpolation_grid (openTSNE's private FFT grid cache)",
    # Precision: nembed's kNN distances are float32 (P from the two paths agrees to ~1e-9); the test demands 1e-16.
    "tests/test_correctness.py::TestTSNECorrectnessUsingPrecomputedDistanceMatrix::test_iris":
        "asserts P from precomputed and euclidean distances equal to 16 decimals (nembed's distances are float32)",
    # openTSNE vendors annoy as openTSNE.dependencies.annoy; nembed has no such module.
    _NN + "TestAnnoy::test_pickle_without_built_index_cleans_up_fname":
        "patches openTSNE.dependencies.annoy (openTSNE's vendored copy of annoy)",
}

# Open gaps of issue #20 (kNN back-end plumbing): failing today, named here so that the runner asserts everything
# else; each passing one is reported, and must then be removed from this list.
_ANNOY = "annoy back-end: the tests mock openTSNE's vendored AnnoyIndex; nembed runs the annoy package when installed"
OPEN = {
    "tests/test_affinities.py::TestGenericAffinity::test_knn_kwargs": "knn_kwargs reach the index class unfiltered",
    _TSNE + "TestTSNEParameterFlow::test_knn_kwargs": "knn_kwargs reach the index class unfiltered",
    _NN + "TestAnnoy::test_knn_kwargs": _ANNOY,
    **{_NN + "TestAnnoy::" + t: _ANNOY for t in (
        "test_pickle_with_built_index", "test_pickle_without_built_index",
        "test_query_same_result_with_fixed_random_state", "test_query_same_result_with_fixed_random_state_instance",
        "test_query_train_same_result_with_fixed_random_state", "test_returns_correct_number_neighbors_query",
        "test_returns_correct_number_neighbors_query_train", "test_returns_proper_distances_query_train")},
    _TSNE + "TestTSNEParameterFlow::test_nndescent_distances": "NNDescent's distances for every pynndescent metric",
    _TSNE + "TestRandomState::test_random_state_parameter_is_propagated_pca_init_approx":
        "random_state's path to the approximate index (mocked constructor arguments)",
    _TSNE + "TestRandomState::test_random_state_parameter_is_propagated_random_init_exact":
        "random_state's path to the exact index (mocked constructor arguments)",
}


def _rewrite(text: str) -> str:
    return re.sub(r"\bopenTSNE\b", "nembed", text)


def test_opentsne_suite_passes(tmp_path):
    if SUITE is None or not SUITE.is_dir():
        pytest.skip("openTSNE's test suite is absent (shared/peer-tests beside the repository; see peer_suites.py)")
    target = tmp_path / "tests"
    target.mkdir()
    for src in SUITE.iterdir():
        if src.suffix == ".py":
            (target / src.name).write_text(_rewrite(src.read_text()))
        elif src.is_file():
            shutil.copy(src, target / src.name)
    report = tmp_path / "report.xml"
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                           f"--junitxml={report}", "tests"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=1800)
    assert report.exists(), proc.stdout[-4000:] + proc.stderr[-4000:]

    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        path = case.get("classname", "").replace(".", "/")
        module, _, cls = path.rpartition("/")
        test_id = f"{module}.py::{cls}::{case.get('name')}" if module else f"{path}::{case.get('name')}"
        kinds = {child.tag for child in case}
        outcomes[test_id] = "failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds \
            else "passed"
    counts = {k: sum(v == k for v in outcomes.values()) for k in ("passed", "failed", "skipped")}
    failed = sorted(t for t, v in outcomes.items() if v == "failed")
    pending = [t for t in failed if t in OPEN]
    unexpected = [t for t in failed if t not in EXCLUDED and t not in pending]
    print(f"\nopenTSNE 1.0.4 suite against nembed: {counts['passed']} passed, {counts['failed']} failed "
          f"({len(failed) - len(unexpected) - len(pending)} excluded, {len(pending)} open), "
          f"{counts['skipped']} skipped of {len(outcomes)}")
    for t in pending:
        print(f"  open: {t}")
    for t in sorted(set(OPEN) - set(failed)):
        print(f"  open but passing (remove it from OPEN): {t}")
    for t in sorted(set(EXCLUDED) - set(failed)):
        print(f"  excluded but passing: {t}")
    assert len(outcomes) > 100, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert not unexpected, "unexpected failures:\n" + "\n".join(unexpected) + "\n\n" + proc.stdout[-12000:]
