#!/bin/sh
# Creates the namespace and registers the search attributes of DESIGN §2. Idempotent.
set -eu
: "${TEMPORAL_ADDRESS:?}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"

tries=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -le 90 ] || { echo "Temporal unreachable at $TEMPORAL_ADDRESS" >&2; exit 1; }
  echo "waiting for Temporal"; sleep 2
done
temporal operator namespace describe --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" >/dev/null 2>&1 \
  || temporal operator namespace create --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" --retention "${TEMPORAL_RETENTION:-30d}"
# A new namespace takes a few seconds to reach every part of the server.
until temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" >/dev/null 2>&1; do sleep 1; done
for attribute in InvoiceNumber PaymentMode SyncOutcome SyncWaitingFor; do
  if temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" | grep -qw "$attribute"; then
    echo "search attribute $attribute already registered"
  else
    temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" --name "$attribute" --type Keyword
  fi
done
echo "namespace $NAMESPACE ready with InvoiceNumber, PaymentMode, SyncOutcome, SyncWaitingFor"
