import { describe, expect, it } from 'vitest';
import { BindingsSchema } from '../../src/env.ts';
import { ApiError } from '../../src/errors/api-error.ts';
import { hashPassword, SCRYPT_POLICY, scryptPolicy, verifyPassword } from '../../src/services/auth/passwords.ts';
import { TEST_PASSWORD_HASH_COST } from '../setup/test-password.ts';

// The Worker tests hash at the suite's lower cost (LOCAL_PASSWORD_HASH_COST); this file holds the production policy.
describe('password hashing policy', () => {
  it('hashes with N=16384, r=8, p=5 by default and where the binding is unset', async () => {
    expect(SCRYPT_POLICY).toMatchObject({ N: 16_384, r: 8, p: 5, keyLength: 32, saltLength: 16 });
    for (const ENVIRONMENT of ['local', 'staging', 'production'] as const) {
      expect(scryptPolicy({ ENVIRONMENT, LOCAL_PASSWORD_HASH_COST: undefined })).toBe(SCRYPT_POLICY);
    }
    const stored = await hashPassword('correct horse battery staple');
    expect(stored).toMatch(/^scrypt\$16384\$8\$5\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(await verifyPassword('correct horse battery staple', stored)).toEqual({ valid: true, needsRehash: false });
    expect(await verifyPassword('correct horse battery stapler', stored)).toEqual({ valid: false, needsRehash: false });
  });

  it('lowers the cost in the local environment only, and refuses the binding anywhere else', () => {
    const local = scryptPolicy({ ENVIRONMENT: 'local', LOCAL_PASSWORD_HASH_COST: TEST_PASSWORD_HASH_COST });
    expect(local).toEqual({ ...SCRYPT_POLICY, N: 2048, r: 8, p: 1 });
    for (const ENVIRONMENT of ['staging', 'production'] as const) {
      const misconfigured = () => scryptPolicy({ ENVIRONMENT, LOCAL_PASSWORD_HASH_COST: TEST_PASSWORD_HASH_COST });
      expect(misconfigured).toThrow(ApiError);
      expect(misconfigured).toThrow(/local environment only/);
    }
  });

  it('rehashes what is below the policy in force, never what is above it', async () => {
    const local = scryptPolicy({ ENVIRONMENT: 'local', LOCAL_PASSWORD_HASH_COST: TEST_PASSWORD_HASH_COST });
    const cheap = await hashPassword('pw for the test', local);
    expect(cheap).toMatch(/^scrypt\$2048\$8\$1\$/);
    // Read by production, a locally made hash is below the policy: rehashed at the next sign-in.
    expect(await verifyPassword('pw for the test', cheap)).toEqual({ valid: true, needsRehash: true });
    expect(await verifyPassword('pw for the test', cheap, local)).toEqual({ valid: true, needsRehash: false });
    // A production hash read under the lower local policy verifies and is left alone.
    const strong = await hashPassword('pw for the test');
    expect(await verifyPassword('pw for the test', strong, local)).toEqual({ valid: true, needsRehash: false });
  });

  it('admits only N,r,p with N a power of two as the binding', () => {
    const cost = BindingsSchema.shape.LOCAL_PASSWORD_HASH_COST;
    for (const good of ['2048,8,1', '2,1,1', '16384,8,5']) expect(cost.safeParse(good).success, good).toBe(true);
    for (const bad of ['2047,8,1', '1,8,1', '0,8,1', '2048,0,1', '2048,8,0', '2048,8', 'a,b,c', '2048, 8, 1']) {
      expect(cost.safeParse(bad).success, bad).toBe(false);
    }
  });
});
