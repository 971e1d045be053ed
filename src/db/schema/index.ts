export * from './organizations.ts';
export * from './organization-domains.ts';
