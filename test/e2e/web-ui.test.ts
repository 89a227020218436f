// The operator's path through the real Temporal Web UI, in headless Chromium: filter the list by
// InvoiceNumber, open the failed run, read its five activities, its failure message and memo, fix the
// cause, reset the run from the UI and see it complete.
// Screenshots land in test-artifacts/web-ui/ (git-ignored).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { PROJECT_ROOT } from '../../src/temporal/binaries';
import { STEPS } from '../../src/domain/shapes';
import { launchChromium } from '../helpers/browser';
import { startE2E, type E2E } from '../helpers/e2e';
import { eventually } from '../helpers/eventually';

const ARTIFACTS = join(PROJECT_ROOT, 'test-artifacts', 'web-ui');

let rig: E2E;
let browser: Browser;
let page: Page;
beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  rig = await startE2E();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
});
afterAll(async () => {
  await browser?.close();
  await rig?.stop();
});

test('find a failed run by InvoiceNumber, see its five activities and why it failed, fix, reset it from the UI', async () => {
  const invoice = '80001';
  rig.sandboxes.tempo.addInvoice(invoice, 320);
  rig.sandboxes.tempo.invoice(invoice)!.RegleeTotale = 'OUI';
  rig.sandboxes.armado.addBill(invoice);
  // Armado refuses the PUT (422) after all five steps ran: the bill is locked until someone unlocks it.
  const locked = { method: 'PUT', path: '/v1/bill/', status: 422, body: { message: 'facture verrouillée : déverrouillez-la avant de la marquer payée' }, times: 1_000 };
  rig.sandboxes.armado.server.injectFault(locked);
  const { handle, workflowId, runId: first } = await rig.start({ invoiceNumber: invoice, paymentMode: 'cb', amount: 320 });
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

  // The operator has the bill unlocked in Armado, then resets the run to its first workflow task.
  rig.sandboxes.armado.server.clearFaults();
  expect(rig.sandboxes.armado.putsFor(invoice)).toBe(0);
  await page.getByRole('button', { name: 'Reset' }).click();
  const dialog = page.getByRole('dialog', { name: 'Reset Workflow' });
  await dialog.getByTestId('workflow-reset-event-id-select-button').click();
  await dialog
    .getByRole('option', { name: /WorkflowTaskCompleted/ })
    .first()
    .click();
  await dialog.getByPlaceholder('Enter a reason').fill('bill unlocked in Armado');
  await page.screenshot({ path: join(ARTIFACTS, '4-reset-dialog.png') });
  await dialog.getByRole('button', { name: 'Confirm' }).click();

  let latest = await rig.client.workflow.getHandle(workflowId).describe();
  await eventually(async () => (latest = await rig.client.workflow.getHandle(workflowId).describe()).runId !== first, 'the reset run', 30_000, 200);
  expect(latest.runId).not.toBe(first);
  await expect(rig.client.workflow.getHandle(workflowId, latest.runId).result()).resolves.toMatchObject({ outcome: 'synced', armado: { status: 'updated' } });
  expect(rig.sandboxes.armado.putsFor(invoice)).toBe(1);
  expect(rig.sandboxes.google.rows(rig.sandboxes.spreadsheetId).filter((r) => r[0] === invoice)).toHaveLength(1);

  await page.goto(`${ui}/namespaces/default/workflows?query=${encodeURIComponent(`InvoiceNumber="${invoice}" AND SyncOutcome="synced"`)}`);
  await page.locator(`a[href*="/workflows/${workflowId}/${latest.runId}/"]`).first().waitFor({ timeout: 30_000 });
  await page.screenshot({ path: join(ARTIFACTS, '5-reset-run-synced.png') });
});
