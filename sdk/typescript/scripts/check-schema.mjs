// Fails when src/schema.d.ts (committed) is not what the `generate` script of
// package.json makes of ../openapi.yaml now, so the TypeScript SDK cannot drift
// from the contract. Runs that same command with its output sent to a temporary
// file; the committed file is never touched.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const committed = join(root, 'src', 'schema.d.ts');
const fix = 'run `npm run generate --prefix sdk/typescript` and commit sdk/typescript/src/schema.d.ts';

// "openapi-typescript <input> <flags...> -o src/schema.d.ts"
const [cmd, ...args] = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts.generate.split(/\s+/);
const o = args.indexOf('-o');
if (cmd !== 'openapi-typescript' || o < 0 || args[o + 1] !== 'src/schema.d.ts') {
  console.error('check-schema: the generate script must be `openapi-typescript … -o src/schema.d.ts`');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'kala-sdk-'));
try {
  args[o + 1] = join(dir, 'schema.d.ts');
  execFileSync(join(root, 'node_modules', '.bin', cmd), args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (!existsSync(committed)) {
    console.error(`ERROR: sdk/typescript/src/schema.d.ts is missing; ${fix}.`);
    process.exit(1);
  }
  const want = readFileSync(args[o + 1], 'utf8').split('\n');
  const have = readFileSync(committed, 'utf8').split('\n');
  let i = 0;
  while (i < want.length && i < have.length && want[i] === have[i]) i++;
  if (i < want.length || i < have.length) {
    console.error(`ERROR: sdk/typescript/src/schema.d.ts is out of date with openapi.yaml; ${fix}.`);
    console.error(`  first difference at line ${i + 1}:`);
    console.error(`    committed: ${JSON.stringify(have[i] ?? '<end of file>')}`);
    console.error(`    generated: ${JSON.stringify(want[i] ?? '<end of file>')}`);
    process.exit(1);
  }
  console.log('check-schema: src/schema.d.ts is up to date with openapi.yaml');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
