import io
import json

import numpy as np
import pytest

from conftest import make_manifest
from winnow.imageset import ImageSetError, pixel_digest, read_imageset, write_imageset


def _write(tmp_path, rng, n=6):
    images = rng.integers(0, 256, (n, 8, 8, 1), dtype=np.uint8)
    write_imageset(tmp_path / "set", images, make_manifest(n, labels=np.arange(n) % 2), ["a", "b"])
    return images


def test_round_trip_keeps_pixels_labels_and_fills_digest(tmp_path, rng):
    images = _write(tmp_path, rng)
    loaded = read_imageset(tmp_path / "set")
    assert isinstance(loaded.images, np.memmap)
    np.testing.assert_array_equal(loaded.images, images)
    assert loaded.labels.tolist() == [0, 1, 0, 1, 0, 1]
    assert loaded.classes == ["a", "b"]
    assert loaded.manifest["digest"].tolist() == pixel_digest(images).tolist()
    assert [p.name for p in tmp_path.iterdir()] == ["set"]  # no temporary folder left behind


def test_rewrite_replaces_atomically(tmp_path, rng):
    _write(tmp_path, rng)
    images = _write(tmp_path, rng, n=3)
    assert len(read_imageset(tmp_path / "set")) == 3
    np.testing.assert_array_equal(read_imageset(tmp_path / "set").images, images)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]


def test_digest_equal_for_equal_pixels_only(rng):
    images = rng.integers(0, 256, (3, 4, 4, 3), dtype=np.uint8)
    images[1] = images[0]
    digests = pixel_digest(images)
    assert digests[0] == digests[1] != digests[2]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: d["manifest"].drop(index=0).to_parquet(d["path"] / "manifest.parquet"), "manifest has 5 rows"),
        (lambda d: d["manifest"].assign(id="same").to_parquet(d["path"] / "manifest.parquet"), "ids must be unique"),
        (lambda d: d["manifest"].assign(label=7).to_parquet(d["path"] / "manifest.parquet"), "labels must be integers"),
        (lambda d: d["manifest"].assign(split="holdout").to_parquet(d["path"] / "manifest.parquet"), "split must be"),
        (lambda d: d["manifest"].drop(columns="orig_h").to_parquet(d["path"] / "manifest.parquet"), "lacks column"),
        (lambda d: np.save(d["path"] / "images.npy", np.zeros((6, 8, 8, 1), np.float32)), "uint8"),
        (lambda d: np.save(d["path"] / "images.npy", np.zeros((6, 8, 8, 2), np.uint8)), "shape (N, H, W, C)"),
        (lambda d: (d["path"] / "images.npy").write_bytes(b"garbage"), "unreadable"),
        (lambda d: (d["path"] / "classes.json").write_text("{"), "not valid JSON"),
        (lambda d: (d["path"] / "classes.json").unlink(), "classes.json is missing"),
    ],
)
def test_corruption_is_one_clear_line(tmp_path, rng, damage, message):
    _write(tmp_path, rng)
    path = tmp_path / "set"
    damage({"path": path, "manifest": read_imageset(path).manifest})
    with pytest.raises(ImageSetError) as err:
        read_imageset(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_invalid_write_leaves_nothing(tmp_path, rng):
    images = rng.integers(0, 256, (2, 8, 8, 1), dtype=np.uint8)
    with pytest.raises(ImageSetError, match="unique"):
        write_imageset(tmp_path / "set", images, make_manifest(2).assign(id="x"), ["a"])
    assert list(tmp_path.iterdir()) == []


def test_classes_must_be_strings(tmp_path, rng):
    _write(tmp_path, rng)
    (tmp_path / "set" / "classes.json").write_text(json.dumps([1, 2]))
    with pytest.raises(ImageSetError, match="class-name strings"):
        read_imageset(tmp_path / "set")


def test_class_names_that_are_not_utf8_are_one_line(tmp_path, rng):
    # before: UnicodeDecodeError traceback (only JSONDecodeError was caught)
    _write(tmp_path, rng)
    (tmp_path / "set" / "classes.json").write_bytes(b'["a", "\xff"]')
    with pytest.raises(ImageSetError) as err:
        read_imageset(tmp_path / "set")
    assert str(err.value) == (f"{tmp_path / 'set' / 'classes.json'}: not UTF-8 text (invalid start byte at byte 7); "
                              "the class names are a JSON list written in UTF-8")


def test_an_empty_images_file_is_one_line(tmp_path, rng):
    # before: EOFError traceback from np.load (neither a ValueError nor an OSError)
    _write(tmp_path, rng)
    (tmp_path / "set" / "images.npy").write_bytes(b"")
    with pytest.raises(ImageSetError) as err:
        read_imageset(tmp_path / "set")
    assert str(err.value) == (f"{tmp_path / 'set' / 'images.npy'}: unreadable (EOF: reading magic string, expected "
                              "8 bytes got 0)")


def _header(path, **fields) -> None:
    """Rewrite the .npy header at ``path`` with ``fields`` changed, at its old length; the pixel bytes stay."""
    offset = np.load(path, mmap_mode="r").offset
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (6, 8, 8, 1),
                                                  **fields})
    assert len(header.getvalue()) == offset
    path.write_bytes(header.getvalue() + path.read_bytes()[offset:])


@pytest.mark.parametrize("mmap", [True, False])
@pytest.mark.parametrize("damage, problem", [
    # before: each read as other pixels, silently
    (lambda path: _header(path, shape=(6, 4, 16, 1)),
     "image 0 ('img-0', shape (4, 16, 1)) is not the image its manifest digest describes; images.npy changed after "
     "it was written; rerun the stage that writes it"),
    (lambda path: _header(path, fortran_order=True),
     "its header says Fortran order, so each image would be read transposed; an imageset's images are stored in C "
     "order; rerun the stage that writes it"),
    (lambda path: path.write_bytes(path.read_bytes() + bytes(64)),
     "holds 448 bytes of pixels but its header's shape (6, 8, 8, 1) needs 384; rerun the stage that writes it"),
])
def test_images_read_as_other_pixels_are_refused(tmp_path, rng, mmap, damage, problem):
    _write(tmp_path, rng)
    damage(tmp_path / "set" / "images.npy")
    with pytest.raises(ImageSetError) as err:
        read_imageset(tmp_path / "set", mmap=mmap)
    assert str(err.value) == f"{tmp_path / 'set' / 'images.npy'}: {problem}"


def _middle_reversed(images):
    images[100:900] = images[100:900][::-1]


def _last_inverted(images):
    images[-1] = 255 - images[-1]


@pytest.mark.parametrize(("n", "damage", "row"), [
    # before: only the first and last images were checked, so a stale images.npy whose middle rows changed was
    # scored and hashed while dedup's exact-copy test read the manifest's old digests; row 111 is the first of
    # the 64 checked rows (every 999/63th) inside the reversed block
    (1000, _middle_reversed, 111),
    # before: read as they were; the first image is intact, so only the last one's digest shows it
    (6, _last_inverted, 5),
])
def test_other_pixels_of_the_same_shape_are_caught(tmp_path, rng, n, damage, row):
    images = _write(tmp_path, rng, n=n)
    damage(images)
    np.save(tmp_path / "set" / "images.npy", images)
    with pytest.raises(ImageSetError) as err:
        read_imageset(tmp_path / "set")
    assert str(err.value) == (f"{tmp_path / 'set' / 'images.npy'}: image {row} ('img-{row}', shape (8, 8, 1)) is "
                              "not the image its manifest digest describes; images.npy changed after it was "
                              "written; rerun the stage that writes it")
