import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The order test files are handed to the workers (vitest.config.ts runs several at once): the browser test first (it
 * mostly waits for `wrangler dev` and chromium to start), then the Worker files, longest first as vitest's own order
 * has them (the scrypt-heavy rate-limit files must not start last and become the tail), then the short Node projects,
 * which fill the workers as the Worker files run out. Vitest's own order sorts the projects by name, which put the
 * Worker files behind every other project's.
 *
 * Consecutive Worker files also keep their workerd: vitest reuses a non-isolated runner only for the next file of
 * the same project.
 */
const RANK: Record<string, number> = { browser: 0, worker: 1 };

export class SuiteSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (file: TestSpecification): number => RANK[file.project.name] ?? 2;
    // Array.prototype.sort is stable: within a rank, vitest's order (longest or failed first) stays.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
