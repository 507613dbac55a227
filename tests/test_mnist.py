"""load_mnist end to end, offline: small IDX files generated here, served by a local HTTP server on 127.0.0.1.

The files are written independently of littlebook (struct + gzip), downloaded through the real code path (urllib,
temp file, SHA-256, parse, atomic rename) and compared with the arrays they were made from. The production digests
stay untouched: each test swaps in the digests of its own files with monkeypatch.
"""

import gzip
import hashlib
import http.server
import socket
import struct
import threading
import time

import numpy as np
import pytest

import littlebook as lb
from littlebook import mnist

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


# ---------------------------------------------------------------------------------------------------------------------
# Fixtures: IDX bytes, a local server, an isolated cache
# ---------------------------------------------------------------------------------------------------------------------

def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """IDX as LeCun documents it: big-endian uint32 magic, one big-endian uint32 per dimension, then the bytes."""
    return struct.pack(f">{1 + array.ndim}I", magic, *array.shape) + np.ascontiguousarray(array, np.uint8).tobytes()


def small_mnist(seed=0, n_train=12, n_test=5):
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    raw = {name: idx_bytes(a, 0x803 if a.ndim == 3 else 0x801) for name, a in arrays.items()}
    return arrays, {name: gzip.compress(b) for name, b in raw.items()}


def sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


