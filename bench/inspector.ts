// wrangler dev's DevTools inspector of the Worker's isolate (miniflare's own services are other isolates), over the
// Chrome DevTools Protocol: the export benchmark reads the isolate's heap through it, the rush (`--profile`) records a
// CPU profile of the isolate while the buyers are served.
import { writeFile } from 'node:fs/promises';

export interface Inspector {
  /** One CDP command; resolves with its result, rejects after `timeoutMs`. */
  send<T>(method: string, params?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  close(): void;
}

/**
 * Connects to the inspector on `port`. The proxy checks the Origin header, which browsers' WebSocket sets and Node's
 * takes from the (undici) `headers` option.
 */
export async function connectInspector(port: number): Promise<Inspector> {
  const targets = (await (await fetch(`http://127.0.0.1:${String(port)}/json`)).json()) as {
    webSocketDebuggerUrl?: string;
  }[];
  const target = targets.find((entry) => entry.webSocketDebuggerUrl !== undefined)?.webSocketDebuggerUrl;
  if (target === undefined) throw new Error(`no inspector target on port ${String(port)}`);
  const socket = new WebSocket(target, { headers: { origin: `http://127.0.0.1:${String(port)}` } });
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error(`inspector ${target} refused the connection`)), {
      once: true,
    });
  });
  let next = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  socket.addEventListener('message', (message) => {
    const data = JSON.parse(String(message.data)) as { id?: number; result?: unknown };
    // Events (no id) such as Runtime.executionContextCreated come too; only answers are matched.
    if (data.id !== undefined) waiting.get(data.id)?.(data.result ?? {});
  });
  return {
    send: <T>(method: string, params: Record<string, unknown> = {}, timeoutMs = 10_000) =>
      new Promise<T>((resolve, reject) => {
        next += 1;
        const id = next;
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`the inspector did not answer ${method} within ${String(timeoutMs / 1000)} s`));
        }, timeoutMs);
        waiting.set(id, (result) => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve(result as T);
        });
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
}

/**
 * Records a CPU profile of the isolate while `work` runs (sampling every `intervalUs` µs) and writes it to `file`
 * (a `.cpuprofile`, for Chrome DevTools or speedscope). Returns what `work` returned.
 */
export async function withCpuProfile<T>(port: number, file: string, work: () => Promise<T>, intervalUs = 250) {
  const inspector = await connectInspector(port);
  try {
    await inspector.send('Profiler.enable');
    await inspector.send('Profiler.setSamplingInterval', { interval: intervalUs });
    await inspector.send('Profiler.start');
    const result = await work();
    const { profile } = await inspector.send<{ profile: unknown }>('Profiler.stop', {}, 120_000);
    await writeFile(file, JSON.stringify(profile));
    console.log(`CPU profile written to ${file}`);
    return result;
  } finally {
    inspector.close();
  }
}
