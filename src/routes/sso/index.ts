import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as authorize from './authorize.ts';
import * as callback from './callback.ts';
import * as create from './connections-create.ts';
import * as remove from './connections-delete.ts';
import * as get from './connections-get.ts';
import * as domains from './domains.ts';
import * as identitiesDelete from './identities-delete.ts';
import * as identitiesList from './identities-list.ts';
import * as list from './connections-list.ts';
import * as samlAcs from './saml-acs.ts';
import * as samlMetadata from './saml-metadata.ts';
import * as token from './token.ts';

export function registerSsoRoutes(app: OpenAPIHono<AppEnv>): void {
  list.register(app);
  create.register(app);
  get.register(app);
  remove.register(app);
  authorize.register(app);
  callback.register(app);
  token.register(app);
  identitiesList.register(app);
  identitiesDelete.register(app);
  samlMetadata.register(app);
  samlAcs.register(app);
  domains.register(app);
}
