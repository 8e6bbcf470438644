"""The HTTP API (custom/serving/) on one real server process (tools/serve.py) through a real HTTP client."""

import asyncio
import hashlib
import http.client
import json
import socket
import time

import cv2
import httpx
import numpy as np
import pycocotools.mask as mask_utils
import pytest

from custom.apis.inference import detections, draw_overlay
from custom.serving.app import Limits
from tests.helpers.served import ServerProcess
from tests.helpers.tool_runs import DEMO_CONFIG, wait_for
from tests.serving.conftest import API_KEY, CFG_OPTIONS, IMG_SCALE, LIMITS, png_bomb

TIMEOUT = 120  # one request on 2 loaded cores; the queue test waits for three


@pytest.fixture
def client(served):
    """A client with the API key; after the test the server must still be up with nothing queued."""
    with httpx.Client(base_url=served.url, headers={'X-API-Key': API_KEY}, timeout=TIMEOUT) as client:
        yield client
        assert served.alive(), served.log_tail()
        assert client.get('/health').json()['waiting'] == 0


def upload(data: bytes, name: str = 'image.png') -> dict:
    return {'file': (name, data, 'application/octet-stream')}


def encoded(suffix: str, width: int, height: int) -> bytes:
    """A noise image of that size, as the bytes of a file of that type."""
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), np.uint8)
    return cv2.imencode(suffix, pixels)[1].tobytes()


def png_bytes(width: int, height: int) -> bytes:
    """A grey PNG: a few hundred bytes whatever its size."""
    return cv2.imencode('.png', np.full((height, width, 3), 127, np.uint8))[1].tobytes()


