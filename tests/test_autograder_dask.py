"""Grading on a Dask distributed cluster (``grade ... --scheduler ADDRESS``).

Each test starts a real ``distributed.LocalCluster`` of worker *processes*
(so nothing is shared with the test's process but the network) and closes it.
The workers sandbox the student's code themselves (cgroup, uid, jail): the
tests need what the local grader needs (root or user namespaces, a cgroup).
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from autograder_corpus.poisson_mixture.build import POINTS, build

from autograder import cgroups, collect, grade
from autograder import distributed as dist

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
SECRET = "dask test secret"
#: Ordinary, broken, faulty and re-encoded submissions of the corpus.
CHOSEN = ("a01_reference", "a02_stubs", "a04_naive", "a05_wrong_log_pmf", "a06_wrong_e_step",
          "a09_em_without_initial", "b01_invalid_json", "b04_no_notebook", "b07_os_exit",
          "d02_writefile_module", "d04_utf16")
MEMORY_MB = 512


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("corpus")
    expected = build(root / "all")
    subs = root / "subs"
    subs.mkdir()
    for sid in CHOSEN:
        shutil.copytree(root / "all" / sid, subs / sid)
    secret = root / "secret"
    secret.write_text(SECRET)
    return subs, {sid: expected[sid] for sid in CHOSEN}, secret


def _cluster(n_workers: int = 2):
    return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                    dashboard_address=None, worker_dashboard_address=None)


def _cli(subs: Path, out: Path, secret: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(out),
           "--memory", str(MEMORY_MB), "--timeout", "10", "--secret-file", str(secret),
           "--no-progress", *extra]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)


def _rows(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_scheduler_gives_the_same_grades_csv_as_a_local_run(corpus, tmp_path):
    subs, expected, secret = corpus
    local = _cli(subs, tmp_path / "local", secret, "-j", "2")
    assert local.returncode == 0, local.stderr[-3000:]
    with _cluster() as cluster:
        remote = _cli(subs, tmp_path / "dask", secret, "--scheduler", cluster.scheduler_address)
    assert remote.returncode == 0, remote.stderr[-3000:]
    assert "isolation: " in remote.stderr
    rows = _rows(tmp_path / "dask" / "grades.csv")
    assert rows == _rows(tmp_path / "local" / "grades.csv")
    assert len(rows) == 1 + len(CHOSEN)
    # and both are the corpus' independent expectations
    with (tmp_path / "dask" / "grades.csv").open(newline="", encoding="utf-8") as f:
        by_id = {r["student_id"]: r for r in csv.DictReader(f)}
    for sid, exp in expected.items():
        assert [int(by_id[sid][g]) for g in POINTS] == [exp.points[g] for g in POINTS], sid


def test_a_killed_worker_loses_no_submission_and_counts_none_twice(corpus, tmp_path):
    subs, expected, _ = corpus
    config = grade.GradeConfig(timeout=10, memory_mb=MEMORY_MB, secret_file=str(corpus[2]))
    seen: list[str] = []
    killed: list[int] = []
    with _cluster() as cluster, distributed.Client(cluster) as client:
        pids = client.run(os.getpid)
        lock = threading.Lock()

        def on_result(result: grade.SubmissionResult) -> None:
            with lock:
                seen.append(result.student_id)
                if len(seen) >= 2 and not killed:
                    # Kill a worker while it grades a submission.
                    busy = [a for a, keys in client.processing().items()
                            if any(str(k).startswith("autograder-grade-") for k in keys)]
                    if busy:
                        os.kill(pids[busy[0]], signal.SIGKILL)
                        killed.append(pids[busy[0]])

        executor = dist.DaskGrader(client)
        results = grade.grade_submissions(collect.find_submissions(subs), tmp_path / "out",
                                          executor=executor, config=config, on_result=on_result)
        after = client.run(os.getpid)
    assert killed and killed[0] not in after.values()
    assert sorted(seen) == sorted(CHOSEN)  # each once: none dropped, none twice
    assert [r.student_id for r in results] == sorted(CHOSEN)
    for r in results:
        assert r.points == expected[r.student_id].points, r.student_id
    assert len(_rows(tmp_path / "out" / "grades.csv")) == 1 + len(CHOSEN)


def _break_sandbox() -> int:
    def no_cgroup():
        raise cgroups.CgroupError("no usable cgroup (broken by the test)")

    cgroups.find_hierarchy = no_cgroup  # this worker process can no longer sandbox
    return os.getpid()


def test_a_worker_that_cannot_sandbox_stops_the_batch(corpus, tmp_path):
    subs, _, secret = corpus
    config = grade.GradeConfig(timeout=10, memory_mb=MEMORY_MB, secret_file=str(secret))
    with _cluster() as cluster, distributed.Client(cluster) as client:
        broken = client.run(_break_sandbox, workers=[next(iter(client.scheduler_info()["workers"]))])
        assert len(broken) == 1
        with pytest.raises(dist.WorkerCannotGrade, match="cannot sandbox"):
            grade.grade_submissions(collect.find_submissions(subs), tmp_path / "out",
                                    executor=dist.DaskGrader(client), config=config)
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_a_worker_with_other_code_refuses(corpus):
    kit = grade.make_kit(grade.GradeConfig(secret_file=str(corpus[2])), "poisson_mixture")
    payload = dist.Payload(kit, "0" * 64, kit.declaration.source_notebook.read_bytes())
    with pytest.raises(dist.WorkerCannotGrade, match="another version"):
        dist.prepare_worker(payload)


def test_the_client_reads_each_notebook_with_the_size_cap(tmp_path):
    (tmp_path / "s1").mkdir()
    (tmp_path / "s1" / "poisson_mixture.ipynb").write_bytes(b"x" * 2048)
    task = grade.Task("s1", None, source=collect.FileRef(str(tmp_path),
                                                         ("s1", "poisson_mixture.ipynb"), 1024))
    shipped = dist.with_bytes(task)
    assert shipped.source is None and shipped.data is None
    assert "too large" in shipped.problem
    small = dist.with_bytes(grade.Task("s1", None, source=collect.FileRef(
        str(tmp_path), ("s1", "poisson_mixture.ipynb"), 4096)))
    assert small.data == b"x" * 2048 and small.source is None
