import 'reflect-metadata';
import { isUtf8 } from 'node:buffer';
import { ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { DemoModule, DemoOptions, OpenedDuringStart } from './demo.module';
import { describeDatabase, moduleOptionsFromEnvironment } from '../cli/environment';
import { HttpErrorsFilter } from './http-errors.filter';
import { refuseCrossSite, refuseNonJsonBody } from './request-checks';
import { buildOpenApiDocument } from './openapi';
import { errorText } from '../domain/errors';
import { startPGliteQuickly } from '../adapters/pglite/quick-start';

export const BODY_LIMIT = '256kb';

/**
 * Body-parser's `verify`: a body that is not UTF-8 fails with 415 (body-parser keeps the error's status).
 * So does one said to be in another charset: body-parser itself takes any `utf-*` (UTF-16, UTF-32) and
 * would decode UTF-8 bytes sent with such a label as something else, a 400 or another request.
 */
function refuseNonUtf8(_request: unknown, _response: unknown, body: Buffer, charset: string): void {
  if (charset !== 'utf-8' || !isUtf8(body)) throw Object.assign(new Error('the body is not UTF-8'), { status: 415, type: 'encoding.unsupported' });
}

/**
 * Every answer: read only as the type it says (a JSON answer is never run as a script), and never shown in
 * another site's frame, where a page could trick a click on Forget or on /docs' Execute (clickjacking).
 */
function guardAnswers(_request: unknown, response: ServerResponse, next: () => void): void {
  response.setHeader('X-Content-Type-Options', 'nosniff');
  response.setHeader('X-Frame-Options', 'DENY');
  next();
}

/** Builds the demo host (not yet listening): what `npm start` runs and the HTTP tests boot. */
export async function createDemoApp(options: DemoOptions): Promise<INestApplication> {
  const opened = new OpenedDuringStart();
  let app: NestExpressApplication;
  try {
    // abortOnError: false, so that a failed start rejects here (and is cleaned up) instead of exiting.
    // Nest would print a failed start with its stack; the host reports it in one line (DEBUG: everything).
    // Logs of a start that succeeds are buffered and go to pino below all the same.
    app = await NestFactory.create<NestExpressApplication>(DemoModule.forRoot(options, opened), {
      bufferLogs: true,
      bodyParser: false,
      abortOnError: false,
      ...(!process.env.DEBUG && { logger: false }),
    });
  } catch (error) {
    await opened.closeAll();
    throw error;
  }
  app.useLogger(app.get(Logger));
  // Before the body is read: a cross-site request is refused whatever it carries (request-checks.ts).
  app.use(guardAnswers, refuseCrossSite, refuseNonJsonBody);
  // Not strict: a JSON null, array or scalar body reaches the routes, which answer 422 (not a parser 400).
  // Bytes that are not UTF-8 are 415, as the document says: decoded, each would be stored as U+FFFD.
  app.useBodyParser('json', { limit: BODY_LIMIT, strict: false, verify: refuseNonUtf8 });
  app.useGlobalFilters(new HttpErrorsFilter());
  app.enableShutdownHooks();
  // Paths from the controllers' decorators, bodies from the zod schemas (openapi.ts, openapi-schemas.ts).
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document);
  // The History tab in a browser (src/demo/web): plain files over the API above; nothing from elsewhere.
  app.useStaticAssets(join(__dirname, 'web'), {
    setHeaders: (response) => response.setHeader('Content-Security-Policy', "default-src 'self'; frame-ancestors 'none'"),
    // A path that resolves to the folder (`/interactions/..`) goes on to the API's routes and their JSON
    // answers, not to an HTML redirect to itself with a slash.
    redirect: false,
  });
  return app;
}

async function start(): Promise<void> {
  const started = Date.now();
  startPGliteQuickly();
  const module = moduleOptionsFromEnvironment();
  const app = await createDemoApp({
    module,
    logLevel: process.env.LOG_LEVEL,
    ...(process.env.DEMO_CONTACTS_SCHEMA && { contactsSchema: process.env.DEMO_CONTACTS_SCHEMA }),
  });
  const port = Number(process.env.PORT ?? 3000);
  try {
    // HOST: one interface only (tests use 127.0.0.1); default every interface.
    await (process.env.HOST ? app.listen(port, process.env.HOST) : app.listen(port));
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  const { port: listening } = app.getHttpServer().address() as AddressInfo;
  app.get(Logger).log(
    `crm-interactions demo on http://localhost:${listening} (API docs at /docs) over ${describeDatabase(module)}, ` +
      `started in ${Date.now() - started} ms`,
  );
}

if (require.main === module) {
  start().catch((error: unknown) => {
    // One line for people; the stack only when asked for.
    console.error(`crm-interactions demo: could not start: ${errorText(error)}`);
    if (process.env.DEBUG) console.error(error);
    process.exit(1);
  });
}
