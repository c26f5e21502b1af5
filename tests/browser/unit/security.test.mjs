// Issue 16: metrics the server sent as null (NaN or infinite there) show as "—", never as text.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { resultText } from '../../../static/js/insight/runs.js';
import { MetricTable } from '../../../static/js/series.js';

test('a column whose newest value was null is a gap; a later finite value ends it', () => {
  const t = new MetricTable();
  t.push([{ step: 1, train_loss: 1, val_loss: 2 }, { step: 2, train_loss: 0.5 }]);
  assert.equal(t.lastIsGap('val_loss'), false); // a point without val_loss is no gap
  t.push([{ step: 3, train_loss: 0.4, val_loss: null }]);
  assert.equal(t.lastIsGap('val_loss'), true);
  assert.equal(t.last('val_loss'), 2);
  t.push([{ step: 4, val_loss: 1.5 }]);
  assert.equal(t.lastIsGap('val_loss'), false);
  t.clear();
  assert.equal(t.lastIsGap('val_loss'), false);
});

test('points with null or missing step, epoch, time and lr do not throw', () => {
  const t = new MetricTable();
  t.push([{ step: null, epoch: null, time: null, lr: null, train_loss: Infinity },
    { step: 2, lr: NaN, train_loss: 'NaN' }]);
  assert.equal(t.length, 2);
  assert.equal(t.counts.train_loss, 0);
  assert.equal(t.lastLr, null);
  assert.deepEqual(t.lrChanges, []);
});

test('a run summary with a null validation loss says so', () => {
  assert.equal(resultText({ val_loss: null, train_loss: 3 }), 'val loss —');
  assert.equal(resultText({ train_loss: 3 }), 'loss 3');
});

test('server refusals read as words, not as codes or "internal"', async () => {
  const { ackError, problemText } = await import('../../../static/js/problem.js');
  assert.match(problemText({ status: 403, code: 'http_error', message: 'request failed (403)' }), /forbidden/);
  assert.match(problemText({ status: 415, message: 'request failed (415)' }), /JSON/);
  assert.match(problemText({ status: 413, message: 'request failed (413)' }), /too large/);
  assert.match(problemText({ status: 429, code: 'busy', message: '' }), /busy/);
  assert.equal(problemText({ code: 'quota_exceeded', message: 'at most 4 queued runs' }),
    'at most 4 queued runs (quota)');
  assert.equal(problemText(new Error('not connected to the server')), 'not connected to the server');
  const err = ackError({ ok: false, error: 'busy' }, 'fallback');
  assert.equal(err.code, 'busy');
  assert.match(problemText(err), /busy/);
  assert.equal(ackError({ ok: false, error: 'x', message: 'no run' }, 'f').message, 'no run');
  assert.equal(ackError(null, 'fallback').message, 'fallback');
});
