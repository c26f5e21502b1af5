// Issue 10: a gan's Input is fed by the generator; the catalog says so per kind, the page asks it.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { inputsFor } from '../../../static/js/fields.js';

const INPUT = { type: 'Input', inputs: { min: 0, max: 0, kinds: { gan: 1 } } };
const LINEAR = { type: 'Linear', inputs: { min: 1, max: 1, kinds: {} } };
const NOISE = { type: 'Noise', inputs: { min: 0, max: 0, kinds: {} } };

test("an Input takes an edge only in a gan design; its port exists for the canvas", () => {
  assert.equal(inputsFor(INPUT, 'supervised'), 0);
  assert.equal(inputsFor(INPUT, 'gan'), 1);
  assert.equal(inputsFor(INPUT, null), 1); // some kind feeds it: the node has an in-port
});

test('other layers take what they always take, in every kind', () => {
  for (const kind of ['supervised', 'gan', null]) {
    assert.equal(inputsFor(LINEAR, kind), 1);
    assert.equal(inputsFor(NOISE, kind), 0);
  }
  assert.equal(inputsFor({ inputs: { min: 1, max: 4 } }, 'gan'), 4); // an older catalog: no kinds
});
