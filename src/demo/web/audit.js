// The audit view of one interaction: its events as a timeline (what, when, who, what changed), and the
// interaction as it was at a chosen moment (the as-of API), picked on a slider of its events or a date.
import { api, ApiError, contactName } from './api.js';
import { $, h, time, toLocalInput } from './dom.js';

const ATTRIBUTES = ['contactUuid', 'interactionType', 'occurredAt', 'subject', 'body', 'ownerUserUuid', 'metadata'];

/** The whole second an event counts at (as-of folds events by the second they were recorded in). */
const secondOf = (event) => Math.floor(Date.parse(event.metadata?.recordedAt) / 1000) * 1000;

/** What the timeline says of an event this version cannot read: history shows it as stored, unparsed. */
const UNREADABLE = ['not applied: this version cannot read it (the projection parked it)'];

export function createAudit({ state }) {
  const dialog = $('#audit-dialog');
  const timeline = $('#audit-timeline');
  const slider = $('#asof-slider');
  const picker = $('#asof-time');
  const view = $('#asof-view');
  let uuid = null;
  let stops = []; // the distinct seconds of the events, oldest first
  let asked = 0;

  const nameOf = (contactUuid) => (state.contacts.has(contactUuid) ? contactName(state.contacts.get(contactUuid)) : `${contactUuid.slice(0, 8)}…`);
  const show = (value) => (value === null || value === undefined ? '—' : typeof value === 'object' ? JSON.stringify(value) : String(value));
  const attribute = (key, value) => (key === 'contactUuid' && value ? nameOf(value) : show(value));

  /** What one event changed, as lines; `attrs` is the interaction so far, updated here. */
  function changesOf(event, attrs) {
    const data = event.data;
    switch (event.type) {
      case 'InteractionLogged':
        for (const key of ATTRIBUTES) attrs[key] = data[key];
        return ATTRIBUTES.filter((key) => data[key] !== null && !(key === 'metadata' && Object.keys(data.metadata).length === 0)).map((key) => `${key}: ${attribute(key, data[key])}`);
      case 'InteractionUpdated':
        return Object.entries(data.changes).map(([key, value]) => {
          const line = `${key}: ${attribute(key, attrs[key])} → ${attribute(key, value)}`;
          attrs[key] = value;
          return line;
        });
      case 'PartiesRebuilt':
        return [`parties: ${data.parties.map((party) => party.rawName).join(', ') || 'none'}`];
      case 'InteractionDeleted':
        return [`deleted${data.reason ? ` (${data.reason.replace(/_/g, ' ')})` : ''}`];
      case 'PartiesUnlinked':
        return [`parties at ${data.positions.map((p) => p + 1).join(', ')} unlinked (${data.reason.replace(/_/g, ' ')})`];
      case 'ContactRepointed':
        return [`merged: ${nameOf(data.fromContactUuid)} → ${nameOf(data.intoContactUuid)}`];
      case 'PartyLinked':
        return [`party ${data.position + 1} linked to ${data.snapshot.name ?? 'a record'}`];
      default:
        return UNREADABLE;
    }
  }

  /** `changesOf`, or the unreadable line for data that is not of its type's shape (a parked event). */
  function readableChangesOf(event, attrs) {
    try {
      return changesOf(event, attrs);
    } catch {
      return UNREADABLE;
    }
  }

  function renderTimeline(events) {
    const attrs = {};
    // Appended one by one: spreading a long stream's rows as arguments overflows the stack.
    const items = document.createDocumentFragment();
    for (const event of events) {
      const { recordedAt, actorUuid } = event.metadata ?? {};
      const when = Number.isNaN(Date.parse(recordedAt)) ? 'at no recorded time' : time(recordedAt, { seconds: true });
      items.append(
        h(
          'li',
          {},
          h('p', {}, h('strong', {}, event.type), ' ', when, ' by ', typeof actorUuid === 'string' ? `actor ${actorUuid.slice(0, 8)}…` : 'no actor recorded'),
          h('ul', { class: 'changes' }, readableChangesOf(event, attrs).map((line) => h('li', {}, line))),
        ),
      );
    }
    timeline.replaceChildren(items);
    return attrs;
  }

  async function showAsOf(at) {
    const mine = ++asked;
    try {
      const interaction = await api('GET', `interactions/${uuid}/as-of?at=${encodeURIComponent(at.toISOString())}`);
      if (mine !== asked) return;
      view.replaceChildren(
        h('p', {}, 'As of ', time(at.toISOString(), { seconds: true }), ` (version ${interaction.version}):`),
        h(
          'dl',
          {},
          h('dt', {}, 'Subject'), h('dd', { class: 'asof-subject', dir: 'auto' }, interaction.subject ?? '(no subject)'),
          h('dt', {}, 'Type'), h('dd', {}, interaction.interactionType),
          h('dt', {}, 'Occurred'), h('dd', {}, time(interaction.occurredAt)),
          h('dt', {}, 'Contact'), h('dd', {}, nameOf(interaction.contactUuid)),
          h('dt', {}, 'Body'), h('dd', { dir: 'auto' }, interaction.body ?? '—'),
          h('dt', {}, 'Parties'), h('dd', {}, interaction.parties.map((party) => party.rawName).join(', ') || '—'),
        ),
      );
    } catch (error) {
      if (mine !== asked) return;
      const why = error instanceof ApiError && error.status === 404 ? 'it did not exist then (not yet logged, or deleted).' : `could not be read: ${error.message}`;
      view.replaceChildren(h('p', {}, 'As of ', time(at.toISOString(), { seconds: true }), `, ${why}`));
    }
  }

  function stopLabel(index) {
    return `${index + 1} of ${stops.length}: ${new Date(stops[index]).toLocaleString()}`;
  }

  slider.addEventListener('input', () => {
    const at = new Date(stops[Number(slider.value)]);
    slider.setAttribute('aria-valuetext', stopLabel(Number(slider.value)));
    picker.value = toLocalInput(at);
    showAsOf(at);
  });
  picker.addEventListener('change', () => {
    if (!picker.value) return;
    const at = new Date(picker.value);
    // The slider follows to the last event at or before the picked time.
    const index = stops.findLastIndex((stop) => stop <= at.getTime());
    slider.value = String(Math.max(index, 0));
    showAsOf(at);
  });
  $('#audit-close').addEventListener('click', () => dialog.close());

  async function open(interactionUuid) {
    uuid = interactionUuid;
    const events = await api('GET', `interactions/${uuid}/history`);
    const latest = renderTimeline(events);
    $('#audit-title').replaceChildren('Audit: ', h('bdi', {}, latest.subject ?? '(no subject)'));
    stops = [...new Set(events.map(secondOf).filter(Number.isFinite))];
    slider.max = String(stops.length - 1);
    slider.value = slider.max;
    slider.disabled = stops.length < 2;
    dialog.showModal();
    slider.dispatchEvent(new Event('input'));
  }

  return { open };
}
