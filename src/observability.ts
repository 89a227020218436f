// Logs and metrics of the worker process: the SDK's runtime does the work (its logger, its Prometheus
// exporter); this module shapes log lines as JSON and hands the runtime's meter to the business metrics.
import type { LogLevel } from '@temporalio/common';
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';
import { businessMetricsFrom, setBusinessMetrics } from './metrics';

export interface ObservabilityOptions {
  logLevel: LogLevel;
  /** Prometheus endpoint /metrics on this port (all interfaces); undefined = no metrics. */
  metricsPort?: number;
  /** Values that must never reach a log line (belt and braces: nothing should try to log them). */
  secrets?: string[];
  write?: (line: string) => void;
}

const RENAMED: Record<string, string> = { activityType: 'activity', invoiceNumber: 'invoice', workflowRunId: 'runId' };
/** A task token lets its holder complete someone else's activity: it stays out of logs. */
const DROPPED = new Set(['taskToken']);

/** One JSON object per line: time, level, msg, then workflowId, runId, invoice, activity, attempt… when known. */
export function formatLogLine(entry: LogEntry, secrets: string[] = []): string {
  const line: Record<string, unknown> = {
    time: new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString(),
    level: entry.level,
    msg: entry.message,
  };
  for (const [key, value] of Object.entries(entry.meta ?? {})) {
    if (DROPPED.has(key)) continue;
    line[RENAMED[key] ?? key] = value instanceof Error ? { name: value.name, message: value.message } : value;
  }
  let text = JSON.stringify(line);
  for (const secret of secrets) if (secret.length >= 4) text = text.split(secret).join('[redacted]');
  return text;
}

/** Installs the SDK runtime once for this process: JSON logger (Core's logs forwarded to it) and metrics. */
export function installObservability(options: ObservabilityOptions): void {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 4);
  const runtime = Runtime.install({
    logger: new DefaultLogger(options.logLevel, (entry) => write(formatLogLine(entry, secrets))),
    telemetryOptions: {
      logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
      ...(options.metricsPort !== undefined ? { metrics: { prometheus: { bindAddress: `0.0.0.0:${options.metricsPort}` } } } : {}),
    },
  });
  if (options.metricsPort !== undefined) setBusinessMetrics(businessMetricsFrom(runtime.metricMeter));
}
