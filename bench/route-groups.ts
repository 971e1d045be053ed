/**
 * What each route group adds to a Worker's bundle, and how many Workers a split of the API into bundles of at most
 * 300 KiB gzip (issue #13's budget) would take: `npm run bench:groups`. Not part of `npm test`.
 *
 * Every figure is a real build (bench/workerd-load.ts's `bundleProbe`: esbuild as wrangler bundles for production),
 * gzip at level 9 as `npm run bench:bundle` measures it:
 *
 * - **base**: a Worker made with `createApp` (src/app.ts: the middleware, the tenant lookup, the token check, the
 *   lazily loaded parts they use) serving only the health group, which every Worker serves;
 * - **each unit alone**: the base plus one route group (a dynamic import of the group tables, src/routes/groups.ts
 *   and src/routes/public-groups.ts) or one of the API Worker's other entry points (its queue consumer, its
 *   scheduled jobs, the `EventLive` Durable Object), over the base;
 * - **a split**: the units packed first-fit, largest first, into Workers of at most the budget, by what each unit
 *   reaches in the API Worker's own build (its esbuild metafile: modules and their imports, each counted once per
 *   Worker), then every packed Worker built to check it. A unit over the budget on its own is reported, not packed.
 *
 * The packing is a feasible split, not the smallest: first-fit, and its module sizes are the API Worker's (tree
 * shaking keeps more of a shared module there than in a smaller Worker), so the built Workers land under its
 * estimates.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Metafile } from 'esbuild';
import { table } from './stack.ts';
import { bundleProbe } from './workerd-load.ts';

const APP = 'src/app.ts';
const API_ENTRY = 'src/index.ts';
const GROUP_TABLES: ReadonlySet<string> = new Set(['src/routes/groups.ts', 'src/routes/public-groups.ts']);
const HEALTH_GROUP = 'src/routes/health/index.ts';
/** The budget of one Worker's bundle (issue #13), gzip. */
const BUDGET_BYTES = 300 * 1024;

interface Size {
  raw: number;
  gzip: number;
}

const work = await mkdtemp(join(tmpdir(), 'eventra-groups-'));
let builds = 0;

/** Bundles a Worker of `createApp` with the health group and `units`, and returns its size and metafile. */
async function buildWith(units: readonly string[]): Promise<Size & { meta: Metafile }> {
  // Each unit stays reachable through a dynamic import, as in the API Worker (a dynamic import keeps the whole
  // module, so which of its exports the API Worker calls makes no difference to the size).
  const source = [
    `import { createApp } from './${APP}';`,
    `import { HEALTH_GROUP } from './src/routes/public-groups.ts';`,
    `export default createApp({ worker: 'api', groups: [HEALTH_GROUP] });`,
    ...units.map((unit, index) => `export const unit${String(index)} = () => import('./${unit}');`),
  ].join('\n');
  const outfile = join(work, String(builds++), 'worker.js');
  const meta = await bundleProbe(source, outfile);
  const code = await readFile(outfile);
  return { raw: code.length, gzip: gzipSync(code, { level: 9 }).length, meta };
}

/** Everything `starts` reach through imports of any kind; `stopAtTables`: without following the group tables'. */
function reach(meta: Metafile, starts: readonly string[], stopAtTables: boolean): Set<string> {
  const seen = new Set<string>();
  const stack = [...starts];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    if (seen.has(next)) continue;
    seen.add(next);
    if (stopAtTables && GROUP_TABLES.has(next)) continue;
    for (const edge of meta.inputs[next]?.imports ?? []) if (edge.external !== true) stack.push(edge.path);
  }
  return seen;
}

const kib = (bytes: number) => (bytes / 1024).toFixed(1);
/** `src/routes/auth/index.ts` -> `auth`; an entry point keeps its path. */
const unitName = (unit: string) => /^src\/routes\/([^/]+)\/index\.ts$/.exec(unit)?.[1] ?? unit;

