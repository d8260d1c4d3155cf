import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, chromium, Locator, Page, Route } from 'playwright-core';
import { call, DemoUnderTest, startDemoApp } from '../demo/demo-app';

/**
 * The History tab page (src/demo/web) in a real Chromium, over the demo host booted in this process.
 * Debian's chromium (CI installs it) or CHROMIUM_PATH: Playwright's own browser download cannot reach
 * the network here. Without one the suite is skipped, so `npm test` passes on a machine without it.
 */
const CHROMIUM = (process.env.CHROMIUM_PATH ? [process.env.CHROMIUM_PATH] : ['/usr/bin/chromium', '/usr/bin/chromium-browser']).find((path) => existsSync(path));
const NO_CHROMIUM = `skipped: no chromium executable at ${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'} (apt-get install -y chromium, or set CHROMIUM_PATH)`;
/** Screenshots of the main views, for CI to keep as artifacts (git ignores the folder). */
const SCREENSHOTS = join(__dirname, '..', '..', 'artifacts', 'screenshots');

if (!CHROMIUM) console.warn(`test/browser/history-tab.spec.ts ${NO_CHROMIUM}`);

/** Retries an assertion until it holds or `timeout` passes (jest's expect does not wait; Playwright's locators do). */
async function eventually(assertion: () => Promise<void>, timeout = 5000): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await assertion();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

