"""One Model shared by Python threads: same results as one thread, and the GIL is released
while the engine tokenizes and computes."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import encore
from conftest import MODELS


def test_threads_sharing_a_model_agree_with_one_thread(small, clinc_test):
    texts = [r["text"] for r in clinc_test[:64]]
    chunks = [texts[i::8] for i in range(8)]
    expected = [(small.embed(c), small.classify(c, top_k=2)) for c in chunks]

    def work(i):
        chunk = chunks[i % 8]
        return i, small.embed(chunk), small.classify(chunk, top_k=2)

    with ThreadPoolExecutor(max_workers=4) as pool:
        for i, e, labels in pool.map(work, range(32)):
            np.testing.assert_array_equal(e, expected[i % 8][0])
            assert labels == expected[i % 8][1]


def test_gil_is_released_during_embed(clinc_test):
    model = encore.Model(MODELS / "clinc-bert-small", threads=1)
    texts = [r["text"] for r in clinc_test[:1500]]
    ticks = 0
    started = threading.Event()
    stop = threading.Event()

    def spin():
        nonlocal ticks
        started.set()
        while not stop.is_set():
            ticks += 1

    t = threading.Thread(target=spin)
    t.start()
    started.wait()
    before = ticks
    t0 = time.perf_counter()
    model.embed(texts)
    elapsed = time.perf_counter() - t0
    during = ticks - before
    stop.set()
    t.join()
    # With the GIL held for the whole call the spinning thread could not run at all; here it
    # runs throughout (hundreds of thousands of iterations in a call of ~1 s).
    assert elapsed > 0.05
    assert during > 10000, (during, elapsed)
