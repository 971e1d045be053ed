import { ApiError } from '../../errors/api-error.ts';
import type { Logger } from '../../lib/logger.ts';
import type { EventLive } from './event-live.ts';
import type { LiveRefusal } from './limits.ts';
import { EVENT_UNAVAILABLE_CLOSE, liveObjectName, type LiveChannel, type LiveMessage } from './messages.ts';

/** Seconds between heartbeats (SSE comments that keep proxies from closing an idle stream) unless configured. */
export const DEFAULT_HEARTBEAT_SECONDS = 15;
/** What the client waits before reconnecting after the stream ends (the SSE `retry:` field). */
export const RECONNECT_MS = 3_000;
/**
 * The longest a stream lives: the access token's lifetime (a staff stream never outlives the token it opened with
 * by more than that), after which the client reconnects (with a fresh token).
 */
export const MAX_STREAM_SECONDS = 15 * 60;
/** The most a stream sends before it ends (`expired`) and the client reconnects: its documented maximum length. */
export const MAX_STREAM_BYTES = 16 * 1024 * 1024;
/** Room kept under MAX_STREAM_BYTES for the final `end` event. */
const END_RESERVE_BYTES = 128;

/** Why a stream ended, as its last `end` event says. */
export type EndReason = 'session_ended' | 'session_unverifiable' | 'expired' | 'event_unavailable' | 'closed';

export interface LiveStreamOptions {
  namespace: DurableObjectNamespace<EventLive>;
  organizationId: string;
  eventId: string;
  channel: LiveChannel;
  /** Whose streams the per-client cap counts: the address key (public) or the session (staff). */
  client: string;
  /** The snapshot the stream starts with (seats, counts), read at connect time; none for the bookings feed. */
  first: LiveMessage | null;
  /** The client's `Last-Event-ID`: a first snapshot with that id was already seen and is not sent again. */
  lastEventId: string | undefined;
  heartbeatSeconds: number;
  /** Staff streams: whether the session still holds (re-checked at every heartbeat); a refusal ends the stream. */
  stillAllowed?: (() => Promise<boolean>) | undefined;
  logger: Logger;
}

const encoder = new TextEncoder();

/** One SSE frame. `data` is JSON on one line, so it needs no splitting. */
export function sseFrame(message: LiveMessage | { event: 'end'; data: { reason: EndReason } }): string {
  const id = 'id' in message ? `id: ${message.id}\n` : '';
  return `${id}event: ${message.event}\ndata: ${JSON.stringify(message.data)}\n\n`;
}

/** The `at` of a snapshot message (seats, counts), so an older one never follows a newer one. */
function snapshotTime(message: LiveMessage): number | null {
  return message.event === 'booking' ? null : message.data.at;
}

function refusal(body: unknown): ApiError {
  const reason = (body as Partial<LiveRefusal> | null)?.reason;
  return new ApiError('too_many_streams', {
    detail:
      reason === 'client'
        ? 'This client already holds the most live streams allowed on this event; close one first.'
        : 'This event has as many live streams as it can serve; try again shortly.',
    headers: { 'retry-after': '30' },
  });
}

/**
 * Opens a Server-Sent Events stream fed by the event's Durable Object: subscribes over a hibernatable WebSocket
 * (429 `too_many_streams` when the Object's caps refuse), then answers `text/event-stream` with `retry:`, the first
 * snapshot, every message the Object sends, and a heartbeat comment every `heartbeatSeconds`, each of which also
 * re-checks a staff session (`stillAllowed`). The stream ends with an `end` event when the session ended, after
 * MAX_STREAM_SECONDS or MAX_STREAM_BYTES, or when the Object closes; the WebSocket is closed when the client goes away.
 *
 * The Worker holds the client's connection and the Object only a WebSocket per stream, which lets the Object
 * hibernate between changes (a Durable Object is billed while it is awake; a Worker waiting on I/O costs no CPU).
 */
export async function openLiveStream(options: LiveStreamOptions): Promise<Response> {
  const { namespace, logger } = options;
  const stub = namespace.get(namespace.idFromName(liveObjectName(options.organizationId, options.eventId)));
  const query = new URLSearchParams({ channel: options.channel, client: options.client });
  const upgrade = await stub.fetch(`https://event-live/connect?${query.toString()}`, {
    headers: { upgrade: 'websocket' },
  });
  if (upgrade.status === 429) throw refusal(await upgrade.json().catch(() => null));
  const socket = upgrade.webSocket;
  if (upgrade.status !== 101 || socket === null) {
    logger.error('live stream: the event object refused the connection', { status: upgrade.status });
    throw new ApiError('service_unavailable', {
      detail: 'Live updates are unavailable right now.',
      headers: { 'retry-after': '5' },
    });
  }
  socket.accept();

  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  let open = true;
  let sent = 0;
  let lastSnapshot = Number.NEGATIVE_INFINITY;
  let pending: Promise<void> = Promise.resolve();
  const timers: { heartbeat?: ReturnType<typeof setInterval>; lifetime?: ReturnType<typeof setTimeout> } = {};

  const finish = () => {
    if (!open) return;
    open = false;
    clearInterval(timers.heartbeat);
    clearTimeout(timers.lifetime);
    try {
      socket.close(1000, 'stream ended');
    } catch {
      // Already closed by the Object.
    }
    pending = pending.then(() => writer.close()).catch(() => undefined);
  };
  const write = (text: string) => {
    if (!open) return;
    const bytes = encoder.encode(text);
    sent += bytes.byteLength;
    // Writes are chained so frames keep their order; a failed write means the client went away.
    pending = pending.then(() => writer.write(bytes)).catch(finish);
  };
  const end = (reason: EndReason) => {
    write(sseFrame({ event: 'end', data: { reason } }));
    finish();
  };
  const send = (text: string) => {
    if (sent + text.length * 3 > MAX_STREAM_BYTES - END_RESERVE_BYTES) end('expired');
    else write(text);
  };
  const deliver = (message: LiveMessage) => {
    const at = snapshotTime(message);
    if (at !== null) {
      if (at <= lastSnapshot) return;
      lastSnapshot = at;
    }
    send(sseFrame(message));
  };

  write(`retry: ${String(RECONNECT_MS)}\n\n`);
  if (options.first !== null) {
    const first = options.first;
    if (first.id === options.lastEventId) lastSnapshot = snapshotTime(first) ?? lastSnapshot;
    else deliver(first);
  }
  socket.addEventListener('message', (event) => {
    if (typeof event.data !== 'string') return;
    try {
      deliver(JSON.parse(event.data) as LiveMessage);
    } catch (error) {
      logger.warn('live stream: unreadable message from the event object', { error });
    }
  });
  socket.addEventListener('close', (event) => {
    end(event.code === EVENT_UNAVAILABLE_CLOSE ? 'event_unavailable' : 'closed');
  });
  socket.addEventListener('error', () => end('closed'));
  timers.heartbeat = setInterval(() => {
    send(': heartbeat\n\n');
    const check = options.stillAllowed;
    if (check === undefined) return;
    check().then(
      (allowed) => {
        if (!allowed) end('session_ended');
      },
      (error: unknown) => {
        // An ended session must never go on streaming because the denylist was unreachable.
        logger.warn('live stream: session re-check failed; the stream ends', { error });
        end('session_unverifiable');
      },
    );
  }, options.heartbeatSeconds * 1000);
  timers.lifetime = setTimeout(() => end('expired'), MAX_STREAM_SECONDS * 1000);

  return new Response(readable, {
    status: 200,
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // nginx and similar proxies otherwise buffer the stream.
      'x-accel-buffering': 'no',
    },
  });
}
