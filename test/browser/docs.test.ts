import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../routes/helpers.js';

// Swagger UI in a real browser: Debian's chromium, headless, against the service on 127.0.0.1.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(`browser test skipped: no chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
}

describe.skipIf(!haveChromium)('Swagger UI at /docs', () => {
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    app = await startApp({ workers: 1 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('runs the two-weight example on /v1/gradients and shows dL/dw1 = 15', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/docs`);
    const op = page.locator('#operations-compute-gradients');
    await op.locator('.opblock-summary').click();
    await op.getByRole('button', { name: 'Try it out' }).click();
    // the body editor starts from the first example: the two-weight chain
    await expect.poll(() => op.locator('textarea.body-param__text').inputValue()).toContain('"w1": 0.5');
    await op.getByRole('button', { name: 'Execute' }).click();

    const body = op.locator('.live-responses-table .response-col_description pre.microlight').first();
    await body.waitFor({ timeout: 20_000 });
    const text = await body.innerText();
    const json = JSON.parse(text);
    expect(json.gradients.w1).toBe(15);
    expect(json.gradients.w2).toBe(-5);
    expect(json.loss).toBe(6.25);
    await expect.poll(() => op.locator('.live-responses-table .response .response-col_status').first().innerText()).toContain('200');
  }, 60_000);
});
