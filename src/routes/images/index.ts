import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as remove from './delete.ts';
import * as download from './download.ts';
import * as upload from './upload.ts';

// Uploaded images in R2 (issue #16 part 4): the organization's logo and event cover images.
export function registerImagesRoutes(app: OpenAPIHono<AppEnv>): void {
  upload.register(app);
  download.register(app);
  remove.register(app);
}
