/** The public error classes of docs/contract.md; a command that throws one of these has written nothing. */

export type FieldErrors = Record<string, string[]>;

export class InteractionValidationError extends Error {
  constructor(public readonly errors: FieldErrors) {
    super(
      `Invalid interaction: ${Object.entries(errors)
        .map(([field, messages]) => `${field} ${messages.join(', ')}`)
        .join('; ')}`,
    );
    this.name = 'InteractionValidationError';
  }
}

export class InteractionNotFoundError extends Error {
  constructor(public readonly interactionUuid: string) {
    super(`Interaction ${interactionUuid} not found`);
    this.name = 'InteractionNotFoundError';
  }
}

export class InteractionConflictError extends Error {
  constructor(
    public readonly interactionUuid: string,
    public readonly expectedVersion: number | null,
    public readonly actualVersion: number | null,
  ) {
    super(
      `Interaction ${interactionUuid} is at version ${actualVersion ?? 'none'}, expected ${expectedVersion ?? 'none'}`,
    );
    this.name = 'InteractionConflictError';
  }
}

/** Collects field errors in insertion order, several messages per field. */
export class ErrorCollector {
  readonly errors: FieldErrors = {};

  add(field: string, message: string): void {
    (this.errors[field] ??= []).push(message);
  }

  get isEmpty(): boolean {
    return Object.keys(this.errors).length === 0;
  }

  throwIfAny(): void {
    if (!this.isEmpty) throw new InteractionValidationError(this.errors);
  }
}

/**
 * The database or event store could not be reached, a connection was lost mid-command, or a
 * read-your-writes wait timed out. `committed` says what became of the command: nothing of it was
 * written (false), all of it was (true), or it could not be found out ('unknown'); a retry with the
 * same idempotency key is safe in every case.
 */
export class InteractionUnavailableError extends Error {
  readonly retryable = true as const;
  /**
   * With `committed: 'unknown'`: the write may still land after this error (an EventStoreDB node answers
   * Timeout while the write waits in its queue), so not finding it in the stream now proves nothing.
   */
  readonly mayStillLand: boolean;

  constructor(
    message: string,
    public readonly committed: boolean | 'unknown',
    options: { cause?: unknown; mayStillLand?: boolean } = {},
  ) {
    const { mayStillLand = false, ...errorOptions } = options;
    super(message, errorOptions);
    this.name = 'InteractionUnavailableError';
    this.mayStillLand = mayStillLand;
  }
}

/** A call after the module's database was closed (with its application): nothing was written. */
export function databaseClosedError(): InteractionUnavailableError {
  return new InteractionUnavailableError('the database is closed: the application that opened the module was closed', false);
}

/** An interaction's stream holds an event the module cannot read (unknown type, failed schema). */
export class InteractionUnreadableError extends Error {
  constructor(
    public readonly streamName: string,
    public readonly revision: number,
    public readonly eventType: string,
    public readonly reason: string,
  ) {
    super(`${streamName} cannot be read: revision ${revision} (${eventType}): ${reason}`);
    this.name = 'InteractionUnreadableError';
  }
}

/** An error's message for a log line or a reason (what was thrown need not be an Error). */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
