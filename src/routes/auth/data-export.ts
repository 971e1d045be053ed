import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requireAuth, requireSession } from '../../middleware/auth.ts';
import { EXPORT_LISTS, exportPersonalData, MAX_EXPORT_ROWS } from '../../services/privacy/export.ts';
import { int32, Timestamp, Uuid } from '../fields.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';

const Answers = z.record(z.string().max(64), z.unknown());
/** A stored text of at most `max` characters. */
const text = (max = 200) => z.string().max(max);
const At = Timestamp.nullable();
const rows = <T extends z.ZodType>(item: T) => z.array(item).max(MAX_EXPORT_ROWS);

export const PersonalDataExportSchema = z
  .object({
    exportedAt: Timestamp,
    organization: z.object({ id: Uuid, slug: text(64), name: text() }),
    account: z.object({
      id: Uuid,
      email: text(254),
      name: text(),
      locale: text(35),
      timezone: text(64),
      preferences: z.record(z.string().max(64), z.unknown()),
      emailVerifiedAt: At,
      createdAt: Timestamp,
      updatedAt: Timestamp,
    }),
    membership: z
      .object({
        role: z.object({ key: text(64), name: text() }),
        status: text(16),
        displayName: text().nullable(),
        lastLoginAt: At,
        joinedAt: Timestamp,
      })
      .nullable(),
    mfa: z.object({
      totp: z.object({ enabled: z.boolean(), enrolledAt: At }),
      recoveryCodesRemaining: int32(0, 100),
    }),
    sessions: rows(
      z.object({
        sessionId: Uuid,
        issuedAt: Timestamp,
        ip: text(64).nullable(),
        userAgent: text(512).nullable(),
        signInMethods: z.array(text(16)).max(10),
        expiresAt: Timestamp,
        revokedAt: At,
      }),
    ).openapi({ description: 'Every refresh token issued to you here (one per sign-in or refresh), never the token.' }),
    passkeys: rows(
      z.object({
        id: Uuid,
        name: text(),
        deviceType: text(32),
        backedUp: z.boolean(),
        transports: z.array(text(32)).max(10),
        createdAt: Timestamp,
        lastUsedAt: At,
      }),
    ),
    apiKeys: rows(
      z.object({
        id: Uuid,
        name: text(),
        environment: text(8),
        prefix: text(64),
        lastFour: text(4),
        permissions: z.array(text(64)).max(100),
        createdAt: Timestamp,
        expiresAt: At,
        lastUsedAt: At,
        lastUsedIp: text(64).nullable(),
        revokedAt: At,
      }),
    ).openapi({ description: 'The API keys you created, never the keys.' }),
    bookings: rows(
      z.object({
        id: Uuid,
        eventId: Uuid,
        eventTitle: text(),
        status: text(16),
        buyer: z.object({ name: text(), email: text(254) }),
        answers: Answers,
        total: int32(0),
        currency: text(3),
        discountCode: text(40).nullable(),
        createdAt: Timestamp,
        confirmedAt: At,
        cancelledAt: At,
        attendees: z
          .array(
            z.object({
              id: Uuid,
              name: text(),
              email: text(254),
              ticketTypeId: Uuid,
              ticketCode: text(64),
              status: text(16),
              answers: Answers,
              checkedInAt: At,
            }),
          )
          .max(1000),
      }),
    ).openapi({ description: 'The bookings made with your email address here, with their tickets.' }),
    tickets: rows(
      z.object({
        id: Uuid,
        bookingId: Uuid,
        eventId: Uuid,
        eventTitle: text(),
        name: text(),
        email: text(254),
        status: text(16),
        answers: Answers,
        checkedInAt: At,
        createdAt: Timestamp,
      }),
    ).openapi({
      description:
        'Tickets in your email address in bookings someone else made (without their codes: the buyer holds them).',
    }),
    waitlistEntries: rows(
      z.object({
        id: Uuid,
        eventId: Uuid,
        ticketTypeId: Uuid,
        name: text(),
        email: text(254),
        groupSize: int32(1, 50),
        status: text(16),
        createdAt: Timestamp,
      }),
    ),
    auditEntries: rows(
      z.object({
        action: text(100),
        targetType: text(64).nullable(),
        targetId: text(200).nullable(),
        ip: text(64).nullable(),
        userAgent: text(512).nullable(),
        metadata: z.record(z.string().max(200), z.unknown()),
        at: Timestamp,
      }),
    ).openapi({ description: 'What you did here, as the audit log recorded it.' }),
    truncated: z
      .array(z.enum(EXPORT_LISTS))
      .max(EXPORT_LISTS.length)
      .openapi({ description: `The lists that had more than ${MAX_EXPORT_ROWS} rows (the newest are kept).` }),
  })
  .openapi('PersonalDataExport', {
    description: 'What this organization holds about you. Never a secret (password hash, TOTP secret, token, key).',
  });

export const route = createRoute({
  method: 'get',
  path: '/api/v1/auth/me/export',
  operationId: 'exportPersonalData',
  tags: ['Authentication'],
  summary: 'Download your data (this organization)',
  description:
    'Everything this organization holds about the signed-in person, as one JSON document (a download: ' +
    '`Content-Disposition: attachment`): the account, the membership and role, second factors (whether enrolled, ' +
    'never a secret), sessions, passkeys, the API keys they created (never the keys), the bookings made with their ' +
    'email address and the tickets in their name, waitlist entries and the audit entries of what they did. Each ' +
    `list holds the newest ${MAX_EXPORT_ROWS} rows; \`truncated\` names those that had more. A person's own: API keys ` +
    'are refused (403). Writes an `account.data_exported` audit row. One database and one Redis round trip. ' +
    'Organization hosts only.',
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requireAuth(), requireSession()] as const,
  responses: {
    200: {
      description: 'The data, as a JSON download.',
      content: { 'application/json': { schema: PersonalDataExportSchema } },
    },
    ...errorResponses(401, 403, 404, 503),
  },
});

export type PersonalDataExportResponse = z.infer<typeof PersonalDataExportSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const data = await exportPersonalData({ ctx });
    const day = data.exportedAt.slice(0, 10);
    return c.json(responseBody(c, PersonalDataExportSchema, data), 200, {
      'cache-control': 'no-store',
      'content-disposition': `attachment; filename="eventra-data-${data.organization.slug}-${day}.json"`,
    });
  });
}
