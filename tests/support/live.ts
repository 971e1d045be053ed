import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { request } from './harness.ts';

/** An open Server-Sent Events stream of the Worker, parsed with eventsource-parser as a client would. */
export interface LiveStream {
  response: Response;
  /** Every message so far, in order. */
  messages: EventSourceMessage[];
  /** Heartbeat comments so far. */
  comments: string[];
  /** The `retry:` the stream asked for. */
  retry: number | undefined;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  /** The first message from now on (or already received, after `since`) that matches, or throws after `timeoutMs`. */
  next(
    match: (message: EventSourceMessage) => boolean,
    timeoutMs?: number,
    since?: number,
  ): Promise<EventSourceMessage>;
  /** Closes the stream from the client side. */
  close(): Promise<void>;
}

/** GET `url` as an SSE client; the response is returned as is when it is not a stream (a problem). */
export async function openStream(url: string, headers: Record<string, string> = {}): Promise<LiveStream> {
  const response = await request(url, { headers: { accept: 'text/event-stream', ...headers } });
  const messages: EventSourceMessage[] = [];
  const comments: string[] = [];
  const waiters = new Set<() => void>();
  const body: { reader?: ReadableStreamDefaultReader<string> } = {};
  const stream: LiveStream = {
    response,
    messages,
    comments,
    retry: undefined,
    ended: Promise.resolve(),
    async next(match, timeoutMs = 3_000, since = 0) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.slice(since).find(match);
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0)
          throw new Error(`no matching message within ${String(timeoutMs)} ms: ${JSON.stringify(messages)}`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, left);
          waiters.add(wake);
        });
      }
    },
    async close() {
      await body.reader?.cancel().catch(() => undefined);
    },
  };
  if (!response.headers.get('content-type')?.startsWith('text/event-stream') || response.body === null) return stream;
  const parser = createParser({
    onEvent: (message) => {
      messages.push(message);
      for (const wake of [...waiters]) wake();
    },
    onComment: (comment) => comments.push(comment),
    onRetry: (retry) => {
      stream.retry = retry;
    },
  });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  body.reader = reader;
  stream.ended = (async () => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true as const, value: undefined }));
      if (done) break;
      parser.feed(value);
    }
  })();
  return stream;
}

/** The JSON data of a message. */
export function dataOf(message: { data: string }): unknown {
  return JSON.parse(message.data);
}
