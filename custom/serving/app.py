"""The HTTP API over any ``Detector`` (custom/apis/inference.py): routes, limits, bounded queue, JSON errors.

What happens to an image once decoded is the detector's and custom/apis/inference.py's, as for
tools/infer.py (``detections`` for the JSON, ``draw_overlay`` for the PNG): this module admits a request,
reads its upload (uploads.py) and answers.

Concurrency: the event loop admits and reads; an upload is decoded on asyncio's default thread pool (so a bad
one is answered without waiting for the model), and the model and the encoding of its answer run on a pool of
``Limits.parallel`` threads (1 unless the backend is safe to run from several threads at once). At most
``parallel + queue`` requests are admitted at a time; one more gets 503 with Retry-After: nothing piles up.
"""

import asyncio
import base64
import hmac
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Literal

import cv2
import numpy as np
from fastapi import Depends, FastAPI, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException

from custom.apis.inference import Detector, detections, draw_overlay
from custom.errors import RequestError
from custom.evaluation.matching import DEFAULT_SCORE_THR
from custom.serving.uploads import FIELD, decode_image, read_upload

PAGE = Path(__file__).with_name('page.html')
PAGE_SCRIPT = Path(__file__).with_name('page.js')
API_KEY_HEADER = 'X-API-Key'
# How /predict and /model take the key, declared in the OpenAPI schema so that /docs offers to send it.
KEY_HEADER = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="the server's --api-key")
BEARER = HTTPBearer(auto_error=False, description="the same key as 'Authorization: Bearer KEY'")
MAX_DETS = 1000
# The page is the project's own HTML and script; nothing else may run in it (images are data: URLs).
PAGE_HEADERS = {'Content-Security-Policy': "default-src 'self'; img-src 'self' data: blob:; style-src 'self' "
                                           "'unsafe-inline'", 'X-Content-Type-Options': 'nosniff'}
UPLOAD_BODY = {'requestBody': {'required': True, 'content': {'multipart/form-data': {'schema': {
    'type': 'object', 'required': [FIELD],
    'properties': {FIELD: {'type': 'string', 'format': 'binary', 'description': 'the image'}}}}}}}


@dataclass(frozen=True)
class Limits:
    """What one server process takes; each is a tools/serve.py option."""

    max_bytes: int = 20 * 2**20  # a 12 MP phone JPEG is 3-8 MB, a 12 MP PNG up to 36 MB
    max_pixels: int = 50_000_000  # a 50 MP photo; decoded twice (header check, then OpenCV), 150 MB each
    queue: int = 8  # requests waiting for the model, beyond the `parallel` ones running
    parallel: int = 1  # model calls at once: 1 unless the backend is safe from several threads
    retry_after_s: int = 1  # what a refused request is told to wait
    read_timeout_s: float = 30  # the longest an upload may take to arrive: a slow client holds a queue place


