import { z } from '@hono/zod-openapi';
import type { DomainView } from '../../services/domains/domains.ts';
import type { OrganizationDomain } from '../../db/schema/organization-domains.ts';
import { Timestamp, Uuid } from '../fields.ts';

const EXAMPLE_ID = '3d5c9a1e-7b2f-4c8d-9e0a-1f2b3c4d5e6f';

export const DomainIdParamsSchema = z.object({
  id: Uuid.openapi({ param: { name: 'id', in: 'path' }, description: 'Domain id.', example: EXAMPLE_ID }),
});

export const DomainCreateSchema = z
  .object({
    hostname: z
      .string()
      .min(1)
      .max(300)
      .openapi({
        description:
          'The host name to serve the organization on, e.g. `events.example.com`. An internationalized name is ' +
          'stored in punycode, lower-case. Not an IP address, not a name under the platform domain, not a reserved ' +
          'top-level name (.local, .test, ...).',
        example: 'events.example.com',
      }),
  })
  .strict()
  .openapi('DomainCreate');

const DnsRecordSchema = z
  .object({
    type: z.enum(['CNAME', 'TXT']).openapi({ description: 'Record type.', example: 'TXT' }),
    name: z
      .string()
      .max(300)
      .openapi({ description: 'Record name.', example: '_eventra-challenge.events.example.com' }),
    value: z.string().max(4096).openapi({ description: 'Record value.', example: 'eventra-verification=Zk3pQ8vX' }),
    purpose: z.enum(['routing', 'ownership', 'cloudflare_ownership', 'certificate']).openapi({
      description:
        '`routing`: points the name at the platform. `ownership`: proves to Eventra that the organization controls ' +
        'the name. `cloudflare_ownership` and `certificate`: let Cloudflare verify the name and issue its TLS ' +
        'certificate before traffic arrives (shown when Cloudflare asks for them).',
      example: 'ownership',
    }),
  })
  .openapi('DnsRecord');

const CloudflareStatusSchema = z
  .object({
    status: z.string().max(50).openapi({ description: "Cloudflare's custom hostname status.", example: 'pending' }),
    sslStatus: z.string().max(50).openapi({ description: 'Its certificate status.', example: 'pending_validation' }),
    errors: z.array(z.string().max(1000)).max(20).openapi({ description: 'Why Cloudflare has not activated it yet.' }),
  })
  .openapi('DomainCloudflareStatus');

export const DomainSchema = z
  .object({
    id: Uuid.openapi({ description: 'Domain id.', example: EXAMPLE_ID }),
    hostname: z.string().max(253).openapi({ description: 'The host name.', example: 'events.example.com' }),
    status: z.enum(['pending', 'verified']).openapi({
      description: '`verified`: served. `pending`: not served until POST /verify succeeds.',
      example: 'pending',
    }),
    verifiedAt: Timestamp.nullable().openapi({ description: 'When it was verified.', example: null }),
    createdAt: Timestamp.openapi({ description: 'Added.', example: '2026-12-01T10:00:00.000Z' }),
    updatedAt: Timestamp.openapi({ description: 'Last changed.', example: '2026-12-01T10:00:00.000Z' }),
  })
  .openapi('Domain');

export const DomainDetailSchema = DomainSchema.extend({
  records: z.array(DnsRecordSchema).max(10).openapi({ description: 'The DNS records to create at the DNS provider.' }),
  cloudflare: CloudflareStatusSchema.nullable().openapi({
    description: "Cloudflare's view, when this answer asked Cloudflare (create and verify); null otherwise.",
  }),
}).openapi('DomainDetail');

export const DomainListSchema = z.object({ data: z.array(DomainSchema).max(1000) }).openapi('DomainList');

export function presentDomain(domain: OrganizationDomain) {
  return {
    id: domain.id,
    hostname: domain.hostname,
    status: domain.verifiedAt === null ? ('pending' as const) : ('verified' as const),
    verifiedAt: domain.verifiedAt?.toISOString() ?? null,
    createdAt: domain.createdAt.toISOString(),
    updatedAt: domain.updatedAt.toISOString(),
  };
}

export function presentDomainDetail(view: DomainView) {
  return { ...presentDomain(view.domain), records: view.records, cloudflare: view.cloudflare };
}
