import { sql } from 'drizzle-orm';
import { boolean, check, index, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { timestamps } from './columns.ts';

export interface UserPreferences {
  theme?: 'light' | 'dark' | 'system';
  emailNotifications?: boolean;
}

/**
 * The global identity: one row per person across all organizations. What an organization sees of a user is what
 * its membership allows (row-level security: a user row is visible only through a membership of the current tenant).
 */
export const users = pgTable(
  'users',
  {
    id: uuid().primaryKey().defaultRandom(),
    // Stored lowercased and trimmed (the API normalizes before every lookup).
    email: text().notNull(),
    name: text().notNull(),
    // `scrypt$<N>$<r>$<p>$<salt b64>$<key b64>`; null for an invited user who has not set a password yet.
    passwordHash: text(),
    emailVerifiedAt: timestamp({ withTimezone: true }),
    locale: text().notNull().default('en'),
    // An IANA time zone name as Intl resolves it (`Europe/Paris`): the user's own, for times shown to them.
    timezone: text().notNull().default('UTC'),
    preferences: jsonb().$type<UserPreferences>().notNull().default({}),
    // Platform administrators manage organizations on the platform host.
    isPlatformAdmin: boolean().notNull().default(false),
    ...timestamps,
  },
  (table) => [
    // Serves login, registration and invitations: WHERE email = $1.
    uniqueIndex('users_email_key').on(table.email),
    // Serves the platform metrics' sign-ups of a day across organizations: WHERE created_at >= $1 AND created_at < $2.
    index('users_created_at_idx').on(table.createdAt),
    check('users_email_format', sql`${table.email} = lower(${table.email}) and ${table.email} like '%_@_%'`),
    check('users_name_length', sql`char_length(${table.name}) between 1 and 200`),
  ],
);

export type User = typeof users.$inferSelect;
