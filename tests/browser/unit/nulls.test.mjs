// Issue 16: the server sends null for a non-finite metric; series and formats skip it, never throw.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { metric, percent } from '../../../static/js/format.js';
import { MetricTable, decimate, ema, gather } from '../../../static/js/series.js';

function points(n) {
  const out = [];
  for (let s = 1; s <= n; s += 1) {
    out.push({ step: s, epoch: null, time: null, train_loss: s % 3 ? 1 / s : null,
      val_loss: null, train_accuracy: s % 2 ? 0.5 : null, val_accuracy: undefined, lr: null });
  }
  return out;
}

test('a table of points holding nulls counts only the finite values', () => {
  const t = new MetricTable(4);
  t.push(points(10));
  assert.equal(t.length, 10);
  assert.equal(t.counts.train_loss, 7); // steps 3, 6, 9 are null
  assert.equal(t.counts.val_loss, 0);
  assert.equal(t.counts.train_accuracy, 5);
  assert.ok(Number.isNaN(t.column('train_loss')[2]));
  assert.ok(Number.isNaN(t.epoch.data[0]));
  assert.deepEqual(t.lrChanges, []); // a null lr is no change of the learning rate
});

test('the latest value skips nulls, and an all-null column has none', () => {
  const t = new MetricTable();
  t.push(points(9));
  assert.equal(t.last('train_loss'), 1 / 8); // step 9 is null
  assert.equal(t.last('val_loss'), null);
  assert.equal(metric(t.last('val_loss')), '–');
  assert.equal(percent(null), '–');
});

test('smoothing, decimation and gathering keep nulls as gaps', () => {
  const t = new MetricTable();
  t.push(points(600));
  const raw = t.column('train_loss');
  const smooth = ema(raw, 0.6);
  assert.ok(Number.isNaN(smooth[2]));
  assert.ok(smooth.filter(Number.isFinite).length === t.counts.train_loss);
  const idx = decimate(t.steps(), [raw, smooth, t.column('val_loss')], 50);
  assert.ok(idx.length > 0 && idx.length < 600);
  const [x, y, v] = gather(idx, [t.steps(), raw, t.column('val_loss')]);
  assert.ok(x.every(Number.isFinite));
  assert.ok(y.every((a) => a === null || Number.isFinite(a)));
  assert.ok(v.every((a) => a === null));
});

test('a table of only null metrics still draws nothing without throwing', () => {
  const t = new MetricTable();
  t.push([{ step: 1, train_loss: null }, { step: 2, train_loss: null }]);
  assert.equal(t.last('train_loss'), null);
  assert.deepEqual([...ema(t.column('train_loss'), 0.6)].map(Number.isNaN), [true, true]);
  assert.equal(decimate(t.steps(), [t.column('train_loss')], 10).length, 2);
});
