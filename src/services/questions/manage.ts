import { and, asc, eq, sql } from 'drizzle-orm';
import { attendees, events } from '../../db/schema/index.ts';
import {
  eventQuestions,
  type Answers,
  type EventQuestion,
  type QuestionLevel,
  type QuestionType,
} from '../../db/schema/questions.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { auditInsert } from '../audit/record.ts';
import {
  abortLabel,
  actorOf,
  eventNotFound,
  fieldError,
  GUARD_LABEL_PREFIX,
  mustChange,
  violatedConstraint,
} from '../events/shared.ts';
import { notifyOutbox } from '../outbox/dispatch.ts';
import { outboxInsertSelect } from '../outbox/record.ts';
import { bookingData, eventData } from '../outbox/views.ts';
import { answerRefusal, answersGuard, attendeeAnswersSubject, replacedAnswers } from './validate.ts';

/** The most questions an event asks (archived ones included): the public event page lists them all. */
export const MAX_QUESTIONS_PER_EVENT = 50;

export interface QuestionView {
  id: string;
  eventId: string;
  ticketTypeId: string | null;
  key: string;
  label: string;
  type: QuestionType;
  level: QuestionLevel;
  required: boolean;
  options: string[];
  minimum: number | null;
  maximum: number | null;
  position: number;
  archived: boolean;
  createdAt: string;
  updatedAt: string;
}

export function toQuestionView(row: EventQuestion): QuestionView {
  return {
    id: row.id,
    eventId: row.eventId,
    ticketTypeId: row.ticketTypeId,
    key: row.key,
    label: row.label,
    type: row.type,
    level: row.level,
    required: row.required,
    options: row.options,
    minimum: row.minimum,
    maximum: row.maximum,
    position: row.position,
    archived: row.archived,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export interface QuestionFields {
  label?: string | undefined;
  required?: boolean | undefined;
  options?: string[] | undefined;
  minimum?: number | null | undefined;
  maximum?: number | null | undefined;
  position?: number | undefined;
  archived?: boolean | undefined;
}

export interface CreateQuestionInput extends QuestionFields {
  eventId: string;
  key: string;
  label: string;
  type: QuestionType;
  level?: QuestionLevel | undefined;
  ticketTypeId?: string | null | undefined;
}

const questionNotFound = () => new ApiError('not_found', { detail: 'No question with this id for this event.' });

/** The 4xx of a question write the database refused. */
function questionWriteError(error: unknown): ApiError | null {
  switch (violatedConstraint(error)) {
    case 'event_questions_organization_id_event_id_key_key':
      return new ApiError('conflict', { detail: 'This event already has a question with this key.' });
    case 'event_questions_options':
      return fieldError('/body/options', 'choice and multi_choice questions need options; other types take none');
    case 'event_questions_bounds':
      return fieldError('/body/maximum', 'maximum must be at least minimum');
    case 'event_questions_booking_scope':
      return fieldError('/body/ticketTypeId', 'booking questions apply to the whole booking: no ticketTypeId');
    default:
  }
  switch (abortLabel(error)) {
    case 'event_not_found':
      return eventNotFound();
    case 'question_not_found':
      return questionNotFound();
    case 'frozen':
      return new ApiError('conflict', { detail: 'The questions of a cancelled or completed event are final.' });
    case 'question_limit':
      return new ApiError('conflict', {
        detail: `An event has at most ${MAX_QUESTIONS_PER_EVENT} questions; archive or edit one instead.`,
        extensions: { limit: MAX_QUESTIONS_PER_EVENT },
      });
    case 'ticket_type_not_found':
      return fieldError('/body/ticketTypeId', 'no such ticket type for this event');
    default:
      return null;
  }
}

/** Locks the event row (questions of one event change one at a time) and refuses a cancelled or completed one. */
function lockEvent(ctx: ServiceContext, organizationId: string, eventId: string) {
  const db = ctx.services.db;
  return [
    mustChange(
      db,
      db
        .update(events)
        .set({ updatedAt: sql`now()` })
        .where(and(eq(events.organizationId, organizationId), eq(events.id, eventId)))
        .returning({ id: events.id }),
      'event_not_found',
    ),
    db.execute(sql`select (case when exists (select 1 from ${events} where organization_id = ${organizationId}
        and id = ${eventId} and status in ('draft', 'published')) then '0'
      else ${GUARD_LABEL_PREFIX + 'frozen'} end)::int as guard`),
  ] as const;
}

/** The event's questions, archived ones included, by position. Cross-tenant: 404. One database round trip. */
export async function listQuestions({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { eventId: string };
}): Promise<QuestionView[]> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const eventId = input.eventId.toLowerCase();
  const [[event], rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({ id: events.id })
      .from(events)
      .where(and(eq(events.organizationId, tenant.id), eq(events.id, eventId))),
    db
      .select()
      .from(eventQuestions)
      .where(and(eq(eventQuestions.organizationId, tenant.id), eq(eventQuestions.eventId, eventId)))
      .orderBy(asc(eventQuestions.position), asc(eventQuestions.key)),
  ]);
  if (!event) throw eventNotFound();
  return rows.map(toQuestionView);
}

