import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requireLiveKey, requirePermission, requireRecentAuth } from '../../middleware/auth.ts';
import { getInvoiceSettings, updateInvoiceSettings } from '../../services/invoices/service.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';
import { InvoiceSettingsSchema, InvoiceSettingsUpdateSchema } from './schema.ts';

const EXAMPLE = {
  legalName: 'Acme Events GmbH',
  address: 'Hauptstr. 1\n10115 Berlin\nGermany',
  taxId: 'DE123456789',
  prefix: 'ACME-',
  nextNumber: 42,
};

export const getRoute = createRoute({
  method: 'get',
  path: '/api/v1/organization/invoice-settings',
  operationId: 'getInvoiceSettings',
  tags: ['Invoices'],
  summary: 'Get the invoice settings',
  description:
    "The organization's legal details printed on its invoices and credit notes (legal name, address, tax id), the " +
    'number prefix, and the next sequence number. Before the first change: empty details, prefix `INV-`, next ' +
    'number 1. Organization hosts only; needs `billing:manage`. One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requirePermission('billing:manage')] as const,
  responses: {
    200: {
      description: 'The invoice settings.',
      content: { 'application/json': { schema: InvoiceSettingsSchema, example: EXAMPLE } },
    },
    ...errorResponses(401, 403, 404, 503),
  },
});

export const putRoute = createRoute({
  method: 'put',
  path: '/api/v1/organization/invoice-settings',
  operationId: 'updateInvoiceSettings',
  tags: ['Invoices'],
  summary: 'Change the invoice settings',
  description:
    'Changes the given fields; the others keep their value. Applies to invoices and credit notes issued from now ' +
    'on: issued documents keep the details they were issued with. The sequence number cannot be set (numbers stay ' +
    'gap-free); a new prefix applies to the next number. Writes an `invoice_settings.updated` audit row naming the ' +
    'given fields. Organization hosts only; needs `billing:manage`. One database round trip.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requirePermission('billing:manage'), requireRecentAuth(), requireLiveKey()] as const,
  request: {
    body: { required: true, content: { 'application/json': { schema: InvoiceSettingsUpdateSchema } } },
  },
  responses: {
    200: {
      description: 'The invoice settings after the change.',
      content: { 'application/json': { schema: InvoiceSettingsSchema, example: EXAMPLE } },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(getRoute, async (c) => {
    const settings = await getInvoiceSettings({ ctx: serviceContext(c) });
    return c.json(responseBody(c, InvoiceSettingsSchema, settings), 200, { 'cache-control': 'no-store' });
  });
  app.openapi(putRoute, async (c) => {
    const settings = await updateInvoiceSettings({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, InvoiceSettingsSchema, settings), 200, { 'cache-control': 'no-store' });
  });
}
