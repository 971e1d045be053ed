/** The live streams' caps (event-live.ts counts them), in a module of their own: the routes import them too. */

/** Streams one event may hold at once (the fan-out cap): beyond it, new streams get 429 (`too_many_streams`). */
export const MAX_STREAMS_PER_EVENT = 5_000;
/** Streams one client (address key, or staff session) may hold on one event at once. */
export const MAX_STREAMS_PER_CLIENT = 8;
/** The shortest time between two re-reads of the snapshots: an on-sale moment costs at most 4 reads a second. */
export const REFRESH_INTERVAL_MS = 250;

/** What the Object answers a refused connection with (the Worker turns it into a problem). */
export interface LiveRefusal {
  reason: 'event' | 'client';
}
