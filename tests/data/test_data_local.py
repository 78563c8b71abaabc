import re

import numpy as np
import pytest
import torch

from rashomon_widgets.data import mnist_as_cifar, read_cifar10, read_mnist, synthetic_cifar

from ..local_files import idx_bytes, write_cifar, write_cifar_tree, write_mnist


# ------------------------------------------------------------------------------------- CIFAR-10
@pytest.fixture
def cifar_root(tmp_path):
    train, test = write_cifar_tree(tmp_path, [[i, 9 - i, 0] for i in range(1, 6)], [3, 7], seed=0)
    return tmp_path, train, test


def test_cifar_round_trip(cifar_root):
    root, train, test = cifar_root
    images, labels = read_cifar10(root, "train")
    assert images.shape == (15, 3, 32, 32) and images.dtype == torch.float32
    assert labels.dtype == torch.int64
    assert labels[:3].tolist() == [1, 8, 0] and labels[-3:].tolist() == [5, 4, 0]
    expected = torch.from_numpy(np.concatenate(train).reshape(15, 3, 32, 32).astype(np.float32)) / 255
    assert torch.equal(images, expected)
    # channel-major layout: the first 1024 bytes of a record are the red plane, row by row
    assert float(images[0, 0, 0, 1]) == pytest.approx(train[0][0, 1] / 255)
    assert float(images[0, 1, 0, 0]) == pytest.approx(train[0][0, 1024] / 255)
    test_images, test_labels = read_cifar10(str(root / "cifar-10-batches-bin"), split="test")
    assert test_images.shape == (2, 3, 32, 32) and test_labels.tolist() == [3, 7]
    assert float(test_images.min()) >= 0 and float(test_images.max()) <= 1


def test_cifar_limit_and_dtype(cifar_root):
    root, train, _ = cifar_root
    images, labels = read_cifar10(root, limit=4, dtype=torch.float64)
    assert images.shape == (4, 3, 32, 32) and images.dtype == torch.float64
    assert labels.tolist() == [1, 8, 0, 2]


def test_cifar_missing_files_name_the_path(tmp_path, cifar_root):
    expected = tmp_path / "nowhere" / "cifar-10-batches-bin" / "test_batch.bin"
    with pytest.raises(FileNotFoundError, match=re.escape(str(expected))) as info:
        read_cifar10(tmp_path / "nowhere", "test")
    assert "cs.toronto.edu/~kriz/cifar.html" in str(info.value) and "never downloads" in str(info.value)
    root, _, _ = cifar_root
    (root / "cifar-10-batches-bin" / "data_batch_4.bin").unlink()
    missing = root / "cifar-10-batches-bin" / "data_batch_4.bin"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        read_cifar10(root, "train")


def test_cifar_pickle_version_is_pointed_out(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(FileNotFoundError, match="Python/pickle version, which is not read"):
        read_cifar10(tmp_path)


def test_cifar_bad_files(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    (folder / "test_batch.bin").write_bytes(b"\x00" * 3000)
    with pytest.raises(ValueError, match="whole 3073-byte records.*got 3000 bytes"):
        read_cifar10(tmp_path, "test")
    write_cifar(folder, "test_batch.bin", [3, 42], seed=0)
    with pytest.raises(ValueError, match="expected labels 0..9.*got 42"):
        read_cifar10(tmp_path, "test")
    with pytest.raises(ValueError, match="split: expected one of 'train', 'test'"):
        read_cifar10(tmp_path, "valid")
    with pytest.raises(TypeError, match="root: expected a folder path"):
        read_cifar10(3)


def test_synthetic_cifar():
    images, labels = synthetic_cifar(n=6, seed=2)
    assert images.shape == (6, 3, 32, 32) and images.dtype == torch.float32
    assert labels.shape == (6,) and labels.dtype == torch.int64
    assert 0 <= float(images.min()) and float(images.max()) <= 1
    assert 0 <= int(labels.min()) and int(labels.max()) < 10
    again = synthetic_cifar(n=6, seed=2)
    assert torch.equal(again[0], images) and torch.equal(again[1], labels)
    assert int(synthetic_cifar(n=50, num_classes=2)[1].max()) <= 1
    with pytest.raises(ValueError, match="n: expected an int >= 1"):
        synthetic_cifar(n=0)


# ---------------------------------------------------------------------------------------- MNIST
@pytest.mark.parametrize("gz, dotted, sub", [(False, False, ""), (True, False, ""), (False, True, ""),
                                             (True, False, "MNIST/raw")])
def test_mnist_round_trip(tmp_path, gz, dotted, sub):
    images, labels = write_mnist(tmp_path / sub if sub else tmp_path, "t10k", 5, seed=1, gz=gz, dotted=dotted)
    x, y = read_mnist(tmp_path, "test")
    assert x.shape == (5, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.equal(x[:, 0], torch.from_numpy(images.astype(np.float32)) / 255)
    assert y.tolist() == labels.tolist()


def test_mnist_train_split_and_dtype(tmp_path):
    write_mnist(tmp_path, "train", 3, seed=2)
    x, y = read_mnist(str(tmp_path), dtype=torch.float64)
    assert x.shape == (3, 1, 28, 28) and x.dtype == torch.float64


def test_mnist_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "train-images-idx3-ubyte"))) as info:
        read_mnist(tmp_path, "train")
    assert "yann.lecun.com/exdb/mnist" in str(info.value) and "never downloads" in str(info.value)


def test_mnist_bad_magic_and_sizes(tmp_path):
    images, labels = write_mnist(tmp_path, "t10k", 4, seed=0)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(images, magic=2049))
    with pytest.raises(ValueError, match="expected IDX magic number 2051.*got 2049"):
        read_mnist(tmp_path, "test")
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(images)[:-10])
    with pytest.raises(ValueError, match=r"announces shape \(4, 28, 28\)"):
        read_mnist(tmp_path, "test")
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(images))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels[:3]))
    with pytest.raises(ValueError, match="as many labels as images, got 4 images"):
        read_mnist(tmp_path, "test")
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="header"):
        read_mnist(tmp_path, "test")


def test_mnist_as_cifar():
    x = torch.rand(2, 1, 28, 28)
    out = mnist_as_cifar(x)
    assert out.shape == (2, 3, 32, 32)
    assert torch.equal(out[:, 1, 2:30, 2:30], x[:, 0]) and float(out[:, :, :2].abs().sum()) == 0
    assert mnist_as_cifar(x[:, 0]).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match=r"expected shape \(N, 1, 28, 28\)"):
        mnist_as_cifar(torch.zeros(2, 3, 32, 32))
