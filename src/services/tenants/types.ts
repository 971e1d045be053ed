import type { Organization } from '../../db/schema/index.ts';

/** What the request path needs to know about the organization served on a host. */
export type Tenant = Pick<Organization, 'id' | 'slug' | 'name' | 'plan' | 'status' | 'settings'>;
