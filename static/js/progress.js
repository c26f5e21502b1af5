// Run progress from run_status and the metric points: fraction done, speed, time left. Pure.

export const ACTIVE = new Set(['queued', 'starting', 'running', 'paused']);
export const DONE = new Set(['finished', 'stopped', 'failed']);

const WINDOW_S = 3; // seconds of recent points used for the speed estimate

/** Steps per second and epochs per second over the last few seconds of points, or null. */
export function speed(table) {
  const n = table.length;
  if (n < 2) return null;
  const t = table.time.data;
  const s = table.step.data;
  const e = table.epoch.data;
  const last = n - 1;
  let first = last - 1;
  while (first > 0 && t[last] - t[first] < WINDOW_S) first -= 1;
  const dt = t[last] - t[first];
  if (!(dt > 0)) return null;
  return { stepsPerSecond: (s[last] - s[first]) / dt, epochsPerSecond: (e[last] - e[first]) / dt };
}

/**
 * What the progress bar shows. training: the run's document training section.
 * Returns {fraction (0..1 or null when unbounded), epoch, epochs, step, samplesPerSecond, eta,
 * layer}: `layer` is the node a phase of its own trains now (a deep belief net's pre-training).
 */
export function progress(status, table, training = {}) {
  const row = table.lastRow();
  const step = Math.max(row ? row.step : 0, status?.step ?? 0);
  const epoch = row && Number.isFinite(row.epoch) ? row.epoch : (status?.epoch ?? 0);
  const epochs = training.epochs ?? null;
  const steps = training.steps ?? null;
  const episodes = training.episodes ?? null; // a dqn's bound: its points' epoch counts episodes
  let fraction = null;
  if (steps) fraction = step / steps;
  else if (epochs) fraction = epoch / epochs;
  else if (episodes) fraction = epoch / episodes;
  if (status?.state === 'finished') fraction = 1;
  const sp = speed(table);
  const batch = training.batch_size || 32;
  let eta = null;
  if (sp && status?.state === 'running') {
    if (steps && sp.stepsPerSecond > 0) eta = (steps - step) / sp.stepsPerSecond;
    else if (epochs && sp.epochsPerSecond > 0) eta = (epochs - epoch) / sp.epochsPerSecond;
    else if (episodes && sp.epochsPerSecond > 0) eta = (episodes - epoch) / sp.epochsPerSecond;
  }
  return {
    fraction: fraction === null ? null : Math.min(1, Math.max(0, fraction)),
    epoch, epochs, step, steps, episodes,
    stepsPerSecond: sp && status?.state === 'running' ? sp.stepsPerSecond : null,
    samplesPerSecond: sp && status?.state === 'running' ? sp.stepsPerSecond * batch : null,
    eta: eta === null ? null : Math.max(0, eta),
    layer: table.phase?.layer ?? null,
  };
}
