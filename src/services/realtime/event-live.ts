import { DurableObject } from 'cloudflare:workers';
import { createLogger, logLevel } from '../../lib/logger.ts';
import { MAX_STREAMS_PER_CLIENT, MAX_STREAMS_PER_EVENT, REFRESH_INTERVAL_MS, type LiveRefusal } from './limits.ts';
import { EVENT_UNAVAILABLE_CLOSE, isLiveChannel, snapshotId, type LiveChange, type LiveMessage } from './messages.ts';

/**
 * The real-time hub of one event (named `liveObjectName(organization, event)`): the Worker's streams connect to it
 * with hibernatable WebSockets, and the outbox dispatch tells it what changed (`announce`, over RPC). It holds no
 * state of its own beyond its sockets, so it may be evicted whenever it is idle: the sockets stay open while it
 * hibernates, and it wakes for the next change.
 *
 * - Seats and check-ins: a change marks what to re-read; the Object reads both snapshots in one database round trip
 *   at most every REFRESH_INTERVAL_MS (however many bookings commit in that time), only for what someone watches,
 *   and sends them to the sockets of that channel.
 * - Bookings: the dispatch carries the feed items; they go out at once.
 * - An event cancelled or made private: its public streams are closed (EVENT_UNAVAILABLE_CLOSE), so they end at once
 *   and a reconnect gets the 404 the route answers for such an event.
 *
 * Each socket is tagged with its channel and its client (`client:<key>`), which is how the caps are counted and the
 * messages routed (`getWebSockets(tag)`). Authorization is the Worker's: it checks the caller before it connects and
 * re-checks the session while the stream is open; a socket here is only a subscription.
 */
export class EventLive extends DurableObject<Record<string, unknown>> {
  private readonly dirty = { availability: false, checkIns: false };
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastRefresh = 0;
  private target: { organizationId: string; eventId: string } | undefined;

  /** A stream subscribes: `GET /connect?channel=<channel>&client=<key>` with `Upgrade: websocket`. */
  override fetch(request: Request): Response {
    const url = new URL(request.url);
    const channel = url.searchParams.get('channel');
    const client = url.searchParams.get('client');
    if (request.headers.get('upgrade') !== 'websocket' || !isLiveChannel(channel) || !client) {
      return new Response('expected a WebSocket upgrade with a channel and a client', { status: 400 });
    }
    const refuse = (reason: LiveRefusal['reason']) => Response.json({ reason } satisfies LiveRefusal, { status: 429 });
    if (this.ctx.getWebSockets().length >= MAX_STREAMS_PER_EVENT) return refuse('event');
    const clientTag = `client:${client}`;
    if (this.ctx.getWebSockets(clientTag).length >= MAX_STREAMS_PER_CLIENT) return refuse('client');
    const [worker, object] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(object, [channel, clientTag]);
    return new Response(null, { status: 101, webSocket: worker });
  }

  /** The outbox dispatch's news for this event (after commit). */
  announce(change: LiveChange): void {
    this.target = { organizationId: change.organizationId, eventId: change.eventId };
    if (change.closePublic) {
      for (const socket of this.ctx.getWebSockets('availability'))
        socket.close(EVENT_UNAVAILABLE_CLOSE, 'event unavailable');
    }
    for (const { outboxId, item } of change.bookings) {
      this.broadcast('bookings', { event: 'booking', id: outboxId, data: item });
    }
    if (change.availability && this.ctx.getWebSockets('availability').length > 0) this.dirty.availability = true;
    if (change.checkIns && this.ctx.getWebSockets('check-ins').length > 0) this.dirty.checkIns = true;
    this.schedule();
  }

  /** The streams send nothing; a message is ignored. */
  override webSocketMessage(): void {}

  override webSocketClose(socket: WebSocket, code: number): void {
    // Completes the closing handshake the Worker started (its client went away, or its session ended).
    try {
      socket.close(code === 1005 ? 1000 : code, 'closed');
    } catch {
      // Already closed.
    }
  }

  private schedule(): void {
    if (this.timer !== undefined || (!this.dirty.availability && !this.dirty.checkIns)) return;
    const wait = Math.max(0, this.lastRefresh + REFRESH_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh();
    }, wait);
  }

  private async refresh(): Promise<void> {
    const target = this.target;
    const wanted = { ...this.dirty };
    this.dirty.availability = false;
    this.dirty.checkIns = false;
    this.lastRefresh = Date.now();
    if (target === undefined) return;
    const logger = createLogger({ durableObject: 'EventLive', eventId: target.eventId }, logLevel(this.env.LOG_LEVEL));
    try {
      const [{ readBindings }, { createDatabase }, { readLiveSnapshots }] = await Promise.all([
        import('../../middleware/bindings.ts'),
        import('../../db/client.ts'),
        import('./snapshots.ts'),
      ]);
      const db = createDatabase(readBindings(this.env));
      const snapshots = await readLiveSnapshots(db, target.organizationId, target.eventId, wanted);
      if (snapshots.availability) {
        const data = snapshots.availability;
        this.broadcast('availability', { event: 'availability', id: snapshotId('a', data), data });
      }
      if (snapshots.checkIns) {
        const data = snapshots.checkIns;
        this.broadcast('check-ins', { event: 'check-ins', id: snapshotId('c', data), data });
      }
    } catch (error) {
      // The next change reads again; streams keep their last snapshot meanwhile.
      logger.error('live snapshot read failed', { error });
    } finally {
      this.schedule();
    }
  }

  private broadcast(channel: string, message: LiveMessage): void {
    const sockets = this.ctx.getWebSockets(channel);
    if (sockets.length === 0) return;
    const text = JSON.stringify(message);
    for (const socket of sockets) {
      try {
        socket.send(text);
      } catch {
        // A socket closing meanwhile: its stream is ending anyway.
      }
    }
  }
}
