"""MNIST and Fashion-MNIST: download once from a mirror, verify the published SHA-256, cache, read the IDX files.

``load_mnist`` is the only network path of littlebook (docs/data.md); the data sets themselves and their splits
live in ``littlebook.data``, which re-exports ``load_mnist``, ``mnist_cached`` and ``MNISTUnavailable``.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from .functional import check_bool

__all__ = ["load_mnist", "mnist_cached", "MNISTUnavailable", "data_dir", "MNIST_FILES", "MIRRORS", "SHA256"]


# ---------------------------------------------------------------------------------------------------------------------
# MNIST and Fashion-MNIST: download once, verify, cache, load.
# ---------------------------------------------------------------------------------------------------------------------

MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

# SHA-256 of the four gzipped files, as published by TensorFlow Datasets in
# tensorflow_datasets/url_checksums/mnist.txt (files on storage.googleapis.com/cvdf-datasets/mnist/) and
# tensorflow_datasets/url_checksums/fashion_mnist.txt (files on fashion-mnist.s3-website.eu-central-1.amazonaws.com).
# Every mirror below serves the same bytes: torchvision checks the ossci-datasets mirror with MD5 only
# (e.g. f68b3c2dcbeaaa9fbdd348bbdeb94873 for MNIST train-images), and other projects publish these same SHA-256
# digests for the ossci-datasets and yann.lecun.com copies. A file from any mirror must match these digests.
SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}

# Tried in order. yann.lecun.com is left out: it has answered 403 to scripts for years (why the mirrors exist).
MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",  # PyTorch's mirror (torchvision)
        "https://storage.googleapis.com/cvdf-datasets/mnist/",  # TensorFlow's mirror (tensorflow-datasets)
    ),
    "fashion": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # Zalando's own bucket
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
}
MIRROR_ENV = {"mnist": "LITTLEBOOK_MNIST_MIRROR", "fashion": "LITTLEBOOK_FASHION_MNIST_MIRROR"}
_TITLE = {"mnist": "MNIST", "fashion": "Fashion-MNIST"}
_SUBDIR = {"mnist": "mnist", "fashion": "fashion-mnist"}  # same file names, so one folder per data set

TIMEOUT = 30.0  # seconds for the connection and for each read: an offline machine fails fast instead of hanging


class MNISTUnavailable(RuntimeError):
    """The MNIST files are neither in ``path`` nor in the cache, and could not be downloaded."""


def data_dir(cache_dir=None) -> Path:
    """The littlebook cache: ``cache_dir``, else $LITTLEBOOK_DATA, else $XDG_CACHE_HOME/littlebook or
    ~/.cache/littlebook."""
    if cache_dir is None:
        cache_dir = os.environ.get("LITTLEBOOK_DATA") or (
            Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "littlebook")
    return Path(cache_dir).expanduser()


def mnist_cached(kind: str = "mnist", cache_dir=None) -> bool:
    """True when all four files of ``kind`` ("mnist" or "fashion") are in the cache, so no download is needed."""
    directory = data_dir(cache_dir) / _SUBDIR[_check_kind(kind)]
    return all(_find(directory, name) is not None for name in MNIST_FILES)


def load_mnist(path=None, cache_dir=None, mirror=None, kind: str = "mnist", download: bool = True,
               progress: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The real MNIST digits (or Fashion-MNIST with ``kind="fashion"``): 60,000 training and 10,000 test images.

    Returns X_train (60000, 28, 28) uint8, y_train (60000,) int64, X_test (10000, 28, 28) uint8, y_test (10000,)
    int64; pixels are 0 (background) … 255 (ink), use ``scale_images`` for network input.

    The four IDX files (gzipped or not) are read from ``path`` if given, else from the cache directory
    ``data_dir(cache_dir) / "mnist"``; missing ones are downloaded (when ``download``) from ``mirror`` (one base URL
    or a list), else $LITTLEBOOK_MNIST_MIRROR (base URLs separated by spaces), else ``MIRRORS[kind]``. Each download
    must match its published SHA-256 and parse as a valid IDX file before it is renamed into the cache, so the cache
    never holds a partial or corrupt file. Raises ``MNISTUnavailable`` when the files can be neither found nor
    downloaded; the message says which files to put where.
    """
    kind = _check_kind(kind)
    check_bool("load_mnist", "download", download)
    check_bool("load_mnist", "progress", progress)
    mirrors = _mirrors(kind, mirror)  # checked now, not only once a file turns out to be missing
    directory = Path(path).expanduser() if path is not None else data_dir(cache_dir) / _SUBDIR[kind]
    missing = [name for name in MNIST_FILES if _find(directory, name) is None]
    if missing and path is not None:
        raise MNISTUnavailable(_unavailable_message(kind, directory, missing, f"files missing from {directory}"))
    if missing and not download:
        raise MNISTUnavailable(_unavailable_message(kind, directory, missing, "no cached copy and download=False"))
    if missing:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            probe = tempfile.TemporaryFile(dir=directory)  # the downloads are written next to their final name
            probe.close()
        except OSError as error:  # e.g. a read-only cache folder: say how to proceed, not only what failed
            raise MNISTUnavailable(_unavailable_message(
                kind, directory, missing, f"the cache folder {directory} cannot be written ({error})")) from None
        for name in missing:
            errors = _download(name, directory, mirrors, SHA256[kind][name], progress)
            if errors:
                raise MNISTUnavailable(_unavailable_message(
                    kind, directory, [n for n in missing if _find(directory, n) is None],
                    f"downloading {name} failed from every mirror", errors))
    # Files we cached are ours to delete when they turn out corrupt (e.g. edited by hand); files under `path` are not.
    X_train, y_train, X_test, y_test = (
        _read_mnist_file(_find(directory, name), name, remove_if_bad=path is None) for name in MNIST_FILES)
    for X, y, split in ((X_train, y_train, "train"), (X_test, y_test, "t10k")):
        if len(X) != len(y):
            raise ValueError(f"load_mnist: {directory}: {split} has {len(X)} images but {len(y)} labels")
    return X_train, y_train.astype(np.int64), X_test, y_test.astype(np.int64)


