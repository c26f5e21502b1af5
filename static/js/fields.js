// Form values <-> param values, checked against the catalog's own bounds. Pure.
// The catalog entry of a param: {name, type, default, min, max, choices, nullable, doc}.

export function formatNumber(v) {
  if (v === null || v === undefined) return '';
  if (typeof v !== 'number') return String(v);
  if (Number.isInteger(v) || Math.abs(v) >= 1e-3) return String(v);
  return v.toExponential().replace('e-', 'e-');
}

/** The text shown in an input for a param value. */
export function formatValue(param, value) {
  if (value === null || value === undefined) return '';
  if (param.type === 'shape') return Array.isArray(value) ? value.join(', ') : String(value);
  if (param.type === 'bool') return value ? 'true' : 'false';
  return formatNumber(value);
}

// A bound is inclusive unless the param says min_exclusive / max_exclusive (the training schema's).
function rangeMessage(param) {
  const { min, max } = param;
  const huge = (v) => v === null || v === undefined || Math.abs(v) >= 1e8;
  const low = param.min_exclusive ? `above ${formatNumber(min)}` : `at least ${formatNumber(min)}`;
  const high = param.max_exclusive ? `below ${formatNumber(max)}` : `at most ${formatNumber(max)}`;
  if (!huge(min) && !huge(max)) {
    return param.min_exclusive || param.max_exclusive ? `${low} and ${high}`
      : `from ${formatNumber(min)} to ${formatNumber(max)}`;
  }
  if (!huge(min)) return low;
  if (!huge(max)) return high;
  return '';
}

function checkRange(param, v) {
  const given = (b) => b !== null && b !== undefined;
  const low = given(param.min) && (param.min_exclusive ? v <= param.min : v < param.min);
  const high = given(param.max) && (param.max_exclusive ? v >= param.max : v > param.max);
  return low || high ? `must be ${rangeMessage(param)}` : null;
}

/**
 * Parse what the user typed (a string, or a boolean for checkboxes).
 * Returns {value, error}; value undefined with no error means "use the default".
 */
export function parseValue(param, raw) {
  if (param.type === 'bool') return { value: Boolean(raw), error: null };
  const text = String(raw ?? '').trim();
  if (text === '') {
    if (param.nullable) return { value: null, error: null };
    return { value: undefined, error: 'required' };
  }
  if (param.type === 'choice') {
    const choices = param.choices || [];
    const hit = choices.find((c) => String(c) === text);
    return hit === undefined ? { value: undefined, error: `one of ${choices.join(', ')}` }
      : { value: hit, error: null };
  }
  if (param.type === 'int') {
    if (!/^[-+]?\d+$/.test(text)) return { value: undefined, error: 'a whole number' };
    const v = Number.parseInt(text, 10);
    return { value: v, error: checkRange(param, v) };
  }
  if (param.type === 'float') {
    const v = Number(text);
    if (!Number.isFinite(v)) return { value: undefined, error: 'a number' };
    return { value: v, error: checkRange(param, v) };
  }
  if (param.type === 'shape') {
    const parts = text.replace(/^\[|\]$/g, '').split(/[\s,x×]+/).filter(Boolean);
    if (!parts.length || parts.some((p) => !/^-?\d+$/.test(p))) {
      return { value: undefined, error: 'whole numbers separated by commas, e.g. 1, 28, 28' };
    }
    const dims = parts.map((p) => Number.parseInt(p, 10));
    const bad = dims.map((d) => checkRange(param, d)).find(Boolean);
    return { value: dims, error: bad ? `each size ${bad}` : null };
  }
  return { value: text, error: null };
}

/** The value a node actually uses for a param: its own or the catalog default. */
export function effectiveValue(param, params) {
  return params && Object.hasOwn(params, param.name) ? params[param.name] : param.default;
}

/** Short text for the params worth showing on a node: the first one and any changed ones. */
export function keyParams(spec, params, limit = 2) {
  if (!spec) return [];
  const shown = [];
  spec.params.forEach((p, i) => {
    const value = effectiveValue(p, params);
    const changed = params && Object.hasOwn(params, p.name)
      && JSON.stringify(params[p.name]) !== JSON.stringify(p.default);
    if ((i === 0 && p.type !== 'bool') || changed) {
      if (value === null || value === undefined) return;
      shown.push({ name: p.name, text: p.type === 'shape' ? `[${value.join(', ')}]`
        : formatValue(p, value) });
    }
  });
  return shown.slice(0, limit);
}

/** A log-scale slider position (0..1000) <-> a learning rate in [1e-5, 1]. */
export const LR_RANGE = Object.freeze({ min: 1e-5, max: 1 });

export function lrToSlider(lr) {
  const v = Math.min(LR_RANGE.max, Math.max(LR_RANGE.min, lr));
  return Math.round(1000 * Math.log10(v / LR_RANGE.min) / Math.log10(LR_RANGE.max / LR_RANGE.min));
}

export function sliderToLr(pos) {
  const raw = LR_RANGE.min * (LR_RANGE.max / LR_RANGE.min) ** (pos / 1000);
  const digits = Math.floor(Math.log10(raw));
  const unit = 10 ** (digits - 1);
  return Number((Math.round(raw / unit) * unit).toPrecision(2));
}

/** The slider (0..1000) of a live rate with bounds {min, max, min_exclusive}: log-scale like the
 * learning rate, unless its range starts at 0 (a probability such as a dqn's ε): then linear
 * over [0, max], in hundredths of it. */
export function rateSlider({ min = null, min_exclusive = false, max = null } = {}) {
  if (min === 0 && !min_exclusive && Number.isFinite(max) && max > 0) {
    return { linear: true, toSlider: (v) => Math.round((1000 * Math.min(max, Math.max(0, v))) / max),
      fromSlider: (pos) => Number(((Math.round(pos / 10) * max) / 100).toPrecision(6)) };
  }
  return { linear: false, toSlider: lrToSlider, fromSlider: sliderToLr };
}

/** The most inputs a catalog entry takes in a design of `kind` (null: in any kind). */
export function inputsFor(spec, kind) {
  const kinds = spec.inputs.kinds || {};
  if (kind === null) return Math.max(spec.inputs.max, ...Object.values(kinds));
  return kinds[kind] ?? spec.inputs.max;
}