def assert_refused(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers['content-type'] == 'application/json'
    message = response.json()['error']
    assert all(word in message for word in words), message


def test_predict_answers_what_the_detector_of_tools_infer_finds(client, local_detector, image_file):
    response = client.post('/predict', params={'score_thr': 0}, files=upload(image_file.read_bytes()))
    assert response.status_code == 200, response.text
    answer = response.json()
    image = cv2.imread(str(image_file))
    expected = detections(local_detector(image, 0.0).top(100), local_detector.classes)
    assert answer['image'] == {'width': 96, 'height': 80}
    assert answer['model'] == 'untrained.pth' and answer['backend'] == 'pytorch'
    assert set(answer['timing_ms']) == {'read_decode', 'queue', 'inference', 'total'}
    got = answer['detections']
    assert len(got) == len(expected) > 0
    assert [item['class'] for item in got] == [item['class'] for item in expected]
    assert {item['class'] for item in got} == {'pedestrian'}
    for key, tolerance in (('score', 2e-3), ('bbox', 0.5)):
        np.testing.assert_allclose([item[key] for item in got], [item[key] for item in expected],
                                   atol=tolerance)
    for mine, theirs in zip(got, expected, strict=True):
        assert mine['mask']['size'] == [80, 96]
        assert mask_utils.iou([mine['mask']], [theirs['mask']], [0])[0, 0] > 0.98


def test_predict_keeps_max_dets_above_score_thr_and_gives_polygons_on_request(client, image_file):
    response = client.post('/predict', params={'score_thr': 0.01, 'max_dets': 3, 'masks': 'polygon'},
                           files=upload(image_file.read_bytes()))
    found = response.json()['detections']
    assert 0 < len(found) <= 3
    scores = [item['score'] for item in found]
    assert scores == sorted(scores, reverse=True) and min(scores) >= 0.01
    assert all('mask' not in item and item['polygons'] for item in found)
    assert all(len(polygon) >= 6 and len(polygon) % 2 == 0 for item in found for polygon in item['polygons'])


def test_png_format_answers_the_overlay_tools_infer_draws(client, local_detector, image_file):
    response = client.post('/predict', params={'format': 'png', 'score_thr': 0.3},
                           files=upload(image_file.read_bytes()))
    assert response.status_code == 200 and response.headers['content-type'] == 'image/png'
    overlay = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    image = cv2.imread(str(image_file))
    expected = draw_overlay(image, local_detector(image, 0.3).top(100), local_detector.classes)
    assert overlay.shape == image.shape
    assert np.mean(overlay != expected) < 0.01  # the same drawing; a score's last digit may differ


@pytest.mark.parametrize('send, status, words', [
    (dict(files=upload(b'just some text')), 415, ['not an image']),
    (dict(files=upload(encoded('.png', 96, 80)[:5000])), 422, ['cannot decode the PNG image', 'truncated']),
    (dict(files=upload(encoded('.jpg', 96, 80)[:3000])), 422, ['cannot decode the JPEG image', 'truncated']),
    (dict(files=upload(b'')), 400, ['empty']),
    (dict(), 415, ['multipart/form-data', "field 'file'"]),
    (dict(files={'image': ('a.png', png_bytes(96, 80))}), 400, ["no field 'file'", 'it has image']),
    (dict(files=[('file', ('a.png', png_bytes(8, 8))), ('file', ('b.png', png_bytes(8, 8)))]), 400,
     ['Too many files']),
    (dict(content=b'not a form at all', headers={'Content-Type': 'multipart/form-data; boundary=x'}), 400,
     ['cannot read the multipart form']),
    (dict(files=upload(png_bytes(8, 8)), params={'score_thr': 2, 'masks': 'bitmap'}), 422,
     ['query.score_thr', 'query.masks']),
], ids=['not-an-image', 'truncated-png', 'truncated-jpeg', 'empty-file', 'no-body', 'wrong-field',
        'two-files', 'broken-multipart', 'bad-parameters'])
def test_bad_request_gets_4xx_with_a_json_message_and_the_server_stays_up(client, send, status, words):
    assert_refused(client.post('/predict', **send), status, *words)


def test_body_over_max_bytes_is_413_with_or_without_a_content_length(client):
    too_big = b'\0' * (LIMITS['max_bytes'] + 1)
    assert_refused(client.post('/predict', files=upload(too_big)), 413, f'at most {LIMITS["max_bytes"]}')
    form = (b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n' + too_big
            + b'\r\n--x--')

    def chunks():  # a generator body goes out chunked, without Content-Length
        for start in range(0, len(form), 65536):
            yield form[start:start + 65536]

    response = client.post('/predict', content=chunks(),
                           headers={'Content-Type': 'multipart/form-data; boundary=x'})
    assert 'content-length' not in response.request.headers
    assert_refused(response, 413, f'more than {LIMITS["max_bytes"]} bytes')


def test_upload_slower_than_the_read_timeout_gets_408_and_frees_its_queue_place(client, served):
    assert client.get('/health').json()['waiting'] == 0  # and the client's connection is open for the polls
    with socket.create_connection(('127.0.0.1', served.port), timeout=TIMEOUT) as slow:
        sent = time.monotonic()  # before the server can see the request, so before its read timeout starts
        slow.sendall(b'POST /predict HTTP/1.1\r\nHost: x\r\nX-API-Key: ' + API_KEY.encode() + b'\r\n'
                     b'Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 1000\r\n\r\n--x\r\n')
        # it holds a queue place while it uploads: polled on the open connection, seen within 0.18 s in 40
        # tries at load 11-15 on 2 cores, well inside the read timeout (the deadline bounds a failing run)
        wait_for(lambda: client.get('/health').json()['waiting'] == 1, 60, 'the slow upload to be admitted')
        answer = http.client.HTTPResponse(slow)  # read whole: the head and the body may come in two packets
        answer.begin()
        body = answer.read()
        waited = time.monotonic() - sent
    # and is answered once the timeout passes, the rest of its body never sent
    assert answer.status == 408, body
    assert json.loads(body)['error'] == f'the upload did not arrive within {LIMITS["read_timeout"]} s'
    assert waited >= LIMITS['read_timeout']


def test_image_over_max_pixels_is_413_and_so_is_a_decompression_bomb(client):
    assert_refused(client.post('/predict', files=upload(png_bytes(400, 300))), 413,
                   '400x300 = 120000 pixels', f'at most {LIMITS["max_pixels"]}')
    bomb = png_bomb(8000, 8000)  # 192 MB of pixels in a few KB (tests/serving/test_uploads.py: never decoded)
    assert len(bomb) < LIMITS['max_bytes']
    assert_refused(client.post('/predict', files=upload(bomb)), 413, '8000x8000')


def test_requests_past_the_queue_get_503_with_retry_after_and_the_model_runs_on_one_thread(served, client,
                                                                                            image_file):
    data = image_file.read_bytes()
    admitted = Limits.parallel + LIMITS['queue']

    async def burst(count: int) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=served.url, headers={'X-API-Key': API_KEY},
                                     timeout=TIMEOUT) as burst_client:
            return await asyncio.gather(*(burst_client.post('/predict', files=upload(data))
                                          for _ in range(count)))

    responses = asyncio.run(burst(admitted + 5))
    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {200, 503} and statuses.count(200) >= admitted and 503 in statuses, statuses
    for response in responses:
        if response.status_code == 503:
            assert_refused(response, 503, 'busy', 'retry in 1 s')
            assert response.headers['Retry-After'] == '1'
    health = client.get('/health').json()
    assert health['most_running'] == 1 and health['refused_busy'] >= statuses.count(503)
    assert client.post('/predict', files=upload(data)).status_code == 200  # and it serves again


