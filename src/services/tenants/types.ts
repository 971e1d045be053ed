import type { Organization } from '../../db/schema/index.ts';

/**
 * What the request path needs to know about the organization served on a host. `planOverrides` (the platform's
 * adjustments of the plan, src/services/plans) is always set by tenant resolution; a context built elsewhere may
 * leave it out, which means "the plan as it is".
 */
export type Tenant = Pick<Organization, 'id' | 'slug' | 'name' | 'plan' | 'status' | 'settings'> &
  Partial<Pick<Organization, 'planOverrides'>> & {
    /**
     * The tenant directory's database key: which database serves this organization's rows (`shared`, or a key of
     * DATABASE_URLS). Set by tenant resolution; absent means the shared database.
     */
    database?: string;
    /** Set by tenant resolution while the organization is being moved: writes answer 503 organization_read_only. */
    readOnly?: boolean;
  };
