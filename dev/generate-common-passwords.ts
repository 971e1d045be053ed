/**
 * Regenerates src/services/auth/data/common-passwords.json from @zxcvbn-ts/language-common's list of common
 * passwords (MIT): only those the length policy would otherwise accept (8 to 128 characters), lowercased, sorted.
 * Run: node dev/generate-common-passwords.ts
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const source = path.join(
  path.dirname(require.resolve('@zxcvbn-ts/language-common/package.json')),
  'src/passwords.json',
);
const list = JSON.parse(await readFile(source, 'utf8')) as string[];
const kept = [
  ...new Set(list.map((password) => password.toLowerCase()).filter((p) => p.length >= 8 && p.length <= 128)),
].sort();
const target = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../src/services/auth/data/common-passwords.json',
);
await writeFile(target, JSON.stringify(kept) + '\n');
console.log(`${kept.length} common passwords written to ${path.relative(process.cwd(), target)}`);
