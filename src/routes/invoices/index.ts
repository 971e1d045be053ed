import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as download from './download.ts';
import * as settings from './settings.ts';

// Invoices (issue #18 part 4): the organization's invoice settings and the invoice downloads (staff and buyer).
export function registerInvoicesRoutes(app: OpenAPIHono<AppEnv>): void {
  settings.register(app);
  download.register(app);
}
