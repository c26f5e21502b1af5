"""Uploaded image folders: a zip of `class_name/*.png|jpg` (torchvision ImageFolder's layout),
checked when it arrives, decoded with Pillow at the size and channels a design asks for, and
cached as arrays so that the second run (and every preview) reads them at once.

Checks, each a DatasetError naming the file at fault: not a zip, a zip bomb (more unpacked bytes
than MAX_UNPACKED, or one member packed past MAX_RATIO), too many files, an image outside a class
folder, a file that is not a PNG or JPEG (or that Pillow cannot open), an image with more than
MAX_PIXELS pixels, fewer than two classes, more than MAX_CLASSES. A zip that holds one folder
with the class folders inside (what "compress this folder" makes) is read as if it did not.
"""

from __future__ import annotations

import io
import os
import threading
import zipfile
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

from .atomic import write_atomic
from .errors import DatasetError
from .sidecar import read_sidecar, store_upload

MAX_BYTES = 100 * 2**20  # the zip itself
MAX_UNPACKED = 1 * 2**30  # its members together, unpacked
MAX_RATIO = 200  # a member packed tighter than this is a bomb, not a photo
MAX_FILES = 50_000
MAX_CLASSES = 100
MAX_PIXELS = 4096 * 4096  # one image (Pillow's own guard is larger)
SIZE_RANGE = (4, 256)  # height and width a design may ask for
EXTENSIONS = (".png", ".jpg", ".jpeg")
JUNK = ("__MACOSX/", ".DS_Store", "Thumbs.db", "desktop.ini")  # what zip tools add
PREVIEW_PER_CLASS = 8
_cache_lock = threading.Lock()


def zip_path(data_dir: str | os.PathLike, upload_id: str) -> Path:
    """Where an uploaded image zip lives (the id's form is checked by the caller)."""
    return Path(data_dir) / "uploads" / f"{upload_id}.zip"


