// The History tab: the involving feed of the picked contact, newest first, filtered, paged by cursor
// as the list scrolls, with type counts as badges.
import { api, contactName, problemOf, query } from './api.js';
import { $, h, isolated, time } from './dom.js';

export const TYPES = ['call', 'email', 'meeting', 'note', 'other'];
const PAGE_SIZE = 20;

/** Midnight of a `<input type=date>` value in local time, as ISO; `days` later for an exclusive end. */
function localMidnight(value, days = 0) {
  if (!value) return undefined;
  const [year, month, day] = value.split('-').map(Number);
  // Not `new Date(year, …)`, which reads the years 0–99 as 1900–1999.
  const midnight = new Date(0);
  midnight.setFullYear(year, month - 1, day + days);
  midnight.setHours(0, 0, 0, 0);
  return midnight.toISOString();
}

/** The filter form as the feed's query parameters (`types` left out when every type is ticked). */
function filtersOf(form) {
  const ticked = [...form.querySelectorAll('input[name="types"]:checked')].map((box) => box.value);
  return {
    types: ticked.length === TYPES.length ? undefined : ticked.join(','),
    from: localMidnight(form.elements.from.value),
    to: localMidnight(form.elements.to.value, 1), // the picker's "to" day is included; the API's `to` is exclusive
    q: form.elements.q.value.trim() || undefined,
  };
}

/** A party's frozen name, and the contact's current one when it has changed since. */
function partyItem(party, contacts) {
  const snapshot = party.snapshot;
  const frozen = snapshot.source === 'erased' ? '[erased]' : (snapshot.name ?? party.rawName);
  const kind = { crm_contact: 'contact', staff: 'staff', free_text: 'free text', erased: 'erased' }[snapshot.source];
  const current = party.contactUuid && contacts.get(party.contactUuid);
  const renamed = current && snapshot.source === 'crm_contact' && contactName(current) !== frozen;
  return h(
    'li',
    { class: 'party' },
    h('bdi', { class: 'party-name' }, frozen),
    ' ',
    h('span', { class: 'party-kind' }, `(${kind})`),
    renamed && ' ',
    renamed && h('mark', { class: 'renamed', title: `The contact's name now; ${isolated(frozen)} when logged` }, 'now ', h('bdi', {}, contactName(current))),
  );
}

export function createHistory({ state, onEdit, onAudit, onDelete }) {
  const form = $('#filters');
  const feed = $('#feed');
  const more = $('#more');
  const retry = $('#feed-retry');
  const status = $('#feed-status');
  let cursor = null;
  let loading = false;
  let failed = false; // a page failed: nothing loads by itself until Retry (else a failing page is asked for in a loop)
  let generation = 0; // a newer load makes the answers of an older one stale

  for (const type of TYPES) {
    $('#type-filters').append(
      h('label', { class: 'type-filter' }, h('input', { type: 'checkbox', name: 'types', value: type, checked: true }), ` ${type} `, h('span', { class: 'badge', 'data-type': type }, '…')),
    );
  }

  function row(interaction) {
    const subject = interaction.subject || '(no subject)';
    const about = state.contacts.get(interaction.contactUuid);
    const headingId = `subject-${interaction.uuid}`;
    return h(
      'li',
      { class: 'interaction', 'data-uuid': interaction.uuid },
      h(
        'article',
        { 'aria-labelledby': headingId },
        h('header', {}, h('span', { class: `type type-${interaction.interactionType}` }, interaction.interactionType), ' ', time(interaction.occurredAt)),
        h('h3', { id: headingId, dir: 'auto' }, subject),
        h('p', { class: 'about' }, 'Contact: ', about ? h('bdi', {}, contactName(about)) : `not in the directory (${interaction.contactUuid.slice(0, 8)}…)`),
        interaction.body && h('p', { class: 'body', dir: 'auto' }, interaction.body),
        interaction.parties.length > 0 && h('ul', { class: 'parties', 'aria-label': 'Parties' }, interaction.parties.map((party) => partyItem(party, state.contacts))),
        h(
          'div',
          { class: 'row-actions' },
          h('button', { type: 'button', 'aria-label': `Edit “${subject}”`, onclick: () => onEdit(interaction.uuid) }, 'Edit'),
          h('button', { type: 'button', 'aria-label': `Audit “${subject}”`, onclick: () => onAudit(interaction.uuid) }, 'Audit'),
          h('button', { type: 'button', class: 'danger', 'aria-label': `Delete “${subject}”`, onclick: (event) => onDelete(interaction, event.currentTarget) }, 'Delete'),
        ),
      ),
    );
  }

  async function loadPage() {
    if (loading || cursor === null || !state.picked) return;
    loading = true;
    failed = false;
    retry.hidden = true;
    const mine = generation;
    status.textContent = 'Loading…';
    try {
      const path = `contacts/${state.picked}/interactions${query({ ...filtersOf(form), limit: PAGE_SIZE, after: cursor || undefined })}`;
      const page = await api('GET', path);
      if (mine !== generation) return;
      feed.append(...page.items.map(row));
      cursor = page.nextCursor;
      const shown = feed.children.length;
      status.textContent = shown === 0 ? 'No interactions match.' : `${shown} shown${cursor ? '' : ', that is all'}.`;
    } catch (error) {
      if (mine !== generation) return;
      failed = true;
      status.textContent = `Could not load the history: ${problemOf(error)}`;
    } finally {
      if (mine === generation) {
        loading = false;
        more.hidden = !cursor || failed;
        retry.hidden = !failed;
        // Still in view after this page (a tall window): the observer will not fire again by itself.
        if (cursor && !failed && more.getBoundingClientRect().top < innerHeight + 200) setTimeout(loadPage);
      }
    }
  }

  /** Counts ignore the type filter: each badge says how many of that type the other filters let through. */
  async function loadCounts() {
    const mine = generation;
    const { types, ...others } = filtersOf(form);
    // Failed, the badges say so: the previous filter's numbers would read as this one's.
    const counts = await api('GET', `contacts/${state.picked}/interactions/counts${query(others)}`).catch(() => null);
    if (mine !== generation) return; // a newer filter's counts are on their way
    const shown = (count) => (counts ? String(count ?? 0) : '?');
    for (const badge of form.querySelectorAll('.badge[data-type]')) {
      badge.textContent = shown(counts?.byType[badge.dataset.type]);
      badge.title = counts ? '' : 'could not be counted';
    }
    $('#count-total').textContent = shown(counts?.total);
  }

  /** From the first page again (new contact, new filters, after a change). */
  async function reload() {
    generation += 1;
    loading = false;
    cursor = '';
    feed.replaceChildren();
    await Promise.all([loadPage(), loadCounts()]);
  }

  let typing;
  form.addEventListener('input', (event) => {
    clearTimeout(typing);
    typing = setTimeout(reload, event.target.name === 'q' ? 250 : 0);
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearTimeout(typing);
    reload();
  });
  more.addEventListener('click', loadPage);
  // A failed first page is retried with its counts; a later one from where the list stopped.
  retry.addEventListener('click', () => (cursor === '' ? reload() : loadPage()));
  // Infinite scroll: the "Load more" button (there for keyboards) loads by itself when it comes into view.
  new IntersectionObserver((entries) => entries.some((entry) => entry.isIntersecting) && loadPage(), { rootMargin: '200px' }).observe(more);

  return { reload };
}
