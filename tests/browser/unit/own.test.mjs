// Unit tests for "Bring your own" on the page (no browser): layer cost as text, the dataset spec
// an upload makes, the weights a run starts from, what an ONNX import opens, run_text routing,
// and the Try panel's arithmetic (inputs, softmax, the agreement verdict).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { describe, previewQuery } from '../../../static/js/dataset-preview.js';
import { bytesText, macsText } from '../../../static/js/format.js';
import { importedDocument, refusedNodes } from '../../../static/js/onnx-import.js';
import { byClass, describeUpload, specFor, takesUpload, visibleChar } from '../../../static/js/own-data.js';
import { RunClient } from '../../../static/js/run-client.js';
import { exampleOf, graphKey, initWords, withTrainedWeights } from '../../../static/js/start-weights.js';
import { promptTail } from '../../../static/js/text-panel.js';
import {
  diffText, encodeWindow, featureDims, flatten, gridInput, inputKind, maxAbsDiff, nested, paint, randomInput,
  shifted, softmax, verdict,
} from '../../../static/js/try-model.js';

const IMAGES = { name: 'images', task: 'classification', input_shape: null, num_classes: null,
  params: [{ name: 'upload', type: 'str', required: true }, { name: 'size', type: 'shape', min: 4, max: 256 },
    { name: 'channels', type: 'choice', choices: [1, 3] }] };

test('MACs and bytes read like 1.2 M MACs and 3.1 KB', () => {
  assert.equal(macsText(354), '354 MACs');
  assert.equal(macsText(1), '1 MAC');
  assert.equal(macsText(1234567), '1.2 M MACs');
  assert.equal(macsText(91_800), '91.8 k MACs');
  assert.equal(macsText(3.4e9), '3.4 G MACs');
  assert.equal(bytesText(900), '900 B');
  assert.equal(bytesText(3174), '3.1 KB');
  assert.equal(bytesText(2.5 * 2 ** 20), '2.5 MB');
  assert.equal(macsText(undefined), '');
});

test('an upload answer becomes the dataset it holds, with the params the server suggests', () => {
  assert.ok(takesUpload(IMAGES));
  assert.ok(!takesUpload({ params: [{ name: 'samples' }] }));
  const images = { kind: 'images', upload_id: 'ab12', suggested_size: [32, 32], suggested_channels: 1 };
  assert.deepEqual(specFor(images, { name: 'spiral', samples: 200 }), { name: 'images', upload: 'ab12', size: [32, 32], channels: 1 });
  assert.deepEqual(specFor(images, { name: 'images', upload: 'old', seed: 3, size: [8, 8] }),
    { name: 'images', upload: 'ab12', seed: 3, size: [32, 32], channels: 1 }); // the same dataset keeps its seed
  assert.deepEqual(specFor({ kind: 'text', upload_id: 't1' }, { name: 'csv', target: 'y' }), { name: 'text', upload: 't1' });
  assert.deepEqual(specFor({ kind: 'csv', upload_id: 'c1', columns: ['a', 'b'], suggested_target: null }, {}),
    { name: 'csv', upload: 'c1', target: 'b' });
  assert.equal(describeUpload({ kind: 'images', images: 24, classes: [{}, {}] }), '24 images in 2 classes');
  assert.equal(describeUpload({ kind: 'text', characters: 3360, vocab: ['a', 'b'] }), '3,360 characters, 2 distinct');
  assert.equal(visibleChar(' '), '␣');
  assert.equal(visibleChar('\n'), '↵');
  assert.equal(visibleChar('q'), 'q');
});

test('preview images are grouped class by class; an upload-less spec asks no preview', () => {
  const groups = byClass({ classes: ['cat', 'dog'], labels: [0, 0, 1], images: [[0], [1], [2]] });
  assert.deepEqual(groups, [{ name: 'cat', images: [[0], [1]] }, { name: 'dog', images: [[2]] }]);
  assert.equal(previewQuery({ name: 'images' }, IMAGES), null); // its required upload is missing
  assert.deepEqual(previewQuery({ name: 'images', upload: 'ab', size: [28, 28] }, IMAGES), { upload: 'ab', size: [28, 28] });
  assert.equal(describe(IMAGES, 'auto', { shape: [1, 28, 28], classes: ['a', 'b'] }), '[1, 28, 28] → 2 classes');
  assert.equal(describe(IMAGES), 'table → its classes');
});

const DOC = { name: 'LeNet', nodes: [{ id: 'in', type: 'Input', params: { shape: [1, 8, 8] }, ui: { x: 1, y: 2 } },
  { id: 'out', type: 'Linear', params: { out_features: 10 } }], edges: [{ source: 'in', target: 'out' }], training: {} };

test('an example with trained weights is found by its layers and wires, not its name or layout', () => {
  const example = { id: 'digits_cnn', name: 'LeNet', weights: 'example-digits_cnn',
    document: { ...DOC, name: 'other', nodes: DOC.nodes.map((n) => ({ ...n, ui: { x: 9, y: 9 } })) } };
  assert.equal(graphKey(DOC), graphKey(example.document));
  assert.equal(exampleOf(DOC, [example]), example);
  assert.equal(exampleOf({ ...DOC, nodes: [DOC.nodes[0], { ...DOC.nodes[1], params: { out_features: 9 } }] }, [example]), null);
  assert.equal(exampleOf(DOC, [{ ...example, weights: null }]), null);
  assert.deepEqual(withTrainedWeights(DOC, example).training.init, { weights: 'example-digits_cnn' });
  assert.equal(DOC.training.init, undefined); // a new document, the old one unchanged
  assert.equal(initWords({ weights: 'example-digits_cnn' }, [example]).chip, 'starts from trained weights');
  assert.equal(initWords({ weights: '0b65355c' }, [example]).chip, 'starts from imported weights');
  assert.equal(initWords({ run: 'abc12345' }).chip, 'continues run abc12345');
  assert.equal(initWords(null), null);
});

