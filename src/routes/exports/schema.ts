import { z } from '@hono/zod-openapi';
import { EXPORT_ENTITIES } from '../../services/exports/entities.ts';
import { JSON_FILE } from '../../services/exports/job.ts';
import { DOWNLOAD_LINK_SECONDS, EXPORT_RETENTION_DAYS } from '../../services/exports/service.ts';
import { int32, int64, Timestamp, Uuid } from '../fields.ts';
import { cursorPage, pageParams } from '../pagination.ts';

export const EXAMPLE_EXPORT_ID = '3f2e1d0c-9b8a-4c7d-8e6f-5a4b3c2d1e0f';
const EXAMPLE_CURSOR = 'WyIyMDI2LTA1LTAxVDA5OjAwOjAwLjAwMDAwMFoiLCIzZjJlMWQwYy05YjhhLTRjN2QtOGU2Zi01YTRiM2MyZDFlMGYiXQ';
export const MAX_EXPORT_PAGE_SIZE = 50;

/** The file names an export can hold: the JSON document, or one CSV file per entity. */
export const EXPORT_FILE_NAMES = [JSON_FILE, ...EXPORT_ENTITIES.map((entity) => `${entity.name}.csv`)] as [
  string,
  ...string[],
];

export const ExportCreateSchema = z
  .object({
    format: z.enum(['json', 'csv']).openapi({
      description:
        '`json`: one document (`organization.json`) holding every entity as a list, one record per line. `csv`: ' +
        'one CSV file per entity (`events.csv`, `bookings.csv`, ...), each with its own download link.',
      example: 'json',
    }),
  })
  .strict()
  .openapi('ExportCreate', { description: 'What kind of export to make.' });

const ExportFileSchema = z
  .object({
    name: z.enum(EXPORT_FILE_NAMES).openapi({ description: 'The file name.', example: JSON_FILE }),
    entity: z
      .string()
      .max(40)
      .nullable()
      .openapi({ description: 'The entity a CSV file holds; null for the JSON document.', example: null }),
    rows: int32().openapi({ description: 'Records in the file.', example: 1204 }),
    sizeBytes: int64().openapi({ description: 'The size of the file in bytes.', example: 734003 }),
    sha256: z
      .string()
      .length(64)
      .regex(/^[0-9a-f]{64}$/)
      .openapi({
        description: 'SHA-256 of the file, hex: compare it with the download.',
        example: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
      }),
    contentType: z
      .enum(['application/json; charset=utf-8', 'text/csv; charset=utf-8'])
      .openapi({ description: 'The Content-Type of the download.', example: 'application/json; charset=utf-8' }),
    url: z
      .url()
      .max(500)
      .openapi({
        description:
          `A signed download link, valid for ${String(DOWNLOAD_LINK_SECONDS / 60)} minutes (until \`urlExpiresAt\`): ` +
          'no bearer token needed, so a browser can follow it. Read the export again for a fresh one.',
        example: `https://acme.eventra.app/api/v1/exports/${EXAMPLE_EXPORT_ID}/files/${JSON_FILE}?expires=1777626900&signature=q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c`,
      }),
    urlExpiresAt: Timestamp.openapi({ description: 'When `url` stops working.', example: '2026-05-01T09:15:00.000Z' }),
  })
  .openapi('ExportFile', { description: 'One file of a completed export.' });

export const ExportSchema = z
  .object({
    id: Uuid.openapi({ description: 'The export id.', example: EXAMPLE_EXPORT_ID }),
    format: z.enum(['json', 'csv']).openapi({ description: 'The requested format.', example: 'json' }),
    status: z.enum(['queued', 'running', 'completed', 'failed']).openapi({
      description: '`queued`, `running`, `completed` (files ready) or `failed` (see `error`).',
      example: 'completed',
    }),
    progress: z
      .object({
        entitiesDone: int32(0, EXPORT_ENTITIES.length).openapi({ description: 'Entities written.', example: 10 }),
        entitiesTotal: int32(0, EXPORT_ENTITIES.length).openapi({
          description: 'Entities in an export.',
          example: EXPORT_ENTITIES.length,
        }),
        rowsWritten: int32().openapi({ description: 'Records written so far.', example: 1204 }),
      })
      .openapi({ description: 'How far the export is.' }),
    files: z.array(ExportFileSchema).max(EXPORT_FILE_NAMES.length).openapi({
      description: 'The files with their download links once `completed`; empty before.',
    }),
    sizeBytes: int64().nullable().openapi({ description: 'Total size of the files once completed.', example: 734003 }),
    error: z
      .string()
      .max(500)
      .nullable()
      .openapi({ description: 'Why a failed export failed; null otherwise.', example: null }),
    createdAt: Timestamp.openapi({ description: 'When it was requested.', example: '2026-05-01T09:00:00.000Z' }),
    startedAt: Timestamp.nullable().openapi({ description: 'Its first step.', example: '2026-05-01T09:00:01.000Z' }),
    completedAt: Timestamp.nullable().openapi({
      description: 'When it completed.',
      example: '2026-05-01T09:00:09.000Z',
    }),
    expiresAt: Timestamp.openapi({
      description: `When its files and record are deleted (${String(EXPORT_RETENTION_DAYS)} days after the request).`,
      example: '2026-05-08T09:00:00.000Z',
    }),
  })
  .openapi('Export', { description: 'An organization export job.' });

export const ExportPageSchema = cursorPage(ExportSchema, {
  name: 'ExportPage',
  items: 'Exports, newest first.',
  cursorExample: EXAMPLE_CURSOR,
  maxItems: MAX_EXPORT_PAGE_SIZE,
});

export const ExportListQuerySchema = z
  .object(pageParams({ defaultSize: 20, maxSize: MAX_EXPORT_PAGE_SIZE, cursorExample: EXAMPLE_CURSOR }))
  .strict();

export const ExportIdParamsSchema = z.object({
  id: Uuid.openapi({
    param: { name: 'id', in: 'path' },
    description: 'The export id (a UUID; anything else answers 400).',
    example: EXAMPLE_EXPORT_ID,
  }),
});

export const ExportFileParamsSchema = ExportIdParamsSchema.extend({
  file: z.enum(EXPORT_FILE_NAMES).openapi({
    param: { name: 'file', in: 'path' },
    description: 'The file name, as the export lists it.',
    example: JSON_FILE,
  }),
});

export const ExportDownloadQuerySchema = z
  .object({
    expires: z.coerce
      .number()
      .int()
      .min(0)
      .max(2 ** 40)
      .openapi({
        param: { name: 'expires', in: 'query' },
        format: 'int64',
        description: 'The expiry of the link (unix seconds), as the export handed it out.',
        example: 1777626900,
      }),
    signature: z
      .string()
      .length(43)
      .regex(/^[A-Za-z0-9_-]{43}$/, 'Malformed signature')
      .openapi({
        param: { name: 'signature', in: 'query' },
        description: 'The signature of the link, as the export handed it out.',
        example: 'q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c',
      }),
  })
  .strict();
