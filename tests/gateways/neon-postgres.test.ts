import { describeNeonConformance } from './neon-conformance.ts';
import { createTestDatabase } from './neon-target.ts';

// The real PostgreSQL from detectServices() (a fresh database for this file); embedded PGlite when services are.
describeNeonConformance('PostgreSQL from the test services', () => createTestDatabase('services'));
