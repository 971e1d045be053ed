/**
 * The password of every member the fixtures create (tests/support/harness.ts `createMember`, `createPlatformAdmin`).
 * Here, free of Worker imports, so the global setup can hash it once per run with the production `hashPassword`.
 */
export const TEST_PASSWORD = 'correct horse battery staple';

/**
 * The scrypt cost (`N,r,p`) the Worker under test hashes passwords with (the LOCAL_PASSWORD_HASH_COST binding, honoured
 * in the local environment only): production's 16384,8,5 costs about 170 ms of CPU per hash or check, which the
 * suite's thousands of sign-ins paid for nothing. The production cost is asserted by tests/node/passwords.test.ts, and
 * tests/worker/auth-login.test.ts's weaker stored hashes (N=1024) stay below this one, so rehashing is still tested.
 */
export const TEST_PASSWORD_HASH_COST = '2048,8,1';
