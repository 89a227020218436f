// Names shared by paymentSyncWorkflow and its callers: signal, query, search attributes.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { PaymentSyncStatus } from '../domain/shapes';

export const retryArmadoNowSignal = defineSignal('retryArmadoNow');
export const statusQuery = defineQuery<PaymentSyncStatus>('status');

export const InvoiceNumberKey = defineSearchAttributeKey('InvoiceNumber', SearchAttributeType.KEYWORD);
export const PaymentModeKey = defineSearchAttributeKey('PaymentMode', SearchAttributeType.KEYWORD);
export const SyncOutcomeKey = defineSearchAttributeKey('SyncOutcome', SearchAttributeType.KEYWORD);
export const SEARCH_ATTRIBUTE_KEYS = [InvoiceNumberKey, PaymentModeKey, SyncOutcomeKey];
