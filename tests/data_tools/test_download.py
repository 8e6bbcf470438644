"""Downloads against a local HTTP server on 127.0.0.1 (the tests never need the internet)."""

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from custom.cli import download_pennfudan
from custom.data_tools.pennfudan_download import prepare_pennfudan
from custom.download import download_file
from custom.engine.checkpoint_download import default_cache_dir, fetch_checkpoint, sha256_prefix_from_name
from custom.errors import ChecksumError, DataError, DownloadError


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith('.part'))


# --- download_file ---------------------------------------------------------------------------------------

def test_download_file_saves_verified_file_and_dest_appears_only_when_complete(server, tmp_path):
    body = bytes(range(256)) * 64
    url = server.serve('/blob.bin', body)
    dest = tmp_path / 'sub' / 'blob.bin'
    seen_mid_body = []
    server.mid_body_hook = lambda: seen_mid_body.append(dest.exists())

    assert download_file(url, dest, sha256=sha256(body)) == dest
    assert dest.read_bytes() == body
    assert seen_mid_body == [False]
    assert leftovers(dest.parent) == []


def test_download_file_checksum_mismatch_raises_naming_digests_and_leaves_no_file(server, tmp_path):
    body = b'not what you expected'
    url = server.serve('/blob.bin', body)
    dest = tmp_path / 'blob.bin'
    wrong = '0' * 64
    with pytest.raises(ChecksumError) as info:
        download_file(url, dest, sha256=wrong)
    message = str(info.value)
    assert url in message and wrong in message and sha256(body) in message
    assert not dest.exists() and leftovers(tmp_path) == []


def test_download_file_truncated_body_raises_and_leaves_no_file(server, tmp_path):
    url = server.serve('/blob.bin', b'x' * 10_000)
    server.truncate.add('/blob.bin')
    dest = tmp_path / 'blob.bin'
    with pytest.raises(DownloadError, match=str(dest)):
        download_file(url, dest, timeout=5)
    assert not dest.exists() and leftovers(tmp_path) == []


def test_download_file_connection_refused_names_url_and_where_to_put_the_file(dead_url, tmp_path):
    dest = tmp_path / 'blob.bin'
    with pytest.raises(DownloadError) as info:
        download_file(dead_url, dest, timeout=5)
    assert dead_url in str(info.value) and str(dest.resolve()) in str(info.value)
    assert not dest.exists() and leftovers(tmp_path) == []


def test_download_file_http_404_names_status_and_where_to_put_the_file(server, tmp_path):
    dest = tmp_path / 'missing.bin'
    with pytest.raises(DownloadError) as info:
        download_file(server.url + '/missing.bin', dest, timeout=5)
    assert 'HTTP 404' in str(info.value) and str(dest.resolve()) in str(info.value)
    assert not dest.exists()


def test_download_file_keeps_existing_file_with_right_checksum_without_a_request(server, tmp_path):
    body = b'already here'
    url = server.serve('/blob.bin', b'server copy differs')
    dest = tmp_path / 'blob.bin'
    dest.write_bytes(body)
    assert download_file(url, dest, sha256=sha256(body)) == dest
    assert dest.read_bytes() == body and server.requests == []


def test_download_file_replaces_existing_file_with_wrong_checksum(server, tmp_path):
    body = b'good copy'
    url = server.serve('/blob.bin', body)
    dest = tmp_path / 'blob.bin'
    dest.write_bytes(b'damaged')
    download_file(url, dest, sha256=sha256(body))
    assert dest.read_bytes() == body and server.requests == ['/blob.bin']


def test_download_file_raise_mode_rejects_a_wrong_existing_file_without_a_request(server, tmp_path):
    url = server.serve('/blob.bin', b'good copy')
    dest = tmp_path / 'blob.bin'
    dest.write_bytes(b'damaged')
    with pytest.raises(DataError, match=rf'blob\.bin: sha256 mismatch: expected {sha256(b"good copy")}'):
        download_file(url, dest, sha256=sha256(b'good copy'), on_mismatch='raise')
    assert dest.read_bytes() == b'damaged' and server.requests == []