class Server:
    """ThreadingHTTPServer on an ephemeral loopback port; ``routes[name] = (status, body[, claimed length])``."""

    def __init__(self, routes):
        self.routes, self.requests, self.stall = dict(routes), [], threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                server.requests.append(name)
                route = server.routes.get(name, (404, b"not found"))
                if route[0] == "stall":  # accept, then say nothing: the client's timeout must end the wait
                    server.stall.wait(10)
                    return
                status, body = route[:2]
                self.send_response(status)
                self.send_header("Content-Length", str(route[2] if len(route) > 2 else len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep test output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self):
        if self.thread.is_alive():
            self.stall.set()
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(timeout=5)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder via LITTLEBOOK_DATA, no mirror override from the environment."""
    root = tmp_path / "cache"
    monkeypatch.setenv("LITTLEBOOK_DATA", str(root))
    monkeypatch.delenv("LITTLEBOOK_MNIST_MIRROR", raising=False)
    monkeypatch.delenv("LITTLEBOOK_FASHION_MNIST_MIRROR", raising=False)
    return root


@pytest.fixture
def served(cache, monkeypatch):
    """A valid small MNIST on a local server, with the expected digests set to those of the served files."""
    arrays, blobs = small_mnist()
    monkeypatch.setitem(mnist.SHA256, "mnist", {name: sha256(b) for name, b in blobs.items()})
    server = Server({name: (200, b) for name, b in blobs.items()})
    yield server, arrays, blobs
    server.stop()


def closed_port_url():
    """A loopback URL where nothing listens: the port was bound, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def cache_files(cache):
    """Every file (hidden temp files included) under the cache folder."""
    return sorted(p.name for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


def check_arrays(result, arrays):
    X_train, y_train, X_test, y_test = result
    assert X_train.dtype == np.uint8 and X_test.dtype == np.uint8
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    np.testing.assert_array_equal(X_train, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte.gz"])
    np.testing.assert_array_equal(X_test, arrays["t10k-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte.gz"])


# ---------------------------------------------------------------------------------------------------------------------
# Download, cache, reuse
# ---------------------------------------------------------------------------------------------------------------------

def test_download_verifies_caches_and_second_call_needs_no_server(served, cache):
    server, arrays, blobs = served
    assert not lb.mnist_cached()
    check_arrays(lb.load_mnist(mirror=server.url, progress=False), arrays)
    assert sorted(server.requests) == sorted(FILES)
    # exactly the four published files, byte for byte, and no temporary file left behind
    assert cache_files(cache) == sorted(FILES)
    for name in FILES:
        assert (cache / "mnist" / name).read_bytes() == blobs[name]
    assert lb.mnist_cached()

    server.stop()
    check_arrays(lb.load_mnist(mirror=server.url, progress=False), arrays)  # server gone: must come from the cache
    check_arrays(lb.load_mnist(download=False), arrays)
    assert len(server.requests) == 4


def test_environment_variable_selects_the_mirror(served, monkeypatch):
    server, arrays, _ = served
    monkeypatch.setenv("LITTLEBOOK_MNIST_MIRROR", server.url)
    check_arrays(lb.load_mnist(progress=False), arrays)


def test_cache_dir_argument_overrides_environment(served, cache, tmp_path):
    server, arrays, _ = served
    other = tmp_path / "elsewhere"
    check_arrays(lb.load_mnist(cache_dir=other, mirror=server.url, progress=False), arrays)
    assert lb.mnist_cached(cache_dir=other) and not lb.mnist_cached()
    assert cache_files(cache) == []


def test_next_mirror_is_tried_when_the_first_fails(served):
    server, arrays, _ = served
    check_arrays(lb.load_mnist(mirror=[closed_port_url(), server.url], progress=False), arrays)


def test_only_missing_files_are_downloaded(served, cache):
    server, arrays, blobs = served
    (cache / "mnist").mkdir(parents=True)
    (cache / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(blobs["train-images-idx3-ubyte.gz"])
    check_arrays(lb.load_mnist(mirror=server.url, progress=False), arrays)
    assert sorted(server.requests) == sorted(FILES[1:])


def test_progress_bar_names_the_file(served, capsys):
    server, arrays, _ = served
    check_arrays(lb.load_mnist(mirror=server.url, progress=True), arrays)
    assert "t10k-labels-idx1-ubyte.gz" in capsys.readouterr().err  # tqdm writes to stderr in a terminal


def test_file_url_mirror(served, tmp_path):
    """A folder on a USB stick works as a mirror too (urllib understands file:// URLs)."""
    _, arrays, blobs = served
    folder = tmp_path / "usb"
    folder.mkdir()
    for name, blob in blobs.items():
        (folder / name).write_bytes(blob)
    check_arrays(lb.load_mnist(mirror=folder.as_uri() + "/", progress=False), arrays)


# ---------------------------------------------------------------------------------------------------------------------
# Reading from a folder: gzipped or not, never modified
# ---------------------------------------------------------------------------------------------------------------------

def test_path_with_uncompressed_files(tmp_path, cache):
    arrays, blobs = small_mnist(seed=1)
    folder = tmp_path / "mine"
    folder.mkdir()
    for name, blob in blobs.items():
        (folder / name.removesuffix(".gz")).write_bytes(gzip.decompress(blob))
    check_arrays(lb.load_mnist(path=folder), arrays)
    assert not cache.exists()  # reading from path touches no cache


def test_path_with_missing_file_names_it(tmp_path):
    _, blobs = small_mnist()
    for name in FILES[:3]:
        (tmp_path / name).write_bytes(blobs[name])
    with pytest.raises(lb.MNISTUnavailable, match="t10k-labels-idx1-ubyte.gz  \\(missing\\)") as info:
        lb.load_mnist(path=tmp_path)
    assert str(tmp_path) in str(info.value)


def test_images_and_labels_of_different_lengths(tmp_path):
    _, blobs = small_mnist()
    short = gzip.compress(idx_bytes(np.zeros(11, np.uint8), 0x801))  # 12 training images, 11 labels
    for name in FILES:
        (tmp_path / name).write_bytes(short if name == "train-labels-idx1-ubyte.gz" else blobs[name])
    with pytest.raises(ValueError, match="12 images but 11 labels"):
        lb.load_mnist(path=tmp_path)


# ---------------------------------------------------------------------------------------------------------------------
# Offline and failing downloads: clear errors, nothing partial in the cache
# ---------------------------------------------------------------------------------------------------------------------

def test_offline_message_names_files_directory_and_mirror_variable(cache):
    with pytest.raises(lb.MNISTUnavailable) as info:
        lb.load_mnist(download=False)
    message = str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert str(cache / "mnist") in message
    for name in FILES:
        assert f"{name}  (missing)" in message
    assert "LITTLEBOOK_MNIST_MIRROR" in message and "LITTLEBOOK_DATA" in message
    assert not lb.mnist_cached()


def test_server_down_fails_fast_with_the_manual_instructions(cache):
    url = closed_port_url()
    start = time.perf_counter()
    with pytest.raises(lb.MNISTUnavailable) as info:
        lb.load_mnist(mirror=url, progress=False)
    assert time.perf_counter() - start < 10  # refused at once, no retry loop
    message = str(info.value)
    assert url + "train-images-idx3-ubyte.gz" in message and str(cache / "mnist") in message
    assert cache_files(cache) == []


def test_server_error_500(served, cache):
    server, _, _ = served
    server.routes["train-labels-idx1-ubyte.gz"] = (500, b"oops")
    with pytest.raises(lb.MNISTUnavailable, match="HTTP Error 500") as info:
        lb.load_mnist(mirror=server.url, progress=False)
    assert "downloading train-labels-idx1-ubyte.gz failed" in str(info.value)
    # the file verified before the failure is kept (complete and checked), the failed one left no trace
    assert cache_files(cache) == ["train-images-idx3-ubyte.gz"]
    assert "train-labels-idx1-ubyte.gz  (missing)" in str(info.value)


def test_stalled_server_times_out(served, cache, monkeypatch):
    server, _, _ = served
    server.routes["train-images-idx3-ubyte.gz"] = ("stall",)
    monkeypatch.setattr(mnist, "TIMEOUT", 0.5)
    start = time.perf_counter()
    with pytest.raises(lb.MNISTUnavailable, match="timed out"):
        lb.load_mnist(mirror=server.url, progress=False)
    assert time.perf_counter() - start < 8
    assert cache_files(cache) == []


def test_checksum_mismatch_deletes_the_download(served, cache, monkeypatch):
    server, _, blobs = served
    name = "t10k-images-idx3-ubyte.gz"
    tampered = bytearray(blobs[name])
    tampered[-9] ^= 0xFF  # one flipped byte (in the gzip CRC trailer)
    server.routes[name] = (200, bytes(tampered))
    with pytest.raises(lb.MNISTUnavailable) as info:
        lb.load_mnist(mirror=server.url, progress=False)
    message = str(info.value)
    assert f"expected {sha256(blobs[name])}, got {sha256(bytes(tampered))}" in message
    assert "deleted" in message
    assert name not in cache_files(cache) and not any(f.endswith(".part") for f in cache_files(cache))


def test_connection_cut_midway(served, cache):
    server, _, blobs = served
    name = "train-images-idx3-ubyte.gz"
    server.routes[name] = (200, blobs[name][:1000], len(blobs[name]))  # promises more than it sends, then closes
    with pytest.raises(lb.MNISTUnavailable, match=f"connection cut: received 1000 of {len(blobs[name])} bytes") as info:
        lb.load_mnist(mirror=server.url, progress=False)
    assert server.url + name in str(info.value)
    assert cache_files(cache) == []


def corrupt_variants():
    arrays, blobs = small_mnist()
    images = arrays["train-images-idx3-ubyte.gz"]
    raw = idx_bytes(images, 0x803)
    rng = np.random.default_rng(5)
    return {
        "gzip garbage": (b"\x1f\x8b" + rng.integers(0, 256, 500, dtype=np.uint8).tobytes(), "corrupt or truncated"),
        "gzip cut short": (blobs["train-images-idx3-ubyte.gz"][:-200], "corrupt or truncated gzip"),
        "IDX truncated": (gzip.compress(raw[:-100]), "truncated"),
        "header only half": (gzip.compress(raw[:10]), "truncated"),
        "wrong magic": (gzip.compress(idx_bytes(images, 0x801 + 0x1000)), "wrong magic number 0x00001801"),
        "labels magic on images": (gzip.compress(struct.pack(">3I", 0x801, 1, 28) + bytes(28)), "wrong magic"),
        "not 28x28": (gzip.compress(idx_bytes(images[:, :27, :], 0x803)), "27×28, expected 28×28"),
        "trailing bytes": (gzip.compress(raw + b"\0"), "trailing bytes"),
    }


@pytest.mark.parametrize("case", sorted(corrupt_variants()))
def test_corrupt_download_with_matching_checksum_never_enters_the_cache(served, cache, monkeypatch, case):
    """Even a file whose digest matches (a wrong digest table, a bad mirror) must parse before it is cached."""
    server, _, _ = served
    blob, expected = corrupt_variants()[case]
    name = "train-images-idx3-ubyte.gz"
    server.routes[name] = (200, blob)
    monkeypatch.setitem(mnist.SHA256["mnist"], name, sha256(blob))
    with pytest.raises(lb.MNISTUnavailable, match=expected) as info:
        lb.load_mnist(mirror=server.url, progress=False)
    assert server.url + name in str(info.value)  # the error names the file (by its URL)
    assert cache_files(cache) == []


def test_bad_label_value(served, cache, monkeypatch):
    server, _, _ = served
    name = "t10k-labels-idx1-ubyte.gz"
    blob = gzip.compress(idx_bytes(np.array([1, 2, 10, 3, 4], np.uint8), 0x801))
    server.routes[name] = (200, blob)
    monkeypatch.setitem(mnist.SHA256["mnist"], name, sha256(blob))
    with pytest.raises(lb.MNISTUnavailable, match="label 10 found"):
        lb.load_mnist(mirror=server.url, progress=False)
    assert name not in cache_files(cache)


def test_corrupt_cached_file_is_removed_then_downloaded_again(served, cache):
    server, arrays, blobs = served
    lb.load_mnist(mirror=server.url, progress=False)
    cached = cache / "mnist" / "t10k-images-idx3-ubyte.gz"
    cached.write_bytes(blobs["t10k-images-idx3-ubyte.gz"][:300])  # damaged on disk after the download
    with pytest.raises(ValueError, match="removed from the cache") as info:
        lb.load_mnist(mirror=server.url, progress=False)
    assert str(cached) in str(info.value)
    assert not cached.exists() and not lb.mnist_cached()
    check_arrays(lb.load_mnist(mirror=server.url, progress=False), arrays)
    assert server.requests.count("t10k-images-idx3-ubyte.gz") == 2


def test_corrupt_file_under_path_is_reported_and_kept(tmp_path):
    _, blobs = small_mnist()
    for name in FILES:
        (tmp_path / name).write_bytes(blobs[name])
    bad = tmp_path / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(b"\x1f\x8bnot gzip at all")
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz: corrupt or truncated gzip"):
        lb.load_mnist(path=tmp_path)
    assert bad.exists()  # the user's own files are never deleted


# ---------------------------------------------------------------------------------------------------------------------
# Fashion-MNIST through the same path; the production digest table
# ---------------------------------------------------------------------------------------------------------------------

def test_fashion_uses_its_own_folder_digests_and_variable(cache, monkeypatch):
    arrays, blobs = small_mnist(seed=7)
    monkeypatch.setitem(mnist.SHA256, "fashion", {name: sha256(b) for name, b in blobs.items()})
    server = Server({name: (200, b) for name, b in blobs.items()})
    try:
        monkeypatch.setenv("LITTLEBOOK_FASHION_MNIST_MIRROR", server.url)
        check_arrays(lb.load_mnist(kind="fashion", progress=False), arrays)
    finally:
        server.stop()
    assert lb.mnist_cached(kind="fashion") and not lb.mnist_cached(kind="mnist")
    assert (cache / "fashion-mnist" / "train-images-idx3-ubyte.gz").read_bytes() == blobs["train-images-idx3-ubyte.gz"]
    with pytest.raises(lb.MNISTUnavailable, match="LITTLEBOOK_MNIST_MIRROR"):
        lb.load_mnist(download=False)
    with pytest.raises(ValueError, match="kind must be one of"):
        lb.load_mnist(kind="kmnist")


def test_production_digests_are_sha256_of_the_published_files():
    for kind in ("mnist", "fashion"):
        table = mnist.SHA256[kind]
        assert tuple(table) == FILES
        assert all(len(d) == 64 and set(d) <= set("0123456789abcdef") for d in table.values())
    assert not set(mnist.SHA256["mnist"].values()) & set(mnist.SHA256["fashion"].values())
    # spot check against the value TensorFlow Datasets publishes for MNIST train-images
    assert mnist.SHA256["mnist"]["train-images-idx3-ubyte.gz"].startswith("440fcabf73cc546f")


# ---------------------------------------------------------------------------------------------------------------------
# scale_images
# ---------------------------------------------------------------------------------------------------------------------

def test_scale_images_flat_and_for_convolutions():
    X = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    X[0, 0, 0], X[0, 0, 1] = 0, 255
    flat = lb.scale_images(X)
    assert flat.dtype == np.float32 and flat.shape == (3, 784)
    np.testing.assert_allclose(flat, X.reshape(3, -1) / 255.0, rtol=1e-6)
    assert flat[0, 0] == 0.0 and flat[0, 1] == 1.0
    images = lb.scale_images(X, flatten=False)
    assert images.shape == (3, 1, 28, 28)
    np.testing.assert_array_equal(images[:, 0], flat.reshape(3, 28, 28))


@pytest.mark.parametrize("bad", [np.zeros((3, 28, 28), np.float32), np.zeros((3, 784), np.uint8)])
def test_scale_images_rejects_floats_and_flat_input(bad):
    with pytest.raises(ValueError, match="scale_images: expected uint8 images of shape \\(N, H, W\\)"):
        lb.scale_images(bad)
