// The operator's path through the real Temporal Web UI, in headless Chromium: filter the list by
// InvoiceNumber, open the failed run, read its five activities and its failure message, read the memo.
// Screenshots land in test-artifacts/web-ui/ (git-ignored).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PROJECT_ROOT } from '../../src/temporal/binaries';
import { STEPS } from '../../src/domain/payment-sync';
import { startE2E, type E2E } from '../helpers/e2e';

const ARTIFACTS = join(PROJECT_ROOT, 'test-artifacts', 'web-ui');
// Debian's chromium (installed by .ci/run); CHROMIUM_PATH points elsewhere.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let rig: E2E;
let browser: Browser;
let page: Page;
beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (see .ci/run) or set CHROMIUM_PATH`);
  mkdirSync(ARTIFACTS, { recursive: true });
  // "crypto" maps to an Armado paymentType Armado does not know: the PUT gets a real 422 after all five steps ran.
  rig = await startE2E({ PAYMENT_MODE_MAP: '{"crypto": 9}' });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Closed network here: without these, Chromium keeps calling Google's hosts and logging refusals.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
});
afterAll(async () => {
  await browser?.close();
  await rig?.stop();
});

test('find a failed run by InvoiceNumber, open it, see its five activities and why it failed', async () => {
  const invoice = '80001';
  rig.sandboxes.tempo.addInvoice(invoice, 320);
  rig.sandboxes.tempo.invoice(invoice)!.RegleeTotale = 'OUI';
  rig.sandboxes.armado.addBill(invoice);
  const { handle, workflowId } = await rig.start({ invoiceNumber: invoice, paymentMode: 'crypto', amount: 320 });
  const failure = await handle.result().then(
    () => undefined,
    (err: Error & { cause?: { message?: string; type?: string } }) => err.cause,
  );
  expect(failure?.type).toBe('ArmadoValidationFailed');

  const ui = process.env.TEST_TEMPORAL_UI_URL as string;
  await page.goto(`${ui}/namespaces/default/workflows?query=${encodeURIComponent(`InvoiceNumber="${invoice}"`)}`);
  const link = page.locator(`a[href*="/workflows/${workflowId}/"]`).first();
  await link.waitFor({ timeout: 30_000 });
  await expect(page.locator('a[href*="/workflows/payment-sync-"]').evaluateAll((as) => new Set(as.map((a) => a.getAttribute('href')?.split('/')[4])).size)).resolves.toBe(1);
  const row = page.locator('tr', { has: link });
  await expect(row.innerText()).resolves.toMatch(/failed/i);
  await page.screenshot({ path: join(ARTIFACTS, '1-list-filtered-by-invoice.png') });

  await link.click();
  await page.waitForURL(new RegExp(`/workflows/${workflowId}/`));
  // The failure message the workflow raised, as the run's result.
  const message = (failure?.message ?? '').slice(0, 80);
  await page.getByText(message, { exact: false }).first().waitFor({ timeout: 30_000 });
  // Each of the five activities appears in the timeline.
  for (const step of STEPS) await page.getByText(step, { exact: true }).first().waitFor({ timeout: 10_000 });
  await page.screenshot({ path: join(ARTIFACTS, '2-failed-run-timeline.png'), fullPage: true });

  await page.getByRole('tab', { name: 'Memo' }).click();
  await page.getByText(`Invoice ${invoice} FAILED: updateArmadoBillPayment ArmadoValidationFailed`, { exact: false }).first().waitFor({ timeout: 10_000 });
  await page.screenshot({ path: join(ARTIFACTS, '3-failed-run-memo.png'), fullPage: true });
});
