"""What a request brings: the image of a multipart upload, read within the byte limit, and decoded only when
its header says it fits the pixel limit. Nothing here opens a path or a URL: the bytes are the upload's."""

import io
from collections.abc import AsyncIterator

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from custom.errors import RequestError, shortened

FIELD = 'file'  # the form field that holds the image (curl -F file=@image.jpg)


async def read_upload(request: Request, max_bytes: int) -> bytes:
    """The bytes of the one file in the form field FIELD; refuses a body over max_bytes (413) by its
    Content-Length before reading it, and while reading it when it has none (chunked)."""
    if not request.headers.get('content-type', '').startswith('multipart/form-data'):
        raise RequestError(415, f"send the image as multipart/form-data in the field '{FIELD}' "
                                f'(curl -F {FIELD}=@image.jpg)')
    length = request.headers.get('content-length', '')
    if length.isdigit() and int(length) > max_bytes:
        raise RequestError(413, f'the request has {int(length)} bytes; this server takes at most {max_bytes}')

    async def bounded() -> AsyncIterator[bytes]:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_bytes:
                raise RequestError(413, f'the request has more than {max_bytes} bytes, the most this server '
                                        'takes')
            yield chunk

    try:
        form = await MultiPartParser(request.headers, bounded(), max_files=1, max_fields=8).parse()
    except MultiPartException as error:
        raise RequestError(400, f'cannot read the multipart form: {error}') from None
    try:
        upload = form.get(FIELD)
        if upload is None:
            names = shortened([name[:40] for name in form.keys()]) or 'no fields'
            raise RequestError(400, f"no field '{FIELD}' in the form (it has {names}); send the image as "
                                    f"field '{FIELD}'")
        if not isinstance(upload, UploadFile):
            raise RequestError(400, f"field '{FIELD}' holds text, not a file: upload the image's bytes (the "
                                    'server opens no path and fetches no URL)')
        data = await upload.read()
    finally:
        await form.close()
    if not data:
        raise RequestError(400, f"the file in field '{FIELD}' is empty")
    return data


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """The BGR uint8 image tools/infer.py would read from a file of these bytes.

    PIL reads the header alone first, so a picture of more than max_pixels is refused (413) before a pixel is
    decoded (a decompression bomb: a few KB of PNG that inflate to gigabytes). PIL then decodes it in full to
    refuse a truncated file (OpenCV fills the missing part of a JPEG with grey without a word), and
    cv2.imdecode gives the pixels as cv2.imread gives them to tools/infer.py (the same decoders, EXIF
    orientation applied).
    """
    kind = 'image'
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            kind = f'{image.format} image'
            if width * height > max_pixels:
                raise RequestError(413, f'the image is {width}x{height} = {width * height} pixels; this '
                                        f'server takes at most {max_pixels}')
            image.load()
    except UnidentifiedImageError:
        raise RequestError(415, 'not an image (JPEG, PNG, BMP, TIFF, WebP, ...)') from None
    except Image.DecompressionBombError as error:  # PIL's own limit, when max_pixels is above it
        raise RequestError(413, f'the image has more than the {max_pixels} pixels this server takes ({error})'
                           ) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise RequestError(422, f'cannot decode the {kind}: {error} (truncated or corrupt?)') from None
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        raise RequestError(415, f'OpenCV cannot decode this {kind}; send a JPEG, PNG, BMP, TIFF or WebP')
    return decoded
