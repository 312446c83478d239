"""Product image uploads: the content is decoded with Pillow and must be an allowed format within
size and pixel bounds (the file name's extension proves nothing), then re-encoded so no EXIF, GPS,
comment or other metadata reaches the bucket, with the camera's orientation applied first; and
the thumbnail made from it at upload (listings must not download full-size photos)."""

from __future__ import annotations

import io
import os
import warnings

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow format name -> the format it is stored in. MPO is the JPEG phone cameras write (a JPEG
# with extra pictures appended); it is stored as a plain JPEG of its first picture.
ALLOWED_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "GIF": "GIF"}
# The extension a stored file gets from its format (whatever the upload was called).
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
# What re-encoding keeps from Image.info: how the pixels are shown, never who or where.
_KEPT_INFO = ("transparency", "duration", "loop", "background")


def _invalid(message: str, code: str) -> ValidationError:
    return ValidationError(message, code=code)


def _open(file: UploadedFile) -> Image.Image:
    if file.size is not None and file.size > settings.CATALOG_IMAGE_MAX_BYTES:
        raise _invalid(
            f"The image must be at most {settings.CATALOG_IMAGE_MAX_BYTES // (1024 * 1024)} MB.", "image_too_large"
        )
    file.seek(0)
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; our own bound is below.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(file)
            image_format = image.format
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError, OSError) as error:
        raise _invalid("Upload a JPEG, PNG, WebP or GIF image; this file is not one.", "image_invalid") from error
    if image_format not in ALLOWED_FORMATS:
        raise _invalid("Upload a JPEG, PNG, WebP or GIF image; this file is not one.", "image_invalid")
    frames = getattr(image, "n_frames", 1) if ALLOWED_FORMATS[image_format] != "JPEG" else 1
    if image.width * image.height * frames > settings.CATALOG_IMAGE_MAX_PIXELS:
        raise _invalid("The image has too many pixels.", "image_too_large")
    return image


def image_check(file: UploadedFile) -> None:
    """Refuse content that is not an allowed image within bounds (a model field validator: every
    code path that full_cleans a ProductImage runs it). A file already in storage was checked when
    it was uploaded and is not fetched again."""
    if getattr(file, "_committed", False):
        return
    _open(file)
    file.seek(0)


def image_clean(file: UploadedFile) -> ContentFile:
    """The upload checked and re-encoded in its own format without metadata, named by its real
    format. Raises ValidationError for anything else."""
    image = _open(file)
    image_format = ALLOWED_FORMATS[image.format]
    try:
        image.load()
        frames = []
        for index in range(getattr(image, "n_frames", 1) if image_format != "JPEG" else 1):
            image.seek(index)
            frame = ImageOps.exif_transpose(image.copy()) if index == 0 else image.copy()
            frame.info = {key: image.info[key] for key in _KEPT_INFO if key in image.info}
            frames.append(frame)
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise _invalid("The image could not be decoded.", "image_invalid") from error
    first = frames[0]
    if image_format == "JPEG" and first.mode not in ("RGB", "L", "CMYK"):
        first = first.convert("RGB")
    options: dict = {"format": image_format}
    if image_format in ("JPEG", "WEBP"):
        options["quality"] = 90
    if len(frames) > 1 and image_format in ("GIF", "WEBP"):
        options.update(save_all=True, append_images=frames[1:])
    out = io.BytesIO()
    first.save(out, **options)
    stem = os.path.splitext(os.path.basename(file.name or "image"))[0] or "image"
    return ContentFile(out.getvalue(), name=f"{stem}.{_EXTENSIONS[image_format]}")


THUMBNAIL_SIZE = (400, 400)


def image_thumbnail(cleaned: ContentFile) -> ContentFile:
    """A thumbnail (within THUMBNAIL_SIZE, aspect kept) of an image image_clean() returned, as a
    WebP (small, and it keeps transparency)."""
    cleaned.seek(0)
    with Image.open(cleaned) as image:
        image.seek(0)
        thumbnail = image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB")
        thumbnail.thumbnail(THUMBNAIL_SIZE)
    cleaned.seek(0)
    out = io.BytesIO()
    thumbnail.save(out, format="WEBP", quality=85)
    stem = os.path.splitext(os.path.basename(cleaned.name or "image"))[0] or "image"
    return ContentFile(out.getvalue(), name=f"{stem}-thumb.webp")
