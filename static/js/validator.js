// Ask the server to validate the design on every edit, debounced; late answers are dropped.
// The transport and the timer are injected so this runs without a browser.

export const EMPTY_REPORT = Object.freeze({ ok: false, shapes: {}, params: {}, total_params: 0,
  errors: [] });

/** Any server answer as a validate report (an error answer becomes one problem). */
export function asReport(answer) {
  if (answer && Array.isArray(answer.errors) && 'ok' in answer && answer.shapes) return answer;
  const message = answer?.message || 'the server could not check this design';
  return { ...EMPTY_REPORT, errors: answer?.errors?.length ? answer.errors
    : [{ node: null, param: null, message }] };
}

export class Validator {
  constructor({ send, onResult, delay = 150, schedule = (fn, ms) => setTimeout(fn, ms),
    cancel = (id) => clearTimeout(id) }) {
    this.send = send;
    this.onResult = onResult;
    this.delay = delay;
    this.schedule = schedule;
    this.cancel = cancel;
    this.timer = null;
    this.seq = 0;
    this.shown = 0;
    this.inflight = null;
    this.report = null;
  }

  get pending() {
    return this.timer !== null || this.inflight !== null;
  }

  /** Validate doc after the debounce delay (a newer call replaces an older one). */
  request(doc) {
    if (this.timer !== null) this.cancel(this.timer);
    this.timer = this.schedule(() => {
      this.timer = null;
      this.now(doc);
    }, this.delay);
  }

  /** Validate at once; resolves to the report (also given to onResult unless outdated). */
  now(doc) {
    if (this.timer !== null) {
      this.cancel(this.timer);
      this.timer = null;
    }
    this.seq += 1;
    const seq = this.seq;
    const job = Promise.resolve()
      .then(() => this.send(doc))
      .then(asReport, (err) => asReport({ message: `could not reach the server: ${err.message}` }))
      .then((report) => {
        if (seq >= this.shown) {
          this.shown = seq;
          this.report = report;
          this.onResult(report);
        }
        if (this.inflight === job) this.inflight = null;
        return report;
      });
    this.inflight = job;
    return job;
  }
}
