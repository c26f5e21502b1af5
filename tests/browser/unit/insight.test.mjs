// Unit tests for the Insight panel's DOM-free logic: colour scales, picture layout, health
// history, the timeline's seek queue and the run comparison (no browser).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { boundaryPixels, boundaryRgb, boundaryValueAt, gradientCss, legendStops, upsample, valueDomain, valueRgb } from '../../../static/js/insight/colour.js';
import { cellShare, confusionSummary, drawsAsEdges, edgesOf, fitGrid, histogramBars, kindText, layoutKind, matrixOf,
  isBinary, planeXY, robustScale, rowsOf, sampleImage, sampleSeries, sampleSet, sampleTarget, sampleText, tileOf } from '../../../static/js/insight/pictures.js';
import { HealthHistory, flagged, measureText } from '../../../static/js/insight/health-series.js';
import { Seeker, checkpointIndex, checkpointText, spread } from '../../../static/js/insight/seeker.js';
import { joinCurves, lossCurve, resultText, settingsDiff, settingsOf } from '../../../static/js/insight/runs.js';

const WHITE = [255, 255, 255];
const frame = (shape, values, extra = {}) => ({ shape, min: 0, max: 255, data: Uint8Array.from(values), ...extra });

test('the value scale centres on zero when it can, else on the middle of the range', () => {
  assert.deepEqual(valueDomain(-1, 3), { lo: -3, hi: 3, centre: 0, half: 3 });
  assert.deepEqual(valueDomain(2, 4), { lo: 2, hi: 4, centre: 3, half: 1 });
  assert.deepEqual(valueRgb(0, valueDomain(-1, 1), WHITE), WHITE); // zero fades into the background
  const neg = valueRgb(-1, valueDomain(-1, 1), WHITE);
  const pos = valueRgb(1, valueDomain(-1, 1), WHITE);
  assert.ok(neg[0] > neg[2] && pos[2] > pos[0]); // orange below zero, blue above
});

test('the boundary: a probability shades towards its class; discretized it is flat per class', () => {
  const sure0 = boundaryRgb(0, 'probability', { background: WHITE });
  const unsure = boundaryRgb(0.5, 'probability', { background: WHITE });
  assert.ok(sure0[2] < unsure[2] && unsure.every((c) => c > 230)); // the boundary itself is pale
  const a = boundaryRgb(0.9, 'probability', { discretize: true, background: WHITE });
  const b = boundaryRgb(0.6, 'probability', { discretize: true, background: WHITE });
  assert.deepEqual(a, b);
  assert.notDeepEqual(boundaryRgb(0.4, 'probability', { discretize: true, background: WHITE }), a);
  assert.equal(legendStops('probability', { background: WHITE }).length, 17);
  assert.deepEqual(legendStops('class', {}), []);
});

test('boundary pixels run top row first, and the value under a point is read back', () => {
  const f = { size: [2, 2], extent: [0, 1, 0, 1], mode: 'probability', min: 0, max: 1, data: Uint8Array.from([0, 0, 255, 255]) };
  const { pixels: px, h, w } = boundaryPixels(f, { background: WHITE });
  assert.deepEqual([px.length, h, w], [16, 2, 2]);
  assert.equal(boundaryPixels(f, { scale: 4 }).pixels.length, 8 * 8 * 4);
  // Upsampled bilinearly (a smooth discretized edge), edges clamped like the canvas's scaling.
  assert.deepEqual([...upsample(Uint8Array.from([0, 100, 100, 200]), 2, 2, 2)],
    [0, 25, 75, 100, 25, 50, 100, 125, 75, 100, 150, 175, 100, 125, 175, 200]);
  assert.equal(gradientCss([{ at: 0, rgb: [1, 2, 3] }, { at: 1, rgb: [4, 5, 6] }], true),
    'linear-gradient(90deg, rgb(1,2,3) 0.0% 50.0%, rgb(4,5,6) 50.0% 100.0%)');
  assert.equal(px[3], 255);
  assert.ok(px[0] > px[2]); // top row: probability 0, orange
  assert.ok(px[8 + 2] > px[8]); // bottom row: probability 1, blue
  assert.equal(boundaryValueAt(f, 0, 1), 0); // top left
  assert.equal(boundaryValueAt(f, 1, 0), 1); // bottom right
  assert.equal(boundaryValueAt(f, 2, 0), null); // outside the extent
});

test('tiles fill the box as large as they can', () => {
  assert.deepEqual(fitGrid(16, 360, 300, { gap: 4 }), { cols: 4, rows: 4, tile: 72 });
  const g = fitGrid(32, 360, 320, { gap: 4 });
  assert.ok(g.cols * g.rows >= 32 && g.cols * g.tile <= 360);
  assert.equal(fitGrid(1, 360, 300, { max: 100 }).tile, 100);
  assert.deepEqual(fitGrid(2, 360, 300, { max: 100 }), { cols: 2, rows: 1, tile: 100 }); // a tie: the wider grid
});

