// Settings from scripts/e2e.sh. Missing ones fail the run: these tests never skip.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the e2e tests through scripts/e2e.sh (make test-e2e)`);
  return v;
}

/** The server under test, e.g. http://127.0.0.1:41234 (no trailing slash). */
export const baseUrl = (): string => required('KALA_URL').replace(/\/+$/, '');
/** ADMIN's password, as given to the server in KALA_ADMIN_PASSWORD. */
export const adminPassword = (): string => required('KALA_ADMIN_PASSWORD');

/** e2e/out/ (git-ignored): screenshots and logs. */
export function outDir(): string {
  const d = join(dirname(fileURLToPath(import.meta.url)), '..', 'out');
  mkdirSync(d, { recursive: true });
  return d;
}
