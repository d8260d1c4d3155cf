import { call, DemoUnderTest, sendRaw, startDemoApp } from './demo-app';

/**
 * "A body in another charset than UTF-8 … 415" (README): body-parser itself decodes any `utf-*` charset, so
 * a body labelled UTF-16 or UTF-32 was decoded as such: UTF-8 bytes became garbage (400), and an ASCII
 * body in UTF-16 became a request the host carried out.
 */
describe('demo host: request bodies in a charset other than UTF-8', () => {
  let demo: DemoUnderTest;
  let contact: string;
  beforeAll(async () => {
    demo = await startDemoApp();
    contact = (await call(demo, 'POST', '/contacts', { name: 'Ada' })).body.uuid;
  }, 60_000);
  afterAll(() => demo?.close());

  const UNSUPPORTED = { status: 415, text: JSON.stringify({ error: 'Unsupported Media Type', message: 'the request body was not understood' }) };
  const send = async (charset: string, body: Buffer) => {
    const { status, text } = await sendRaw(demo.base, {
      method: 'POST',
      path: '/interactions',
      headers: { 'content-type': `application/json; charset=${charset}`, 'content-length': String(body.length) },
      body: body as unknown as string,
    });
    return { status, text };
  };

  it('answers 415 for a body labelled UTF-16 or UTF-32, whatever its bytes, and writes nothing', async () => {
    const json = JSON.stringify({ contactUuid: contact, subject: 'labelled' });
    for (const charset of ['utf-16', 'utf-16le', 'utf-16be', 'utf-32']) expect(await send(charset, Buffer.from(json))).toEqual(UNSUPPORTED);
    expect(await send('utf-16le', Buffer.from(json, 'utf16le'))).toEqual(UNSUPPORTED);
    expect((await call(demo, 'GET', `/contacts/${contact}/interactions`)).body.items).toEqual([]);
    expect((await send('utf-8', Buffer.from(json))).status).toBe(201);
  });
});
