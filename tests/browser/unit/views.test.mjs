// Unit tests for layout, viewport, fields, formats, series, progress and friends (no browser).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { addNode, connect, emptyDocument } from '../../../static/js/graph.js';
import { NODE, freeSpot, layerOf, tidyLayout } from '../../../static/js/layout.js';
import { edgePath, fitBox, toScreen, toWorld, zoomAt } from '../../../static/js/viewport.js';
import { keyParams, lrToSlider, parseValue, sliderToLr } from '../../../static/js/fields.js';
import { compact, duration, metric, ordinal, shapeText } from '../../../static/js/format.js';
import { MetricTable, decimate, ema, gather } from '../../../static/js/series.js';
import { progress } from '../../../static/js/progress.js';
import { Validator, asReport } from '../../../static/js/validator.js';
import { trainBlock } from '../../../static/js/problems.js';
import { actionFor, comboOf } from '../../../static/js/shortcuts.js';
import { filterCatalog, groupCatalog } from '../../../static/js/palette.js';
import { decodeDoc, encodeDoc, fileName, parseHash } from '../../../static/js/persist.js';

function diamond() {
  let doc = emptyDocument();
  for (const t of ['Input', 'Linear', 'Linear', 'Add']) doc = addNode(doc, t).doc;
  for (const [a, b] of [['in', 'fc1'], ['in', 'fc2'], ['fc1', 'add1'], ['fc2', 'add1']]) doc = connect(doc, a, b).doc;
  return doc;
}

test('tidy layout puts every edge left to right', () => {
  const doc = diamond();
  const layer = layerOf(doc);
  assert.deepEqual([...layer.values()], [0, 1, 1, 2]);
  const pos = tidyLayout(doc);
  for (const e of doc.edges) assert.ok(pos[e.source].x < pos[e.target].x);
  assert.notEqual(pos.fc1.y, pos.fc2.y);
});

test('a long chain wraps into bands on a small screen', () => {
  let doc = emptyDocument();
  let prev = null;
  for (let i = 0; i < 10; i += 1) {
    const r = addNode(doc, i ? 'Linear' : 'Input');
    doc = prev ? connect(r.doc, prev, r.id).doc : r.doc;
    prev = r.id;
  }
  const flat = tidyLayout(doc);
  const wrapped = tidyLayout(doc, { view: { w: 700, h: 430 } });
  const rows = (p) => new Set(Object.values(p).map((q) => q.y)).size;
  assert.equal(rows(flat), 1);
  assert.ok(rows(wrapped) > 1);
  const spot = freeSpot(doc, { after: doc.nodes[0] });
  assert.ok(spot.x > doc.nodes[0].ui.x);
});

test('viewport math round-trips and zooms about a point', () => {
  const v = { x: 10, y: 20, k: 2 };
  const w = toWorld(v, 110, 220);
  assert.deepEqual(toScreen(v, w.x, w.y), { x: 110, y: 220 });
  const z = zoomAt(v, 50, 60, 1.5);
  const before = toWorld(v, 50, 60);
  const after = toWorld(z, 50, 60);
  assert.ok(Math.abs(before.x - after.x) < 1e-9 && Math.abs(before.y - after.y) < 1e-9);
  const fit = fitBox({ x: 0, y: 0, w: 1000, h: 100 }, { w: 600, h: 400 }, { padding: 50 });
  assert.equal(fit.k, 0.5);
  assert.match(edgePath({ x: 0, y: 0 }, { x: 100, y: 0 }), /^M0,0 C/);
  assert.match(edgePath({ x: 300, y: 0 }, { x: 0, y: 200 }), / L/); // return wire
  assert.equal(NODE.w, 176);
});

