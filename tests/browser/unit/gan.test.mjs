// Unit tests for a gan run on the page (no browser): what the training catalog gives each kind
// (charts, step buttons, live rates), the arithmetic of the generated picture (arrows, the
// manifold grid, sample images, badges held), and gan metrics in the table and the Runs tab.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BUILTIN, chartPlan, compareColumns, hparamPlan, kindEntry, kindName, loadKinds, markedMetrics, metricLabel,
  provideKinds, stepPlan } from '../../../static/js/insight/kinds.js';
import { ARROW_MAX, ARROW_PX, BADGE_HOLD_MS, arrowHead, arrowScale, arrowSegments, generatedImage, holdBadges,
  manifoldLines, outside, quantile, sampleGrid } from '../../../static/js/insight/game.js';
import { boundaryRgb } from '../../../static/js/insight/colour.js';
import { lossCurve, resultText, settingsOf } from '../../../static/js/insight/runs.js';
import { MetricTable } from '../../../static/js/series.js';

// GET /api/training, as far as the page reads it (the shape issue 10 §2 gives).
const CATALOG = { fields: [], kinds: [
  { name: 'supervised', doc: '', hparams: [{ name: 'lr' }], steps: [{ name: 'both', label: 'Step' }],
    metrics: [{ name: 'train_loss', chart: 'loss' }, { name: 'val_loss', chart: 'loss' },
      { name: 'train_accuracy', chart: 'accuracy' }, { name: 'val_accuracy', chart: 'accuracy' }, { name: 'lr', chart: null }] },
  { name: 'gan', doc: 'A two-player game', hparams: ['lr', 'generator_lr'],
    steps: [{ name: 'd', label: 'Step D' }, { name: 'g', label: 'Step G' }, { name: 'both', label: 'Step both' }],
    metrics: [{ name: 'd_loss', doc: 'D', chart: 'loss' }, { name: 'g_loss', doc: 'G', chart: 'loss' },
      { name: 'd_real', chart: 'discriminator' }, { name: 'd_fake', chart: 'discriminator' }, { name: 'mmd', chart: 'mmd' },
      { name: 'lr', chart: null }, { name: 'generator_lr', chart: null }] },
] };
const gan = kindEntry(CATALOG, 'gan');

test('a kind\'s charts come from its catalog entry, in order, lr-like metrics undrawn', () => {
  assert.deepEqual(chartPlan(gan).map((c) => [c.name, c.metrics.map((m) => m.name)]),
    [['loss', ['d_loss', 'g_loss']], ['discriminator', ['d_real', 'd_fake']], ['mmd', ['mmd']]]);
  assert.deepEqual(chartPlan(kindEntry(CATALOG)).map((c) => c.name), ['loss', 'accuracy']);
  assert.deepEqual(chartPlan(null), chartPlan(BUILTIN)); // a server without the catalog: as before
  assert.deepEqual(markedMetrics(gan), ['lr', 'generator_lr']);
  assert.deepEqual(markedMetrics(BUILTIN), ['lr']);
});

test('which kind a document is, and what a server without the catalog gives it', () => {
  assert.equal(kindName({ training: {} }), 'supervised');
  assert.equal(kindName({ training: { kind: 'gan' } }), 'gan');
  assert.equal(kindEntry(null, 'supervised'), BUILTIN);
  assert.equal(kindEntry(null, 'gan'), BUILTIN); // no catalog at all: the page draws what it always did
  assert.equal(kindEntry(CATALOG, 'dqn'), null); // a catalog without that kind
  assert.equal(metricLabel('d_real', { long: true }), 'D(real)');
  assert.equal(metricLabel('val_loss', { full: true }), 'Validation loss');
  assert.equal(metricLabel('kl_divergence'), 'kl divergence'); // a name this page has no words for reads as itself
});

test('step buttons: one Step for a kind with one step, one per network for a gan', () => {
  assert.deepEqual(stepPlan(kindEntry(CATALOG)), [{ network: null, label: 'Step', doc: '' }]);
  assert.deepEqual(stepPlan(BUILTIN).map((s) => s.label), ['Step']);
  assert.deepEqual(stepPlan(gan).map((s) => [s.network, s.label]), [['d', 'Step D'], ['g', 'Step G'], ['both', 'Step both']]);
  assert.deepEqual(stepPlan({ steps: [{ name: 'x' }, { name: 'y' }] }).map((s) => s.label), ['Step x', 'Step y']);
});

test('live rates: names, labels and where each sits in the training section', () => {
  const rates = hparamPlan(gan);
  assert.deepEqual(rates.map((r) => [r.name, r.label, r.path.join('.')]),
    [['lr', 'Discriminator lr', 'optimizer.lr'], ['generator_lr', 'Generator lr', 'gan.generator_optimizer.lr']]);
  assert.deepEqual(hparamPlan(BUILTIN).map((r) => r.label), ['Learning rate']);
  const given = hparamPlan({ hparams: [{ name: 'lr', label: 'D rate', path: 'training.optimizer.lr', default: 0.002 }] });
  assert.deepEqual([given[0].label, given[0].path, given[0].default], ['D rate', ['optimizer', 'lr'], 0.002]);
});

