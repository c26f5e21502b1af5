// Unit tests for deep belief nets and the baseline on the page (no browser): the metric table's
// phases and per-layer columns, the pre-training chart's plan, how the Runs tab labels and aligns
// pre-trained and random runs, the filters' pictures, and the baseline's figure and memory keys.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { baselineFigure, baselineText, designSignature, frameBytes, sameData } from '../../../static/js/baseline.js';
import { filterOf, isStrip } from '../../../static/js/insight/filters.js';
import { BUILTIN, chartPlan, phasePlan } from '../../../static/js/insight/kinds.js';
import { fineTuneStart, initText, lossCurve, settingsDiff, settingsOf } from '../../../static/js/insight/runs.js';
import { progress } from '../../../static/js/progress.js';
import { MetricTable } from '../../../static/js/series.js';

// Points as a DBN run sends them (CONTRACTS.md §6), with the worker's clock.
const POINTS = [
  { step: 40, epoch: 0, time: 0.1, lr: 0.1, phase: 'pretrain', layer: 'h1', reconstruction_error: 0.08, t_wall: 1.7e9 },
  { step: 90, epoch: 0, time: 0.2, lr: 0.1, phase: 'pretrain', layer: 'h1', reconstruction_error: 0.06, t_wall: 1.7e9 },
  { step: 180, epoch: 0, time: 0.3, lr: 0.1, phase: 'pretrain', layer: 'h2', reconstruction_error: 0.02, t_wall: 1.7e9 },
  { step: 225, epoch: 1, time: 0.4, lr: 0.1, phase: 'train', train_loss: 2.1, train_accuracy: 0.3, t_wall: 1.7e9 },
  { step: 270, epoch: 2, time: 0.5, lr: 0.1, phase: 'train', train_loss: 1.4, val_loss: 1.5, t_wall: 1.7e9 },
];

test('the table keeps the phases in order and each layer\'s values apart', () => {
  const t = new MetricTable();
  t.push(POINTS.slice(0, 3));
  assert.deepEqual(t.phase, { phase: 'pretrain', layer: 'h2', first: 180, last: 180 });
  assert.deepEqual(Array.from(t.column('reconstruction_error@h1')), [0.08, 0.06, NaN]);
  assert.deepEqual([...t.layered], [['reconstruction_error', { phase: 'pretrain', layers: ['h1', 'h2'] }]]);
  assert.equal(t.count('t_wall'), 0); // a clock, not a metric: no line of its own
  t.push(POINTS.slice(3));
  assert.deepEqual(t.phases.map((p) => [p.phase, p.layer, p.first, p.last]),
    [['pretrain', 'h1', 40, 90], ['pretrain', 'h2', 180, 180], ['train', null, 225, 270]]);
  assert.equal(t.phase.layer, null);
  assert.deepEqual(t.rowPhase, ['pretrain', 'pretrain', 'pretrain', 'train', 'train']);
  assert.equal(t.count('lr'), 5); // a rate stays one column (its changes are marked)
  t.clear();
  assert.deepEqual([t.phases, t.layered.size, t.phase], [[], 0, null]);
});

test('pre-training gets a chart of its own, first, one line per layer named by its node', () => {
  const t = new MetricTable();
  t.push(POINTS);
  const own = chartPlan(BUILTIN);
  const plan = phasePlan(t.layered, own);
  assert.deepEqual(plan.map((c) => [c.name, c.metrics.map((m) => [m.name, m.label, m.layer])]),
    [['pretrain', [['reconstruction_error@h1', 'h1', 'h1'], ['reconstruction_error@h2', 'h2', 'h2']]]]);
  // A catalog that charts the metric itself wins: no second chart.
  const listed = [...own, { name: 'pretrain', metrics: [{ name: 'reconstruction_error' }] }];
  assert.deepEqual(phasePlan(t.layered, listed), []);
  assert.deepEqual(phasePlan(new MetricTable().layered, own), []); // no pre-training, no chart
});

test('the progress text names the layer pre-training', () => {
  const t = new MetricTable();
  t.push(POINTS.slice(0, 2));
  assert.equal(progress({ state: 'running' }, t, { epochs: 2 }).layer, 'h1');
  t.push(POINTS.slice(3));
  assert.equal(progress({ state: 'running' }, t, { epochs: 2 }).layer, null);
});