def test_api_key_is_needed_by_predict_and_model_but_not_by_health_and_the_page(served, image_file):
    with httpx.Client(base_url=served.url, timeout=TIMEOUT) as anonymous:
        assert_refused(anonymous.post('/predict', files=upload(image_file.read_bytes())), 401, 'X-API-Key')
        assert_refused(anonymous.get('/model', headers={'X-API-Key': 'guess'}), 401, 'that one is wrong')
        assert anonymous.get('/model').headers['WWW-Authenticate'] == 'Bearer'
        assert anonymous.get('/model', headers={'Authorization': f'Bearer {API_KEY}'}).status_code == 200
        assert anonymous.get('/health').status_code == 200
        assert anonymous.get('/').status_code == 200


def test_no_endpoint_opens_a_path_or_fetches_a_url_the_client_names(client, server):
    url = server.serve('/street.png', png_bytes(96, 80))
    for text in (url, '/etc/passwd', 'file:///etc/passwd'):
        assert_refused(client.post('/predict', files={'file': (None, text)}), 400, 'holds text, not a file')
        assert_refused(client.post('/predict', params={'url': text, 'path': text}), 415, 'multipart')
    assert server.requests == []


def test_model_describes_classes_backend_input_and_weights_and_docs_list_the_api(client, demo_model):
    model = client.get('/model').json()
    assert model['classes'] == ['pedestrian'] and model['backend'] == 'pytorch' and model['masks'] is True
    assert model['input'] == {'scale': [64, 64], 'keep_ratio': True}
    assert model['sha256'] == hashlib.sha256(demo_model.read_bytes()).hexdigest()[:12]
    assert model['config'] == 'pennfudan_demo_cpu.py' and model['version']
    assert str(demo_model.parent) not in str(model)  # file names only, not the server's folders
    assert client.get('/docs').status_code == 200
    schema = client.get('/openapi.json').json()
    assert 'multipart/form-data' in schema['paths']['/predict']['post']['requestBody']['content']


def test_unknown_path_and_wrong_method_get_json_errors(client):
    assert_refused(client.get('/predictions'), 404, 'Not Found', 'POST /predict')
    assert_refused(client.get('/predict'), 405, 'Method Not Allowed')


def test_health_says_the_limits_the_server_was_started_with(client):
    health = client.get('/health').json()
    assert health['status'] == 'ok'
    limits = dict(health['limits'], read_timeout=health['limits']['read_timeout_s'])
    assert {name: limits[name] for name in LIMITS} == LIMITS


def test_page_and_its_script_are_served_with_a_content_security_policy(client):
    page = client.get('/')
    assert page.headers['content-type'].startswith('text/html') and 'page.js' in page.text
    assert "default-src 'self'" in page.headers['content-security-policy']
    assert client.get('/page.js').headers['content-type'].startswith('text/javascript')



def test_onnxruntime_backend_serves_the_exported_model_with_parallel_calls(demo_model, image_file, tmp_path):
    """The one test of the other backend: its own server over the demo model exported (about 20 s)."""
    from custom.deploy.export import export_onnx
    from custom.deploy.onnx_runtime import OnnxDetector

    model = export_onnx(DEMO_CONFIG, demo_model, tmp_path / 'demo.onnx', CFG_OPTIONS,
                        img_scale=tuple(map(int, IMG_SCALE)))
    server = ServerProcess('serve.py', '--backend', 'onnxruntime', str(model), '--parallel', '2',
                           log=tmp_path / 'server.log', env={'SERVE_API_KEY': ''})
    try:
        described = httpx.get(f'{server.url}/model').json()  # no key: this server was started without one
        assert described['backend'] == 'onnxruntime' and described['classes'] == ['pedestrian']
        assert described['input'] == {'scale': [64, 64], 'keep_ratio': True} and described['masks'] is True
        answer = httpx.post(f'{server.url}/predict', params={'score_thr': 0},
                            files=upload(image_file.read_bytes()), timeout=TIMEOUT).json()
        local = OnnxDetector(model)
        expected = detections(local(cv2.imread(str(image_file)), 0.0).top(100), local.classes)
        assert answer['backend'] == 'onnxruntime' and len(answer['detections']) == len(expected) > 0
        np.testing.assert_allclose([item['score'] for item in answer['detections']],
                                   [item['score'] for item in expected], atol=2e-3)
        assert httpx.get(f'{server.url}/health').json()['limits']['parallel'] == 2
    finally:
        server.stop()
