import DataLoader from 'dataloader';
import type { ServiceContext } from '../../lib/context.ts';
import { bookingDetails, type BookingDetails } from '../../services/bookings/batch.ts';
import { eventInventories, type EventInventory } from '../../services/events/batch.ts';

/**
 * This request's dataloaders (DataLoader, per request: nothing cached across requests or callers). Each one turns
 * every `load` of one nesting level into one service call, which is one scoped batch: one database round trip per
 * level, whatever the number of parents.
 */
export interface Loaders {
  /** An event's ticket types and capacity pools (Event.ticketTypes, Event.capacityPools, Event.availability). */
  inventory: DataLoader<string, EventInventory>;
  /** A booking's attendees, payment and refunds (Booking.attendees, Booking.payment, Booking.refunds). */
  bookingDetails: DataLoader<string, BookingDetails>;
}

export function createLoaders(ctx: ServiceContext): Loaders {
  return {
    inventory: new DataLoader(async (eventIds) => {
      const found = await eventInventories({ ctx, input: { eventIds } });
      return eventIds.map((id) => found.get(id.toLowerCase()) ?? { ticketTypes: [], capacityPools: [] });
    }),
    bookingDetails: new DataLoader(async (bookingIds) => {
      const found = await bookingDetails({ ctx, input: { bookingIds } });
      return bookingIds.map((id) => found.get(id.toLowerCase()) ?? { attendees: [], payment: null, refunds: [] });
    }),
  };
}