test('runs say how they started, and their curves count from the start of fine-tuning', () => {
  const rbm = { pretrain: { method: 'rbm', epochs: 5, k: 1, lr: 0.05 }, optimizer: { name: 'sgd', lr: 0.1 } };
  const none = { pretrain: { method: 'none' }, optimizer: { name: 'sgd', lr: 0.1 } };
  assert.equal(initText(rbm), 'pre-trained (RBM)');
  assert.equal(initText(none), 'random initialisation');
  assert.equal(initText({}), 'random initialisation');
  assert.equal(initText({ init: { run: 'abc' } }), 'from run abc\'s weights');
  assert.ok(settingsOf(rbm).some((s) => s.key === 'pretrain' && s.text === 'RBM 5 epochs, CD-1, lr 0.05'));
  assert.ok(settingsDiff(rbm, none).has('pretrain'));
  assert.equal(fineTuneStart(POINTS), 180);
  assert.deepEqual(lossCurve(POINTS, { smoothing: 0 }), { x: [45, 90], y: [2.1, 1.4], offset: 180 });
  assert.deepEqual(lossCurve(POINTS.slice(3), { smoothing: 0 }), { x: [225, 270], y: [2.1, 1.4] });
});

test('filters: each unit on its own scale; a layer above the first is strips', () => {
  const frame = { shape: [2, 1, 3], min: -1, max: 1, data: Uint8Array.from([0, 255, 128, 128, 191, 128]) };
  const first = filterOf(frame, 0);
  assert.deepEqual([first.h, first.w, first.scale], [1, 3, 1]);
  assert.ok(Math.abs(filterOf(frame, 1).scale - 0.498) < 0.01);
  assert.ok(isStrip(frame));
  assert.ok(!isStrip({ shape: [64, 8, 8] }));
});

test('the baseline: its figure, its words, its frame\'s bytes and what it belongs to', () => {
  assert.deepEqual(baselineFigure({ val_accuracy: 0.987 }), { metric: 'val_accuracy', value: 0.987 });
  assert.deepEqual(baselineFigure({ val_loss: 0.012, loss: 'mse' }), { metric: 'val_loss', value: 0.012 });
  assert.equal(baselineFigure({ ok: false }), null);
  assert.equal(baselineText({ val_accuracy: 0.987 }), 'random forest 98.7%');
  assert.equal(baselineText({ val_loss: 0.0123 }), 'random forest 0.0123');
  const http = frameBytes({ size: [1, 3], encoding: 'base64', data: 'AAH/' });
  assert.deepEqual([Array.from(http.data), 'encoding' in http], [[0, 1, 255], false]);
  assert.deepEqual(Array.from(frameBytes({ data: new Uint8Array([7]).buffer }).data), [7]);
  const doc = { nodes: [{ id: 'b', type: 'ReLU' }, { id: 'a', type: 'Linear', params: { out_features: 4, bias: true } }],
    edges: [{ source: 'a', target: 'b' }], training: { dataset: { name: 'spiral' }, optimizer: { lr: 0.1 } } };
  const moved = { ...doc, nodes: [{ ...doc.nodes[1], params: { bias: true, out_features: 4 }, ui: { x: 9 } }, doc.nodes[0]],
    training: { ...doc.training, optimizer: { lr: 0.5 } } };
  assert.equal(designSignature(doc), designSignature(moved)); // order, layout and the optimizer do not count
  assert.match(designSignature(doc), /^[0-9a-f]{14}$/);
  const wider = { ...doc, nodes: [doc.nodes[0], { ...doc.nodes[1], params: { out_features: 8 } }] };
  const other = { ...doc, training: { dataset: { name: 'spiral', noise: 0.3 } } };
  assert.notEqual(designSignature(doc), designSignature(wider));
  assert.notEqual(designSignature(doc), designSignature(other));
  // A stored fit's data (defaults filled) against a document's spec (defaults left out).
  const meta = { params: [{ name: 'samples', default: 500 }, { name: 'noise', default: 0.1 }, { name: 'seed', default: 0 }] };
  const stored = { name: 'spiral', samples: 500, noise: 0.1, seed: 0, val_fraction: 0.3 };
  assert.ok(sameData(stored, { name: 'spiral' }, meta));
  assert.ok(sameData(stored, { name: 'spiral', noise: 0.1 }, meta));
  assert.ok(!sameData(stored, { name: 'spiral', noise: 0.3 }, meta));
  assert.ok(!sameData(stored, { name: 'moons' }, meta));
});
