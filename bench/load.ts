import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { Writable } from 'node:stream';
import { GeneratedAppend } from './generate';

/**
 * Bulk-loads a generated log into `events` with COPY, as if it had been appended: rows in global order,
 * one transaction per `perTransaction` events (so the log spans several transaction ids, as a real one
 * does). Far faster than the write path, which the append scenario measures on its own.
 */
export async function copyLog(
  client: Client,
  appends: Iterable<GeneratedAppend>,
  options: { perTransaction?: number; onProgress?: (events: number) => void } = {},
): Promise<number> {
  const perTransaction = options.perTransaction ?? 250_000;
  let loaded = 0;
  let stream: Writable | null = null;
  let inThisCopy = 0;
  let chunk = '';
  let finished: Promise<void> | null = null;

  const flush = async () => {
    if (!stream || chunk === '') return;
    const ok = stream.write(chunk);
    chunk = '';
    if (!ok) await new Promise<void>((resolve) => stream!.once('drain', resolve));
  };
  const close = async () => {
    if (!stream) return;
    await flush();
    stream.end();
    await finished;
    stream = null;
    finished = null;
    inThisCopy = 0;
    options.onProgress?.(loaded);
  };

  for (const append of appends) {
    if (!stream) {
      const copy = client.query(
        copyFrom('COPY events (event_id, stream_name, stream_revision, event_type, data, metadata) FROM STDIN'),
      );
      stream = copy;
      finished = new Promise<void>((resolve, reject) => {
        copy.on('finish', resolve);
        copy.on('error', reject);
      });
    }
    append.events.forEach((event, k) => {
      chunk += `${event.id}\t${append.streamName}\t${append.first + k}\t${event.type}\t${copyText(JSON.stringify(event.data))}\t${copyText(JSON.stringify(event.metadata))}\n`;
    });
    loaded += append.events.length;
    inThisCopy += append.events.length;
    if (chunk.length > 1 << 20) await flush();
    if (inThisCopy >= perTransaction) await close();
  }
  await close();
  return loaded;
}

/** COPY's text format treats backslash as an escape; JSON text has no raw tabs or newlines. */
function copyText(json: string): string {
  return json.includes('\\') ? json.replace(/\\/g, '\\\\') : json;
}
