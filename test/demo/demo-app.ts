import { INestApplication } from '@nestjs/common';
import Ajv2020, { ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { request as httpRequest } from 'node:http';
import { AddressInfo } from 'node:net';
import { createDemoApp } from '../../src/demo/main';
import { Backend, POSTGRES } from '../support/backends';
import { uniqueSchema } from '../support/postgres';

export interface DemoUnderTest {
  app: INestApplication;
  /** http://127.0.0.1:<port> */
  base: string;
  /** The text of every answer `call` has had from this host, in order (for suites that check them all). */
  answerTexts: string[];
  /** The host's own OpenAPI document (GET /docs-json), which every answer `call` has is checked against. */
  document: OpenApiDocument;
  /** `operationId status` of every answer checked against the document (for suites that check coverage). */
  answered: Set<string>;
  /** Closes the app and drops its schemas. */
  close(): Promise<void>;
}

export interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON from the wire
}

/**
 * One request to the demo host with a JSON body (if any); the answer's JSON, or null for an empty answer.
 * An answer that is not JSON fails the call. Its text is kept in `demo.answerTexts`.
 */
export async function call(demo: DemoUnderTest, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${demo.base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  demo.answerTexts.push(text);
  checkAnswer(demo, method, path, response, text);
  if (!text) return { status: response.status, body: null };
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    throw new Error(`${method} ${path} answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
}

/**
 * One request with its path exactly as given (node:http: fetch would resolve `.` and `..` segments
 * before sending, so a traversal attempt would never reach the host); the answer as it came.
 */
export function sendRaw(
  base: string,
  request: { method: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; contentType: string; text: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const { method, path, headers = {} } = request;
    const outgoing = httpRequest({ hostname, port, path, method, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode!, contentType: String(response.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') }),
      );
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(request.body);
  });
}

interface OpenApiOperation {
  operationId?: string;
  responses: Record<string, { content?: Record<string, { schema?: object }> }>;
}
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, object> };
}

/** The document's operations, each with a matcher for concrete paths (literal segments before `{parameters}`). */
function operationsOf(document: OpenApiDocument) {
  const routes = Object.entries(document.paths).map(([template, operations]) => ({
    template,
    pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    parameters: (template.match(/\{/g) ?? []).length,
    operations,
  }));
  return routes.sort((a, b) => a.parameters - b.parameters);
}

const validators = new WeakMap<OpenApiDocument, { ajv: Ajv2020; compiled: Map<string, ValidateFunction> }>();

/** Ajv (JSON Schema 2020-12, OpenAPI 3.1's dialect) over the document's components; each schema compiled once. */
export function validatorOf(document: OpenApiDocument, schema: object): ValidateFunction {
  let entry = validators.get(document);
  if (!entry) {
    // strict: false, so that OpenAPI's own keywords (`example`) are annotations, not errors.
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ $id: 'openapi.json', components: document.components }); // `#/components/…` resolve here
    entry = { ajv, compiled: new Map() };
    validators.set(document, entry);
  }
  const key = JSON.stringify(schema).replace(/"#\/components\//g, '"openapi.json#/components/');
  let validate = entry.compiled.get(key);
  if (!validate) {
    validate = entry.ajv.compile(JSON.parse(key));
    entry.compiled.set(key, validate);
  }
  return validate;
}

/**
 * Checks one answer against the document: its status is documented for the operation (unknown routes: 404),
 * and its body is what that status's schema says. Throws what does not match.
 */
export function checkAnswer(demo: Pick<DemoUnderTest, 'document' | 'answered'>, method: string, path: string, response: Response, text: string): void {
  const pathname = new URL(path, 'http://host').pathname;
  const route = operationsOf(demo.document).find(({ pattern }) => pattern.test(pathname));
  const operation = route?.operations[method.toLowerCase()];
  const where = `${method} ${path} answered ${response.status}`;
  if (!operation) {
    // No such route (not the document's), or the document itself and its UI.
    if (response.status === 404 || pathname === '/docs-json' || pathname === '/docs' || pathname.startsWith('/docs/')) return;
    throw new Error(`${where}, but the document has no ${method} ${pathname}`);
  }
  const documented = operation.responses[String(response.status)];
  if (!documented) throw new Error(`${where}, a status the document does not give ${operation.operationId}`);
  demo.answered.add(`${operation.operationId} ${response.status}`);
  const contentType = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
  const media = documented.content?.[contentType];
  if (!media) throw new Error(`${where} as ${contentType || 'no content type'}, not documented for ${operation.operationId}`);
  if (!media.schema) return;
  const body: unknown = contentType === 'application/json' ? JSON.parse(text) : text;
  const validate = validatorOf(demo.document, media.schema);
  if (!validate(body)) {
    throw new Error(`${where}: the body does not match the document: ${JSON.stringify(validate.errors?.slice(0, 5))}\n${text.slice(0, 500)}`);
  }
}

/** The demo host in this process, listening on 127.0.0.1 and a free port, over fresh schemas of `backend`. */
export async function startDemoApp(backend: Backend = POSTGRES, options: { sampleData?: boolean } = {}): Promise<DemoUnderTest> {
  const schemas = { module: uniqueSchema('http'), contacts: uniqueSchema('demo') };
  const app = await createDemoApp({
    module: { database: await backend.databaseOption(), schema: schemas.module },
    contactsSchema: schemas.contacts,
    sampleData: options.sampleData ?? false,
    logLevel: 'silent',
  });
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  return {
    app,
    base,
    answerTexts: [],
    document: (await (await fetch(`${base}/docs-json`)).json()) as OpenApiDocument,
    answered: new Set(),
    async close() {
      await app.close();
      await backend.dropSchema(schemas.module);
      await backend.dropSchema(schemas.contacts);
    },
  };
}