/**
 * Adds a question to an event (draft or published), at most MAX_QUESTIONS_PER_EVENT per event, in one batch: the
 * event row locked, the checks, the insert, the audit row (`question.created`) and an `event.updated` outbox event
 * (the public event page lists the questions: its edge-cache entries are invalidated by that event).
 */
export async function createQuestion({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: CreateQuestionInput;
}): Promise<QuestionView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const eventId = input.eventId.toLowerCase();
  const ticketTypeId = input.ticketTypeId?.toLowerCase() ?? null;
  const id = crypto.randomUUID();
  try {
    const [, , , [row]] = await scoped(db, { organizationId: tenant.id }, [
      ...lockEvent(ctx, tenant.id, eventId),
      db.execute(sql`select (case
          when (select count(*) from ${eventQuestions} where organization_id = ${tenant.id} and event_id = ${eventId})
            >= ${MAX_QUESTIONS_PER_EVENT} then ${GUARD_LABEL_PREFIX + 'question_limit'}
          when ${ticketTypeId}::uuid is not null and not exists (select 1 from ticket_types where
            organization_id = ${tenant.id} and event_id = ${eventId} and id = ${ticketTypeId}::uuid)
            then ${GUARD_LABEL_PREFIX + 'ticket_type_not_found'}
          else '0' end)::int as guard`),
      db
        .insert(eventQuestions)
        .values({
          id,
          organizationId: tenant.id,
          eventId,
          ticketTypeId,
          key: input.key,
          label: input.label,
          type: input.type,
          level: input.level ?? 'attendee',
          required: input.required ?? false,
          options: input.options ?? [],
          minimum: input.minimum ?? null,
          maximum: input.maximum ?? null,
          position: input.position ?? 0,
          archived: input.archived ?? false,
        })
        .returning(),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'question.created',
        target: { type: 'event_question', id },
        metadata: { eventId, key: input.key, type: input.type },
      }),
      outboxInsertSelect(db, { organizationId: tenant.id, type: 'event.updated', data: eventData(tenant.id, eventId) }),
    ]);
    if (!row) throw new Error('question insert returned nothing');
    notifyOutbox(ctx, tenant.id);
    return toQuestionView(row);
  } catch (error) {
    throw questionWriteError(error) ?? error;
  }
}

/**
 * Changes a question's label, required flag, options, bounds, position or archived flag (its key, type, level and
 * ticket type are fixed: answers are stored under the key). Questions are never deleted: archive one to stop asking
 * it; the answers stored keep it. One batch, audited (`question.updated`), with an `event.updated` outbox event.
 */
