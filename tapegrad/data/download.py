"""Fetching data set files: download with a progress bar, check the MD5, unpack safely.

A download goes to ``<name>.part`` and is renamed to ``<name>`` only after its MD5 matched
the published one, so an interrupted or corrupt download never looks like a good file.
"""
import hashlib
import os
import socket
import tarfile
from pathlib import PurePosixPath
from urllib.error import URLError
from urllib.request import urlopen

_CHUNK = 1 << 20  # bytes read at a time, for hashing and downloading


def md5_of(path):
    """The MD5 of a file's bytes, as 32 hex digits."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_md5(path, expected, what_to_do):
    """Raise a RuntimeError naming ``path`` and both MD5s unless the file's MD5 is ``expected``."""
    actual = md5_of(path)
    if actual != expected:
        raise RuntimeError(f"{path} has MD5 {actual}, but the original file has MD5 {expected}: "
                           f"it is corrupt or not the original. {what_to_do}")


def download_file(urls, folder, filename, md5, timeout=60):
    """Download ``filename`` into ``folder`` from the first of ``urls`` that answers.

    Each url is the full address of the file. Returns the path of the verified file.
    Raises RuntimeError when no url can be reached (naming them and saying how to download
    by hand), or when the MD5 of the downloaded bytes is not ``md5`` (the download is
    deleted).
    """
    from tqdm.auto import tqdm  # only needed here, so importing tapegrad.data stays light

    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, filename)
    partial = path + ".part"
    failures = []
    for url in urls:
        try:
            with urlopen(url, timeout=timeout) as response, open(partial, "wb") as file:
                size = response.headers.get("Content-Length") if response.headers else None
                with tqdm(total=int(size) if size else None, unit="B", unit_scale=True,
                          unit_divisor=1024, desc=filename) as bar:
                    while chunk := response.read(_CHUNK):
                        file.write(chunk)
                        bar.update(len(chunk))
        except (URLError, socket.timeout, TimeoutError, ConnectionError) as error:
            failures.append(f"{url} ({getattr(error, 'reason', error)})")
            _remove(partial)
            continue
        except BaseException:
            _remove(partial)
            raise
        actual = md5_of(partial)
        if actual != md5:
            _remove(partial)
            raise RuntimeError(f"the download of {filename} from {url} has MD5 {actual}, but the "
                               f"original file has MD5 {md5}; the download was deleted. Try "
                               f"again, or download {filename} by hand into {folder}")
        os.replace(partial, path)
        return path
    raise RuntimeError(f"could not download {filename}: " + "; ".join(failures) +
                       f". Check the network connection, or download the file by hand from "
                       f"{urls[0]} into {folder}")


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def extract_tar(archive, folder):
    """Unpack a .tar.gz into ``folder``, refusing members that could write outside it.

    Only plain files and folders with relative paths and no '..' are allowed; links,
    devices and absolute paths raise a RuntimeError naming the archive and the member.
    """
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for member in members:
            parts = PurePosixPath(member.name).parts
            if member.name.startswith(("/", "\\")) or os.path.isabs(member.name) or ".." in parts:
                raise RuntimeError(f"{archive}: refusing to extract {member.name!r}, whose path "
                                   f"leaves the target folder")
            if not (member.isfile() or member.isdir()):
                raise RuntimeError(f"{archive}: refusing to extract {member.name!r}, which is "
                                   f"not a plain file or folder (a link or a device)")
        if hasattr(tarfile, "data_filter"):  # Python ≥ 3.11.4 checks again, and stays quiet
            tar.extractall(folder, members=members, filter="data")
        else:
            tar.extractall(folder, members=members)