test('an imported design starts from its weights and keeps a dataset that fits its input', () => {
  const datasets = new Map([['spiral', { name: 'spiral', input_shape: [2] }], ['digits', { name: 'digits', input_shape: [1, 8, 8] }],
    ['mnist', { name: 'mnist', input_shape: [1, 28, 28], offline: false }]]);
  const answer = { document: { ...DOC, training: undefined }, weights: 'w1' };
  const open = { training: { dataset: { name: 'digits', seed: 4 } } };
  assert.deepEqual(importedDocument(answer, open, datasets).training, { dataset: { name: 'digits', seed: 4 }, init: { weights: 'w1' } });
  const elsewhere = { training: { dataset: { name: 'spiral' } } };
  assert.deepEqual(importedDocument(answer, elsewhere, datasets).training.dataset, { name: 'digits' });
  const big = { document: { ...DOC, nodes: [{ id: 'in', type: 'Input', params: { shape: [1, 28, 28] } }] }, weights: 'w2' };
  assert.deepEqual(importedDocument(big, elsewhere, datasets).training, { init: { weights: 'w2' } }); // mnist downloads: not picked
  assert.deepEqual(refusedNodes({ details: [{ node: '/CumSum', op: 'CumSum', message: 'no layer' }, 'plain'] }),
    [{ node: '/CumSum', op: 'CumSum', message: 'no layer' }, { node: null, op: null, message: 'plain' }]);
});

test('run_text frames reach a view of their own and are acknowledged', () => {
  const handlers = {};
  const conn = { on: (event, fn) => { handlers[event] = fn; }, onState() {}, connected: true };
  const rc = new RunClient(conn);
  rc.runId = 'r1';
  const seen = [];
  rc.onFrameOf('text', (msg) => seen.push(msg.step));
  let acked = 0;
  handlers.run_text({ run_id: 'r1', step: 7, prompt: 'To be', samples: ['a', 'b'] }, () => { acked += 1; });
  handlers.run_text({ run_id: 'other', step: 8 }, () => { acked += 1; });
  assert.deepEqual(seen, [7]);
  assert.equal(acked, 2);
  assert.equal(rc.latest.text.step, 7);
  assert.equal(promptTail('abcdef', 3), '…def');
  assert.equal(promptTail('abc', 3), 'abc');
});

test('the Try panel feeds each model the input it takes', () => {
  assert.deepEqual(featureDims(['batch', 1, 8, 8]), [1, 8, 8]);
  assert.equal(inputKind([2], 'spiral'), 'plane');
  assert.equal(inputKind([1, 8, 8], 'digits'), 'grid');
  assert.equal(inputKind([3, 28, 28], 'images'), 'grid');
  assert.equal(inputKind([64], 'text'), 'text');
  assert.equal(inputKind([20, 1], 'sine'), 'random');
  const grid = paint(new Float32Array(64), 8, 8, 3, 3);
  assert.equal(grid[3 * 8 + 3], 1);
  assert.ok(grid[3 * 8 + 4] > 0 && grid[3 * 8 + 4] < 1);
  assert.equal(grid[0], 0);
  assert.deepEqual(Array.from(gridInput(Float32Array.from([0.5, 1]), 3)), [0.5, 1, 0.5, 1, 0.5, 1]);
  const { ids, used, dropped } = encodeWindow('ab?c', [' ', 'a', 'b', 'c'], 5);
  assert.deepEqual(Array.from(ids), [0, 0, 1, 2, 3]);
  assert.equal(used, 'abc');
  assert.equal(dropped, 1);
  assert.deepEqual(Array.from(shifted(Float32Array.from([1, 2, 3]), 9)), [2, 3, 9]);
  assert.deepEqual(nested(Float32Array.from([1, 2, 3, 4]), [1, 2, 2]), [[[1, 2], [3, 4]]]);
  assert.deepEqual(flatten([[[1, 2], [3, 4]]]), [1, 2, 3, 4]);
  assert.deepEqual(Array.from(randomInput(3, 5)), Array.from(randomInput(3, 5))); // seeded
});

test('outputs agree within 1e-4 and the verdict says by how much', () => {
  const p = softmax([1, 2, 3]);
  assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-12 && p[2] > p[1]);
  assert.equal(maxAbsDiff([1, 2], [1, 2.5]), 0.5);
  assert.equal(maxAbsDiff([1], [1, 2]), Infinity);
  assert.deepEqual(verdict(3e-7), { agrees: true, text: 'agrees (max |diff| 3e-7)' });
  assert.deepEqual(verdict(0.25), { agrees: false, text: 'differs (max |diff| 0.25)' });
  assert.equal(diffText(2.38e-7), '2.4e-7');
  assert.equal(diffText(Infinity), 'n/a');
});
