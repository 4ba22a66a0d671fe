"""The Python module pocketrec_runtime (runtime/python) on the bundled models (tests/testdata/runtime):
parity with the C API and with the recorded top-20, batch calls equal to single calls for any thread
count, info(), and bad input raising clear exceptions. Run by ctest (test pytest_runtime) with the
module's build directory on PYTHONPATH."""
import concurrent.futures
import os
import subprocess

import numpy as np
import pytest

import pocketrec_runtime as pr

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "testdata", "runtime")
DENSE = os.path.join(DATA, "nyc-sasrec-fp16.pocket")
PQ = os.path.join(DATA, "nyc-sasrec-pq.pocket")


@pytest.fixture(scope="module", params=[DENSE, PQ], ids=["dense-fp16", "pq"])
def model(request):
    return pr.Model(request.param)


def histories(model, n, seed):
    rng = np.random.default_rng(seed)
    ids = model.item_ids()
    return [rng.choice(ids, size=int(rng.integers(1, 40))) for _ in range(n)]


def test_info_describes_the_files():
    dense, pq = pr.Model(DENSE).info(), pr.Model(PQ).info()
    assert dense["architecture"] == "sasrec-odrec" and pq["architecture"] == "sasrec-odrec"
    assert (dense["item_table"], dense["dtype"], dense["scoring"]) == ("dense", "fp16", "fp32_table")
    assert (pq["item_table"], pq["dtype"], pq["scoring"]) == ("pq", "fp32", "cores")
    for info, path in [(dense, DENSE), (pq, PQ)]:
        assert (info["n_items"], info["dim"], info["max_history"], info["n_users"]) == (2904, 32, 20, 0)
        assert info["file_bytes"] == os.path.getsize(path)
        assert info["weight_bytes"] > 0
        assert info["kernel_isa"] == pr.kernel_isa() in ("baseline", "avx2", "avx512")
    assert pr.__version__ == open(os.path.join(ROOT, "VERSION")).read().split()[0]
    assert pr.Model(DENSE, scoring="int8_table").info()["scoring"] == "int8_table"


def test_recommend_equals_the_c_api():
    example = os.environ["POCKETREC_EXAMPLE_BIN"]  # runtime/examples/recommend.c, set by ctest
    for path in (DENSE, PQ):
        m = pr.Model(path)
        for history in histories(m, 5, seed=1):
            out = subprocess.run([example, path, "20", *map(str, history)], check=True, capture_output=True, text=True)
            rows = [line.split("\t") for line in out.stdout.splitlines()]
            items, scores = m.recommend(history, k=20, exclude_history=True)
            assert items.dtype == np.int64 and scores.dtype == np.float32
            assert items.tolist() == [int(r[0]) for r in rows]
            np.testing.assert_allclose(scores, [float(r[1]) for r in rows], rtol=0, atol=5e-7 * 2)


def test_recommend_reproduces_the_recorded_top20():
    # The lists tests/runtime/test_runtime_parity.cpp checks on every target, here through Python.
    models = {}
    n = 0
    with open(os.path.join(DATA, "expected_top20.tsv")) as f:
        for line in f:
            if line.startswith("#"):
                continue
            name, history, items, scores = line.rstrip("\n").split("\t")
            m = models.setdefault(name, pr.Model(os.path.join(DATA, name)))
            got_items, got_scores = m.recommend(np.array(history.split(), dtype=np.int64), k=20)
            assert got_items.tolist() == [int(x) for x in items.split()]
            np.testing.assert_allclose(got_scores, [float(x) for x in scores.split()], rtol=0, atol=1e-5)
            n += 1
    assert n == 100


def test_exclusion_and_score_all_agree_with_recommend(model):
    for history in histories(model, 5, seed=2):
        items, scores = model.recommend(history, k=10, exclude_history=True)
        assert not set(items.tolist()) & set(history.tolist())
        all_scores = model.score_all(history)
        ids = model.item_ids()
        assert all_scores.shape == (model.n_items,)
        by_id = dict(zip(ids.tolist(), all_scores.tolist()))
        assert [by_id[i] for i in items.tolist()] == scores.tolist()
        masked = all_scores.copy()
        masked[np.isin(ids, history)] = -np.inf
        assert scores[-1] >= np.sort(masked)[-10]  # nothing outside the list scores higher
        kept, _ = model.recommend(history, k=10, exclude_history=False)
        assert kept.tolist() == ids[np.argsort(-all_scores, kind="stable")[:10]].tolist()