def is_zip(raw: bytes) -> bool:
    """Whether the bytes start like a zip file."""
    return raw[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def _junk(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return name.startswith(JUNK[0]) or any(p.startswith(".") or p in JUNK for p in parts)


def _members(archive: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, str]]:
    """The image members and their class names, in a stable order; checks layout and sizes."""
    infos = [i for i in archive.infolist() if not i.is_dir() and not _junk(i.filename)]
    if not infos:
        raise DatasetError("the zip holds no files; put images in one folder per class "
                           "(cat/1.png, dog/1.png, ...)", "upload")
    if len(infos) > MAX_FILES:
        raise DatasetError(f"the zip holds {len(infos):,} files; the limit is {MAX_FILES:,}",
                           "upload")
    unpacked = 0
    for info in infos:
        unpacked += info.file_size
        if info.file_size > 2**20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise DatasetError(f"{info.filename} unpacks to {info.file_size / 2**20:.0f} MiB from "
                               f"{info.compress_size:,} bytes: this looks like a zip bomb, not an "
                               "image", "upload")
    if unpacked > MAX_UNPACKED:
        raise DatasetError(f"the zip unpacks to {unpacked / 2**30:.1f} GiB; the limit is "
                           f"{MAX_UNPACKED / 2**30:.0f} GiB", "upload")
    paths = [PurePosixPath(i.filename) for i in infos]
    # "Compress this folder" wraps the class folders in one more: look inside it.
    strip = 0
    while all(len(p.parts) > strip + 2 for p in paths) and \
            len({p.parts[strip] for p in paths}) == 1:
        strip += 1
    out = []
    for info, path in zip(infos, paths, strict=True):
        parts = path.parts[strip:]
        if len(parts) < 2:
            raise DatasetError(f"{info.filename} is not in a class folder; put each image in "
                               "a folder named after its class (cat/1.png, dog/1.png, ...)",
                               "upload")
        if path.suffix.lower() not in EXTENSIONS:
            raise DatasetError(f"{info.filename} is not a PNG or JPEG image (its name ends in "
                               f"{path.suffix or 'nothing'}); only .png, .jpg and .jpeg files "
                               "may be in the zip", "upload")
        out.append((info, parts[0]))
    out.sort(key=lambda m: (m[1], m[0].filename))
    classes = Counter(c for _, c in out)
    if len(classes) < 2:
        only = next(iter(classes))
        raise DatasetError(f"the zip has one class only ({only!r}); classification needs at "
                           "least two class folders", "upload")
    if len(classes) > MAX_CLASSES:
        raise DatasetError(f"the zip has {len(classes)} class folders; the limit is "
                           f"{MAX_CLASSES}", "upload")
    return out


def _open(archive: zipfile.ZipFile, info: zipfile.ZipInfo):
    """One member as a Pillow image (not yet decoded), or a DatasetError naming it."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(archive.read(info)))
    except (UnidentifiedImageError, OSError, zipfile.BadZipFile, ValueError) as e:
        raise DatasetError(f"{info.filename} is not an image Pillow can read ({e})",
                           "upload") from None
    except Image.DecompressionBombError:
        raise DatasetError(f"{info.filename} has too many pixels to be decoded safely",
                           "upload") from None
    if image.width * image.height > MAX_PIXELS:
        raise DatasetError(f"{info.filename} is {image.width}x{image.height} pixels; the limit "
                           f"is {MAX_PIXELS:,} pixels an image", "upload")
    if image.format not in ("PNG", "JPEG"):
        raise DatasetError(f"{info.filename} is a {image.format} file, not a PNG or JPEG",
                           "upload")
    return image


def _archive(raw_or_path) -> zipfile.ZipFile:
    try:
        source = io.BytesIO(raw_or_path) if isinstance(raw_or_path, bytes) else raw_or_path
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as e:
        raise DatasetError(f"the file is not a readable zip ({e})", "upload") from None


def summarise_zip(raw: bytes) -> dict:
    """Check a zip of class folders; its classes, counts and the images' usual size and mode."""
    with _archive(raw) as archive:
        members = _members(archive)
        sizes: Counter = Counter()
        grey = True
        for info, _ in members:
            image = _open(archive, info)
            try:
                image.verify()  # reads the whole file: truncated ones fail here, not mid-run
            except Exception as e:  # noqa: BLE001 - Pillow raises many kinds for a bad file
                raise DatasetError(f"{info.filename} is damaged ({e})", "upload") from None
            sizes[(image.height, image.width)] += 1
            grey = grey and image.mode in ("1", "L", "I;16", "I", "LA")
    classes = Counter(c for _, c in members)
    (h, w), _ = sizes.most_common(1)[0]
    return {"classes": [{"name": c, "count": n} for c, n in sorted(classes.items())],
            "images": len(members), "usual_size": [h, w], "grey": grey}


def suggested_size(usual: list[int]) -> list[int]:
    """A size a small CNN trains on quickly: the images' own, capped at 64 and floored at 8."""
    lo, hi = 8, 64
    h, w = usual
    scale = min(1.0, hi / max(h, w))
    return [max(lo, round(h * scale)), max(lo, round(w * scale))]


def save_zip(data_dir: str | os.PathLike, filename: str, raw: bytes,
             max_bytes: int = MAX_BYTES) -> dict:
    """Check and store an uploaded image zip; returns the upload's public summary."""
    if len(raw) > max_bytes:
        raise DatasetError(f"the zip is {len(raw) / 2**20:.1f} MiB; the limit is "
                           f"{max_bytes / 2**20:.0f} MiB", "upload")
    upload_id, meta = store_upload(lambda i: zip_path(data_dir, i), "images", filename,
                                   "images.zip", raw, summarise_zip(raw))
    return public(upload_id, meta)


def public(upload_id: str, meta: dict) -> dict:
    """What POST /api/uploads answers for an image zip."""
    return {"upload_id": upload_id, "kind": "images", "filename": meta["filename"],
            "classes": meta["classes"], "images": meta["images"],
            "usual_size": meta["usual_size"], "suggested_size": suggested_size(meta["usual_size"]),
            "suggested_channels": 1 if meta["grey"] else 3}


def inspect_zip(data_dir: str | os.PathLike, upload_id: str) -> dict:
    """An image upload's sidecar summary (classes, counts), or a DatasetError if it is gone."""
    return read_sidecar(zip_path(data_dir, upload_id), "images", "image", upload_id)


def load_images(data_dir: str | os.PathLike, upload_id: str, size: list[int],
                channels: int) -> tuple:
    """Every image as float32 [N, channels, H, W] in 0..1 and its class index; cached."""
    import numpy as np

    h, w = size
    cache = Path(data_dir) / "cache" / "images" / f"{upload_id}-{h}x{w}-{channels}.npz"
    with _cache_lock:
        if cache.is_file():
            try:
                with np.load(cache) as f:
                    return f["x"], f["y"]
            except (OSError, ValueError, KeyError):
                cache.unlink(missing_ok=True)  # damaged: decode again
    from PIL import Image

    meta = inspect_zip(data_dir, upload_id)
    index = {c["name"]: i for i, c in enumerate(meta["classes"])}
    mode = "L" if channels == 1 else "RGB"
    with _archive(zip_path(data_dir, upload_id)) as archive:
        members = _members(archive)
        x = np.empty((len(members), channels, h, w), dtype=np.float32)
        y = np.empty(len(members), dtype=np.int64)
        for i, (info, cls) in enumerate(members):
            image = _open(archive, info)
            try:
                image = image.convert(mode).resize((w, h), Image.Resampling.BILINEAR)
            except Exception as e:  # noqa: BLE001 - a damaged file fails in many ways
                raise DatasetError(f"{info.filename} cannot be decoded ({e})", "upload") from None
            a = np.asarray(image, dtype=np.float32) / 255.0
            x[i] = a[None] if channels == 1 else a.transpose(2, 0, 1)
            y[i] = index[cls]
    buf = io.BytesIO()
    np.savez(buf, x=x, y=y)
    with _cache_lock:
        write_atomic(cache, buf.getvalue())
    return x, y


def preview_indices(y, classes: int, per_class: int = PREVIEW_PER_CLASS) -> list[int]:
    """Up to `per_class` examples of each class, class by class (the preview's grid rows)."""
    out: list[int] = []
    for c in range(classes):
        out.extend(int(i) for i in (y == c).nonzero()[0][:per_class])
    return out


def check_size(value: Any) -> list[int]:
    """A [H, W] size within SIZE_RANGE, or a DatasetError on `size`."""
    lo, hi = SIZE_RANGE
    ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi for v in value)
    if not ok:
        raise DatasetError(f"size must be [height, width], each a whole number from {lo} to "
                           f"{hi} (got {value!r})", "size")
    return [int(value[0]), int(value[1])]
