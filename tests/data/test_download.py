"""Downloads, served from memory by a fake urlopen: MD5 checks, mirrors, safe unpacking."""
import gzip
import io
import os
import socket
import tarfile
from urllib.error import URLError

import numpy as np
import pytest

from tapegrad.data import CIFAR10, MNIST, download

from .fakes import (FakeWeb, fake_cifar_files, fake_mnist_arrays, idx_bytes, md5, tar_gz,
                    use_md5s_of)

MIRROR_A, MIRROR_B = "https://a.example/mnist/", "http://b.example/mnist/"


@pytest.fixture
def mnist_web(monkeypatch):
    """A fake web serving the four fake MNIST files from mirror B, which MNIST expects."""
    files = {name + ".gz": gzip.compress(idx_bytes(array), mtime=0)
             for name, array in fake_mnist_arrays().items()}
    monkeypatch.setattr(MNIST, "mirrors", [MIRROR_A, MIRROR_B])
    monkeypatch.setattr(MNIST, "resources", [(name, md5(data)) for name, data in files.items()])
    web = FakeWeb({MIRROR_A + name: URLError("no route to host") for name in files}
                  | {MIRROR_B + name: data for name, data in files.items()})
    monkeypatch.setattr(download, "urlopen", web)
    return web, files


def test_download_fetches_the_split_into_root_mnist_raw_from_the_first_mirror_that_answers(
        tmp_path, mnist_web):
    web, files = mnist_web
    ds = MNIST(tmp_path, download=True)
    assert len(ds) == 12
    raw = tmp_path / "MNIST" / "raw"
    assert sorted(os.listdir(raw)) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert (raw / "train-images-idx3-ubyte.gz").read_bytes() == files["train-images-idx3-ubyte.gz"]
    assert web.requested[:2] == [MIRROR_A + "train-images-idx3-ubyte.gz",
                                 MIRROR_B + "train-images-idx3-ubyte.gz"]


def test_files_already_there_are_not_downloaded_again(tmp_path, mnist_web):
    web, _ = mnist_web
    MNIST(tmp_path, train=False, download=True)
    count = len(web.requested)
    MNIST(tmp_path, train=False, download=True)
    assert len(web.requested) == count


def test_an_md5_mismatch_deletes_the_download_and_names_the_file_and_both_md5s(
        tmp_path, mnist_web, monkeypatch):
    web, files = mnist_web
    bad = b"not the real file"
    web.pages[MIRROR_B + "train-images-idx3-ubyte.gz"] = bad
    expected = md5(files["train-images-idx3-ubyte.gz"])
    with pytest.raises(RuntimeError, match=f"download of train-images-idx3-ubyte.gz from "
                                           f"{MIRROR_B}train-images-idx3-ubyte.gz has MD5 "
                                           f"{md5(bad)}, but the original file has MD5 "
                                           f"{expected}; the download was deleted"):
        MNIST(tmp_path, download=True)
    assert os.listdir(tmp_path / "MNIST" / "raw") == []


@pytest.mark.parametrize("failure", [URLError("Name or service not known"),
                                     socket.timeout("timed out"), ConnectionResetError("reset")])
def test_an_unreachable_network_names_the_urls_and_says_to_download_by_hand(
        tmp_path, mnist_web, failure):
    web, _ = mnist_web
    for url in list(web.pages):
        web.pages[url] = failure
    with pytest.raises(RuntimeError, match=f"could not download train-images-idx3-ubyte.gz: "
                                           f"{MIRROR_A}train-images-idx3-ubyte.gz .*; "
                                           f"{MIRROR_B}train-images-idx3-ubyte.gz .*download the "
                                           f"file by hand .* into {tmp_path}"):
        MNIST(tmp_path, download=True)
    assert not any(name.endswith(".part") for name in os.listdir(tmp_path / "MNIST" / "raw"))


def test_without_download_nothing_is_fetched(tmp_path, mnist_web):
    web, _ = mnist_web
    with pytest.raises(FileNotFoundError):
        MNIST(tmp_path)
    assert web.requested == []


def test_embedded_mnist_with_download_is_an_error():
    with pytest.raises(ValueError, match="embedded subset needs no download"):
        MNIST(download=True)


# -- CIFAR-10: one archive, unpacked safely ------------------------------------------------------

@pytest.fixture
def cifar_web(monkeypatch):
    files = fake_cifar_files(per_batch=3)
    use_md5s_of(monkeypatch, CIFAR10, files)
    archive = tar_gz({f"cifar-10-batches-py/{name}": data for name, data in files.items()})
    monkeypatch.setattr(CIFAR10, "tgz_md5", md5(archive))
    web = FakeWeb({CIFAR10.url: archive})
    monkeypatch.setattr(download, "urlopen", web)
    return web, archive


def test_cifar_download_fetches_checks_and_unpacks_the_archive(tmp_path, cifar_web):
    web, archive = cifar_web
    ds = CIFAR10(tmp_path, train=False, download=True)
    assert len(ds) == 3 and web.requested == [CIFAR10.url]
    assert (tmp_path / "cifar-10-python.tar.gz").read_bytes() == archive
    CIFAR10(tmp_path, download=True)                  # intact batches: no second download
    assert web.requested == [CIFAR10.url]


def test_cifar_download_with_a_wrong_md5_keeps_nothing(tmp_path, cifar_web, monkeypatch):
    monkeypatch.setattr(CIFAR10, "tgz_md5", "0" * 32)
    with pytest.raises(RuntimeError, match="cifar-10-python.tar.gz .* has MD5 .*, but the "
                                           "original file has MD5 0{32}"):
        CIFAR10(tmp_path, download=True)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["/etc/evil", "../evil", "cifar-10-batches-py/../../evil"])
def test_unpacking_refuses_paths_that_leave_the_folder(tmp_path, name):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(tar_gz({"fine": b"ok", name: b"evil"}))
    with pytest.raises(RuntimeError, match=f"refusing to extract '{name}', whose path leaves"):
        download.extract_tar(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "fine").exists()   # checked before anything is written


def test_unpacking_refuses_links(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(buffer.getvalue())
    with pytest.raises(RuntimeError, match="'link', which is not a plain file or folder"):
        download.extract_tar(archive, tmp_path / "out")


def test_md5_of_reads_the_whole_file(tmp_path):
    path = tmp_path / "f"
    data = np.arange(3 << 20, dtype=np.uint8).tobytes()   # more than one read
    path.write_bytes(data)
    assert download.md5_of(path) == md5(data)