def _check_kind(kind: str) -> str:
    if kind not in SHA256:
        raise ValueError(f"load_mnist: kind must be one of {sorted(SHA256)}, got {kind!r}")
    return kind


def _find(directory: Path, name: str) -> Path | None:
    """The file ``name`` in ``directory``, gzipped (as published) or already unpacked."""
    for candidate in (directory / name, directory / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def _mirrors(kind: str, mirror) -> tuple[str, ...]:
    if mirror is None:
        mirror = os.environ.get(MIRROR_ENV[kind], "").split() or MIRRORS[kind]
    mirrors = (mirror,) if isinstance(mirror, str) else mirror
    # An empty list would try no mirror at all, which the download loop took for success (and then read no file).
    if not isinstance(mirrors, (list, tuple)) or not all(isinstance(m, str) for m in mirrors):
        raise TypeError(f"load_mnist: mirror must be a base URL (a str) or a list of them, got {mirror!r}")
    if not mirrors or not all(mirrors):
        raise ValueError(f"load_mnist: mirror must name at least one base URL, and no empty one, got {mirror!r}")
    return tuple(mirrors)


def _download(name: str, directory: Path, mirrors, sha256: str, progress: bool) -> list[str]:
    """Fetch ``name`` from the first mirror that delivers a verified file; return the errors ([] on success)."""
    errors = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + name
        try:
            _fetch_verified(url, directory / name, sha256, progress)
            return []
        except (OSError, ValueError, http.client.HTTPException) as error:  # urllib's URLError is an OSError
            errors.append(f"{url}: {error}")
    return errors


def _fetch_verified(url: str, target: Path, sha256: str, progress: bool) -> None:
    """Download ``url`` into a temporary file next to ``target``, check it, then rename it to ``target``.

    os.replace is atomic on one file system: other processes see either no file or the complete, verified one.
    """
    from tqdm.auto import tqdm  # widget bar in Jupyter, text bar in a terminal

    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, desc=target.name, unit="B", unit_scale=True, unit_divisor=1024,
                      disable=not progress, leave=True) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
            size = out.tell()
        # read(n) returns b"" at a closed connection without complaint: compare with the announced length ourselves
        if total is not None and size != total:
            raise ValueError(f"connection cut: received {size} of {total} bytes; the partial download was deleted")
        if digest.hexdigest() != sha256:
            raise ValueError(f"SHA-256 mismatch for {target.name}: expected {sha256}, got {digest.hexdigest()}; "
                             f"the download was deleted")
        _read_mnist_file(Path(tmp), target.name, label=url)  # a valid checksum of an invalid file: refuse it too
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):  # still there only when something failed (or was interrupted) before the rename
            os.unlink(tmp)


