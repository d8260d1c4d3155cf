// Log and edit an interaction: one form in a dialog. Editing sends the version it was loaded at
// (`expectedVersion`), so a change made meanwhile by someone else answers 409 instead of being overwritten,
// and only the fields changed in the form: what the user did not touch is not written again.
import { api, command, contactName, outcomeUnknown, problemOf } from './api.js';
import { $, clearErrors, h, showErrors, submitting, toLocalInput } from './dom.js';
import { TYPES } from './history.js';

const CONFLICT = 'This interaction was changed by someone else — reload to see their change, then edit again.';
const ANSWER_LOST = 'The answer was lost: this may have been saved. Saving again unchanged is safe; a change is saved as a new request.';
const DELETED = 'This interaction was deleted meanwhile: there is nothing left to edit.';

/** The parties as the API takes them, for comparing a form's with the loaded ones. */
const partyInputs = (parties) => parties.map(({ rawName, contactUuid, staffPersonUuid }) => ({ rawName, contactUuid, staffPersonUuid }));

export function createInteractionForm({ state, onSaved, notice }) {
  const dialog = $('#interaction-dialog');
  const form = $('#interaction-form');
  const partyRows = $('#party-rows');
  const reloadButton = $('#interaction-reload');
  let editing = null; // the interaction as loaded for an edit; null when logging a new one
  let loaded = {}; // the form's values as filled: an edit sends the attributes that differ
  let opened = 0; // how many times the dialog was filled: a save's outcome belongs to the filling it was sent from
  const ATTRS = ['contactUuid', 'interactionType', 'occurredAt', 'subject', 'body'];

  for (const type of TYPES) form.elements.interactionType.append(h('option', { value: type }, type));

  const contactOptions = (selected) =>
    [...state.contacts.values()].map((contact) => h('option', { value: contact.uuid, selected: contact.uuid === selected }, contactName(contact)));

  /** Positions in names and error keys follow the rows (a removed row renumbers those after it). */
  function renumber() {
    [...partyRows.children].forEach((row, index) => {
      const [select, name, remove] = row.querySelectorAll('select, input, button');
      select.dataset.field = `parties.${index}.contactUuid`;
      select.setAttribute('aria-label', `Party ${index + 1}: contact`);
      name.dataset.field = `parties.${index}.rawName`;
      name.setAttribute('aria-label', `Party ${index + 1}: name`);
      remove.setAttribute('aria-label', `Remove party ${index + 1}`);
    });
  }

  /** One party: a contact from the directory or free text, and the name as written (a staff link is kept as is). */
  function addParty(party = { rawName: '', contactUuid: null, staffPersonUuid: null }) {
    // A linked contact the directory no longer lists stays linked unless changed here.
    const unlisted = party.contactUuid && !state.contacts.has(party.contactUuid) && h('option', { value: party.contactUuid, selected: true }, `${party.rawName} (not in the directory)`);
    const select = h('select', {}, h('option', { value: '' }, party.staffPersonUuid ? '— staff person —' : '— free text —'), unlisted, contactOptions(party.contactUuid));
    const name = h('input', { type: 'text', value: party.rawName, placeholder: 'name as written' });
    const row = h('li', { class: 'party-row', 'data-staff': party.staffPersonUuid ?? '' }, select, name, h('button', { type: 'button', onclick: () => (row.remove(), renumber()) }, 'Remove'));
    // Picking a contact fills an empty name with the contact's (a party needs a name to be kept).
    select.addEventListener('change', () => {
      const contact = state.contacts.get(select.value);
      if (contact && !name.value.trim()) name.value = contactName(contact);
    });
    partyRows.append(row);
    renumber();
    return row;
  }

  function partiesOfForm() {
    return [...partyRows.children].map((row) => {
      const contactUuid = row.querySelector('select').value || null;
      const rawName = row.querySelector('input').value.trim() || (contactUuid ? contactName(state.contacts.get(contactUuid)) : '');
      return { rawName, contactUuid, staffPersonUuid: contactUuid ? null : row.dataset.staff || null };
    });
  }

  function fill(interaction) {
    clearErrors(form);
    reloadButton.hidden = true;
    // A subject the page's contact list does not hold (created since it loaded) stays as it is, unless changed.
    const unlisted =
      interaction.contactUuid &&
      !state.contacts.has(interaction.contactUuid) &&
      h('option', { value: interaction.contactUuid, selected: true }, `not in the directory (${interaction.contactUuid.slice(0, 8)}…)`);
    form.elements.contactUuid.replaceChildren(...[unlisted].filter(Boolean), ...contactOptions(interaction.contactUuid));
    form.elements.interactionType.value = interaction.interactionType;
    form.elements.occurredAt.value = toLocalInput(new Date(interaction.occurredAt));
    form.elements.subject.value = interaction.subject ?? '';
    form.elements.body.value = interaction.body ?? '';
    partyRows.replaceChildren();
    for (const party of interaction.parties) addParty(party);
    loaded = Object.fromEntries(ATTRS.map((name) => [name, form.elements[name].value]));
  }

  function open(title, interaction) {
    opened += 1;
    $('#interaction-dialog-title').textContent = title;
    fill(interaction);
    if (!dialog.open) dialog.showModal();
    form.elements.subject.focus();
  }

  async function openEdit(uuid) {
    editing = await api('GET', `interactions/${uuid}`);
    open('Edit interaction', editing);
  }

  function openNew(contactUuid) {
    editing = null;
    open('Log an interaction', { contactUuid, interactionType: 'call', occurredAt: new Date().toISOString(), subject: '', body: '', parties: [] });
  }

  function body() {
    const attrs = {
      contactUuid: form.elements.contactUuid.value,
      interactionType: form.elements.interactionType.value,
      occurredAt: form.elements.occurredAt.value ? new Date(form.elements.occurredAt.value).toISOString() : null,
      subject: form.elements.subject.value.trim() || null,
      body: form.elements.body.value.trim() || null,
    };
    const parties = partiesOfForm();
    if (!editing) return { ...attrs, parties };
    // An untouched field is left out: sent again it could differ from what is stored only by how the form
    // shows it (a trimmed body, a time in a repeated hour, a year before 1000).
    const changedAttrs = Object.fromEntries(Object.entries(attrs).filter(([name]) => form.elements[name].value !== loaded[name]));
    // Parties are sent only when they changed: sending them rebuilds them, with snapshots taken anew.
    const changed = JSON.stringify(parties) !== JSON.stringify(partyInputs(editing.parties));
    return { ...changedAttrs, ...(changed && { parties }), expectedVersion: editing.version };
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    return submitting(form, async () => {
      const mine = opened;
      try {
        // Saving again unchanged what may have been saved (an answer lost) repeats the request: logged or
        // edited once, not a 409 against its own first save; saving it changed is a new request.
        const saved = editing ? await command('PATCH', `interactions/${editing.uuid}`, body()) : await command('POST', 'interactions', body());
        dialog.close();
        onSaved(saved);
      } catch (error) {
        // Closed (Esc, Cancel) or filled anew while it was saving: the failure would be lost with the form.
        if (!dialog.open || mine !== opened) return notice(`Not saved: ${outcomeUnknown(error) ? ANSWER_LOST : problemOf(error)}`);
        if (outcomeUnknown(error)) return showErrors(form, {}, [ANSWER_LOST]);
        if (error.status === 404) return showErrors(form, {}, [DELETED]);
        if (error.status === 422) return showErrors(form, error.body.errors);
        if (error.status === 409) {
          reloadButton.hidden = false;
          return showErrors(form, {}, [CONFLICT]);
        }
        showErrors(form, {}, [`Not saved: ${error.message}`]);
      }
    });
  });
  $('#add-party').addEventListener('click', () => addParty().querySelector('select').focus());
  $('#interaction-cancel').addEventListener('click', () => dialog.close());
  reloadButton.addEventListener('click', () =>
    openEdit(editing.uuid).catch((error) => {
      reloadButton.hidden = error.status === 404;
      showErrors(form, {}, [error.status === 404 ? DELETED : `Could not reload it: ${error.message}`]);
    }),
  );

  return { openNew, openEdit };
}
