/**
 * Loads an adapter that needs an optional peer dependency (PGlite, the EventStoreDB client) only when the
 * options ask for it: a host on a PostgreSQL server installs neither, and loads neither at start. A
 * missing package is an error that says what to install.
 */
export function loadOptional<T>(packageName: string, feature: string, load: () => T): T {
  try {
    return load();
  } catch (error) {
    const missing = (error as { code?: unknown }).code === 'MODULE_NOT_FOUND' && String((error as Error).message).includes(`'${packageName}'`);
    if (!missing) throw error;
    throw new Error(`${feature} needs the package ${packageName}, which is not installed: npm install ${packageName}`, { cause: error });
  }
}
