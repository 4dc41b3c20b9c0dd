"""`encore serve` on a free loopback port: each route's JSON in text-embeddings-inference's
shapes, its errors (status and {"error", "error_type"} body), the API key, the concurrency
limit, /metrics, batching that never changes answers (<= 1e-5), and drain on SIGTERM."""

import base64
import json
import re
import signal
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import encore
from conftest import CLI, DEMO, MODELS, cli


class Server:
    def __init__(self, model, *args):
        self.proc = subprocess.Popen([CLI, "serve", "--model", str(model), "--port", "0", "--threads", "2", *args],
                                     stderr=subprocess.PIPE, text=True)
        line = ""
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"encore serve exited with {self.proc.returncode}")
        else:
            raise RuntimeError("encore serve did not start: " + line)
        self.stderr = []
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()

    def request(self, method, path, body=None, headers=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def post(self, path, body, **kw):
        status, data, headers = self.request("POST", path, body, **kw)
        return status, json.loads(data) if data else None, headers

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(timeout=60)
        return self.proc.returncode


@pytest.fixture(scope="module")
def demo_server():
    s = Server(DEMO, "--max-client-batch-size", "8", "--payload-limit", "20000")
    yield s
    assert s.stop() == 0


@pytest.fixture(scope="module")
def reranker_server():
    s = Server(MODELS / "arch/xlmr-reranker")
    yield s
    assert s.stop() == 0


def test_health_and_info(demo_server):
    status, _, _ = demo_server.request("GET", "/health")
    assert status == 200
    status, data, _ = demo_server.request("GET", "/info")
    info = json.loads(data)
    assert status == 200 and info["model_dtype"] == "fp32" and info["max_input_length"] == 512
    assert info["max_client_batch_size"] == 8 and "classifier" in info["model_type"]


def test_embed_equals_cli(demo_server):
    texts = ["book a flight to paris", "what is the weather like", "hi"]
    status, out, headers = demo_server.post("/embed", {"inputs": texts})
    assert status == 200 and len(out) == 3 and len(out[0]) == 128
    expected = [r["embedding"] for r in cli("embed", "--model", str(DEMO), "--pooling", "mean", "--normalize", *texts)]
    np.testing.assert_allclose(np.array(out), np.array(expected), atol=1e-5)
    for h in ("x-compute-time", "x-queue-time", "x-inference-time", "x-tokenization-time", "x-total-time"):
        assert h in {k.lower() for k in headers}
    assert int({k.lower(): v for k, v in headers.items()}["x-compute-tokens"]) > 6
    status, one, _ = demo_server.post("/embed", {"inputs": "hi", "normalize": False})
    assert status == 200 and len(one) == 1
    raw = encore.Model(DEMO, threads=1).embed("hi", pooling="mean")
    np.testing.assert_allclose(one[0], raw, atol=1e-5)


def test_predict_shapes_and_scores(demo_server):
    status, out, _ = demo_server.post("/predict", {"inputs": "book a flight to paris"})
    assert status == 200 and isinstance(out, list) and len(out) == 151
    assert set(out[0]) == {"score", "label"} and out[0]["label"] == "book_flight"
    assert [d["score"] for d in out] == sorted((d["score"] for d in out), reverse=True)
    expected = cli("classify", "--model", str(DEMO), "book a flight to paris")[0]
    assert abs(out[0]["score"] - expected["score"]) <= 1e-5
    status, batch, _ = demo_server.post("/predict", {"inputs": [["book a flight"], ["hi"], ["a", "b"]]})
    assert status == 200 and len(batch) == 3 and all(len(r) == 151 for r in batch)
    status, pair, _ = demo_server.post("/predict", {"inputs": ["book a flight", "to paris"]})
    assert status == 200 and isinstance(pair[0], dict)
    pair_expected = cli("classify", "--model", str(DEMO), "--pair", "to paris", "book a flight")[0]
    assert pair[0]["label"] == pair_expected["label"] and abs(pair[0]["score"] - pair_expected["score"]) <= 1e-5
    status, raw, _ = demo_server.post("/predict", {"inputs": "hi", "raw_scores": True})
    logits = encore.Model(DEMO, threads=1).logits("hi")
    assert abs(raw[0]["score"] - float(logits.max())) <= 1e-5


def test_rerank(reranker_server):
    texts = ["a cat is an animal", "the stock market fell", "cats purr"]
    status, out, _ = reranker_server.post("/rerank", {"query": "what is a cat", "texts": texts, "return_text": True})
    assert status == 200 and len(out) == 3 and set(out[0]) == {"index", "score", "text"}
    assert [r["score"] for r in out] == sorted((r["score"] for r in out), reverse=True)
    ce = encore.CrossEncoder(MODELS / "arch/xlmr-reranker", threads=1)
    expected = ce.predict([("what is a cat", t) for t in texts])
    for r in out:
        assert abs(r["score"] - expected[r["index"]]) <= 1e-5 and r["text"] == texts[r["index"]]
    status, err, _ = reranker_server.post("/rerank", {"query": "q"})
    assert status == 422 and err["error_type"] == "Validation"


def test_tokenize_and_decode(demo_server):
    status, out, _ = demo_server.post("/tokenize", {"inputs": "Hello world!"})
    assert status == 200 and [t["text"] for t in out[0]] == ["[CLS]", "hello", "world", "!", "[SEP]"]
    assert out[0][0]["special"] and out[0][0]["start"] is None and out[0][1]["start"] == 0 and out[0][1]["stop"] == 5
    ids = [t["id"] for t in out[0]]
    status, text, _ = demo_server.post("/decode", {"ids": ids})
    assert status == 200 and text == ["hello world!"]
    status, err, _ = demo_server.post("/decode", {"ids": [10**9]})
    assert status == 422


def test_openai_embeddings(demo_server):
    status, out, _ = demo_server.post("/v1/embeddings", {"input": ["hi", "book a flight"], "model": "demo"})
    assert status == 200 and out["object"] == "list" and out["model"] == "demo"
    assert [d["index"] for d in out["data"]] == [0, 1] and out["data"][0]["object"] == "embedding"
    assert out["usage"]["prompt_tokens"] == out["usage"]["total_tokens"] > 4
    status, b64, _ = demo_server.post("/v1/embeddings", {"input": "hi", "encoding_format": "base64"})
    decoded = struct.unpack("<128f", base64.b64decode(b64["data"][0]["embedding"]))
    np.testing.assert_allclose(decoded, out["data"][0]["embedding"], atol=1e-6)


def test_errors(demo_server):
    def err(body, expect, kind="Validation"):
        code, out, _ = demo_server.post("/embed", body)
        assert code == expect, out
        assert set(out) == {"error", "error_type"} and out["error_type"] == kind

    err({"inputs": ""}, 422)
    err({"inputs": []}, 422)
    err({"inputs": [1, 2]}, 422)
    err({"texts": ["a"]}, 422)
    err({"inputs": ["a"] * 9}, 413)
    err({"inputs": "word " * 600, "truncate": False}, 422)
    err({"inputs": "a", "truncation_direction": "Up"}, 422)
    assert demo_server.post("/embed", {"inputs": "word " * 600, "truncate": True})[0] == 200
    code, out, _ = demo_server.request("POST", "/embed", raw=b"{not json")
    assert code == 422 and json.loads(out)["error_type"] == "Validation"
    code, out, _ = demo_server.request("POST", "/embed", raw=b'{"inputs": "\xff\xfe"}')
    assert code == 422
    code, out, _ = demo_server.request("POST", "/embed", raw=json.dumps({"inputs": "a" * 30000}).encode())
    assert code == 413 and json.loads(out)["error_type"] == "Validation"
    code, out, _ = demo_server.request("GET", "/nothing")
    assert code == 404 and json.loads(out)["error"]
    assert demo_server.post("/rerank", {"query": "a", "texts": ["b"]})[0] == 424  # not a one-label model


def test_api_key():
    s = Server(DEMO, "--api-key", "secret")
    try:
        code, out, _ = s.post("/embed", {"inputs": "hi"})
        assert code == 401 and out["error_type"] == "Unauthorized"
        assert s.post("/embed", {"inputs": "hi"}, headers={"Authorization": "Bearer wrong"})[0] == 401
        assert s.post("/embed", {"inputs": "hi"}, headers={"Authorization": "Bearer secret"})[0] == 200
    finally:
        assert s.stop() == 0


def test_concurrency_limit_gives_429():
    s = Server(DEMO, "--max-concurrent-requests", "1", "--max-batch-delay-ms", "400")
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            codes = list(pool.map(lambda _: s.post("/embed", {"inputs": "hi"}), range(4)))
        statuses = sorted(c[0] for c in codes)
        assert 200 in statuses and 429 in statuses, statuses
        for code, out, _ in codes:
            if code == 429:
                assert out["error_type"] == "Overloaded"
    finally:
        assert s.stop() == 0


def test_batching_does_not_change_answers(clinc_test):
    s = Server(MODELS / "clinc-bert-small", "--max-batch-delay-ms", "20")
    try:
        texts = [r["text"] for r in clinc_test[:48]]
        alone = [s.post("/embed", {"inputs": t})[1][0] for t in texts[:8]]
        with ThreadPoolExecutor(max_workers=16) as pool:
            together = list(pool.map(lambda i: s.post("/embed", {"inputs": texts[i : i + 3]})[1], range(0, 48, 3)))
        flat = [e for group in together for e in group]
        np.testing.assert_allclose(np.array(flat[:8]), np.array(alone), atol=1e-5)
        metrics = s.request("GET", "/metrics")[1].decode()
        rows = [l for l in metrics.splitlines() if l.startswith("encore_batch_requests_count")]
        batches = int(float(rows[0].split()[1]))
        assert batches < 8 + 16, "concurrent requests should have shared batches"
    finally:
        assert s.stop() == 0


def test_metrics_are_prometheus_text(demo_server):
    demo_server.post("/embed", {"inputs": "hi"})
    status, data, headers = demo_server.request("GET", "/metrics")
    text = data.decode()
    assert status == 200
    sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? -?[0-9.e+Inf-]+$')
    for line in text.splitlines():
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or sample.match(line), line
    assert re.search(r'encore_requests_total\{route="/embed",status="200"\} [1-9]', text)
    assert "encore_request_seconds_count" in text and "encore_queue_depth 0" in text


def test_sigterm_drains_in_flight_requests():
    s = Server(DEMO, "--max-batch-delay-ms", "1500")
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("r", s.post("/embed", {"inputs": "hi"})))
    t.start()
    time.sleep(0.5)  # the request waits in the batcher
    s.proc.send_signal(signal.SIGTERM)
    t.join(timeout=30)
    assert result["r"][0] == 200 and len(result["r"][1]) == 1
    assert s.proc.wait(timeout=30) == 0


