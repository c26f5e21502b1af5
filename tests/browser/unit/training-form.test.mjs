// Unit tests for the training form's logic (no browser): which fields a section shows, their
// values and defaults, switching kinds, a new design's settings, and range checks that follow the
// schema's bounds. The schema is an excerpt in the shape GET /api/training serves;
// tests/test_training_schema.py holds the page to the server's whole schema.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { TrainingSchema, matches } from '../../../static/js/training-schema.js';
import { labelOf, paramOf, sections } from '../../../static/js/training-form.js';
import { parseValue } from '../../../static/js/fields.js';

const BOTH = ['supervised', 'gan'];
const field = (path, type, def, more = {}) => ({ path, name: path.split('.').pop(), type, default: def, min: null,
  max: null, min_exclusive: false, max_exclusive: false, choices: null, pattern: null, nullable: false, doc: `${path} doc`,
  kinds: BOTH, when: null, default_by: null, label: path, ...more });
const LR = { path: 'optimizer.name', values: { sgd: 0.1, adam: 0.01 } };
const GLR = { path: 'gan.generator_optimizer.name', values: { sgd: 0.1, adam: 0.01 } };
const SCHEMA = new TrainingSchema({
  fields: [
    field('kind', 'choice', 'supervised', { choices: BOTH }),
    field('dataset', 'dataset', null),
    field('gan.d_steps', 'int', 1, { min: 1, max: 100, kinds: ['gan'] }),
    field('optimizer.name', 'choice', 'adam', { choices: ['sgd', 'adam'] }),
    field('optimizer.lr', 'float', 0.01, { min: 0, max: 10, min_exclusive: true, default_by: LR }),
    field('optimizer.grad_clip', 'float', null, { min: 0, min_exclusive: true, nullable: true }),
    field('optimizer.momentum', 'float', 0, { min: 0, max: 1, max_exclusive: true, when: { 'optimizer.name': ['sgd'] } }),
    field('gan.generator_optimizer.name', 'choice', 'adam', { choices: ['sgd', 'adam'], kinds: ['gan'] }),
    field('gan.generator_optimizer.lr', 'float', 0.01, { min: 0, max: 10, min_exclusive: true, kinds: ['gan'], default_by: GLR }),
    field('epochs', 'int', null, { min: 1, max: 1e8, nullable: true }),
    field('loss', 'choice', 'auto', { choices: ['auto', 'mse'], kinds: ['supervised'] }),
    field('device', 'choice', 'auto', { choices: ['auto', 'cpu', 'cuda'], pattern: '^(cuda:\\d{1,2}|mps)$' }),
  ],
  kinds: [
    { name: 'supervised', hparams: [{ name: 'lr', path: 'optimizer.lr' }] },
    { name: 'gan', hparams: [{ name: 'lr', path: 'optimizer.lr' }, { name: 'generator_lr', path: 'gan.generator_optimizer.lr' }] },
  ],
});
const paths = (training) => SCHEMA.formFields(training).map((f) => f.path);

test('the form shows its kind\'s fields whose `when` holds, not the kind, dataset or live rates', () => {
  assert.deepEqual(paths({}), ['optimizer.name', 'optimizer.grad_clip', 'epochs', 'loss', 'device']);
  assert.deepEqual(paths({ optimizer: { name: 'sgd' } }),
    ['optimizer.name', 'optimizer.grad_clip', 'optimizer.momentum', 'epochs', 'loss', 'device']);
  assert.deepEqual(paths({ kind: 'gan' }),
    ['gan.d_steps', 'optimizer.name', 'optimizer.grad_clip', 'gan.generator_optimizer.name', 'epochs', 'device']);
  assert.deepEqual(paths({ kind: 'dqn' }), paths({})); // a kind the server does not know: the default's form
});

