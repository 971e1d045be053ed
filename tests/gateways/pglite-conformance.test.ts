import { describeNeonConformance } from './neon-conformance.ts';
import { createTestDatabase } from './neon-target.ts';

// Always runs: the embedded path needs no service.
describeNeonConformance('embedded PGlite', () => createTestDatabase('pglite'));