def test_embed_all_equals_forward(demo_server):
    status, out, _ = demo_server.post("/embed_all", {"inputs": ["hi", "book a flight to paris"]})
    assert status == 200 and len(out) == 2
    model = encore.Model(DEMO, threads=1)
    for text, tokens in zip(["hi", "book a flight to paris"], out):
        expected = model.forward(text)["last_hidden_state"]
        assert np.array(tokens).shape == expected.shape  # every token, [CLS] and [SEP] included
        np.testing.assert_allclose(np.array(tokens), expected, atol=1e-5)
    status, one, _ = demo_server.post("/embed_all", {"inputs": "hi"})
    assert status == 200 and np.array(one).shape == (1, 3, 128)
    assert demo_server.post("/embed_all", {"inputs": ""})[0] == 422


def test_openapi_lists_every_route(demo_server):
    status, data, headers = demo_server.request("GET", "/openapi.json")
    doc = json.loads(data)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert doc["openapi"].startswith("3.0") and doc["info"]["title"] == "encore serve"
    routes = {"/embed", "/embed_all", "/predict", "/rerank", "/tokenize", "/decode", "/v1/embeddings",
              "/health", "/info", "/metrics", "/openapi.json", "/"}
    assert set(doc["paths"]) == routes
    for path, ops in doc["paths"].items():
        for method in ops:
            # Every documented route exists: an empty body is a 422 (or 424 without the head), never 404.
            code = demo_server.request(method.upper(), path, raw=b"{}" if method == "post" else None)[0]
            assert code in (200, 422, 424), (method, path, code)
    refs = re.findall(r'"\$ref": "#/components/(\w+)/(\w+)"', data.decode())
    for kind, name in refs:
        assert name in doc["components"][kind], name