try {
  // The API Worker as it is, for the units and their modules.
  const api = await buildWith([API_ENTRY]);
  const output = Object.values(api.meta.outputs).find((out) => out.entryPoint !== undefined);
  if (output === undefined) throw new Error('the build wrote no entry point');
  const sizeOf = (modules: Iterable<string>) => {
    let bytes = 0;
    for (const module of modules) bytes += output.inputs[module]?.bytesInOutput ?? 0;
    return bytes;
  };
  const groupUnits = [...GROUP_TABLES].flatMap((tableModule) => {
    const imports = api.meta.inputs[tableModule]?.imports;
    if (imports === undefined) throw new Error(`the build has no input ${tableModule}`);
    return imports.filter((edge) => edge.kind === 'dynamic-import').map((edge) => edge.path);
  });
  if (!groupUnits.includes(HEALTH_GROUP)) throw new Error(`no route group loads ${HEALTH_GROUP}`);
  const entryUnits = (api.meta.inputs[API_ENTRY]?.imports ?? [])
    .map((edge) => edge.path)
    .filter((path) => path !== APP && !GROUP_TABLES.has(path));
  const units = [...groupUnits.filter((unit) => unit !== HEALTH_GROUP), ...entryUnits];

  const base = await buildWith([]);
  const baseModules = reach(api.meta, [APP, HEALTH_GROUP], true);
  const measured = [];
  for (const unit of units) {
    const built = await buildWith([unit]);
    // What the unit reaches beyond the base, in the API Worker's build (a unit that reaches a group table, as the
    // OpenAPI document does, reaches every group).
    const modules = [...reach(api.meta, [unit], false)].filter((module) => !baseModules.has(module));
    measured.push({ unit, raw: built.raw - base.raw, gzip: built.gzip - base.gzip, alone: built.gzip, modules });
  }
  measured.sort((a, b) => b.gzip - a.gzip);

  // First-fit, largest first, by the API Worker's module sizes at its own gzip ratio; then each Worker built.
  const ratio = api.gzip / api.raw;
  const budgetRaw = BUDGET_BYTES / ratio - sizeOf(baseModules);
  const packed: { units: string[]; modules: Set<string> }[] = [];
  const tooLarge = measured.filter((unit) => unit.alone > BUDGET_BYTES);
  for (const unit of measured) {
    if (tooLarge.includes(unit)) continue;
    const fits = packed.find((worker) => sizeOf(new Set([...worker.modules, ...unit.modules])) <= budgetRaw);
    if (fits === undefined) packed.push({ units: [unit.unit], modules: new Set(unit.modules) });
    else {
      fits.units.push(unit.unit);
      for (const module of unit.modules) fits.modules.add(module);
    }
  }
  const split = [];
  for (const worker of packed) split.push({ units: worker.units, ...(await buildWith(worker.units)) });

  console.log(
    `\nWhat each route group adds to a Worker's bundle (real builds; the budget ${kib(BUDGET_BYTES)} KiB gzip)\n` +
      `API Worker (every unit): ${kib(api.raw)} KiB raw, ${kib(api.gzip)} KiB gzip; base (createApp and the ` +
      `health group): ${kib(base.raw)} KiB raw, ${kib(base.gzip)} KiB gzip\n`,
  );
  console.log(
    table([
      ['unit', 'adds raw KiB', 'adds gzip KiB', 'alone with the base, gzip KiB'],
      ...measured.map((unit) => [
        unitName(unit.unit),
        kib(unit.raw),
        kib(unit.gzip),
        `${kib(unit.alone)}${unit.alone > BUDGET_BYTES ? ' (over)' : ''}`,
      ]),
    ]),
  );
  console.log(
    `\nA split with every bundle within ${kib(BUDGET_BYTES)} KiB gzip: ${String(split.length)} Workers` +
      (tooLarge.length === 0 ? '' : `, plus ${tooLarge.map((unit) => unitName(unit.unit)).join(', ')} over it alone`),
  );
  for (const [index, worker] of split.entries()) {
    console.log(
      `  ${String(index + 1)}. ${kib(worker.gzip)} KiB gzip (${kib(worker.raw)} raw): ` +
        worker.units.map(unitName).join(', '),
    );
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