def _read_mnist_file(file: Path, name: str, label=None, remove_if_bad: bool = False) -> np.ndarray:
    """Parse one MNIST IDX file: images (N, 28, 28) uint8 or labels (N,) uint8, with every header field checked."""
    try:
        array = _read_idx(file, magic=0x00000803 if "images" in name else 0x00000801, label=label or file)
        if array.ndim == 3 and array.shape[1:] != (28, 28):
            raise ValueError(f"{label or file}: images are {array.shape[1]}×{array.shape[2]}, expected 28×28")
        if array.ndim == 1 and array.size and array.max() > 9:
            raise ValueError(f"{label or file}: label {array.max()} found, expected digits 0…9")
    except ValueError as error:
        if remove_if_bad:
            file.unlink()
            raise ValueError(f"{error}; the corrupt file was removed from the cache, "
                             f"the next load_mnist() downloads it again") from None
        raise
    return array


def _read_idx(file: Path, magic: int, label) -> np.ndarray:
    """Read an IDX file of unsigned bytes (LeCun's format): big-endian uint32 magic 0x000008DD (DD = number of
    dimensions), DD big-endian uint32 sizes, then the bytes in C order. Gzipped files are recognised by content."""
    raw = file.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # the gzip signature, whatever the file is called
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:  # BadGzipFile is an OSError; truncation raises EOFError
            raise ValueError(f"{label}: corrupt or truncated gzip data ({error})") from None
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{label}: truncated IDX file: {len(raw)} bytes, shorter than its {header}-byte header")
    fields = np.frombuffer(raw, dtype=">u4", count=1 + ndim)
    if fields[0] != magic:
        raise ValueError(f"{label}: wrong magic number 0x{int(fields[0]):08X}, expected 0x{magic:08X} "
                         f"(an IDX {'images' if ndim == 3 else 'labels'} file)")
    shape = tuple(int(n) for n in fields[1:])
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        problem = "truncated" if len(raw) - header < expected else "trailing bytes"
        raise ValueError(f"{label}: {problem}: header says shape {shape} = {expected} bytes, "
                         f"file holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()  # copy: writable, owns its data


def _unavailable_message(kind: str, directory: Path, missing, reason: str, errors=()) -> str:
    kind_arg = "" if kind == "mnist" else f", kind={kind!r}"
    lines = [f"{_TITLE[kind]} is not available: {reason}."]
    lines += [f"  {error}" for error in errors]
    lines += [f"To use it offline, put these {len(MNIST_FILES)} files (gzipped or not) in {directory}:"]
    lines += [f"  {name}{'  (missing)' if name in missing else ''}" for name in MNIST_FILES]
    lines += [f"Or: load_mnist(path='folder/with/the/files'{kind_arg}); LITTLEBOOK_DATA=<folder> moves the cache;",
              f"{MIRROR_ENV[kind]}=<base URL> downloads from another mirror (default: {' '.join(MIRRORS[kind])})."]
    return "\n".join(lines)
