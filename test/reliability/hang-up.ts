import { request } from 'node:http';

/**
 * Sends `body` to `url` on a connection of its own and closes it `afterMs` later, whatever has
 * happened by then; resolves when it is closed. A client that hangs up (test/reliability, the bench's
 * http-abort, the soak).
 */
export function hangUpAfter(url: string, body: Buffer, afterMs: number, headers: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': body.length, ...headers } });
    req.on('error', () => {});
    req.on('response', (res) => res.resume());
    req.end(body);
    setTimeout(() => {
      req.destroy();
      resolve();
    }, afterMs);
  });
}
