/** The public error classes of CONTRACT.md; a command that throws one of these has written nothing. */

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
