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

  it('lists gradients first, hides the document URL, shows no Authorize without API_KEYS', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/docs`);
    const ops = page.locator('.opblock .opblock-summary-path');
    await ops.first().waitFor();
    const paths = (await ops.allInnerTexts()).map((t) => t.replace(/\s+/g, ''));
    expect(paths.slice(0, 6)).toEqual(['/v1/gradients', '/v1/forward', '/v1/step', '/v1/train', '/v1/gradcheck', '/v1/explain']);
    expect(await page.locator('.topbar .download-url-wrapper').isVisible()).toBe(false);
    expect(await page.locator('.topbar').innerText()).not.toContain('/docs/json');
    expect(await page.locator('.info a[href$="/docs/json"]').isVisible()).toBe(false);
    expect(await page.getByRole('button', { name: 'Authorize' }).count()).toBe(0);
    expect(await page.locator('.authorization__btn').count()).toBe(0);
  }, 60_000);

  it('shows a real 200 example and each error status with its own example problem', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/docs`);
    const op = page.locator('#operations-compute-gradients');
    await op.locator('.opblock-summary').click();
    const responses = op.locator('.responses-table').first();
    await responses.waitFor();
    const statuses = (await responses.locator('tr.response > td.response-col_status').allInnerTexts()).map((t) => t.trim());
    expect(statuses).toEqual(['200', '400', '404', '413', '415', '422', '502', '503', '504']);
    // the 200 example is the service's answer to the two-weight chain, not generated filler
    const ok = await responses.locator('tr.response[data-code="200"] .example.microlight, tr.response[data-code="200"] pre.microlight').first().innerText();
    expect(ok).toContain('"w1": 15');
    expect(ok).not.toContain('additionalProp');
    const unprocessable = await responses.locator('tr.response[data-code="422"] pre.microlight').first().innerText();
    expect(JSON.parse(unprocessable)).toMatchObject({ status: 422, code: 'INVALID_SPEC' });
    expect(unprocessable).toContain('did you mean \\"mul\\"?');
  }, 60_000);
});
