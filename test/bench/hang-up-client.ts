// The hanging-up client of http-abort, in a process of its own (forked with an IPC channel), as the
// issue's second client is: sharing the load generator's event loop, each 0.8 MB it sends held up
// the small client's own requests, which a separate client does not do.
// Messages: {body: base64 string, url} once, then {start: per second} / {stop: true}; it answers
// {ready: true} once it holds the body, and {sent: n} on each stop.
import { hangUpAfter } from '../reliability/hang-up.js';

let body: Buffer | undefined;
let url = '';
let timer: NodeJS.Timeout | undefined;
let sent = 0;

process.on('message', (m: { body?: string; url?: string; start?: number; stop?: boolean }) => {
  if (m.body !== undefined && m.url !== undefined) {
    body = Buffer.from(m.body, 'base64');
    url = m.url;
    process.send!({ ready: true });
  } else if (m.start !== undefined && body !== undefined) {
    sent = 0;
    const heavy = body;
    timer = setInterval(() => {
      sent++;
      void hangUpAfter(url, heavy, 5 + Math.random() * 15);
    }, 1000 / m.start);
  } else if (m.stop) {
    clearInterval(timer);
    process.send!({ sent });
  }
});
// the parent gone (or done): nothing is left to do
process.on('disconnect', () => process.exit(0));
