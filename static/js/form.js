// One form field for one param descriptor {name, type, default, min, max, choices, nullable, doc},
// checked as the user types. Used by the layer inspector and the training settings.

import { h } from './dom.js';
import { formatValue, parseValue } from './fields.js';

let uid = 0;

/**
 * Build a field. onChange(value) runs for every valid edit (value undefined = the default);
 * label overrides the param name shown. Returns {el, input, set(value), serverError(msg)}.
 */
export function paramField(param, value, { onChange, label = null, name = param.name, hint = null,
  disabled = false } = {}) {
  uid += 1;
  const id = `f${uid}-${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const message = h('p', { class: 'field-msg', id: `${id}-msg`, 'aria-live': 'polite' });
  const emit = (v) => {
    field.value = v;
    onChange(v);
  };
  let input;
  if (param.type === 'bool') {
    input = h('input', { type: 'checkbox', id, name, checked: Boolean(value), disabled });
    input.addEventListener('change', () => emit(input.checked));
  } else if (param.type === 'choice') {
    input = h('select', { id, name, disabled },
      (param.choices || []).map((c) => h('option', { value: String(c) }, String(c))));
    input.value = String(value ?? param.default);
    input.addEventListener('change', () => emit(parseValue(param, input.value).value));
  } else {
    const numeric = param.type === 'int' || param.type === 'float';
    input = h('input', {
      type: 'text', id, name, disabled, spellcheck: 'false', autocomplete: 'off',
      inputmode: numeric ? (param.type === 'int' ? 'numeric' : 'decimal') : 'text',
      placeholder: param.nullable ? (param.placeholder || 'auto') : '',
      'aria-describedby': `${id}-msg`,
    });
    input.value = formatValue(param, value);
    const check = (commit) => {
      const { value: v, error } = parseValue(param, input.value);
      setError(error ? `${name === param.name ? param.name : label || name} ${error}` : null);
      if (!error && commit) emit(v);
    };
    input.addEventListener('input', () => check(true));
    input.addEventListener('blur', () => {
      if (!field.el.classList.contains('is-invalid')) input.value = formatValue(param, field.value);
    });
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') input.blur();
      if (e.key === 'Escape') {
        input.value = formatValue(param, field.value);
        check(false);
        input.blur();
      }
    });
  }

  const text = label || param.name;
  const el = h('div', { class: `field field-${param.type}` },
    param.type === 'bool'
      ? h('label', { class: 'field-check', for: id }, input, h('span', { class: 'field-label' }, text))
      : [h('label', { class: 'field-label', for: id }, text), input],
    hint || param.doc ? h('p', { class: 'field-doc' }, hint || param.doc) : null,
    message);

  function setError(msg, kind = 'local') {
    el.classList.toggle('is-invalid', Boolean(msg));
    el.dataset.errorKind = msg ? kind : '';
    message.textContent = msg || '';
    input.setAttribute('aria-invalid', msg ? 'true' : 'false');
  }

  const field = {
    el, input, value,
    /** Show a new value unless the user is typing in this field. */
    set(next) {
      field.value = next;
      if (document.activeElement === input) return;
      if (param.type === 'bool') input.checked = Boolean(next);
      else if (param.type === 'choice') input.value = String(next ?? param.default);
      else input.value = formatValue(param, next);
      if (el.dataset.errorKind === 'local') setError(null);
    },
    /** A problem the server found with this param (null clears it). */
    serverError(msg) {
      if (el.dataset.errorKind === 'local') return; // what the user is typing wins
      if (msg) setError(msg, 'server');
      else if (el.dataset.errorKind === 'server') setError(null);
    },
  };
  return field;
}