test('the Runs tab compares the loss chart\'s metrics and a gan\'s MMD', () => {
  assert.deepEqual(compareColumns(gan), [{ column: 'd_loss', label: 'D loss' }, { column: 'g_loss', label: 'G loss' },
    { column: 'mmd', label: 'MMD' }]);
  assert.deepEqual(compareColumns(BUILTIN).map((c) => c.label), ['Training loss', 'Validation loss']);
});

test('the catalog is fetched once, and a server without it is asked once', async () => {
  let asked = 0;
  const missing = async () => { asked += 1; return { ok: false, json: async () => ({}) }; };
  assert.equal(await loadKinds(missing), null);
  assert.equal(await loadKinds(missing), null);
  assert.equal(asked, 1);
  provideKinds(CATALOG); // the catalog handed over by whoever fetched it
  assert.equal((await loadKinds(missing)).kinds.length, 2);
  assert.equal(asked, 1);
});

test('arrows: a typical gradient is ARROW_PX long, the largest capped, y up on the plane', () => {
  const toCanvas = ([x, y]) => [100 + x * 100, 100 - y * 100];
  const points = [[0, 0], [0.5, 0.5], [-0.5, 0], [0.2, 0.2]];
  const gradients = [[0.01, 0], [0, 0.01], [1, 0], [0, 0]];
  assert.equal(quantile([3, 1, 2], 0.5), 2);
  const { ref, peak } = arrowScale(gradients);
  assert.equal(ref, 1); // the 90th percentile of |g|
  assert.equal(peak, 1);
  const segs = arrowSegments(points, gradients, { toCanvas, ref: 0.01 });
  assert.equal(segs.length, 3); // a zero gradient has no arrow
  assert.deepEqual([segs[0].x0, segs[0].y0, segs[0].x1, segs[0].y1], [100, 100, 100 + ARROW_PX, 100]);
  assert.ok(segs[1].y1 < segs[1].y0); // dy > 0 points up the canvas
  assert.equal(segs[2].len, ARROW_PX * ARROW_MAX); // 100 typical gradients long: capped
  assert.equal(arrowSegments(points, [[1e-6, 0]], { toCanvas, ref: 1 }).length, 0); // under a pixel
  const [a, b] = arrowHead({ x0: 0, y0: 0, x1: 20, y1: 0, len: 20 });
  assert.ok(a[0] < 20 && b[0] < 20 && a[1] * b[1] < 0); // both strokes behind the tip, either side
});

test('arrows shrink once gradients fade below a share of the run\'s largest', () => {
  const big = arrowScale([[1, 0]]);
  const faded = arrowScale([[0.001, 0]], big.peak);
  assert.equal(faded.peak, 1);
  assert.ok(faded.ref > 0.001); // the reference stays up, so the faded arrows draw short
  const seg = arrowSegments([[0, 0]], [[0.001, 0]], { toCanvas: (p) => p, ref: faded.ref, px: 100 })[0];
  assert.ok(seg.len < 5, seg.len);
  assert.equal(arrowScale([]).ref, 0);
});

test('the manifold: a noise grid mapped through G drawn as its rows and columns; [1, n] is a line', () => {
  const pts = [[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1]]; // 2 rows x 3 columns
  const lines = manifoldLines({ size: [2, 3], points: pts });
  assert.equal(lines.length, 2 + 3);
  assert.deepEqual(lines[0], [[0, 0], [1, 0], [2, 0]]);
  assert.deepEqual(lines[2], [[0, 0], [0, 1]]); // the first column
  assert.deepEqual(manifoldLines({ size: [1, 3], points: pts.slice(0, 3) }), [[[0, 0], [1, 0], [2, 0]]]);
  assert.deepEqual(manifoldLines(null), []);
  assert.deepEqual(manifoldLines({ size: [4, 4], points: pts }), []); // too few points for its size
});

test('generated images stay on the frame\'s scale; 64 samples make an 8 x 8 grid', () => {
  const frame = { shape: [2, 1, 1, 2], min: 0, max: 1, data: Uint8Array.from([0, 51, 255, 255]) };
  assert.deepEqual(Array.from(generatedImage(frame, 0).values, (v) => Math.round(v * 100) / 100), [0, 0.2]); // not stretched
  assert.equal(generatedImage(frame, 1).channels, 1);
  assert.deepEqual(sampleGrid(64, 340, 2), { cols: 8, rows: 8, tile: 40, gap: 2 });
  assert.equal(outside([[0, 0], [2, 0], [0, -1.5]], [-1, 1, -1, 1]), 2);
});

