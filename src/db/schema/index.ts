export * from './organizations.ts';
export * from './organization-domains.ts';
export * from './users.ts';
export * from './roles.ts';
export * from './memberships.ts';
export * from './sessions.ts';
export * from './audit-logs.ts';
export * from './tenant-directory.ts';