export async function updateQuestion({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: QuestionFields & { eventId: string; questionId: string };
}): Promise<QuestionView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const eventId = input.eventId.toLowerCase();
  const questionId = input.questionId.toLowerCase();
  const changes: Partial<typeof eventQuestions.$inferInsert> = {};
  if (input.label !== undefined) changes.label = input.label;
  if (input.required !== undefined) changes.required = input.required;
  if (input.options !== undefined) changes.options = input.options;
  if (input.minimum !== undefined) changes.minimum = input.minimum;
  if (input.maximum !== undefined) changes.maximum = input.maximum;
  if (input.position !== undefined) changes.position = input.position;
  if (input.archived !== undefined) changes.archived = input.archived;
  try {
    const where = and(
      eq(eventQuestions.organizationId, tenant.id),
      eq(eventQuestions.eventId, eventId),
      eq(eventQuestions.id, questionId),
    );
    const [, , , , , [found]] = await scoped(db, { organizationId: tenant.id }, [
      ...lockEvent(ctx, tenant.id, eventId),
      mustChange(
        db,
        db
          .update(eventQuestions)
          .set({ ...changes, updatedAt: sql`now()` })
          .where(where)
          .returning({ id: eventQuestions.id }),
        'question_not_found',
      ),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'question.updated',
        target: { type: 'event_question', id: questionId },
        metadata: { eventId, fields: Object.keys(changes) },
      }),
      outboxInsertSelect(db, { organizationId: tenant.id, type: 'event.updated', data: eventData(tenant.id, eventId) }),
      db.select().from(eventQuestions).where(where),
    ]);
    if (found === undefined) throw questionNotFound();
    notifyOutbox(ctx, tenant.id);
    return toQuestionView(found);
  } catch (error) {
    throw questionWriteError(error) ?? error;
  }
}

/**
 * Staff replace an attendee's answers to the event's live questions, checked exactly as the checkout checks them
 * (400 with the pointer `/body/answers/<key>`); answers stored under keys that are no live question of this ticket
 * (archived questions, answers from before questions existed) are kept. One batch: the check, the update, the audit
 * row (`attendee.answers_updated`) and the `attendee.updated` webhook event (data: the booking with its tickets, the
 * new answers included). Another organization's booking or attendee answers 404.
 */
export async function updateAttendeeAnswers({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { bookingId: string; attendeeId: string; answers: Answers };
}): Promise<Answers> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const bookingId = input.bookingId.toLowerCase();
  const attendeeId = input.attendeeId.toLowerCase();
  const attendee = sql`(select a.* from ${attendees} a where a.organization_id = ${tenant.id}
    and a.booking_id = ${bookingId} and a.id = ${attendeeId})`;
  const eventId = sql`(select b.event_id from bookings b where b.organization_id = ${tenant.id} and b.id = ${bookingId})`;
  try {
    const [, , rows] = await scoped(db, { organizationId: tenant.id }, [
      db.execute(sql`select (case when exists ${attendee} then '0'
        else ${GUARD_LABEL_PREFIX + 'attendee_not_found'} end)::int as guard`),
      db.execute(answersGuard(tenant.id, eventId, attendeeAnswersSubject(attendee, input.answers))),
      db
        .update(attendees)
        .set({
          answers: replacedAnswers(tenant.id, eventId, input.answers),
          updatedAt: sql`now()`,
        })
        .where(
          and(
            eq(attendees.organizationId, tenant.id),
            eq(attendees.bookingId, bookingId),
            eq(attendees.id, attendeeId),
          ),
        )
        .returning({ answers: attendees.answers }),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'attendee.answers_updated',
        target: { type: 'attendee', id: attendeeId },
        metadata: { bookingId, keys: Object.keys(input.answers) },
      }),
      // After the update in the same transaction: the booking as it is now.
      outboxInsertSelect(db, {
        organizationId: tenant.id,
        type: 'attendee.updated',
        data: bookingData(tenant.id, bookingId),
      }),
    ]);
    const answers = rows[0]?.answers;
    if (answers === undefined) throw new ApiError('not_found', { detail: 'No such ticket in this booking.' });
    notifyOutbox(ctx, tenant.id);
    return answers;
  } catch (error) {
    const refusal = answerRefusal(error);
    if (refusal !== null) throw refusal;
    if (abortLabel(error) === 'attendee_not_found') {
      throw new ApiError('not_found', { detail: 'No such ticket in this booking.' });
    }
    throw error;
  }
}