test('badges stay a while after the last frame that had them, so they do not blink', () => {
  const held = new Map();
  const collapse = { id: 'mode_collapse', title: 'Mode collapse', message: 'm', advice: 'a' };
  assert.deepEqual(holdBadges(held, [collapse], 0).map((b) => b.id), ['mode_collapse']);
  assert.deepEqual(holdBadges(held, [], BADGE_HOLD_MS - 1).map((b) => b.id), ['mode_collapse']);
  assert.deepEqual(holdBadges(held, [], BADGE_HOLD_MS + 1), []);
});

test('D(x) colours: green where it says real, purple where it says generated, pale at 0.5', () => {
  const WHITE = [255, 255, 255];
  const real = boundaryRgb(1, 'realness', { background: WHITE });
  const fake = boundaryRgb(0, 'realness', { background: WHITE });
  const unsure = boundaryRgb(0.5, 'realness', { background: WHITE });
  assert.ok(real[1] > real[0] && real[1] > real[2]); // green
  assert.ok(fake[0] > fake[1] && fake[2] > fake[1]); // purple
  assert.ok(unsure.every((c) => c > 240));
});

test('the metric table keeps a gan\'s metrics and marks both learning rates', () => {
  const t = new MetricTable(2);
  t.setMarked(['lr', 'generator_lr']);
  t.push([{ step: 1, d_loss: 1.3, g_loss: 0.7, lr: 0.002, generator_lr: 0.001, phase: 'train' },
    { step: 2, d_loss: 1.2, g_loss: 0.8, lr: 0.002, generator_lr: 0.0005, mmd: 0.3 },
    { step: 3, d_loss: 1.1, g_loss: null, lr: 0.002, generator_lr: 0.0005 }]);
  assert.equal(t.count('d_loss'), 3);
  assert.deepEqual(Array.from(t.column('mmd')).map((v) => (Number.isNaN(v) ? null : v)), [null, 0.3, null]);
  assert.equal(t.lastIsGap('g_loss'), true);
  assert.deepEqual(t.changes.generator_lr.map((c) => [c.step, c.value]), [[2, 0.0005]]);
  assert.deepEqual(t.lrChanges, []);
  assert.equal(t.sparse('mmd'), true);
  assert.equal(t.sparse('d_loss'), false);
  assert.equal(t.column('nothing').length, 3); // a metric no point carried: all NaN, no throw
  assert.deepEqual(t.lastAt('mmd', 3), { value: 0.3, step: 2 }); // the MMD measured by step 3
  assert.equal(t.lastAt('mmd', 1), null);
  t.clear();
  assert.deepEqual(Object.keys(t.changes), ['lr', 'generator_lr']); // still marked after a reset
});

test('runs of a gan: its settings, its result and its curves', () => {
  const training = { kind: 'gan', optimizer: { name: 'adam', lr: 0.002 }, batch_size: 64,
    gan: { loss: 'least_squares', d_steps: 2, g_steps: 1, generator_optimizer: { name: 'adam', lr: 0.001 } } };
  assert.deepEqual(settingsOf(training).map((s) => s.text),
    ['adam', 'D lr 0.002', 'G lr 0.001', 'least squares loss', '2:1 steps', 'batch 64', 'until stopped']);
  assert.equal(resultText({ d_loss: 1.3, g_loss: 0.8, d_real: 0.55, d_fake: 0.45, mmd: 0.0123, mmd_initial: 0.8 }),
    'MMD 0.0123 (from 0.8) · D(real) 55.0%, D(fake) 45.0%');
  const history = [{ step: 1, d_loss: 1, g_loss: 2 }, { step: 2, d_loss: 3, g_loss: 2, mmd: 0.5 }, { step: 3, d_loss: 1, g_loss: 2 }];
  assert.deepEqual(lossCurve(history, { column: 'mmd' }), { x: [2], y: [0.5] }); // sparse: as it is
  assert.notDeepEqual(lossCurve(history, { column: 'd_loss' }).y, [1, 3, 1]); // dense: smoothed
});

test('a gan\'s generator is what its Noise reaches before the Input', async () => {
  const { generatorNodes } = await import('../../../static/js/insight/kinds.js');
  const doc = { nodes: ['z', 'g1', 'g2', 'in', 'd1'].map((id) => ({ id, type: { z: 'Noise', in: 'Input' }[id] || 'Linear' })),
    edges: [['z', 'g1'], ['g1', 'g2'], ['g2', 'in'], ['in', 'd1']].map(([source, target]) => ({ source, target })) };
  assert.deepEqual([...generatorNodes(doc)].sort(), ['g1', 'g2', 'z']);
  assert.equal(generatorNodes({ nodes: [{ id: 'in', type: 'Input' }], edges: [] }).size, 0);
});
