// Unit tests for the DOM-free modules: node --test tests/browser/unit/
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  addNode, connect, copyFragment, emptyDocument, idProblem, moveNodes, normalizeDocument,
  pasteFragment, removeEdges, removeNodes, renameNode, setInputShape, setParam, setPath,
  uniqueId, wouldCycle,
} from '../../../static/js/graph.js';
import { Store } from '../../../static/js/store.js';

function chain() {
  let doc = emptyDocument('t');
  let r = addNode(doc, 'Input', { params: { shape: [2] } }); doc = r.doc;
  r = addNode(doc, 'Linear', { x: 200 }); doc = r.doc;
  r = addNode(doc, 'ReLU', { x: 400 }); doc = r.doc;
  doc = connect(doc, 'in', 'fc1').doc;
  doc = connect(doc, 'fc1', 'relu1').doc;
  return doc;
}

test('new nodes get short unique ids', () => {
  const doc = chain();
  assert.deepEqual(doc.nodes.map((n) => n.id), ['in', 'fc1', 'relu1']);
  assert.equal(uniqueId(doc, 'fc'), 'fc2');
  assert.equal(addNode(doc, 'Input').id, 'in1');
});

test('edits return new documents and leave the old one alone', () => {
  const doc = chain();
  const next = setParam(doc, 'fc1', 'out_features', 8);
  assert.equal(next.nodes[1].params.out_features, 8);
  assert.equal(doc.nodes[1].params, undefined);
  assert.equal(setParam(next, 'fc1', 'out_features', undefined).nodes[1].params, undefined);
});

test('connect refuses loops and self edges, and is idempotent', () => {
  const doc = chain();
  assert.equal(wouldCycle(doc, 'relu1', 'in'), true);
  assert.match(connect(doc, 'relu1', 'in').error, /loop/);
  assert.match(connect(doc, 'fc1', 'fc1').error, /itself/);
  const again = connect(doc, 'in', 'fc1');
  assert.equal(again.error, null);
  assert.equal(again.doc, doc);
  assert.match(connect(doc, 'fc1', 'in', { maxInputs: 0 }).error, /takes no input/);
});

test('a full single-input port swaps its edge', () => {
  let doc = chain();
  doc = addNode(doc, 'Linear', { x: 0, y: 200 }).doc;
  const { doc: next } = connect(doc, 'fc2', 'relu1', { maxInputs: 1 });
  assert.deepEqual(next.edges.filter((e) => e.target === 'relu1').map((e) => e.source), ['fc2']);
});

test('removing nodes removes their edges', () => {
  const doc = removeNodes(chain(), ['fc1']);
  assert.deepEqual(doc.nodes.map((n) => n.id), ['in', 'relu1']);
  assert.deepEqual(doc.edges, []);
  assert.equal(removeEdges(chain(), ['in->fc1']).edges.length, 1);
});

test('rename updates edges and checks the id', () => {
  const doc = chain();
  assert.match(idProblem(doc, 'fc1', 'in'), /taken/);
  assert.match(idProblem(doc, 'fc1', 'bad id'), /letters/);
  const next = renameNode(doc, 'fc1', 'hidden');
  assert.deepEqual(next.edges.map((e) => `${e.source}->${e.target}`), ['in->hidden', 'hidden->relu1']);
});

test('copy and paste keeps inner edges, renames, skips a second Input', () => {
  const doc = chain();
  const frag = copyFragment(doc, ['in', 'fc1', 'relu1']);
  const { doc: next, ids } = pasteFragment(doc, frag, { dx: 10, dy: 20 });
  assert.deepEqual(ids, ['fc2', 'relu2']);
  assert.ok(next.edges.some((e) => e.source === 'fc2' && e.target === 'relu2'));
  assert.equal(next.nodes.find((n) => n.id === 'fc2').ui.y, 20);
});

test('documents round-trip unknown keys; other formats are refused', () => {
  const doc = normalizeDocument({ format: 'layerlab.network', version: 1, nodes: [], extra: { a: 1 } });
  assert.deepEqual(doc.extra, { a: 1 });
  assert.throws(() => normalizeDocument({ format: 'other' }), /not a Layerlab design/);
  assert.throws(() => normalizeDocument([1]), /JSON object/);
});

test('setPath, moveNodes and the Input shape', () => {
  let doc = setPath(chain(), ['training', 'optimizer', 'lr'], 0.5);
  assert.equal(doc.training.optimizer.lr, 0.5);
  doc = moveNodes(doc, { fc1: { x: 11.4, y: 2.6 } });
  assert.deepEqual(doc.nodes[1].ui, { x: 11, y: 3 });
  assert.deepEqual(setInputShape(doc, [1, 8, 8]).nodes[0].params.shape, [1, 8, 8]);
  assert.equal(setInputShape(doc, null).nodes[0].params, undefined);
});

test('store: undo/redo as documents, coalescing by key, selection pruned', () => {
  let now = 0;
  const store = new Store(chain(), { clock: () => now });
  const seen = [];
  store.subscribe((c) => seen.push(c));
  store.commit(setParam(store.doc, 'fc1', 'out_features', 1), { key: 'p' });
  now = 100;
  store.commit(setParam(store.doc, 'fc1', 'out_features', 12), { key: 'p' });
  assert.equal(store.past.length, 1); // typing "12" is one step
  store.select({ nodes: ['fc1'] });
  store.commit(removeNodes(store.doc, ['fc1']));
  assert.deepEqual(store.selection.nodes, []);
  assert.ok(store.undo());
  assert.equal(store.doc.nodes.length, 3);
  assert.ok(store.undo());
  assert.equal(store.doc.nodes[1].params, undefined);
  assert.equal(store.undo(), false);
  assert.ok(store.redo());
  assert.equal(store.doc.nodes[1].params.out_features, 12);
  assert.ok(seen.length >= 5);
  store.select({ nodes: ['in'] });
  store.select({ nodes: ['fc1', 'in'] }, { additive: true });
  assert.deepEqual(store.selection.nodes, ['fc1']);
  assert.equal(store.selectedNode, 'fc1');
});
