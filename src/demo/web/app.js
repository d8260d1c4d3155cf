// The page: the contacts (list, pick, create, rename, and the lifecycle actions), wired to the History
// tab, the interaction form and the audit view. State is the directory and the picked contact.
import { api, ApiError, command, contactName, failureOf } from './api.js';
import { createAudit } from './audit.js';
import { $, busy, clearErrors, confirmAction, h, isolated, showErrors, submitting } from './dom.js';
import { createHistory } from './history.js';
import { createInteractionForm } from './interaction-form.js';

const state = { contacts: new Map(), picked: null };

const notice = (text) => ($('#notice').textContent = text);

const historyTab = createHistory({
  state,
  onEdit: (uuid) => form.openEdit(uuid).catch((error) => notice(`Could not open it: ${error.message}`)),
  onAudit: (uuid) => audit.open(uuid).catch((error) => notice(`Could not read its history: ${error.message}`)),
  onDelete: (interaction, button) =>
    busy(button, async () => {
      if (!(await confirmAction(`Delete “${isolated(interaction.subject || '(no subject)')}”? Its history stays in the audit log.`, 'Delete interaction'))) return;
      await command('DELETE', `interactions/${interaction.uuid}`).then(
        () => notice('Interaction deleted.'),
        (error) => notice(`Not deleted: ${failureOf(error)}`),
      );
      await historyTab.reload();
    }),
});
const form = createInteractionForm({
  state,
  notice,
  onSaved: async (saved) => {
    notice(`Saved “${saved.subject || '(no subject)'}” (version ${saved.version}).`);
    await historyTab.reload();
  },
});
const audit = createAudit({ state });

function renderContacts() {
  $('#contact-list').replaceChildren(
    ...[...state.contacts.values()].map((contact) =>
      h(
        'li',
        {},
        h(
          'button',
          { type: 'button', class: 'contact', 'aria-current': contact.uuid === state.picked ? 'true' : undefined, onclick: () => pick(contact.uuid) },
          h('bdi', {}, contactName(contact)),
          contact.company && h('small', { dir: 'auto' }, contact.company),
        ),
      ),
    ),
  );
  const others = [...state.contacts.values()].filter((contact) => contact.uuid !== state.picked);
  $('#merge-form').elements.intoUuid.replaceChildren(...others.map((contact) => h('option', { value: contact.uuid }, contactName(contact))));
}

async function loadContacts() {
  const contacts = await api('GET', 'contacts');
  state.contacts = new Map(contacts.map((contact) => [contact.uuid, contact]));
  if (state.picked && !state.contacts.has(state.picked)) state.picked = null;
  renderContacts();
}

async function pick(uuid) {
  state.picked = uuid;
  window.history.replaceState(null, '', uuid ? `#${uuid}` : location.pathname + location.search);
  renderContacts();
  const contact = state.contacts.get(uuid);
  $('#no-contact').hidden = Boolean(contact);
  $('#history').hidden = !contact;
  if (!contact) return;
  $('#contact-name').textContent = contactName(contact);
  $('details.manage').open = false; // the lifecycle actions start folded for each contact
  $('#rename-form').elements.name.value = contact.name ?? '';
  clearErrors($('#rename-form'));
  await historyTab.reload();
}

/** A form's submit as one API call: 422s at their fields, anything else in the form's summary. */
function onSubmit(selector, action) {
  const element = $(selector);
  element.addEventListener('submit', (event) => {
    event.preventDefault();
    return submitting(element, async () => {
      clearErrors(element);
      try {
        await action(element);
      } catch (error) {
        if (error instanceof ApiError && error.status === 422) showErrors(element, error.body.errors);
        else showErrors(element, {}, [failureOf(error)]);
      }
    });
  });
}

onSubmit('#contact-form', async (element) => {
  const fields = Object.fromEntries([...new FormData(element)].map(([key, value]) => [key, value.trim() || null]));
  const created = await command('POST', 'contacts', fields);
  element.reset();
  await loadContacts();
  await pick(created.uuid);
  notice(`Contact ${contactName(created)} created.`);
});

onSubmit('#rename-form', async (element) => {
  await api('PATCH', `contacts/${state.picked}`, { name: element.elements.name.value.trim() || null });
  await loadContacts();
  await pick(state.picked);
  notice('Contact renamed. Interactions keep the names their parties had when logged.');
});

onSubmit('#merge-form', async (element) => {
  const from = state.contacts.get(state.picked);
  const into = state.contacts.get(element.elements.intoUuid.value);
  if (!into) return showErrors(element, { intoUuid: ['pick a contact to merge into'] });
  const [fromName, intoName] = [isolated(contactName(from)), isolated(contactName(into))];
  if (!(await confirmAction(`Merge ${fromName} into ${intoName}? Its interactions and party links move there, and ${fromName} is deleted.`, 'Merge'))) return;
  const result = await command('POST', `contacts/${from.uuid}/merge`, { intoUuid: into.uuid });
  await loadContacts();
  await pick(into.uuid);
  notice(`Merged: ${result.interactions} interaction(s) changed.`);
});

/** Delete or forget the picked contact, after a confirmation. */
async function lifecycle(verb, path, method, message) {
  const contact = state.contacts.get(state.picked);
  if (!(await confirmAction(message(isolated(contactName(contact))), `${verb} contact`))) return;
  try {
    const result = await command(method, path(contact.uuid));
    await loadContacts();
    await pick(null);
    notice(`${verb}: ${contactName(contact)}; ${result.interactions} interaction(s) changed.`);
  } catch (error) {
    notice(`Not done: ${failureOf(error)}`);
  }
}

$('#delete-contact').addEventListener('click', (event) =>
  busy(event.currentTarget, () =>
    lifecycle('Delete', (uuid) => `contacts/${uuid}`, 'DELETE', (name) => `Delete ${name}? Interactions about ${name} are deleted; parties linked to ${name} keep their name but lose the link.`),
  ),
);
$('#forget-contact').addEventListener('click', (event) =>
  busy(event.currentTarget, () =>
    lifecycle('Forget', (uuid) => `contacts/${uuid}/forget`, 'POST', (name) => `Forget ${name} (erasure)? What Delete does, and ${name}'s name reads “[erased]” everywhere, also in history. This cannot be undone.`),
  ),
);
$('#log-interaction').addEventListener('click', () => form.openNew(state.picked));

await loadContacts().catch((error) => notice(`Could not load the contacts: ${error.message}`));
/** The contact uuid in the URL's `#`, in lower case as the API answers uuids; null for one that cannot be decoded. */
function hashUuid() {
  try {
    return decodeURIComponent(location.hash.slice(1)).toLowerCase();
  } catch {
    return null; // "#%E0%A4%A": not percent-encoded UTF-8
  }
}
const fromHash = hashUuid();
await pick(state.contacts.has(fromHash) ? fromHash : null);