@pytest.mark.parametrize("threads", [1, 2, 3, 0])
def test_batch_equals_single_calls(model, threads):
    hs = histories(model, 37, seed=3)
    flat = np.concatenate(hs)
    offsets = np.concatenate([[0], np.cumsum([len(h) for h in hs])])
    items, scores = model.recommend_batch(flat, offsets, k=15, exclude_history=True, threads=threads)
    assert items.shape == (37, 15) and scores.shape == (37, 15)
    for q, h in enumerate(hs):
        one_items, one_scores = model.recommend(h, k=15, exclude_history=True)
        assert items[q].tolist() == one_items.tolist()
        assert scores[q].tobytes() == one_scores.tobytes()  # bitwise: every query is scored alone


def test_python_threads_share_one_model(model):
    hs = histories(model, 24, seed=4)
    want = [model.recommend(h, k=20)[0].tolist() for h in hs]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda h: model.recommend(h, k=20)[0].tolist(), hs))
    assert got == want


def test_from_bytes_equals_the_file():
    data = open(PQ, "rb").read()
    a, b = pr.Model(PQ), pr.Model.from_bytes(data)
    h = a.item_ids()[:7]
    assert a.recommend(h)[0].tolist() == b.recommend(h)[0].tolist()


def test_wrong_types_and_shapes_raise_before_scoring():
    m = pr.Model(DENSE)
    with pytest.raises(TypeError, match="history must hold integers, got dtype float64"):
        m.recommend(np.array([3.0, 6.0]))
    with pytest.raises(TypeError, match="history must hold integers"):
        m.recommend(["3", "6"])
    with pytest.raises(ValueError, match="one-dimensional, got 2"):
        m.recommend(np.array([[3, 6]]))
    with pytest.raises(ValueError, match="k must be at least 1"):
        m.recommend([3], k=0)
    with pytest.raises(ValueError, match="reads only the history"):
        m.recommend([3], user=5)
    with pytest.raises(ValueError, match="offsets"):
        m.recommend_batch([3, 6, 9], [0, 2, 1])
    with pytest.raises(ValueError, match="within the history's 3 entries"):
        m.recommend_batch([3, 6, 9], [0, 4])
    with pytest.raises(ValueError, match="scoring must be one of"):
        pr.Model(DENSE, scoring="fast")


def test_runtime_failures_raise_error_with_status():
    m = pr.Model(DENSE)
    with pytest.raises(pr.Error, match="unknown item id 123456789") as e:
        m.recommend([3, 123456789])
    assert (e.value.status, e.value.code) == ("INVALID_ARGUMENT", 1)
    assert isinstance(e.value, RuntimeError)
    with pytest.raises(pr.Error, match="empty history"):
        m.recommend(np.array([], dtype=np.int64))
    with pytest.raises(pr.Error) as e:
        m.recommend_batch([3, 123456789], [0, 1, 2], threads=2)
    assert e.value.status == "INVALID_ARGUMENT"


def test_missing_and_corrupt_files_raise_error(tmp_path):
    with pytest.raises(pr.Error) as e:
        pr.Model(str(tmp_path / "absent.pocket"))
    assert e.value.status == "NOT_FOUND" and "absent.pocket" in str(e.value)
    data = bytearray(open(DENSE, "rb").read())
    data[len(data) // 2] ^= 0x40
    corrupt = tmp_path / "corrupt.pocket"
    corrupt.write_bytes(bytes(data))
    with pytest.raises(pr.Error) as e:
        pr.Model(str(corrupt))
    assert e.value.status == "CHECKSUM_MISMATCH" and "corrupt.pocket" in str(e.value)
    with pytest.raises(pr.Error) as e:
        pr.Model.from_bytes(bytes(data[:1000]))
    assert e.value.status == "BAD_FORMAT"
    with pytest.raises(pr.Error) as e:
        pr.Model.from_bytes(b"not a model")
    assert e.value.status == "BAD_FORMAT"
