// The page's one script: sends the dropped or chosen image to POST predict and shows the answer. Text from
// the server goes in with textContent only. document.body.dataset.state says idle / busy / done / error.
'use strict';

const $ = (id) => document.getElementById(id);

function headers() {
  const key = $('key').value;
  return key ? { 'X-API-Key': key } : {};
}

function show(state, message) {
  document.body.dataset.state = state;
  $('status').textContent = message;
  $('status').className = state === 'error' ? 'error' : '';
}

async function describeModel() {
  const response = await fetch('model', { headers: headers() });
  if (response.ok) {
    const model = await response.json();
    $('model').textContent = `${model.backend} model ${model.name}: ${model.classes.join(', ')}`;
  }
}

function fillTable(items) {
  const body = $('detections').querySelector('tbody');
  body.replaceChildren();
  items.forEach((item, index) => {
    const row = body.insertRow();
    for (const text of [index + 1, item.class, item.score.toFixed(3), item.bbox.join(', ')]) {
      row.insertCell().textContent = String(text);
    }
  });
  $('detections').hidden = false;
}

async function predict(file) {
  if (!file) return;
  show('busy', `detecting in ${file.name} ...`);
  const form = new FormData();
  form.append('file', file);
  const query = new URLSearchParams({ score_thr: $('score').value, masks: 'none', overlay: 'true' });
  try {
    const response = await fetch(`predict?${query}`, { method: 'POST', body: form, headers: headers() });
    const answer = await response.json();
    if (!response.ok) {
      show('error', `${response.status}: ${answer.error}`);
      return;
    }
    $('overlay').src = answer.overlay;
    $('overlay').hidden = false;
    fillTable(answer.detections);
    show('done', `${answer.detections.length} detections in ${answer.image.width}x${answer.image.height} `
      + `(${answer.timing_ms.total} ms)`);
  } catch (error) {
    show('error', `no answer from the server: ${error}`);
  }
}

const drop = $('drop');
drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  predict(event.dataTransfer.files[0]);
});
$('file').addEventListener('change', () => predict($('file').files[0]));
$('key').addEventListener('change', describeModel);
describeModel();