def test_page_is_self_contained(demo_server):
    status, data, headers = demo_server.request("GET", "/")
    page = data.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "<script>" in page and 'id="run"' in page
    assert not re.search(r'(src|href)="(https?:)?//', page), "the page loads nothing from elsewhere"


def test_page_and_openapi_open_without_key():
    s = Server(DEMO, "--api-key", "secret")
    try:
        assert s.request("GET", "/")[0] == 200
        assert s.request("GET", "/openapi.json")[0] == 200
        assert s.request("GET", "/info")[0] == 401
    finally:
        assert s.stop() == 0


def test_a_port_in_use_refuses_to_start(demo_server):
    r = subprocess.run([CLI, "serve", "--model", str(DEMO), "--port", str(demo_server.port)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert f"cannot listen on 127.0.0.1:{demo_server.port}" in r.stderr
    assert demo_server.request("GET", "/health")[0] == 200  # the first server is unaffected


def test_client_disconnect_cancels_queued_work():
    import socket

    # clinc-bert-small (4 layers of 256) rather than the demo model: its 12 x 32 long texts take
    # seconds, so most are still queued when the clients go away, however fast the machine.
    s = Server(MODELS / "clinc-bert-small", "--max-batch-requests", "1")
    try:
        long_texts = [" ".join(["flight"] * 400)] * 32
        body = json.dumps({"inputs": long_texts}).encode()
        head = (f"POST /embed HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        socks = []
        for _ in range(12):
            c = socket.create_connection(("127.0.0.1", s.port))
            c.sendall(head + body)
            socks.append(c)
        time.sleep(0.3)
        for c in socks:
            c.close()  # every client goes away while most requests still queue
        deadline = time.time() + 60
        metrics = ""
        while time.time() < deadline:
            metrics = s.request("GET", "/metrics")[1].decode()
            if "encore_queue_depth 0" in metrics and "encore_requests_in_flight 0\n" in metrics:
                break
            time.sleep(0.1)
        cancelled = int(re.search(r"^encore_cancelled_rows_total (\d+)", metrics, re.M).group(1))
        computed = int(float(re.search(r"^encore_batch_rows_sum (\S+)", metrics, re.M).group(1)))
        assert cancelled >= 32, metrics  # at least one whole request never ran
        assert computed + cancelled <= 12 * 32  # a cancelled row is never computed
        assert s.post("/embed", {"inputs": "still serving"})[0] == 200
    finally:
        assert s.stop() == 0


def test_page_in_headless_chromium(demo_server, tmp_path):
    import os
    import shutil

    if not shutil.which("chromedriver") or not os.path.exists("/usr/bin/chromium"):
        if os.environ.get("CI"):
            pytest.fail("CI installs chromium and chromium-driver (scripts/install_deps.sh)")
        pytest.skip("chromium / chromium-driver not installed")
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=900,700",
                f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(arg)
    from selenium.webdriver.chrome.service import Service

    from selenium.common.exceptions import WebDriverException

    try:
        driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=options)
    except WebDriverException as e:
        # Outside CI (e.g. the fresh-machine chroot, which has no /run, dbus or udev), a browser
        # that cannot start here is an environment limit, said as a skip; in CI it is a failure.
        if os.environ.get("CI"):
            raise
        pytest.skip(f"chromium could not start here: {e.msg}")
    try:
        driver.get(f"http://127.0.0.1:{demo_server.port}/")
        wait = WebDriverWait(driver, 30)
        wait.until(lambda d: d.find_element(By.ID, "run").is_enabled())
        assert "classifier" in driver.find_element(By.ID, "model").text
        driver.find_element(By.ID, "text").send_keys("book a flight to paris")
        driver.find_element(By.ID, "run").click()
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#labels tr")))
        rows = driver.find_elements(By.CSS_SELECTOR, "#labels tr")
        top_label, top_score = rows[0].find_elements(By.TAG_NAME, "td")[:2]
        expected = demo_server.post("/predict", {"inputs": "book a flight to paris"})[1][0]
        assert top_label.text == expected["label"]
        assert abs(float(top_score.text) - expected["score"]) < 1e-4
        assert len(rows) == 10
        shot = os.environ.get("ENCORE_SCREENSHOT")
        if shot:
            driver.save_screenshot(shot)
        # An error from the server is shown, not swallowed.
        driver.find_element(By.ID, "text").clear()
        driver.find_element(By.ID, "text").send_keys("x " * 600)
        driver.find_element(By.ID, "run").click()
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#result .error")))
        assert "maximum" in driver.find_element(By.CSS_SELECTOR, "#result .error").text

        # An embedding model: the page compares two texts by cosine similarity.
        st = Server(MODELS / "arch/distilbert-st")
        try:
            driver.get(f"http://127.0.0.1:{st.port}/")
            wait.until(lambda d: d.find_element(By.ID, "run").is_enabled())
            assert driver.find_element(By.ID, "run").text == "Compare"
            driver.find_element(By.ID, "text").send_keys("a cat sat")
            driver.find_element(By.ID, "pair").send_keys("a dog ran")
            driver.find_element(By.ID, "run").click()
            wait.until(ec.presence_of_element_located((By.ID, "similarity")))
            a, b = st.post("/embed", {"inputs": ["a cat sat", "a dog ran"]})[1]
            expected = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
            assert abs(float(driver.find_element(By.ID, "similarity").text) - expected) < 1e-4
        finally:
            assert st.stop() == 0
    finally:
        driver.quit()


def test_wrong_method_is_405(demo_server):
    code, out, _ = demo_server.request("GET", "/embed")
    assert code == 405 and json.loads(out)["error_type"] == "Validation"
    assert demo_server.request("POST", "/health", raw=b"{}")[0] == 405


def test_load_test_script_reports_a_clean_run(tmp_path):
    import os
    import shutil

    if not shutil.which("wrk"):
        if os.environ.get("CI"):
            pytest.fail("CI installs wrk (scripts/install_deps.sh)")
        pytest.skip("wrk not installed")
    from conftest import ROOT

    s = Server(DEMO)
    try:
        out = tmp_path / "load"
        run = subprocess.run([str(ROOT / "scripts/load_test.sh"), "--url", f"http://127.0.0.1:{s.port}",
                              "--route", "/predict", "--duration", "3s", "--connections", "4", "--threads", "1",
                              "--server-pid", str(s.proc.pid), "--out", str(out)],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        summary = json.loads((out / "summary.json").read_text())
        assert summary["errors"]["total"] == 0 and summary["ok_requests"] > 0
        assert summary["texts"] >= summary["ok_requests"] and summary["tokens"] > summary["texts"]
        assert summary["latency_ms"]["p50"] <= summary["latency_ms"]["p99"]
        # The client's count of texts is what the server says it computed.
        metrics = s.request("GET", "/metrics")[1].decode()
        rows = float(re.search(r"^encore_batch_rows_sum (\S+)", metrics, re.M).group(1))
        assert rows >= summary["texts"]
        assert (out / "rss.csv").read_text().count("\n") >= 1
    finally:
        assert s.stop() == 0
