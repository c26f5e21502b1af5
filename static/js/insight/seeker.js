// The timeline's requests: one `seek` in flight at a time, the newest wish wins, answers cached
// per checkpoint step (dragging back and forth asks the server once). Pure: the request is
// injected.

export class Seeker {
  /** request(step) -> Promise of the seek ack; onAnswer(ack) gets answers still wanted. */
  constructor(request, { onAnswer = () => {}, onError = () => {}, cacheSize = 48 } = {}) {
    this.request = request;
    this.onAnswer = onAnswer;
    this.onError = onError;
    this.cacheSize = cacheSize;
    this.cache = new Map(); // step -> ack, oldest first
    this.target = null;
    this.busy = false;
  }

  /** Show checkpoint `step` as soon as possible (later wishes replace earlier ones). */
  want(step) {
    this.target = step;
    const hit = this.cache.get(step);
    if (hit) {
      this.onAnswer(hit);
      return;
    }
    if (!this.busy) this.fetch(step);
  }

  /** Nothing is wanted any more (back to live): late answers are dropped. */
  cancel() {
    this.target = null;
  }

  /** Forget cached answers (another run). */
  reset() {
    this.cancel();
    this.cache.clear();
  }

  async fetch(step) {
    this.busy = true;
    try {
      const ack = await this.request(step);
      if (ack?.ok) {
        this.remember(step, ack);
        if (this.target === step) this.onAnswer(ack);
      } else if (this.target === step) this.onError(new Error(ack?.message || 'the server has no pictures for that step'));
    } catch (err) {
      if (this.target === step) this.onError(err);
    } finally {
      this.busy = false;
    }
    const next = this.target;
    if (next !== null && next !== step && !this.cache.has(next)) this.fetch(next);
  }

  remember(step, ack) {
    this.cache.delete(step);
    this.cache.set(step, ack);
    while (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value);
  }
}

/** Index of the last checkpoint at or before `step` (0 when step is before them all). */
export function checkpointIndex(checkpoints, step) {
  let lo = 0;
  let hi = checkpoints.length - 1;
  let found = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (checkpoints[mid].step <= step) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** "step 1,200 · epoch 12.5" for a checkpoint. */
export function checkpointText(cp) {
  if (!cp) return '';
  const epoch = typeof cp.epoch === 'number' ? ` · epoch ${Number(cp.epoch.toFixed(cp.epoch < 10 ? 1 : 0)).toLocaleString('en-US')}` : '';
  return `step ${cp.step.toLocaleString('en-US')}${epoch}`;
}

/** Up to n checkpoint indices spread evenly over the timeline, first and last included. */
export function spread(count, n) {
  if (count <= n) return Array.from({ length: count }, (_, i) => i);
  const out = new Set();
  for (let i = 0; i < n; i += 1) out.add(Math.round((i / (n - 1)) * (count - 1)));
  return [...out];
}
