// Lease-based leader election (coordination.k8s.io/v1), the algorithm of client-go's
// leaderelection package:
//   - a candidate takes the Lease when it is free, released (empty holder), or has not
//     changed for leaseDuration as observed on the candidate's own clock (no clock-skew
//     assumption between replicas). Unlike client-go, which only polls, candidates also
//     watch the Lease: they see each renewal as it happens and try again exactly when it
//     would expire, so a dead leader is replaced within the lease duration of its last
//     renewal rather than up to two retry periods later;
//   - every change is an update with the Lease's resourceVersion, so of two candidates
//     exactly one wins (the other gets 409 Conflict);
//   - the leader renews every retryPeriod, from the Lease its last write returned (no GET
//     first: that is half of its requests; a Conflict means someone else wrote the Lease, and
//     the next attempt reads it again); it may write only while its last successful
//     renewal (timed from when the request was sent) is younger than renewDeadline, which
//     is shorter than leaseDuration, so its writes stop before anyone else may take over;
//   - after renewDeadline without a renewal it steps down and becomes a candidate again;
//   - on shutdown it releases the Lease (empty holder), so a successor takes over at once.
import type { Logger } from '../../../common/log.ts';
import { LEASE, type KubeObject } from '../../../common/kube/kinds.ts';
import { ApiError, type KubeClient } from '../../../common/kube/client.ts';
import { sleep } from '../../../common/kube/backoff.ts';
import { Informer } from './informer.ts';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  log: Logger;
  onStartedLeading: () => void;
  /** Called when leadership is lost; must stop all work that writes. */
  onStoppedLeading: () => Promise<void>;
  now?: () => number;
}