class Admission:
    """The bounded queue: counts requests admitted (waiting or running) and refuses past the limit. Admitting
    happens on the event loop's one thread; running is counted from the pool's threads, under a lock."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.admitted = self.running = self.most_running = self.refused = 0
        self.lock = threading.Lock()

    @contextmanager
    def admit(self) -> Iterator[None]:
        if self.admitted >= self.limits.parallel + self.limits.queue:
            self.refused += 1
            raise RequestError(503, f'busy: {self.admitted} requests are running or queued, the most this '
                                    f'server holds; retry in {self.limits.retry_after_s} s',
                               {'Retry-After': str(self.limits.retry_after_s)})
        self.admitted += 1
        try:
            yield
        finally:
            self.admitted -= 1

    @contextmanager
    def run(self) -> Iterator[None]:
        with self.lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            yield
        finally:
            with self.lock:
                self.running -= 1

    def state(self) -> dict:
        return {'running': self.running, 'waiting': self.admitted - self.running,
                'most_running': self.most_running, 'refused_busy': self.refused}


def png(image: np.ndarray) -> bytes:
    return cv2.imencode('.png', image)[1].tobytes()


def error_response(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({'error': message}, status, headers)


def create_app(detector: Detector, model: dict, limits: Limits | None = None,
               api_key: str | None = None) -> FastAPI:
    """The app serving ``detector``; ``model`` is what GET /model says about it (backend, files, input size).
    With ``api_key``, /predict and /model need it (X-API-Key or Authorization: Bearer); the page, /health
    and the docs stay open."""
    limits = limits or Limits()
    pool = ThreadPoolExecutor(limits.parallel, thread_name_prefix='detector')
    admission = Admission(limits)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        pool.shutdown(wait=False, cancel_futures=True)

    # FastAPIOffline: FastAPI whose /docs and /redoc pages take their scripts from this server, not a CDN;
    # no validatorUrl: Swagger UI would otherwise show a badge fetched from swagger.io.
    app = FastAPIOffline(title='Detector', version=model.get('version', ''), lifespan=lifespan,
                         swagger_ui_parameters={'validatorUrl': None},
                         description='Instance segmentation of an uploaded image: POST /predict with the '
                                     f"image in the multipart field '{FIELD}'.")

    async def check_key(header: Annotated[str | None, Security(KEY_HEADER)],
                        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]) -> None:
        given = header or (bearer.credentials if bearer else '')
        if not hmac.compare_digest(given.encode(), api_key.encode()):
            raise RequestError(401, f'this server needs its API key in the {API_KEY_HEADER} header (or '
                                    "'Authorization: Bearer KEY')" + (': that one is wrong' if given else ''),
                               {'WWW-Authenticate': 'Bearer'})

    needs_key = [Depends(check_key)] if api_key is not None else []

    @app.exception_handler(RequestError)
    async def refused(request: Request, error: RequestError) -> JSONResponse:
        return error_response(error.status, str(error), error.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        where = f'{request.method} {request.url.path}'
        return error_response(error.status_code, f'{error.detail}: {where} (the API: POST /predict, '
                                                 'GET /model, GET /health; docs at /docs)', error.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [f'{".".join(map(str, item["loc"]))}: {item["msg"]}' for item in error.errors()]
        return error_response(422, 'bad parameter: ' + '; '.join(problems))

    @app.exception_handler(Exception)
    async def failed(request: Request, error: Exception) -> JSONResponse:  # a bug: uvicorn logs the traceback
        return error_response(500, f'internal error ({type(error).__name__}); the server log has the details')

    @app.get('/', response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE.read_text(), headers=PAGE_HEADERS)

    @app.get('/page.js', include_in_schema=False)
    async def page_script() -> FileResponse:
        return FileResponse(PAGE_SCRIPT, media_type='text/javascript', headers=PAGE_HEADERS)

    @app.get('/health', summary='Up, and how full the queue is')
    async def health() -> dict:
        return {'status': 'ok', **admission.state(), 'limits': asdict(limits)}

    @app.get('/model', summary='What is served: classes, backend, input size, files, versions',
             dependencies=needs_key)
    async def describe() -> dict:
        return {**model, 'classes': list(detector.classes)}

    def answer(image: np.ndarray, admitted: float, decoded: float, score_thr: float, max_dets: int,
               masks: str, image_format: str, overlay: bool) -> Response:
        """Runs on the model's pool: detect, encode."""
        with admission.run():
            started = time.perf_counter()
            pred = detector(image, score_thr).top(max_dets)
            detected = time.perf_counter()
            if image_format == 'png':
                return Response(png(draw_overlay(image, pred, detector.classes)), media_type='image/png',
                                headers={'X-Detections': str(len(pred))})
            body = {'model': model.get('name'), 'backend': model.get('backend'),
                    'image': {'width': image.shape[1], 'height': image.shape[0]},
                    'score_thr': score_thr, 'max_dets': max_dets,
                    'detections': detections(pred, detector.classes, masks)}
            if overlay:
                encoded = base64.b64encode(png(draw_overlay(image, pred, detector.classes))).decode('ascii')
                body['overlay'] = f'data:image/png;base64,{encoded}'
            spans = {'read_decode': decoded - admitted, 'queue': started - decoded,
                     'inference': detected - started, 'total': time.perf_counter() - admitted}
            body['timing_ms'] = {name: round(1000 * seconds, 1) for name, seconds in spans.items()}
            return JSONResponse(body)

    @app.post('/predict', summary='Detections in an uploaded image', openapi_extra=UPLOAD_BODY,
              dependencies=needs_key,
              responses={200: {'content': {'image/png': {}},
                               'description': 'JSON, or the overlay (format=png)'}})
    async def predict(
        request: Request,
        score_thr: float = Query(DEFAULT_SCORE_THR, ge=0, le=1, description='keep detections scoring this'),
        max_dets: int = Query(100, ge=1, le=MAX_DETS, description='keep the best this many'),
        masks: Literal['rle', 'polygon', 'none'] = Query('rle', description='COCO RLE, COCO polygons, none'),
        format: Literal['json', 'png'] = Query('json', description='png: the overlay image instead of JSON'),
        overlay: bool = Query(False, description='json: add the overlay as a PNG data: URL (for the page)'),
    ) -> Response:
        with admission.admit():
            admitted = time.perf_counter()
            try:
                async with asyncio.timeout(limits.read_timeout_s):
                    data = await read_upload(request, limits.max_bytes)
            except TimeoutError:
                raise RequestError(408, f'the upload did not arrive within {limits.read_timeout_s:g} s'
                                   ) from None
            image = await asyncio.to_thread(decode_image, data, limits.max_pixels)
            decoded = time.perf_counter()
            return await asyncio.get_running_loop().run_in_executor(
                pool, answer, image, admitted, decoded, score_thr, max_dets, masks, format, overlay)

    return app
