import { Database, Queryable } from '../../src/ports/database';

/**
 * `db`, with the text of every statement it runs pushed to `statements`: on its own, autocommitted and in
 * its transactions.
 */
export function recording(db: Database, statements: string[]): Database {
  return new Proxy(db, {
    get: (target, property) => {
      if (property === 'query') return (text: string, params?: unknown[]) => (statements.push(text), target.query(text, params));
      if (property === 'autocommit' && target.autocommit) {
        return (text: string, params: unknown[]) => (statements.push(text), target.autocommit!(text, params));
      }
      if (property === 'transaction') {
        return <T>(fn: (tx: Queryable) => Promise<T>) =>
          target.transaction((tx) => fn({ query: (text, params) => (statements.push(text), tx.query(text, params)) }));
      }
      return Reflect.get(target, property);
    },
  });
}
