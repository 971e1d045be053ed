import { sql, type SQL } from 'drizzle-orm';
import { attendees } from '../../db/schema/bookings.ts';
import { eventQuestions, type Answers, type QuestionLevel } from '../../db/schema/questions.ts';
import { ApiError } from '../../errors/api-error.ts';
import { databaseError } from '../users/guards.ts';
import { GUARD_LABEL_PREFIX } from '../events/shared.ts';
import { COUNTRY_CODES } from './countries.ts';

/** The longest text answer without a `maximum`: `text`, `long_text`. */
export const DEFAULT_MAX_LENGTH = { text: 200, long_text: 2000 } as const;
/** The most choices of a multi-choice answer without a `maximum`. */
export const DEFAULT_MAX_CHOICES = 50;

/**
 * One set of answers to check: at `pointer` (e.g. `/body/items/0/attendees/1/answers`), for a ticket of
 * `ticketTypeId` (attendee questions) or the booking (booking questions). `missingPointer`, when set, is where a
 * missing required answer points instead of `pointer/<key>` (the item's `attendees` when none were listed).
 */
export interface AnswerSubject {
  pointer: string;
  missingPointer: string | null;
  ticketTypeId: string | null;
  level: QuestionLevel;
  answers: Answers;
}

/** The subjects as rows `(ord, p, m, t, l, a)`, the shape `answersGuard` reads. */
export function subjectRows(subjects: readonly AnswerSubject[]): SQL {
  const json = JSON.stringify(
    subjects.map((s) => ({ p: s.pointer, m: s.missingPointer, t: s.ticketTypeId, l: s.level, a: s.answers })),
  );
  return sql`select e.ord, e.x->>'p' as p, e.x->>'m' as m, (e.x->>'t')::uuid as t, e.x->>'l' as l, e.x->'a' as a
    from jsonb_array_elements(${json}::jsonb) with ordinality as e(x, ord)`;
}

/**
 * One attendee's new answers as the subject rows `answersGuard` reads (pointer `/body/answers`), for the ticket type
 * of the attendee `attendee` selects (a subquery of one attendees row): the edits after the checkout, staff's and the
 * buyer's.
 */
export function attendeeAnswersSubject(attendee: SQL, answers: Answers): SQL {
  return sql`select 1::bigint as ord, '/body/answers'::text as p, null::text as m, x.ticket_type_id as t,
    'attendee'::text as l, ${JSON.stringify(answers)}::jsonb as a from ${attendee} x`;
}

/**
 * The attendee's answers after an edit (the value of an UPDATE ... SET answers): the new answers replace those to the
 * event's live questions of the ticket; answers stored under keys that are no live question of it (archived
 * questions, answers from before questions existed) are kept.
 */
export function replacedAnswers(organizationId: string, eventId: SQL, answers: Answers): SQL {
  return sql`coalesce((select jsonb_object_agg(k.key, k.value) from jsonb_each(${attendees.answers}) k
      where not exists (select 1 from ${eventQuestions} q where q.organization_id = ${organizationId}
        and q.event_id = ${eventId} and q.key = k.key and not q.archived and q.level = 'attendee'
        and (q.ticket_type_id is null or q.ticket_type_id = ${attendees.ticketTypeId}))), '{}'::jsonb)
    || ${JSON.stringify(answers)}::jsonb`;
}

/** The answers of a checkout: one subject per listed attendee, one per item without attendees, the booking's. */
export function checkoutSubjects(input: {
  items: readonly {
    ticketTypeId: string;
    attendees?: readonly { answers?: Answers | undefined }[] | undefined;
  }[];
  answers?: Answers | undefined;
}): AnswerSubject[] {
  const subjects: AnswerSubject[] = [
    {
      pointer: '/body/answers',
      missingPointer: null,
      ticketTypeId: null,
      level: 'booking',
      answers: input.answers ?? {},
    },
  ];
  input.items.forEach((item, index) => {
    const ticketTypeId = item.ticketTypeId.toLowerCase();
    if (item.attendees === undefined) {
      subjects.push({
        pointer: `/body/items/${index}/attendees`,
        missingPointer: `/body/items/${index}/attendees`,
        ticketTypeId,
        level: 'attendee',
        answers: {},
      });
      return;
    }
    item.attendees.forEach((attendee, position) => {
      subjects.push({
        pointer: `/body/items/${index}/attendees/${position}/answers`,
        missingPointer: null,
        ticketTypeId,
        level: 'attendee',
        answers: attendee.answers ?? {},
      });
    });
  });
  return subjects;
}

