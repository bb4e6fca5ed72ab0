"""Make tapegrad/data/embedded/mnist_subset.npz, the MNIST subset that ships inside tapegrad.

    python scripts/make_mnist_subset.py [--source DIR] [--out FILE]

``--source`` is a folder with the four original MNIST files (default: ../shared/data/mnist
next to the repository); their MD5s are checked against the published ones first.

Which images: the first 1,000 images of each digit in file order from the 60,000 training
images (10,000 in all), and the first 200 of each digit from the 10,000 test images (2,000
in all). They keep their file order, so classes stay interleaved as in the originals. The
choice is deterministic: running this again gives a byte-identical file.

What the .npz holds (the format of ``numpy.savez_compressed``, with fixed timestamps):

    train_images   uint8 (10000, 28, 28)    train_labels   uint8 (10000,)
    test_images    uint8 (2000, 28, 28)     test_labels    uint8 (2000,)
    train_indices  uint16 (10000,)          test_indices   uint16 (2000,)
        (the position of each image in its original file)

Attribution and license: the MNIST database of handwritten digits, by Yann LeCun, Corinna
Cortes and Christopher J. C. Burges, http://yann.lecun.com/exdb/mnist/. Yann LeCun and
Corinna Cortes hold the copyright of MNIST, a derivative work of the NIST datasets, and make
it available under the Creative Commons Attribution-Share Alike 3.0 license (CC BY-SA 3.0,
https://creativecommons.org/licenses/by-sa/3.0/). The subset is shared under the same
license; see tapegrad/data/embedded/README.md.
"""
import argparse
import io
import pathlib
import zipfile

import numpy as np

from tapegrad.data.download import check_md5
from tapegrad.data.idx import read_idx
from tapegrad.data.mnist import MNIST

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "mnist"
DEFAULT_OUT = ROOT / "tapegrad" / "data" / "embedded" / "mnist_subset.npz"
PER_CLASS = {"train": 1000, "test": 200}
FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def first_of_each_class(labels, per_class):
    """The positions of the first ``per_class`` items of each label, in file order."""
    chosen = np.concatenate([np.flatnonzero(labels == digit)[:per_class] for digit in range(10)])
    return np.sort(chosen)


def write_npz(path, arrays):
    """Like np.savez_compressed, but with fixed zip timestamps so reruns are byte-identical."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue(), compresslevel=9)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=pathlib.Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    md5s = dict(MNIST.resources)
    arrays = {}
    for split, (image_file, label_file) in FILES.items():
        for name in (image_file, label_file):
            check_md5(args.source / name, md5s[name], "Use the original MNIST files.")
        images = read_idx(args.source / image_file, ndim=3)
        labels = read_idx(args.source / label_file, ndim=1)
        chosen = first_of_each_class(labels, PER_CLASS[split])
        assert len(chosen) == 10 * PER_CLASS[split]
        arrays[f"{split}_images"] = images[chosen]
        arrays[f"{split}_labels"] = labels[chosen]
        arrays[f"{split}_indices"] = chosen.astype(np.uint16)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_npz(args.out, arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes): "
          + ", ".join(f"{k} {v.dtype}{v.shape}" for k, v in arrays.items()))


if __name__ == "__main__":
    main()
