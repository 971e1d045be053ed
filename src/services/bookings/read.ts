import { scoped } from '../../db/tenant.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { bookingNotFound } from './shared.ts';
import { bookingQueries, toBookingView, type BookingView } from './views.ts';

/**
 * One booking of the organization with its items, tickets, payment and refunds, in one round trip (one scoped
 * batch). Another organization's booking answers 404 like a missing one (tenant predicate and RLS).
 */
export async function getBooking({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<BookingView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const [booking, items, attendees, payment, refunds] = await scoped(
    db,
    { organizationId: tenant.id },
    bookingQueries(db, tenant.id, input.id.toLowerCase()),
  );
  const view = toBookingView([booking, items, attendees, payment, refunds]);
  if (view === null) throw bookingNotFound();
  return view;
}
