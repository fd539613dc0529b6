// A minimal Chrome DevTools Protocol client for a child started with --inspect: forces a
// full GC and reads process.memoryUsage() in the child, so a soak measures what is still
// referenced rather than whatever the last incremental GC happened to leave. Every wait is
// bounded.
import { WebSocket } from 'undici';

export interface MemoryUsage { rss: number; heapUsed: number; external: number; arrayBuffers: number }

export interface Inspector {
  /** Two full GCs (the second collects what the first's finalizers released). */
  collectGarbage(): Promise<void>;
  /** The child's process.memoryUsage(), in bytes. */
  memoryUsage(): Promise<MemoryUsage>;
  /** The value of a JavaScript expression evaluated in the child (returnByValue). */
  evaluate(expression: string): Promise<unknown>;
  /** Resolves once the child saw the disconnect (it would wait for a debugger at exit), or after 2 s. */
  close(): Promise<void>;
}

interface Pending { resolve(result: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }

function opened(ws: WebSocket, url: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { ws.close(); reject(new Error(`inspector ${url}: no connection within ${timeoutMs} ms`)); }, timeoutMs);
    ws.onopen = () => { clearTimeout(timer); resolve(); };
    ws.onerror = () => { clearTimeout(timer); reject(new Error(`inspector ${url}: connection failed`)); };
  });
}

export async function connectInspector(url: string, timeoutMs = 10_000): Promise<Inspector> {
  const ws = new WebSocket(url);
  await opened(ws, url, timeoutMs);
  const pending = new Map<number, Pending>();
  let nextId = 1;
  const failAll = (why: string): void => {
    for (const p of pending.values()) { clearTimeout(p.timer); p.reject(new Error(why)); }
    pending.clear();
  };
  ws.onmessage = (e) => {
    const m = JSON.parse(String(e.data)) as { id?: number; result?: unknown; error?: { message: string } };
    const p = m.id === undefined ? undefined : pending.get(m.id);
    if (!p) return; // an event, or a reply that already timed out
    pending.delete(m.id!);
    clearTimeout(p.timer);
    if (m.error) p.reject(new Error(`inspector: ${m.error.message}`));
    else p.resolve(m.result);
  };
  ws.onerror = () => failAll('inspector: connection error');
  ws.onclose = () => failAll('inspector: connection closed');

  const call = (method: string, params: object = {}): Promise<unknown> => new Promise((resolve, reject) => {
    if (ws.readyState !== WebSocket.OPEN) { reject(new Error(`inspector: not open for ${method}`)); return; }
    const id = nextId++;
    const timer = setTimeout(() => { pending.delete(id); reject(new Error(`inspector: ${method} unanswered after ${timeoutMs} ms`)); }, timeoutMs);
    pending.set(id, { resolve, reject, timer });
    ws.send(JSON.stringify({ id, method, params }));
  });
  const evaluate = async (expression: string): Promise<unknown> => {
    const r = await call('Runtime.evaluate', { expression, returnByValue: true }) as
      { result?: { value?: unknown }; exceptionDetails?: { text: string } };
    if (r.exceptionDetails) throw new Error(`inspector: ${expression.slice(0, 60)} threw: ${r.exceptionDetails.text}`);
    return r.result?.value;
  };

  return {
    async collectGarbage() {
      await call('HeapProfiler.collectGarbage');
      await call('HeapProfiler.collectGarbage');
    },
    evaluate,
    async memoryUsage() {
      const v = await evaluate('JSON.stringify(process.memoryUsage())');
      if (typeof v !== 'string') throw new Error(`inspector: memoryUsage() gave ${JSON.stringify(v)}`);
      const { rss, heapUsed, external, arrayBuffers } = JSON.parse(v) as MemoryUsage;
      return { rss, heapUsed, external, arrayBuffers };
    },
    close() {
      failAll('inspector: closed');
      if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, 2000);
        ws.onclose = () => { clearTimeout(timer); resolve(); };
        ws.close();
      });
    },
  };
}