/** MicroTime as the apiserver writes it: RFC 3339 with 6 fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  private readonly opts: LeaderElectionOptions;
  private readonly now: () => number;
  private leading = false;
  /** When the request of the last successful acquire/renew was sent. */
  private lastRenewSent = 0;
  private observedRecord = '';
  /** The Lease as our last successful write returned it; what a renewal updates. Dropped on any failure. */
  private lastWritten: Lease | undefined;
  private observedAt = 0;
  /** Another holder of the Lease at the last attempt ('' if none), and its lease duration. */
  private heldBy = '';
  private heldForMs = 0;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly watcher: Informer<Lease>;
  /** Aborted to cut a candidate's wait short when the watched Lease changes. */
  private wake = new AbortController();

  constructor(opts: LeaderElectionOptions) {
    if (!(opts.renewDeadlineMs < opts.leaseDurationMs)) throw new Error('renew deadline must be shorter than the lease duration');
    if (!(opts.retryPeriodMs < opts.renewDeadlineMs)) throw new Error('retry period must be shorter than the renew deadline');
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.watcher = new Informer<Lease>(opts.client, {
      kind: LEASE,
      namespace: opts.namespace,
      fieldSelector: `metadata.name=${opts.name}`,
      log: opts.log,
      minWatchTimeoutSeconds: 60,
    });
    this.watcher.on((type, lease) => {
      // A renewal only moves the expiry; a release, a new holder or a deletion is worth an attempt now.
      const holder = type === 'delete' ? '' : (lease.spec?.holderIdentity ?? '');
      if (type !== 'delete') this.observe(lease.spec ?? {});
      if (holder === '' || holder !== this.heldBy) this.wake.abort();
    });
  }

  /** Records when the Lease last changed, as seen here. */
  private observe(spec: LeaseSpec): void {
    const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.acquireTime, spec.leaseTransitions]);
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = this.now();
    }
  }

  /** True while writes are safe: leading, and renewed within renewDeadline. */
  isLeader(): boolean {
    return this.leading && this.now() - this.lastRenewSent < this.opts.renewDeadlineMs;
  }

  start(): void {
    this.watcher.start();
    this.loop ??= this.run();
  }

  /** Stops campaigning; a leader releases the Lease. Call after work has stopped. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wake.abort();
    await this.loop;
    await this.watcher.stop();
    if (this.leading) {
      this.leading = false;
      await this.release();
    }
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      // --- candidate
      while (!signal.aborted && !this.leading) {
        if (await this.tryAcquireOrRenew()) {
          this.leading = true;
          this.opts.log.info('became leader', { lease: `${this.opts.namespace}/${this.opts.name}`, identity: this.opts.identity });
          this.opts.onStartedLeading();
          break;
        }
        await this.waitAsCandidate(signal);
      }
      // --- leader
      while (!signal.aborted && this.leading) {
        await sleep(this.opts.retryPeriodMs, signal);
        if (signal.aborted) break;
        const renewed = await this.tryAcquireOrRenew();
        if (!renewed && this.now() - this.lastRenewSent >= this.opts.renewDeadlineMs) {
          this.leading = false;
          this.opts.log.warn('lost leadership: no renewal within the renew deadline', { renewDeadlineMs: this.opts.renewDeadlineMs });
          await this.opts.onStoppedLeading();
        }
      }
    }
  }

  private jittered(): number {
    return Math.round(this.opts.retryPeriodMs * (1 + Math.random() * 0.2));
  }

  /**
   * Until the next attempt: the retry period, or less when the Lease as last observed
   * expires sooner; cut short when the watch sees the Lease change (released, deleted).
   */
  private async waitAsCandidate(signal: AbortSignal): Promise<void> {
    let wait = this.jittered();
    if (this.heldBy !== '' && this.observedAt > 0) {
      const expiresIn = this.observedAt + this.heldForMs - this.now();
      if (expiresIn < wait) wait = Math.max(5, expiresIn + 5);
    }
    this.wake = new AbortController();
    const both = AbortSignal.any([signal, this.wake.signal]);
    await sleep(wait, both);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const sent = this.now();
    const { client, namespace, name, identity } = this.opts;
    const durationSeconds = Math.max(1, Math.ceil(this.opts.leaseDurationMs / 1000));
    try {
      const lease = this.leading && this.lastWritten !== undefined ? this.lastWritten : await client.get<Lease>(LEASE, namespace, name);
      this.lastWritten = undefined;
      if (lease === undefined) {
        this.lastWritten = await client.create<Lease>(
          LEASE,
          namespace,
          {
            apiVersion: LEASE.apiVersion,
            kind: LEASE.kind,
            metadata: { name, namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds: durationSeconds,
              acquireTime: microTime(sent),
              renewTime: microTime(sent),
              leaseTransitions: 0,
            },
          },
          true,
        );
        this.renewedAt(sent);
        return true;
      }
      const spec = lease.spec ?? {};
      this.observe(spec);
      const holder = spec.holderIdentity ?? '';
      const heldByOther = holder !== '' && holder !== identity;
      const theirDuration = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
      this.heldBy = heldByOther ? holder : '';
      this.heldForMs = theirDuration;
      if (heldByOther && this.observedAt + theirDuration > this.now()) return false;

      const mine = holder === identity;
      const updated: Lease = {
        ...lease,
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(sent),
          renewTime: microTime(sent),
          leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
        },
      };
      const result = await client.update<Lease>(LEASE, { ...updated, metadata: { ...updated.metadata, namespace } }, true);
      this.lastWritten = result;
      if (!mine) this.opts.log.info('took over the lease', { previousHolder: holder || '(released)' });
      this.observedRecord = JSON.stringify([result.spec?.holderIdentity, result.spec?.renewTime, result.spec?.acquireTime, result.spec?.leaseTransitions]);
      this.observedAt = this.now();
      this.renewedAt(sent);
      return true;
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 409)) {
        this.opts.log.warn('leader election: lease request failed', { err });
      }
      return false;
    }
  }

  private renewedAt(sent: number): void {
    this.lastRenewSent = sent;
  }

  private async release(): Promise<void> {
    const { client, namespace, name, identity } = this.opts;
    try {
      const lease = await client.get<Lease>(LEASE, namespace, name);
      if (lease?.spec?.holderIdentity !== identity) return;
      const at = microTime(this.now());
      await client.update<Lease>(
        LEASE,
        {
          ...lease,
          metadata: { ...lease.metadata, namespace },
          spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: at, acquireTime: at },
        },
        true,
      );
      this.opts.log.info('released the lease');
    } catch (err) {
      this.opts.log.warn('could not release the lease', { err });
    }
  }
}
