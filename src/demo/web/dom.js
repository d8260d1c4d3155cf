// A few DOM helpers: elements built with textContent only (never innerHTML), field errors, a confirmation.

/** `h('li', { class: 'x', onclick }, 'text', child)`: attributes, listeners and children; null children are skipped. */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/**
 * User text inside a sentence of the page's own, bidi-isolated (U+2068 … U+2069): right-to-left text or a
 * stray override (U+202E) in a name cannot reorder the words around it. Elements take `dir="auto"` or `<bdi>`.
 */
export const isolated = (text) => `\u2068${text}\u2069`;

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateTimeSeconds = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** A `<time>` with the machine-readable value and a local, readable text. */
export function time(iso, { seconds = false } = {}) {
  return h('time', { datetime: iso }, (seconds ? dateTimeSeconds : dateTime).format(new Date(iso)));
}

/**
 * Runs a form's submit once at a time: its submit buttons are disabled meanwhile, and a second submit
 * (a double click, Enter pressed twice) while one runs is ignored.
 */
export async function submitting(form, work) {
  if (form.dataset.busy) return;
  form.dataset.busy = 'true';
  const buttons = [...form.querySelectorAll('button[type="submit"], button:not([type])')];
  for (const button of buttons) button.disabled = true;
  try {
    await work();
  } finally {
    delete form.dataset.busy;
    for (const button of buttons) button.disabled = false;
  }
}

/** Runs `work` with `control` disabled: a second click while it runs (a slow delete confirmed twice) does nothing. */
export async function busy(control, work) {
  if (control.disabled) return;
  control.disabled = true;
  try {
    await work();
  } finally {
    control.disabled = false;
  }
}

/** A Date as a `datetime-local` value (local time, whole seconds; the year in four digits, as the input needs). */
export function toLocalInput(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${String(date.getFullYear()).padStart(4, '0')}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** Removes the errors `showErrors` put on a form. */
export function clearErrors(form) {
  for (const error of form.querySelectorAll('.field-error')) error.remove();
  for (const field of form.querySelectorAll('[aria-invalid]')) {
    field.removeAttribute('aria-invalid');
    field.removeAttribute('aria-describedby');
  }
  const summary = form.querySelector('.form-errors');
  if (summary) summary.replaceChildren();
}

/**
 * A 422's `{ errors: { field: [messages] } }` at their fields: the control whose `data-field` (or `name`)
 * is the key gets `aria-invalid` and a described-by message; keys without a control go to the form's summary.
 */
export function showErrors(form, errors, summaryText = []) {
  clearErrors(form);
  const unplaced = [...summaryText];
  for (const [field, messages] of Object.entries(errors ?? {})) {
    const control = form.querySelector(`[data-field="${CSS.escape(field)}"]`) ?? form.elements.namedItem(field);
    if (!(control instanceof HTMLElement)) {
      unplaced.push(`${field}: ${messages.join('; ')}`);
      continue;
    }
    const id = `error-${form.id}-${field.replace(/\W/g, '-')}`;
    control.setAttribute('aria-invalid', 'true');
    control.setAttribute('aria-describedby', id);
    control.after(h('p', { class: 'field-error', id }, messages.join('; ')));
  }
  const summary = form.querySelector('.form-errors');
  if (summary) summary.replaceChildren(...unplaced.map((text) => h('p', {}, text)));
  form.querySelector('[aria-invalid="true"]')?.focus();
}

/** Asks in the page's confirmation dialog; true when confirmed. */
export function confirmAction(message, confirmLabel) {
  const dialog = $('#confirm-dialog');
  $('#confirm-message', dialog).textContent = message;
  $('#confirm-ok', dialog).textContent = confirmLabel;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }));
}
