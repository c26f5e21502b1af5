// Training speed for slow motion: a few stops from one step a second to full speed. Pure.
// The server takes the speed in `set_hparams` as `speed`: steps per second, or null for full.

export const SPEEDS = [1, 2, 5, 10, 30, 100, null]; // null: full speed
export const FULL = SPEEDS.length - 1;

/** The stop index of a speed; a speed between stops goes to the nearest one. */
export function stopOf(speed) {
  if (speed === null || speed === undefined || !(speed > 0)) return FULL;
  let best = 0;
  for (let i = 0; i < FULL; i += 1) {
    if (Math.abs(Math.log(SPEEDS[i] / speed)) < Math.abs(Math.log(SPEEDS[best] / speed))) best = i;
  }
  return best;
}

/** The speed one stop slower (delta -1) or faster (+1), clamped at the ends. */
export function shiftSpeed(speed, delta) {
  const i = Math.min(FULL, Math.max(0, stopOf(speed) + delta));
  return SPEEDS[i];
}

/** "1 step/s", "30 steps/s", "Full speed" */
export function speedLabel(speed) {
  if (speed === null || speed === undefined) return 'Full speed';
  return `${speed} step${speed === 1 ? '' : 's'}/s`;
}

/** The set_hparams message that asks a run for a speed. */
export function speedMessage(runId, token, speed) {
  return { run_id: runId, token, speed: speed ?? null };
}
