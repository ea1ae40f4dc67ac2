// Fails when src/schema.ts (committed) is not what the `generate` script of
// package.json makes of openapi.yaml now, so the client cannot drift from the
// contract. Runs that same command with its output sent to a temporary file; the
// committed file is never touched.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = 'src/schema.ts';
const committed = join(root, out);
const fix = `run \`npm run generate --prefix sdk/typescript\` and commit sdk/typescript/${out}`;

// "openapi-typescript <input> <flags...> -o src/schema.ts"
const [cmd, ...args] = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts.generate.split(/\s+/);
const o = args.indexOf('-o');
if (cmd !== 'openapi-typescript' || o < 0 || args[o + 1] !== out) {
  console.error(`check-schema: the generate script must be \`openapi-typescript … -o ${out}\``);
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'kala-sdk-'));
try {
  args[o + 1] = join(dir, 'schema.ts');
  execFileSync(join(root, 'node_modules', '.bin', cmd), args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (!existsSync(committed)) {
    console.error(`ERROR: sdk/typescript/${out} is missing; ${fix}.`);
    process.exit(1);
  }
  const want = readFileSync(args[o + 1], 'utf8').split('\n');
  const have = readFileSync(committed, 'utf8').split('\n');
  let i = 0;
  while (i < want.length && i < have.length && want[i] === have[i]) i++;
  if (i < want.length || i < have.length) {
    console.error(`ERROR: sdk/typescript/${out} is out of date with openapi.yaml; ${fix}.`);
    console.error(`  first difference at line ${i + 1}:`);
    console.error(`    committed: ${JSON.stringify(have[i] ?? '<end of file>')}`);
    console.error(`    generated: ${JSON.stringify(want[i] ?? '<end of file>')}`);
    process.exit(1);
  }
  console.log(`check-schema: ${out} is up to date with openapi.yaml`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
