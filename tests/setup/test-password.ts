/**
 * The password of every member the fixtures create (tests/support/harness.ts `createMember`, `createPlatformAdmin`).
 * Here, free of Worker imports, so the global setup can hash it once per run with the production `hashPassword`.
 */
export const TEST_PASSWORD = 'correct horse battery staple';