/** Whether the answer `v` (jsonb) fits the question `q` (an event_questions row): its type, options and bounds. */
function answerFits(): SQL {
  const text = sql`(v #>> '{}')`;
  return sql`case q.type
    when 'text' then jsonb_typeof(v) = 'string'
      and char_length(${text}) between coalesce(q.minimum, 0) and coalesce(q.maximum, ${DEFAULT_MAX_LENGTH.text}::int)
    when 'long_text' then jsonb_typeof(v) = 'string'
      and char_length(${text}) between coalesce(q.minimum, 0) and coalesce(q.maximum, ${DEFAULT_MAX_LENGTH.long_text}::int)
    when 'number' then case when jsonb_typeof(v) = 'number'
      then (q.minimum is null or ${text}::numeric >= q.minimum) and (q.maximum is null or ${text}::numeric <= q.maximum)
      else false end
    when 'choice' then jsonb_typeof(v) = 'string' and q.options @> jsonb_build_array(v)
    when 'multi_choice' then case when jsonb_typeof(v) = 'array' then
        not exists (select 1 from jsonb_array_elements(v) c where jsonb_typeof(c) <> 'string')
        and q.options @> v
        and (select count(distinct c) from jsonb_array_elements(v) c) = jsonb_array_length(v)
        and jsonb_array_length(v) between coalesce(q.minimum, 0) and coalesce(q.maximum, ${DEFAULT_MAX_CHOICES}::int)
      else false end
    when 'checkbox' then jsonb_typeof(v) = 'boolean'
    when 'date' then case
      when jsonb_typeof(v) = 'string' and ${text} ~ '^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$'
      then extract(day from date_trunc('month', (substr(${text}, 1, 7) || '-01')::date) + interval '1 month - 1 day')
        >= substr(${text}, 9, 2)::int
      else false end
    when 'email' then jsonb_typeof(v) = 'string' and char_length(${text}) <= 254
      and ${text} ~ '^[^@[:space:]]+@[^@[:space:]]+[.][^@[:space:]]+$'
    when 'phone' then jsonb_typeof(v) = 'string' and ${text} ~ '^[+][1-9][0-9]{6,14}$'
    when 'country' then jsonb_typeof(v) = 'string' and ${text} = any(string_to_array(${COUNTRY_CODES.join(' ')}::text, ' '))
    else false end`;
}

/** The live questions of the event that apply to the subject row `s`. */
function applies(): SQL {
  return sql`q.level = s.l and (q.ticket_type_id is null or q.ticket_type_id = s.t)`;
}

/**
 * A statement that aborts the batch at the first answer that does not fit the event's live questions (in subject
 * order, then by pointer): an unknown key (no live question of that key for this ticket type or level), a required
 * question unanswered (absent, an empty string or list, or an unticked checkbox), or an answer of the wrong type or
 * out of its options or bounds. Its label carries the answer's JSON pointer (`answerRefusal`). `subjects` is a
 * select of rows `(ord, p, m, t, l, a)` (`subjectRows`). It reads the definitions in the batch: no round trip.
 */
export function answersGuard(organizationId: string, eventId: SQL, subjects: SQL): SQL {
  return sql`with s as (${subjects}),
    q as (select * from ${eventQuestions} where organization_id = ${organizationId} and event_id = ${eventId}
            and not archived),
    problems(ord, pointer, reason) as (
      select s.ord, s.p || '/' || k.key, 'unknown' from s cross join lateral jsonb_each(s.a) k
        where not exists (select 1 from q where q.key = k.key and ${applies()})
      union all
      select s.ord, coalesce(s.m, s.p || '/' || q.key), 'required' from s join q on ${applies()}
        where q.required and (s.a -> q.key is null or s.a -> q.key in ('""'::jsonb, '[]'::jsonb, 'false'::jsonb))
      union all
      select s.ord, s.p || '/' || q.key, 'invalid_' || q.type from s join q on ${applies()}
        cross join lateral (select s.a -> q.key as v) answer
        where v is not null and not (${answerFits()}))
    select (coalesce((select ${GUARD_LABEL_PREFIX} || 'answer|' || pointer || '|' || reason from problems
      order by ord, pointer limit 1), '0'))::int as guard`;
}

const MESSAGES: Record<string, string> = {
  unknown: 'not a question of this event for this ticket',
  required: 'this question must be answered',
  invalid_text: 'must be text within the length bounds',
  invalid_long_text: 'must be text within the length bounds',
  invalid_number: 'must be a number within the bounds',
  invalid_choice: 'must be one of the options',
  invalid_multi_choice: 'must be a list of distinct options within the bounds',
  invalid_checkbox: 'must be true or false',
  invalid_date: 'must be a date YYYY-MM-DD',
  invalid_email: 'must be an email address',
  invalid_phone: 'must be a phone number in E.164 form (+ and 7 to 15 digits)',
  invalid_country: 'must be an ISO 3166-1 alpha-2 country code',
};

/** The 400 of a batch that `answersGuard` aborted, with the pointer to the answer; null for any other failure. */
export function answerRefusal(error: unknown): ApiError | null {
  const info = databaseError(error);
  if (info?.code !== '22P02') return null;
  const match = /eventra_guard:answer\|([^|"]+)\|([a-z_]+)/.exec(info.message);
  if (match === null) return null;
  const [, pointer = '', reason = ''] = match;
  return new ApiError('validation_failed', {
    detail:
      reason === 'required' && pointer.endsWith('/attendees')
        ? 'This ticket type has required questions: list the attendees with their answers.'
        : "An answer does not fit the event's questions.",
    errors: [{ pointer, message: MESSAGES[reason] ?? 'invalid answer' }],
  });
}
