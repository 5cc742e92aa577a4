import { createServer, type AddressInfo } from 'node:net';

/** A free TCP port on 127.0.0.1 (the OS picks it; released at once, a small race that is fine for tests). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