(CHROMIUM ? describe : describe.skip)(`the History tab in Chromium${CHROMIUM ? '' : ` (${NO_CHROMIUM})`}`, () => {
  let demo: DemoUnderTest;
  let browser: Browser;
  let page: Page;
  const offOrigin: string[] = [];
  const pageErrors: string[] = [];
  let loggedAt = 0;

  const row = (subject: string): Locator => page.getByRole('article', { name: subject, exact: true });
  const status = (text: string): Promise<void> => page.locator('#feed-status', { hasText: text }).waitFor();
  const badge = (type: string): Locator => page.locator(`.badge[data-type="${type}"]`);
  const shot = (name: string): Promise<Buffer> => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
  const pick = (name: string): Promise<void> => page.getByRole('button', { name: new RegExp(`^${name}`) }).click();

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    demo = await startDemoApp();
    const ada = (await call(demo, 'POST', '/contacts', { name: 'Ada Lovelace', email: 'ada@example.com' })).body;
    await call(demo, 'POST', '/contacts', { name: 'Grace Hopper' });
    // More than a page (20) of older notes, so that the feed has to scroll for the rest.
    for (let day = 1; day <= 25; day++) {
      const occurredAt = `2025-03-${String(day).padStart(2, '0')}T10:00:00Z`;
      expect((await call(demo, 'POST', '/interactions', { contactUuid: ada.uuid, interactionType: 'note', subject: `Note ${day}`, occurredAt })).status).toBe(201);
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // Root in CI needs --no-sandbox; the rest keeps Chromium from calling out of this closed network.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    // A time zone away from UTC, so that local date and time inputs are converted, not taken as UTC.
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US', timezoneId: 'America/New_York' });
    page.setDefaultTimeout(10_000); // under jest's 30 s, so that a failing step says what it waited for
    page.on('request', (request) => !request.url().startsWith(`${demo.base}/`) && offOrigin.push(request.url()));
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(demo.base);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.close();
  });

  it('creates a contact, picks one and scrolls its feed by cursor, with type counts as badges', async () => {
    const form = page.locator('#contact-form');
    await page.getByText('New contact').click();
    await form.getByLabel('Email').fill('not an address');
    await form.getByRole('button', { name: 'Create contact' }).click();
    await form.locator('.field-error', { hasText: 'is not a valid email address' }).waitFor();
    await form.getByLabel('Email').fill('linus@example.com');
    await form.getByLabel('Name').fill('Linus');
    await form.getByRole('button', { name: 'Create contact' }).click();
    await page.getByRole('heading', { name: 'History: Linus' }).waitFor();
    await status('No interactions match.');

    await pick('Ada Lovelace');
    await page.getByRole('heading', { name: 'History: Ada Lovelace' }).waitFor();
    await status('20 shown.');
    await eventually(async () => expect(await badge('note').textContent()).toBe('25'));
    await shot('1-feed');
    await page.locator('#more').scrollIntoViewIfNeeded(); // no click: coming into view loads the next page
    await status('25 shown, that is all.');
    expect(await page.locator('#feed > li h3').first().textContent()).toBe('Note 25'); // newest first
    expect(await page.locator('#feed > li h3').last().textContent()).toBe('Note 1');
  });

  it('logs an interaction with a contact party and a free-text party; 422s show at their fields', async () => {
    await page.getByRole('button', { name: 'Log an interaction' }).click();
    const dialog = page.getByRole('dialog', { name: 'Log an interaction' });
    await dialog.getByLabel('Type').selectOption('meeting');
    await dialog.getByLabel('Subject').fill('x'.repeat(256));
    await dialog.getByRole('button', { name: 'Add a party' }).click();
    await dialog.getByLabel('Party 1: contact').selectOption({ label: 'Grace Hopper' });
    expect(await dialog.getByLabel('Party 1: name').inputValue()).toBe('Grace Hopper');
    await dialog.getByRole('button', { name: 'Add a party' }).click();
    await dialog.getByLabel('Party 2: name').fill('Their accountant');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.locator('.field-error', { hasText: 'must be at most 255 characters' }).waitFor();
    expect(await dialog.getByLabel('Subject').getAttribute('aria-invalid')).toBe('true');
    await shot('2-log-form-422');

    await dialog.getByLabel('Subject').fill('Quarterly review');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await row('Quarterly review').waitFor();
    loggedAt = Date.now();
    expect(await page.locator('#feed > li h3').first().textContent()).toBe('Quarterly review');
    const parties = await row('Quarterly review').locator('.party').allTextContents();
    expect(parties).toEqual(['Grace Hopper (contact)', 'Their accountant (free text)']);
    expect(await badge('meeting').textContent()).toBe('1');
  });

  it('renames the party contact: the frozen snapshot name stays, marked with the current one', async () => {
    await pick('Grace Hopper');
    await page.getByRole('heading', { name: 'History: Grace Hopper' }).waitFor();
    await row('Quarterly review').waitFor(); // Grace is a party of it, so it involves her
    await page.getByText('Manage contact').click();
    await page.locator('#rename-form').getByLabel('Name').fill('Grace Brewster Hopper');
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByRole('heading', { name: 'History: Grace Brewster Hopper' }).waitFor();

    await pick('Ada Lovelace');
    const party = row('Quarterly review').locator('.party').first();
    await party.locator('mark.renamed', { hasText: 'now Grace Brewster Hopper' }).waitFor();
    expect(await party.locator('.party-name').textContent()).toBe('Grace Hopper');
    await shot('3-renamed-party');
  });

  it('answers an edit on a stale version with the conflict message, and edits after a reload', async () => {
    const uuid = await page.locator('#feed > li', { has: row('Quarterly review') }).getAttribute('data-uuid');
    await row('Quarterly review').getByRole('button', { name: 'Edit “Quarterly review”' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit interaction' });
    await dialog.getByLabel('Subject').fill('Quarterly review v2');
    // Someone else changes it meanwhile, a second later than the log (as-of counts whole seconds).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.floor(loggedAt / 1000) * 1000 + 1100 - Date.now())));
    const { version } = (await call(demo, 'GET', `/interactions/${uuid}`)).body;
    expect((await call(demo, 'PATCH', `/interactions/${uuid}`, { subject: 'Quarterly review (moved)', expectedVersion: version })).status).toBe(200);

    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'changed by someone else — reload' }).waitFor();
    await shot('4-conflict');
    await dialog.getByRole('button', { name: 'Reload' }).click();
    await eventually(async () => expect(await dialog.getByLabel('Subject').inputValue()).toBe('Quarterly review (moved)'));
    await dialog.getByLabel('Subject').fill('Quarterly review, rescheduled');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await row('Quarterly review, rescheduled').waitFor();
    expect(await dialog.isVisible()).toBe(false);
  });

  it('shows the audit timeline, and the interaction as of a moment before the edits', async () => {
    await row('Quarterly review, rescheduled').getByRole('button', { name: /^Audit/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Audit: Quarterly review, rescheduled' });
    const timeline = dialog.locator('#audit-timeline > li strong');
    await eventually(async () => expect(await timeline.allTextContents()).toEqual(['InteractionLogged', 'PartiesRebuilt', 'InteractionUpdated', 'InteractionUpdated']));
    await dialog.getByText('subject: Quarterly review → Quarterly review (moved)').waitFor();
    expect(await dialog.locator('#audit-timeline').textContent()).toMatch(/by actor [0-9a-f]{8}…/); // the page's x-actor-uuid
    const asOfSubject = dialog.locator('.asof-subject');
    await eventually(async () => expect(await asOfSubject.textContent()).toBe('Quarterly review, rescheduled'));

    // With the keyboard: the slider's first stop is the log, before either edit.
    await dialog.getByLabel('After event').focus();
    await page.keyboard.press('Home');
    await eventually(async () => expect(await asOfSubject.textContent()).toBe('Quarterly review'));
    await shot('5-audit-as-of');
    await dialog.getByLabel('Or a date and time').fill('2020-01-01T00:00:00');
    await dialog.getByText('it did not exist then').waitFor();
    await page.keyboard.press('Escape');
    expect(await dialog.isVisible()).toBe(false);
  });

  it('filters by type, by period and by words, counting per type', async () => {
    await page.getByRole('checkbox', { name: /^note/ }).uncheck();
    await status('1 shown, that is all.');
    expect(await page.locator('#feed > li h3').allTextContents()).toEqual(['Quarterly review, rescheduled']);
    expect(await badge('note').textContent()).toBe('25'); // badges count every type under the other filters
    await shot('6-filtered');
    await page.getByRole('checkbox', { name: /^note/ }).check();
    await status('20 shown.');

    const filters = page.getByRole('search', { name: 'Filter the history' });
    await filters.getByLabel('To', { exact: true }).fill('2025-03-10'); // "to" includes the day picked
    await status('10 shown, that is all.');
    await eventually(async () => expect(await badge('note').textContent()).toBe('10'));
    await filters.getByLabel('To', { exact: true }).fill('');
    await filters.getByLabel('Search').fill('reschedul');
    await status('1 shown, that is all.');
    await eventually(async () => expect(await page.locator('#count-total').textContent()).toBe('1'));
    await filters.getByLabel('Search').fill('');
    await status('20 shown.');
  });

  it('saves a double-clicked form once; an edit sends only what was changed, keeping a subject the page does not list', async () => {
    const ada = (await call(demo, 'GET', '/contacts')).body.find((contact: { name: string }) => contact.name === 'Ada Lovelace');
    const filters = page.getByRole('search', { name: 'Filter the history' });
    await page.getByRole('button', { name: 'Log an interaction' }).click();
    const logging = page.getByRole('dialog', { name: 'Log an interaction' });
    await logging.getByLabel('Subject').fill('Saved once');
    await logging.getByRole('button', { name: 'Save' }).dblclick();
    await row('Saved once').waitFor();
    const saved = await call(demo, 'GET', `/contacts/${ada.uuid}/interactions?q=${encodeURIComponent('saved once')}`);
    expect(saved.body.items.map((item: { subject: string }) => item.subject)).toEqual(['Saved once']);

    // A save whose answer is lost (it landed): the dialog says it may be saved; saving again logs it once.
    await page.getByRole('button', { name: 'Log an interaction' }).click();
    await logging.getByLabel('Subject').fill('Answer lost');
    const lose = (url: URL) => url.pathname.endsWith('/interactions');
    await page.route(lose, async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      await route.fetch(); // the server logs it
      await route.abort('connectionreset');
    });
    await logging.getByRole('button', { name: 'Save' }).click();
    await logging.getByRole('alert').filter({ hasText: 'The answer was lost: this may have been saved' }).waitFor();
    await page.unroute(lose);
    await logging.getByRole('button', { name: 'Save' }).click();
    await row('Answer lost').waitFor();
    const lost = await call(demo, 'GET', `/contacts/${ada.uuid}/interactions?q=${encodeURIComponent('answer lost')}`);
    expect(lost.body.items.map((item: { subject: string }) => item.subject)).toEqual(['Answer lost']);

    // A contact created after the page loaded its list, and fields the form cannot show as stored: a body
    // with CRLF, a year before 1000.
    const zed = (await call(demo, 'POST', '/contacts', { name: 'Zed Newcomer' })).body;
    const created = (
      await call(demo, 'POST', '/interactions', {
        contactUuid: zed.uuid,
        interactionType: 'email',
        subject: 'Call with Zed',
        body: 'Hello,\r\nthe quote.\r\n',
        occurredAt: '0950-06-01T12:00:00Z',
        parties: [{ rawName: 'Ada Lovelace', contactUuid: ada.uuid }],
      })
    ).body;
    await filters.getByLabel('Search').fill('Zed');
    await row('Call with Zed').getByRole('button', { name: 'Edit “Call with Zed”' }).click();
    const editing = page.getByRole('dialog', { name: 'Edit interaction' });
    expect(await editing.getByLabel('About contact').locator('option:checked').textContent()).toContain('not in the directory');
    await editing.getByLabel('Subject').fill('Call with Zed (edited)');
    await editing.getByRole('button', { name: 'Save' }).click();
    await row('Call with Zed (edited)').waitFor();
    const history = (await call(demo, 'GET', `/interactions/${created.uuid}/history`)).body;
    expect(history.at(-1)).toMatchObject({ type: 'InteractionUpdated', data: { changes: { subject: 'Call with Zed (edited)' } } });
    expect(Object.keys(history.at(-1).data.changes)).toEqual(['subject']);
    expect((await call(demo, 'GET', `/interactions/${created.uuid}`)).body).toMatchObject({
      contactUuid: zed.uuid,
      body: 'Hello,\r\nthe quote.\r\n',
      occurredAt: '0950-06-01T12:00:00.000Z',
    });

    // A filter the server refuses says why.
    await filters.getByLabel('Search').fill('');
    await filters.getByLabel('From').fill('2026-12-05');
    await filters.getByLabel('To', { exact: true }).fill('2026-12-01');
    await page.locator('#feed-status', { hasText: /Could not load the history: occurredTo .+/ }).waitFor();
    await filters.getByLabel('From').fill('');
    await filters.getByLabel('To', { exact: true }).fill('');
    await status('20 shown.');

    // The counts of an older filter, answered late, do not overwrite a newer filter's.
    const late = (url: URL) => url.pathname.endsWith('/counts') && url.searchParams.get('q') === 'zed';
    await page.route(late, async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await route.continue();
    });
    await filters.getByLabel('Search').fill('zed');
    await status('1 shown, that is all.');
    await filters.getByLabel('Search').fill('saved once');
    await status('1 shown, that is all.');
    await eventually(async () => expect(await page.locator('#count-total').textContent()).toBe('1'));
    await new Promise((resolve) => setTimeout(resolve, 1_700)); // the late answer has come
    expect(await badge('call').textContent()).toBe('1'); // "Saved once"; the late counts were of the email
    expect(await badge('email').textContent()).toBe('0');
    await page.unroute(late);
    await filters.getByLabel('Search').fill('');
    await status('20 shown.');
    expect((await call(demo, 'DELETE', `/contacts/${zed.uuid}`)).status).toBe(200);
  });

  it('stops at a page that fails, with a Retry for a later page and for the first', async () => {
    const feedPage = (url: URL) => /^\/contacts\/[^/]+\/interactions$/.test(url.pathname);
    const [first, later] = [(url: URL) => feedPage(url) && !url.searchParams.has('after'), (url: URL) => feedPage(url) && url.searchParams.has('after')];
    let asked = 0;
    const fail = (route: Route) => {
      asked += 1;
      return route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ error: 'Internal Server Error', message: 'something went wrong' }) });
    };
    await page.route(later, fail);
    await page.locator('#more').scrollIntoViewIfNeeded();
    await status('Could not load the history: something went wrong');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(asked).toBe(1); // not asked again and again while the button stays in view
    await page.unroute(later);
    await page.getByRole('button', { name: 'Retry' }).focus();
    await page.keyboard.press('Enter');
    await status('shown, that is all.');
    expect(await page.getByRole('button', { name: 'Retry' }).isHidden()).toBe(true);

    await page.route(first, fail);
    const search = page.getByRole('search', { name: 'Filter the history' }).getByLabel('Search');
    await search.fill('note');
    await status('Could not load the history');
    await page.unroute(first);
    await page.getByRole('button', { name: 'Retry' }).click();
    await status('20 shown.');
    await search.fill('');
    await status('20 shown.');
  });

  it('repeats an edit, a contact create or delete whose answer was lost with the same key; a pending delete is not confirmed twice', async () => {
    const ada = (await call(demo, 'GET', '/contacts')).body.find((contact: { name: string }) => contact.name === 'Ada Lovelace');
    const { uuid } = (await call(demo, 'POST', '/interactions', { contactUuid: ada.uuid, subject: 'Lost answers' })).body;
    const search = page.getByRole('search', { name: 'Filter the history' }).getByLabel('Search');
    await search.fill('lost answers');
    const itself = (url: URL) => url.pathname.endsWith(`/interactions/${uuid}`);
    // The host acts, the page hears nothing (a connection cut after the request).
    const loseAnswer = (method: string) => async (route: Route) => {
      if (route.request().method() !== method) return route.continue();
      await route.fetch();
      await route.abort('connectionreset');
    };

    await page.route(itself, loseAnswer('PATCH'));
    await row('Lost answers').getByRole('button', { name: /^Edit/ }).click();
    const editing = page.getByRole('dialog', { name: 'Edit interaction' });
    await editing.getByLabel('Subject').fill('Lost answers, edited');
    await editing.getByRole('button', { name: 'Save' }).click();
    await editing.getByRole('alert').filter({ hasText: 'The answer was lost' }).waitFor();
    await page.unroute(itself);
    await editing.getByRole('button', { name: 'Save' }).click(); // the same request again, not a 409 against itself
    await row('Lost answers, edited').waitFor();
    const updates = (await call(demo, 'GET', `/interactions/${uuid}/history`)).body.filter((event: { type: string }) => event.type === 'InteractionUpdated');
    expect(updates).toHaveLength(1);

    await page.route(itself, async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await route.continue();
    });
    const remove = row('Lost answers, edited').getByRole('button', { name: /^Delete/ });
    await remove.click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete interaction' }).click();
    expect(await remove.isDisabled()).toBe(true); // a second click cannot confirm it again meanwhile
    await page.locator('#notice', { hasText: 'Interaction deleted.' }).waitFor();
    await page.unroute(itself);
    await search.fill('');
    await status('20 shown.');

    const creating = page.locator('#contact-form');
    if (!(await creating.isVisible())) await page.getByText('New contact').click();
    await creating.getByLabel('Name').fill('Lost Delete');
    const contacts = (url: URL) => url.pathname === '/contacts';
    await page.route(contacts, loseAnswer('POST'));
    await creating.getByRole('button', { name: 'Create contact' }).click();
    await creating.getByRole('alert').filter({ hasText: 'the answer was lost' }).waitFor();
    await page.unroute(contacts);
    await creating.getByRole('button', { name: 'Create contact' }).click(); // created once, not a duplicate
    await page.getByRole('heading', { name: 'History: Lost Delete' }).waitFor();
    const created = (await call(demo, 'GET', '/contacts')).body.filter((c: { name: string }) => c.name === 'Lost Delete');
    expect(created).toHaveLength(1);
    const [contact] = created;
    const contactPath = (url: URL) => url.pathname.endsWith(`/contacts/${contact.uuid}`);
    await page.route(contactPath, loseAnswer('DELETE'));
    await page.getByText('Manage contact').click();
    await page.getByRole('button', { name: 'Delete contact…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete contact' }).click();
    await page.locator('#notice', { hasText: 'Not done: the answer was lost' }).waitFor();
    await page.unroute(contactPath);
    await page.getByRole('button', { name: 'Delete contact…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete contact' }).click();
    await page.locator('#notice', { hasText: 'Delete: Lost Delete; 0 interaction(s) changed.' }).waitFor(); // not "not found"
    await pick('Ada Lovelace');
    await status('20 shown.');
  });

  it('says so when an interaction being edited was deleted meanwhile, and where a save ends once its dialog is closed', async () => {
    const ada = (await call(demo, 'GET', '/contacts')).body.find((contact: { name: string }) => contact.name === 'Ada Lovelace');
    const { uuid, version } = (await call(demo, 'POST', '/interactions', { contactUuid: ada.uuid, subject: 'Contested' })).body;
    const search = page.getByRole('search', { name: 'Filter the history' }).getByLabel('Search');
    await search.fill('contested');
    await row('Contested').getByRole('button', { name: /^Edit/ }).click();
    const editing = page.getByRole('dialog', { name: 'Edit interaction' });
    await editing.getByLabel('Body').fill('mine');
    expect((await call(demo, 'PATCH', `/interactions/${uuid}`, { subject: 'Changed elsewhere', expectedVersion: version })).status).toBe(200);
    await editing.getByRole('button', { name: 'Save' }).click();
    await editing.getByRole('alert').filter({ hasText: 'changed by someone else' }).waitFor();
    expect((await call(demo, 'DELETE', `/interactions/${uuid}`)).status).toBe(200);
    await editing.getByRole('button', { name: 'Reload' }).click();
    await editing.getByRole('alert').filter({ hasText: 'This interaction was deleted meanwhile' }).waitFor();
    expect(await editing.getByRole('button', { name: 'Reload' }).isHidden()).toBe(true);
    await page.keyboard.press('Escape');

    const logging = (url: URL) => url.pathname === '/interactions';
    await page.route(logging, async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 800));
      await route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ error: 'Internal Server Error', message: 'something went wrong' }) });
    });
    await page.getByRole('button', { name: 'Log an interaction' }).click();
    const dialog = page.getByRole('dialog', { name: 'Log an interaction' });
    await dialog.getByLabel('Subject').fill('Closed while saving');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await page.keyboard.press('Escape'); // closed before the answer comes
    await page.locator('#notice', { hasText: 'Not saved: something went wrong' }).waitFor();
    await page.unroute(logging);
    await search.fill('');
    await status('20 shown.');
  });

  it('deletes an interaction and a contact, each after a confirmation', async () => {
    await row('Quarterly review, rescheduled').getByRole('button', { name: /^Delete/ }).click();
    const confirm = page.getByRole('dialog');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    expect(await row('Quarterly review, rescheduled').isVisible()).toBe(true);
    await row('Quarterly review, rescheduled').getByRole('button', { name: /^Delete/ }).click();
    await confirm.getByRole('button', { name: 'Delete interaction' }).click();
    await page.locator('#notice', { hasText: 'Interaction deleted.' }).waitFor();
    await eventually(async () => expect(await badge('meeting').textContent()).toBe('0'));
    expect(await row('Quarterly review, rescheduled').count()).toBe(0);

    await pick('Linus');
    await page.getByText('Manage contact').click();
    await page.getByRole('button', { name: 'Delete contact…' }).click();
    await confirm.getByRole('button', { name: 'Delete contact' }).click();
    await page.getByText('Pick a contact to see its history.').waitFor();
    expect(await page.locator('#contact-list').textContent()).not.toContain('Linus');
    expect((await call(demo, 'GET', '/contacts')).body.map((contact: { name: string }) => contact.name)).toEqual(['Ada Lovelace', 'Grace Brewster Hopper']);
  });

  /** Another tab of the same browser, watched like the main one; `init` runs before the page's scripts. */
  async function otherPage(init?: string): Promise<Page> {
    const other = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US', timezoneId: 'America/New_York' });
    other.setDefaultTimeout(10_000);
    other.on('request', (request) => !request.url().startsWith(`${demo.base}/`) && offOrigin.push(request.url()));
    other.on('pageerror', (error) => pageErrors.push(error.message));
    if (init) await other.addInitScript({ content: init });
    return other;
  }

  it('makes up its actor uuid without crypto.randomUUID (a page over plain http), and picks from any hash', async () => {
    const ada = (await call(demo, 'GET', '/contacts')).body.find((contact: { name: string }) => contact.name === 'Ada Lovelace');
    const other = await otherPage('delete Crypto.prototype.randomUUID');
    const errors = pageErrors.length;
    await other.goto(`${demo.base}/#%E0%A4%A`); // not percent-encoded UTF-8
    await other.getByText('Pick a contact to see its history.').waitFor();
    expect(pageErrors.slice(errors)).toEqual([]);
    const actor = await other.evaluate("import('./api.js').then((api) => api.ACTOR)"); // as a string: jest's transform would rewrite import()
    expect(actor).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    await other.goto(`${demo.base}/#${ada.uuid.toUpperCase()}`);
    await other.reload(); // a new hash alone is no new load
    await other.getByRole('heading', { name: 'History: Ada Lovelace' }).waitFor();
    await other.close();
  });

  it('filters from a year before 100, and marks the counts it could not get', async () => {
    const ada = (await call(demo, 'GET', '/contacts')).body.find((contact: { name: string }) => contact.name === 'Ada Lovelace');
    const other = await otherPage();
    await other.goto(`${demo.base}/#${ada.uuid}`);
    await other.locator('#feed-status', { hasText: '20 shown.' }).waitFor();
    await other.locator('.badge[data-type="note"]', { hasText: '25' }).waitFor();
    const counts = (url: URL) => url.pathname.endsWith('/counts');
    await other.route(counts, (route) => route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ error: 'Internal Server Error', message: 'x' }) }));
    const asked = other.waitForRequest((request) => /\/interactions\?/.test(request.url()) && new URL(request.url()).searchParams.has('from'));
    await other.getByLabel('From').fill('0050-01-01');
    expect(new URL((await asked).url()).searchParams.get('from')).toMatch(/^0050-01-0[12]T/); // not 1950
    await other.locator('.badge[data-type="note"]', { hasText: '?' }).waitFor(); // not the 25 of before
    expect(await other.locator('#count-total').textContent()).toBe('?');
    await other.close();
  });

  it('wraps long words within the window, and keeps right-to-left text and overrides in user text from the labels', async () => {
    const long = (await call(demo, 'POST', '/contacts', { name: 'N'.repeat(200), company: 'C'.repeat(200) })).body;
    await call(demo, 'POST', '/interactions', {
      contactUuid: long.uuid,
      subject: 'S'.repeat(250),
      body: 'B'.repeat(3000),
      parties: [{ rawName: '\u202Eevil' }, { rawName: 'P'.repeat(200) }],
    });
    const other = await otherPage();
    await other.goto(`${demo.base}/#${long.uuid}`);
    await other.locator('.interaction').waitFor();
    const overflowing = await other.locator('html').evaluate((root) =>
      [root, ...root.querySelectorAll('.interaction article, .contact, .history-header')]
        .filter((element) => element.scrollWidth > element.clientWidth)
        .map((element) => element.className || element.tagName),
    );
    expect(overflowing).toEqual([]);
    // The override in the party's name ends with it: "(free text)" after it still reads left to right.
    const kind = other.locator('.party', { hasText: 'evil' }).locator('.party-kind');
    const [open, close] = await kind.evaluate((element) =>
      [0, element.textContent!.length - 1].map((offset) => {
        const range = element.ownerDocument.createRange();
        range.setStart(element.firstChild!, offset);
        range.setEnd(element.firstChild!, offset + 1);
        return range.getBoundingClientRect().left;
      }),
    );
    expect(open).toBeLessThan(close!);
    await other.close();
  });

  it('made no request off its own origin and raised no script errors', () => {
    expect(offOrigin).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
