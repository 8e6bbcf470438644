// The review page's one script: reads the queue (JSON in the page), draws one card per suspect, and filters
// and sorts them. Text from the queue goes in with textContent only. document.body.dataset.state is 'ready'
// once the cards are drawn.
'use strict';

const $ = (id) => document.getElementById(id);
const queue = JSON.parse($('queue').textContent);
const KIND_NAMES = { missing: 'missing', spurious: 'spurious', bad_location: 'bad location',
                     wrong_class: 'wrong class' };

function element(tag, properties = {}, children = []) {
  const node = Object.assign(document.createElement(tag), properties);
  node.append(...children);
  return node;
}

function describe(item) {
  const rows = [['image', item.image], ['class', item.label]];
  if (item.suggestion && item.suggestion !== item.label) rows.push(['model says', item.suggestion]);
  if (item.object !== null) rows.push(['object', `#${item.object}`]);
  if (item.pred_score !== null) rows.push(['prediction score', item.pred_score.toFixed(3)]);
  if (item.iou !== null) rows.push([`${queue.settings.kind === 'segm' ? 'mask' : 'box'} IoU`, item.iou.toFixed(3)]);
  rows.push(['image quality', item.image_quality.toFixed(3)]);
  return rows.flatMap(([name, value]) => [element('dt', { textContent: name }),
                                          element('dd', { textContent: String(value) })]);
}

function drawCard(item) {
  const heading = element('div', {}, [
    element('span', { className: `kind ${item.kind}`, textContent: KIND_NAMES[item.kind] || item.kind }),
    ` score ${item.score.toFixed(3)} · #${item.rank}`]);
  const children = [heading];
  if (item.crop) children.push(element('img', { src: item.crop, alt: `${item.kind} in ${item.image}` }));
  children.push(element('dl', {}, describe(item)));
  if (item.href) children.push(element('a', { href: item.href, textContent: 'open the image', target: '_blank' }));
  const card = element('article', { className: 'card' }, children);
  card.dataset.kind = item.kind;
  card.dataset.label = item.label;
  card.dataset.score = String(item.score);
  return card;
}

function selectedKinds() {
  return new Set([...document.querySelectorAll('#kinds input:checked')].map((box) => box.value));
}

function render() {
  const kinds = selectedKinds();
  const wanted = $('class').value;
  const shown = queue.cards.filter((item) => kinds.has(item.kind) && (!wanted || item.label === wanted
                                                                      || item.suggestion === wanted));
  if ($('sort').value === 'image') {
    shown.sort((a, b) => a.image_quality - b.image_quality || a.image.localeCompare(b.image) || a.rank - b.rank);
  } else {
    shown.sort((a, b) => b.score - a.score || a.rank - b.rank);
  }
  $('cards').replaceChildren(...shown.map(drawCard));
  $('count').textContent = `${shown.length} of ${queue.cards.length} suspects shown`;
}

function setUp() {
  $('source').textContent = `${queue.source}. ${queue.cards.length} suspects in ${queue.images} images; ` +
    `${queue.settings.kind === 'segm' ? 'mask' : 'box'} IoU, IoU threshold ${queue.settings.iou_thr}, ` +
    `confident from score ${queue.settings.score_thr}.`;
  $('legend').textContent = queue.legend;
  for (const kind of queue.kinds) {
    const count = queue.cards.filter((item) => item.kind === kind).length;
    const box = element('input', { type: 'checkbox', value: kind, checked: true, id: `kind-${kind}` });
    $('kinds').append(element('label', {}, [box, ` ${KIND_NAMES[kind]} (${count}) `]));
    box.addEventListener('change', render);
  }
  for (const name of queue.classes) $('class').append(element('option', { value: name, textContent: name }));
  $('class').addEventListener('change', render);
  $('sort').addEventListener('change', render);
  render();
  document.body.dataset.state = 'ready';
}

setUp();