test('values and defaults come from the schema, a rate\'s default from its optimizer', () => {
  assert.equal(SCHEMA.value('optimizer.lr', {}), 0.01);
  assert.equal(SCHEMA.value('optimizer.lr', { optimizer: { name: 'sgd' } }), 0.1);
  assert.equal(SCHEMA.value('optimizer.lr', { optimizer: { name: 'sgd', lr: 0.5 } }), 0.5);
  assert.equal(SCHEMA.value('gan.d_steps', { kind: 'gan' }), 1);
  assert.equal(SCHEMA.value('epochs', { epochs: null }), null);
});

test('switching kind drops the fields of the old kind only', () => {
  const supervised = { dataset: { name: 'gaussian' }, loss: 'mse', epochs: 5, optimizer: { name: 'adam', lr: 0.002 }, extra: 1 };
  const gan = SCHEMA.withKind(supervised, 'gan');
  assert.deepEqual(gan, { dataset: { name: 'gaussian' }, epochs: 5, optimizer: { name: 'adam', lr: 0.002 }, extra: 1, kind: 'gan' });
  const back = SCHEMA.withKind({ ...gan, gan: { d_steps: 2 } }, 'supervised');
  assert.deepEqual(back, { dataset: { name: 'gaussian' }, epochs: 5, optimizer: { name: 'adam', lr: 0.002 }, extra: 1 });
  assert.deepEqual(supervised.loss, 'mse'); // the section given is not changed
});

test('a field that stops applying loses its value; a new design starts from the live rates\' defaults', () => {
  const t = SCHEMA.withoutUnused({ optimizer: { name: 'adam', momentum: 0.9, lr: 0.1 } });
  assert.deepEqual(t, { optimizer: { name: 'adam', lr: 0.1 } });
  assert.deepEqual(SCHEMA.starter(), { optimizer: { lr: 0.01 } });
});

test('the form checks what the server checks: exclusive bounds, nullable, choices and patterns', () => {
  const t = {};
  const clip = paramOf(SCHEMA, SCHEMA.field('optimizer.grad_clip'), t);
  assert.match(parseValue(clip, '0').error, /above 0/);
  assert.equal(parseValue(clip, '0.5').error, null);
  assert.deepEqual(parseValue(clip, ''), { value: null, error: null });
  assert.equal(clip.placeholder, 'off');
  const momentum = paramOf(SCHEMA, SCHEMA.field('optimizer.momentum'), t);
  assert.match(parseValue(momentum, '1').error, /below 1/);
  assert.equal(parseValue(momentum, '0').error, null);
  const epochs = paramOf(SCHEMA, SCHEMA.field('epochs'), t);
  assert.equal(parseValue(epochs, '0').error, 'must be at least 1');
  assert.equal(epochs.placeholder, 'no limit');
  const device = SCHEMA.field('device');
  assert.deepEqual(paramOf(SCHEMA, device, { device: 'cuda:1' }).choices, ['auto', 'cpu', 'cuda', 'cuda:1']);
  assert.deepEqual(paramOf(SCHEMA, device, {}).choices, ['auto', 'cpu', 'cuda']);
  assert.ok(matches(device, 'cuda:1') && !matches(device, 'gpu'));
});

test('sections: the loop joins the one optimizer; a gan gets one section per optimizer', () => {
  const titles = (t) => sections(SCHEMA.formFields(t)).map((s) => [s.title, s.fields.map((f) => f.name)]);
  assert.deepEqual(titles({}), [['Optimizer and loop', ['name', 'grad_clip', 'epochs', 'loss', 'device']]]);
  assert.deepEqual(titles({ kind: 'gan' }), [['Game', ['d_steps']], ['Discriminator optimizer', ['name', 'grad_clip']],
    ['Generator optimizer', ['name']], ['Loop', ['epochs', 'device']]]);
  assert.equal(labelOf(SCHEMA.field('optimizer.name')), 'optimizer');
  assert.equal(labelOf(SCHEMA.field('gan.d_steps')), 'd steps');
});