test('param parsing checks types, ranges and nullability', () => {
  const int = { name: 'out_features', type: 'int', min: 1, max: 1e9 };
  assert.deepEqual(parseValue(int, '32'), { value: 32, error: null });
  assert.match(parseValue(int, '0').error, /at least 1/);
  assert.match(parseValue(int, '2.5').error, /whole number/);
  assert.match(parseValue(int, '').error, /required/);
  const stride = { name: 'stride', type: 'int', min: 1, max: 1024, nullable: true };
  assert.deepEqual(parseValue(stride, ''), { value: null, error: null });
  assert.match(parseValue({ name: 'p', type: 'float', min: 0, max: 0.99 }, '1').error, /from 0 to 0.99/);
  assert.deepEqual(parseValue({ name: 'shape', type: 'shape', min: 1, max: 1e6 }, '[1, 28, 28]').value, [1, 28, 28]);
  assert.match(parseValue({ name: 'shape', type: 'shape', min: 1, max: 1e6 }, '1, a').error, /whole numbers/);
  assert.equal(parseValue({ name: 'a', type: 'choice', choices: ['none', 'tanh'] }, 'tanh').value, 'tanh');
  assert.equal(parseValue({ name: 'b', type: 'bool' }, true).value, true);
});

test('key params: the first one and any changed ones', () => {
  const spec = { params: [{ name: 'out_channels', type: 'int', default: 16 }, { name: 'padding', type: 'int', default: 0 }, { name: 'bias', type: 'bool', default: true }] };
  assert.deepEqual(keyParams(spec, {}).map((p) => p.name), ['out_channels']);
  assert.deepEqual(keyParams(spec, { padding: 1 }).map((p) => `${p.name} ${p.text}`), ['out_channels 16', 'padding 1']);
});

test('learning-rate slider is logarithmic and round-trips', () => {
  assert.equal(sliderToLr(lrToSlider(0.01)), 0.01);
  assert.equal(sliderToLr(0), 1e-5);
  assert.equal(sliderToLr(1000), 1);
});

test('formats', () => {
  assert.equal(shapeText([16, 8, 8]), '[16, 8, 8]');
  assert.equal(shapeText(undefined), '?');
  assert.equal(compact(354), '354');
  assert.equal(compact(12345), '12.3k');
  assert.equal(compact(2_500_000), '2.5M');
  assert.equal(duration(65), '1:05');
  assert.equal(duration(3720), '1h 02m');
  assert.equal(metric(0.693147), '0.6931');
  assert.equal(ordinal(2), '2nd');
  assert.equal(ordinal(11), '11th');
});

test('metric table, smoothing and decimation keep peaks', () => {
  const t = new MetricTable(4);
  const pts = [];
  for (let i = 0; i < 100_000; i += 1) {
    pts.push({ step: i, epoch: i / 100, time: i / 1000, train_loss: i === 50_000 ? 9 : 1 / (1 + i), lr: i < 70_000 ? 0.01 : 0.001, ...(i % 1000 === 0 ? { val_loss: 0.5 } : {}) });
  }
  t.push(pts);
  assert.equal(t.length, 100_000);
  assert.equal(t.counts.val_loss, 100);
  assert.deepEqual(t.lrChanges.map((c) => c.step), [70_000]);
  const keep = decimate(t.steps(), [t.column('train_loss'), t.column('val_loss')], 700);
  assert.ok(keep.length <= 700 * 2 + 102, keep.length);
  const [, ys] = gather(keep, [t.steps(), t.column('train_loss')]);
  assert.ok(ys.includes(9)); // the spike survives
  const s = ema(Float64Array.from([1, 1, 1, NaN, 1]), 0.9);
  assert.ok(Math.abs(s[0] - 1) < 1e-12 && Number.isNaN(s[3]) && Math.abs(s[4] - 1) < 1e-12);
});

test('progress: fraction, speed and time left', () => {
  const t = new MetricTable();
  t.push([{ step: 0, epoch: 0, time: 0 }, { step: 100, epoch: 1, time: 1 }, { step: 400, epoch: 4, time: 4 }]);
  const p = progress({ state: 'running', step: 400 }, t, { epochs: 10, batch_size: 32 });
  assert.equal(p.fraction, 0.4);
  assert.equal(p.samplesPerSecond, 3200);
  assert.equal(p.eta, 6);
  assert.equal(progress({ state: 'finished' }, t, { epochs: 10 }).fraction, 1);
  assert.equal(progress({ state: 'running' }, t, {}).fraction, null);
});