def test_download_file_prints_the_sha256_it_checked(server, tmp_path, capsys):
    body = b'fresh bytes'
    dest = tmp_path / 'blob.bin'
    download_file(server.serve('/blob.bin', body), dest, print_sha256=True)
    assert f'sha256 of {dest}: {sha256(body)}' in capsys.readouterr().out


# --- Penn-Fudan --------------------------------------------------------------------------------------------

def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format='PNG')
    return buffer.getvalue()


def fake_pennfudan_zip(n_images: int, extra_entries: dict[str, bytes] | None = None) -> bytes:
    """A zip in the official layout: PennFudanPed/{PNGImages,PedMasks,Annotation}/, one pedestrian each."""
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        for i in range(1, n_images + 1):
            stem = f'FudanPed{i:05d}'
            h, w = 64, 80
            archive.writestr(f'PennFudanPed/PNGImages/{stem}.png',
                             png_bytes(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)))
            mask = np.zeros((h, w), np.uint8)
            mask[10:50, 20:40] = 1
            archive.writestr(f'PennFudanPed/PedMasks/{stem}_mask.png', png_bytes(mask))
            annotation = [
                '# Compatible with PASCAL Annotation Version 1.00',
                f'Image filename : "PennFudanPed/PNGImages/{stem}.png"',
                f'Image size (X x Y x C) : {w} x {h} x 3',
                'Objects with ground truth : 1 { "PASpersonWalking" }',
                'Bounding box for object 1 "PASpersonWalking" (Xmin, Ymin) - (Xmax, Ymax) : '
                '(21, 11) - (40, 50)',
                f'Pixel mask for object 1 "PASpersonWalking" : "PennFudanPed/PedMasks/{stem}_mask.png"', '']
            archive.writestr(f'PennFudanPed/Annotation/{stem}.txt', '\r\n'.join(annotation))
        for name, data in (extra_entries or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def load_tool():
    """The module tools/download_pennfudan.py runs."""
    return download_pennfudan


def test_tool_downloads_fake_zip_extracts_layout_and_writes_splits(server, tmp_path):
    archive = fake_pennfudan_zip(6)
    url = server.serve('/mirror/PennFudanPed.zip', archive)
    root = tmp_path / 'data' / 'PennFudanPed'
    argv = ['--root', str(root), '--url', url, '--sha256', sha256(archive), '--train', '4', '--val', '2']

    assert load_tool().main(argv) == 0
    assert (tmp_path / 'data' / 'PennFudanPed.zip').read_bytes() == archive
    assert len(list((root / 'PNGImages').glob('*.png'))) == 6
    assert len(list((root / 'PedMasks').glob('*_mask.png'))) == 6
    assert len(list((root / 'Annotation').glob('*.txt'))) == 6
    train = (root / 'splits' / 'train.txt').read_text().split()
    val = (root / 'splits' / 'val.txt').read_text().split()
    assert len(train) == 4 and len(val) == 2 and not set(train) & set(val)
    assert [p.name for p in (tmp_path / 'data').iterdir() if p.name.startswith('.')] == []  # no scratch left

    assert load_tool().main(argv) == 0  # second run: dataset already there, no new request
    assert server.requests == ['/mirror/PennFudanPed.zip']


def test_prepare_uses_zip_on_disk_without_network(dead_url, tmp_path):
    archive = fake_pennfudan_zip(3)
    zip_path = tmp_path / 'elsewhere.zip'
    zip_path.write_bytes(archive)
    root = tmp_path / 'PennFudanPed'
    prepare_pennfudan(root, zip_path=zip_path, url=dead_url, sha256=sha256(archive), md5=None,
                      expected_images=None, n_train=2, n_val=1)
    assert len((root / 'splits' / 'train.txt').read_text().split()) == 2


def test_existing_splits_survive_a_second_prepare_unless_a_rewrite_is_asked_for(tmp_path, capsys):
    archive = fake_pennfudan_zip(6)
    zip_path = tmp_path / 'PennFudanPed.zip'
    zip_path.write_bytes(archive)
    root = tmp_path / 'PennFudanPed'
    options = dict(sha256=sha256(archive), md5=None, expected_images=None)
    prepare_pennfudan(root, n_train=4, n_val=2, **options)
    custom = {'train.txt': 'FudanPed00001\n', 'val.txt': 'FudanPed00002\n'}  # as tools/make_splits.py would
    for name, text in custom.items():
        (root / 'splits' / name).write_text(text)

    prepare_pennfudan(root, n_train=4, n_val=2, **options)
    assert {name: (root / 'splits' / name).read_text() for name in custom} == custom
    assert 'keeping the existing splits' in capsys.readouterr().out

    prepare_pennfudan(root, n_train=3, n_val=3, rewrite_splits=True, **options)
    assert len((root / 'splits' / 'train.txt').read_text().split()) == 3


def test_tool_rewrites_splits_only_when_split_flags_are_given(tmp_path):
    archive = fake_pennfudan_zip(6)
    (tmp_path / 'PennFudanPed.zip').write_bytes(archive)
    root = tmp_path / 'PennFudanPed'
    base = ['--root', str(root), '--sha256', sha256(archive)]
    assert load_tool().main([*base, '--train', '4', '--val', '2']) == 0
    (root / 'splits' / 'train.txt').write_text('FudanPed00001\n')
    assert load_tool().main(base) == 0
    assert (root / 'splits' / 'train.txt').read_text() == 'FudanPed00001\n'
    assert load_tool().main([*base, '--seed', '1', '--train', '5', '--val', '1']) == 0
    assert len((root / 'splits' / 'train.txt').read_text().split()) == 5


def test_tool_offline_says_where_to_put_the_zip_and_the_url(dead_url, tmp_path, capsys):
    root = tmp_path / 'data' / 'PennFudanPed'
    assert load_tool().main(['--root', str(root), '--url', dead_url, '--timeout', '5']) == 1
    message = capsys.readouterr().err
    assert dead_url in message and str((tmp_path / 'data' / 'PennFudanPed.zip').resolve()) in message
    assert '--zip' in message and not root.exists()


def test_official_mode_rejects_zip_on_disk_that_fails_the_published_md5(tmp_path):
    (tmp_path / 'PennFudanPed.zip').write_bytes(fake_pennfudan_zip(2))
    with pytest.raises(DataError, match='md5'):
        prepare_pennfudan(tmp_path / 'PennFudanPed')
    assert not (tmp_path / 'PennFudanPed').exists()


def test_zip_with_path_traversal_entry_is_rejected_and_nothing_escapes(tmp_path):
    archive = fake_pennfudan_zip(2, extra_entries={'PennFudanPed/../../evil.txt': b'owned'})
    zip_path = tmp_path / 'data' / 'PennFudanPed.zip'
    zip_path.parent.mkdir()
    zip_path.write_bytes(archive)
    with pytest.raises(DataError, match='unsafe entry'):
        prepare_pennfudan(tmp_path / 'data' / 'PennFudanPed', sha256=sha256(archive), md5=None,
                          expected_images=None, n_train=1, n_val=1)
    assert not (tmp_path / 'evil.txt').exists() and not (tmp_path / 'data' / 'PennFudanPed').exists()


def test_zip_with_unmatched_mask_is_rejected_naming_the_folder(tmp_path):
    archive = fake_pennfudan_zip(2, extra_entries={'PennFudanPed/PedMasks/FudanPed00099_mask.png': b''})
    zip_path = tmp_path / 'PennFudanPed.zip'
    zip_path.write_bytes(archive)
    with pytest.raises(DataError, match='PedMasks'):
        prepare_pennfudan(tmp_path / 'PennFudanPed', sha256=sha256(archive), md5=None, expected_images=None,
                          n_train=1, n_val=1)


# --- checkpoints -------------------------------------------------------------------------------------------

def checkpoint_name(body: bytes) -> str:
    return f'mask_rcnn_tiny_20240101-{sha256(body)[:8]}.pth'


def test_sha256_prefix_is_read_from_openmmlab_file_names():
    assert sha256_prefix_from_name('mask_rcnn_r50_fpn_1x_coco_20200205-d4b0c5d6.pth') == 'd4b0c5d6'
    assert sha256_prefix_from_name('my_model.pth') is None


def test_fetch_checkpoint_prefers_file_in_env_dir_without_a_request(server, tmp_path, monkeypatch):
    body = b'weights in env dir'
    url = server.serve('/' + checkpoint_name(body), body)
    env_dir = tmp_path / 'env'
    env_dir.mkdir()
    (env_dir / checkpoint_name(body)).write_bytes(body)
    monkeypatch.setenv('MMDET_CHECKPOINT_DIR', str(env_dir))
    assert fetch_checkpoint(url, cache_dir=tmp_path / 'cache') == env_dir / checkpoint_name(body)
    assert server.requests == []


def test_fetch_checkpoint_cache_hit_makes_no_request(server, tmp_path, monkeypatch):
    monkeypatch.delenv('MMDET_CHECKPOINT_DIR', raising=False)
    body = b'cached weights'
    url = server.serve('/' + checkpoint_name(body), body)
    (tmp_path / checkpoint_name(body)).write_bytes(body)
    assert fetch_checkpoint(url, cache_dir=tmp_path) == tmp_path / checkpoint_name(body)
    assert server.requests == []


def test_fetch_checkpoint_downloads_into_cache_and_checks_name_prefix(server, tmp_path, monkeypatch):
    monkeypatch.delenv('MMDET_CHECKPOINT_DIR', raising=False)
    body = b'fresh weights'
    url = server.serve('/models/' + checkpoint_name(body), body)
    path = fetch_checkpoint(url, cache_dir=tmp_path / 'cache')
    assert path == tmp_path / 'cache' / checkpoint_name(body) and path.read_bytes() == body


def test_fetch_checkpoint_rejects_bytes_whose_sha256_does_not_match_the_name(server, tmp_path, monkeypatch):
    monkeypatch.delenv('MMDET_CHECKPOINT_DIR', raising=False)
    url = server.serve('/' + checkpoint_name(b'original'), b'tampered')
    with pytest.raises(ChecksumError, match=sha256(b'tampered')):
        fetch_checkpoint(url, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_fetch_checkpoint_rejects_a_cached_file_whose_sha256_does_not_match_the_name(server, tmp_path,
                                                                                     monkeypatch):
    monkeypatch.delenv('MMDET_CHECKPOINT_DIR', raising=False)
    url = server.serve('/' + checkpoint_name(b'original'), b'original')
    (tmp_path / checkpoint_name(b'original')).write_bytes(b'damaged')
    with pytest.raises(DataError, match=f'sha256 mismatch: expected {sha256(b"original")[:8]}'):
        fetch_checkpoint(url, cache_dir=tmp_path)
    assert server.requests == []


def test_fetch_checkpoint_offline_explains_every_way_out(dead_url, tmp_path, monkeypatch):
    monkeypatch.delenv('MMDET_CHECKPOINT_DIR', raising=False)
    url = dead_url.rsplit('/', 1)[0] + '/mask_rcnn_r50_fpn_1x_coco_20200205-d4b0c5d6.pth'
    with pytest.raises(DownloadError) as info:
        fetch_checkpoint(url, cache_dir=tmp_path, timeout=5)
    message = str(info.value)
    assert f'could not download {url}' in message
    assert str(tmp_path / 'mask_rcnn_r50_fpn_1x_coco_20200205-d4b0c5d6.pth') in message
    assert '--cfg-options load_from=' in message and 'load_from=None' in message


def test_default_checkpoint_cache_is_torch_hub_checkpoints(tmp_path):
    torch_hub = pytest.importorskip('torch.hub')
    previous = torch_hub.get_dir()
    torch_hub.set_dir(str(tmp_path))
    try:
        assert default_cache_dir() == tmp_path / 'checkpoints'
    finally:
        torch_hub.set_dir(previous)
