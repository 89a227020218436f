// Names shared by paymentSyncWorkflow and its callers: signal, query, search attributes.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { PaymentSyncStatus } from '../domain/shapes';

export const retryArmadoNowSignal = defineSignal('retryArmadoNow');
export const statusQuery = defineQuery<PaymentSyncStatus>('status');

export const InvoiceNumberKey = defineSearchAttributeKey('InvoiceNumber', SearchAttributeType.KEYWORD);
export const PaymentModeKey = defineSearchAttributeKey('PaymentMode', SearchAttributeType.KEYWORD);
export const SyncOutcomeKey = defineSearchAttributeKey('SyncOutcome', SearchAttributeType.KEYWORD);
/** What an open run waits for (absent when it waits for nothing): the backlog gauges count open runs by it. */
export const SyncWaitingForKey = defineSearchAttributeKey('SyncWaitingFor', SearchAttributeType.KEYWORD);
export const SEARCH_ATTRIBUTE_KEYS = [InvoiceNumberKey, PaymentModeKey, SyncOutcomeKey, SyncWaitingForKey];

/** The values of SyncWaitingFor: the Armado bill (not there yet), the ledger's answer (queued again), an API's retries. */
export const WAITING_FOR = ['bill', 'ledger', 'api-retry'] as const;
export type WaitingFor = (typeof WAITING_FOR)[number];