test('validator debounces and drops late answers', async () => {
  const timers = [];
  const answers = [];
  const v = new Validator({
    send: (doc) => new Promise((resolve) => setTimeout(() => resolve({ ok: true, shapes: {}, params: {}, total_params: doc.n, errors: [] }), doc.n === 1 ? 30 : 1)),
    onResult: (r) => answers.push(r.total_params),
    schedule: (fn) => { timers.push(fn); return timers.length; },
    cancel: () => {},
  });
  v.request({ n: 0 });
  assert.ok(v.pending);
  const slow = v.now({ n: 1 });
  const fast = v.now({ n: 2 });
  await Promise.all([slow, fast]);
  assert.deepEqual(answers, [2]); // the older, slower answer is not shown
  assert.equal(asReport({ ok: false, error: 'x', message: 'boom' }).errors[0].message, 'boom');
});

test('train is blocked with a reason', () => {
  const doc = diamond();
  assert.match(trainBlock(emptyDocument(), null).short, /Add layers/);
  assert.equal(trainBlock(doc, { ok: true, errors: [] }), null);
  const b = trainBlock(doc, { ok: false, errors: [{ node: 'fc1', param: null, message: 'bad' }] });
  assert.match(b.short, /fc1: bad/);
  assert.match(trainBlock(doc, null, { connected: false }).short, /Not connected/);
});

test('shortcuts map key events to actions', () => {
  const ev = (key, mods = {}) => ({ key, ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, ...mods });
  assert.equal(comboOf(ev('z', { ctrlKey: true })), 'Mod+Z');
  assert.equal(actionFor(ev('Z', { ctrlKey: true, shiftKey: true })), 'redo');
  assert.equal(actionFor(ev('y', { metaKey: true })), 'redo');
  assert.equal(actionFor(ev('?', { shiftKey: true })), 'help');
  assert.equal(actionFor(ev('Delete')), 'delete');
  assert.equal(actionFor(ev('ArrowLeft', { shiftKey: true })), 'nudge');
  assert.equal(actionFor(ev('q')), null);
});

test('palette search and grouping', () => {
  const entries = [{ type: 'Linear', group: 'Core', doc: 'Fully connected' }, { type: 'MaxPool2d', group: 'Convolution', doc: 'max of window' }];
  assert.deepEqual(filterCatalog(entries, 'pool').map((e) => e.type), ['MaxPool2d']);
  assert.deepEqual(filterCatalog(entries, 'fully conn').map((e) => e.type), ['Linear']);
  assert.deepEqual(groupCatalog(entries).map(([g]) => g), ['Core', 'Convolution']);
});

test('share links compress the document; file names are tidy', async () => {
  const doc = diamond();
  const text = await encodeDoc(doc);
  assert.match(text, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(await decodeDoc(text), doc);
  assert.deepEqual(parseHash('#design=abc'), { design: 'abc' });
  assert.equal(fileName('Spiral MLP'), 'spiral-mlp.layerlab.json');
});

test('preview queries carry only valid dataset params', async () => {
  const { previewQuery } = await import('../../../static/js/dataset-preview.js');
  const meta = { params: [{ name: 'samples', type: 'int', min: 10, max: 100000 }, { name: 'noise', type: 'float', min: 0, max: 1 }] };
  assert.deepEqual(previewQuery({ name: 'spiral', samples: 200, extra: 1 }, meta), { samples: 200 });
  assert.equal(previewQuery({ name: 'spiral', noise: 3 }, meta), null);
  assert.equal(previewQuery({ name: 'spiral', samples: 2.5 }, meta), null);
});

test('activation frames: tiling and colours', async () => {
  const { tiling, diverging, valueOf, bytesOf } = await import('../../../static/js/node-viz.js');
  assert.deepEqual(tiling({ kind: 'plane', shape: [32, 24, 24] }), { tiles: 32, h: 24, w: 24 });
  assert.deepEqual(tiling({ kind: 'units', shape: [10] }), { tiles: 1, h: 1, w: 10 });
  assert.equal(tiling({ kind: 'maps', shape: [20, 16] }).transpose, true);
  const mid = [255, 255, 255];
  assert.deepEqual(diverging(0, 1, mid), mid);
  assert.deepEqual(diverging(1, 1, mid), [37, 99, 235]); // positive: blue
  assert.deepEqual(diverging(-2, 1, mid), [245, 130, 32]); // negative: orange, clamped
  assert.equal(valueOf({ min: -1, max: 1 }, 255), 1);
  assert.deepEqual([...bytesOf(new Uint8Array([1, 2]).buffer)], [1, 2]);
});