test('activation frames split into tiles, rows and bars', () => {
  const maps = frame([2, 1, 2], [1, 2, 3, 4], { kind: 'maps' });
  assert.equal(layoutKind(maps), 'tiles');
  assert.deepEqual([...tileOf(maps, 1).values], [3, 4]);
  const conv1d = frame([3, 2], [10, 20, 11, 21, 12, 22], { kind: 'maps' }); // [T, C]
  assert.deepEqual([...tileOf(conv1d, 1).values], [20, 21, 22]); // channel 1 over time
  const seq = frame([3, 2], [1, 2, 3, 4, 5, 6], { kind: 'sequence' });
  assert.equal(layoutKind(seq), 'rows');
  const rows = rowsOf(seq);
  assert.deepEqual([rows.rows, rows.cols, rows.at(1, 2)], [2, 3, 6]);
  assert.equal(layoutKind(frame([5], [0, 0, 0, 0, 0], { kind: 'units' })), 'bars');
  assert.match(kindText({ kind: 'plane', units: 8, shape: [8, 24, 24] }), /8 units over the input plane/);
});

test('weights: small matrices are edges (strongest drawn last), large ones a matrix across', () => {
  const small = frame([2, 3], [0, 200, 128, 10, 20, 30], { kind: 'matrix', min: -1, max: 1 });
  assert.ok(drawsAsEdges(small));
  const edges = edgesOf(small);
  assert.equal(edges.length, 6);
  assert.deepEqual([edges[5].from, edges[5].to], [0, 0]); // -1 is the strongest
  assert.ok(!drawsAsEdges({ kind: 'matrix', shape: [64, 64] }));
  const tall = matrixOf(frame([4, 2], [1, 2, 3, 4, 5, 6, 7, 8], { kind: 'matrix' }));
  assert.deepEqual([tall.rows, tall.cols, tall.at(1, 3)], [2, 4, 8]); // units across: input 1 of unit 3
  const spiky = frame([1, 100], [255, ...new Array(99).fill(128)], { kind: 'matrix', min: -10, max: 10 });
  assert.ok(robustScale(spiky) < 3); // one huge weight does not wash the others out
  const { bars, top } = histogramBars({ min: -1, max: 1, counts: [1, 3, 2, 0] });
  assert.deepEqual([bars.length, top, bars[1].x0, bars[1].x1], [4, 3, -0.5, 0]);
});

test('the confusion matrix totals and row shares', () => {
  const m = [[5, 1], [0, 4]];
  assert.deepEqual(confusionSummary(m), { total: 10, correct: 9, accuracy: 0.9, rowSums: [6, 4] });
  assert.equal(cellShare(m, 0, 1, [6, 4]), 1 / 6);
});

test('sample images are normalized', () => {
  const img = sampleImage({ shape: [2, 1, 1, 2], data: Uint8Array.from([0, 0, 50, 150]) }, 1);
  assert.deepEqual([img.h, img.w, img.channels, ...img.values], [1, 2, 1, 0, 1]);
});

test('the fixed samples of every kind of data: points, sequences, and images saved before kinds', () => {
  const points = sampleSet({ kind: 'points', count: 2, points: [[0.5, -0.25], [-1, 1]], extent: [-1, 1, -1, 1],
    labels: [1, 0], classes: ['0', '1'] });
  assert.equal(points.count, 2);
  assert.equal(sampleTarget(points, 0), 1);
  assert.equal(sampleText(points, 0), '(0.50, -0.25) · class 1');
  assert.equal(sampleText(points, 5), '');
  assert.deepEqual(planeXY(points.points[0], points.extent, 100, 100), [75, 62.5]); // y runs up
  const seq = sampleSet({ kind: 'sequences', count: 2, frame: { shape: [2, 3, 1], min: -1, max: 1,
    data: Uint8Array.from([0, 255, 0, 255, 0, 255]) }, targets: [[0.5], [-0.125]] });
  const series = sampleSeries(seq.frame, 1);
  assert.deepEqual([series.steps, series.features, series.at(0), series.at(1), series.at(2)], [3, 1, 1, -1, 1]);
  assert.equal(sampleTarget(seq, 1), -0.125);
  assert.equal(sampleText(seq, 1), '3 steps · next value -0.125');
  const old = sampleSet({ frame: { shape: [32, 1, 8, 8], data: [] } });
  assert.deepEqual([old.kind, old.count, old.labels], ['images', 32, null]);
  assert.equal(sampleSet({ frame: { shape: [2, 2], data: [] } }), null);
  assert.equal(isBinary(seq.frame), true); // only its two ends: drawn as bits
  assert.equal(isBinary({ ...seq.frame, data: Uint8Array.from([0, 128, 255]) }), false);
  assert.equal(sampleSet(null), null);
});

