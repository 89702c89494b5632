// Where audit events go: JSON lines on stderr or appended to a file. Events written in the
// same turn of the event loop leave in one write (one syscall, not one per event). Writing
// never blocks or buffers without bound: while more than MAX_QUEUED_BYTES wait for the
// destination (a full disk, a stalled pipe), events are dropped and counted in
// mcpfleet_proxy_audit_events_dropped_total instead.
import type { WriteStream } from 'node:fs';
import { fs } from '../../../common/builtins.ts';
import type { Logger } from '../../../common/log.ts';
import type { AuditEvent } from './event.ts';

export const MAX_QUEUED_BYTES = 8 * 2 ** 20;

export interface AuditSinkMetrics {
  auditEvent(outcome: string): void;
  auditDropped(): void;
}

export interface AuditSink {
  write(event: AuditEvent): void;
  close(): Promise<void>;
}

export function createAuditSink(file: string | undefined, metrics: AuditSinkMetrics, log: Logger): AuditSink {
  let stream: WriteStream | NodeJS.WriteStream;
  let owned = false;
  if (file) {
    stream = fs.createWriteStream(file, { flags: 'a', mode: 0o600 });
    owned = true;
    stream.on('error', (err) => log.error('audit file write failed', { file, err }));
  } else {
    stream = process.stderr;
  }
  let batch = '';
  let scheduled: NodeJS.Immediate | undefined;
  const flush = (): void => {
    scheduled = undefined;
    if (batch === '' || stream.destroyed) return;
    stream.write(batch);
    batch = '';
  };
  return {
    write(event) {
      if (stream.writableLength + batch.length > MAX_QUEUED_BYTES || stream.destroyed) {
        metrics.auditDropped();
        return;
      }
      batch += JSON.stringify(event) + '\n';
      scheduled ??= setImmediate(flush);
      metrics.auditEvent(event.outcome);
    },
    close() {
      if (scheduled) clearImmediate(scheduled);
      flush();
      if (!owned) return Promise.resolve();
      return new Promise((resolve) => (stream as WriteStream).end(() => resolve()));
    },
  };
}