test('health history keeps steps in order, replaces a step, thins when full', () => {
  const hist = new HealthHistory(4);
  for (const step of [10, 20, 30, 40]) hist.push({ step, gradients: { fc1: step / 10, fc2: 0 } });
  hist.push({ step: 20, gradients: { fc1: 9, fc2: 1 } });
  assert.deepEqual(hist.rows.map((r) => r.step), [10, 20, 30, 40]);
  const [steps, fc1, fc2] = hist.data();
  assert.deepEqual([steps, fc1, fc2], [[10, 20, 30, 40], [1, 9, 3, 4], [null, 1, null, null]]); // 0: a gap on a log scale
  hist.push({ step: 50, gradients: { fc1: 5 } });
  assert.ok(hist.length <= 4 && hist.rows.at(-1).step === 50);
  assert.deepEqual(hist.latest(), { fc1: 5, fc2: 0 });
  assert.equal(hist.push({ step: 1 }), false);
});

test('flagged layers and what was measured', () => {
  const health = { nodes: { fc1: { grad_norm: 1e-9, badges: ['vanishing'], hints: ['try ReLU'] }, a1: { grad_norm: null, dead_fraction: 0.75, badges: ['dead'] }, fc2: { grad_norm: 0.1, badges: [] } } };
  assert.deepEqual(flagged(health).map((f) => f.id), ['fc1', 'a1']);
  assert.equal(measureText(health.nodes.a1), '75% of units dead');
  assert.match(measureText(health.nodes.fc1), /gradient norm 1\.0e-9/);
});

test('the seeker asks once at a time, the newest wish wins, answers are cached', async () => {
  const asked = [];
  const pending = [];
  const shown = [];
  const seeker = new Seeker((step) => {
    asked.push(step);
    return new Promise((resolve) => pending.push(() => resolve({ ok: true, step })));
  }, { onAnswer: (a) => shown.push(a.step) });
  seeker.want(1);
  seeker.want(2); // while 1 is in flight
  seeker.want(3);
  assert.deepEqual(asked, [1]);
  pending.shift()();
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(asked, [1, 3]); // 2 was never wanted long enough
  pending.shift()();
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(shown, [3]);
  seeker.want(1); // cached: no request
  assert.deepEqual([asked.length, shown.at(-1)], [2, 1]);
  seeker.cancel();
  seeker.want(4);
  seeker.cancel(); // back to live before the answer
  pending.shift()();
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(shown.at(-1), 1);
});

test('checkpoint lookups and labels', () => {
  const cps = [{ step: 10 }, { step: 20 }, { step: 40 }];
  assert.deepEqual([5, 10, 25, 99].map((s) => checkpointIndex(cps, s)), [0, 0, 1, 2]);
  assert.equal(checkpointText({ step: 1200, epoch: 12.25 }), 'step 1,200 · epoch 12');
  assert.deepEqual(spread(3, 16), [0, 1, 2]);
  assert.deepEqual(spread(100, 3), [0, 50, 99]);
});

test('runs: settings in words, what differs, loss curves on one axis', () => {
  const a = { optimizer: { name: 'adam', lr: 0.01 }, batch_size: 32, epochs: 200, seed: 0, dataset: { name: 'spiral', noise: 0.1 } };
  const b = { ...a, optimizer: { name: 'sgd', lr: 0.1, momentum: 0.9 } };
  assert.deepEqual(settingsOf(a).map((s) => s.text), ['adam', 'lr 0.01', 'batch 32', '200 epochs', 'spiral (noise 0.1)', 'seed 0']);
  assert.deepEqual([...settingsDiff(a, b)].sort(), ['lr', 'momentum', 'optimizer']);
  assert.equal(resultText({ val_loss: 0.0231, val_accuracy: 0.993 }), 'val loss 0.0231 · 99.3%');
  const history = [{ step: 1, train_loss: 1 }, { step: 2, train_loss: NaN }, { step: 3, train_loss: 0.5, val_loss: 0.6 }];
  assert.deepEqual(lossCurve(history, { smoothing: 0 }), { x: [1, 3], y: [1, 0.5] });
  assert.deepEqual(lossCurve(history, { column: 'val_loss' }), { x: [3], y: [0.6] });
  const long = Array.from({ length: 1000 }, (_, i) => ({ step: i, train_loss: 1 }));
  assert.equal(lossCurve(long, { limit: 100 }).x.length, 100);
  assert.deepEqual(joinCurves([{ x: [1, 3], y: [1, 0.5] }, { x: [2, 3], y: [2, 1] }]),
    [[1, 2, 3], [1, null, 0.5], [null, 2, 1]]);
});
