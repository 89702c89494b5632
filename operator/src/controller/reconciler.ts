// Reconcile one MCPServer: build the desired children, write only those that differ from
// what is observed (server-side apply), delete children it no longer wants, then write
// status (merge patch of /status) only when it changed. An unchanged spec with children
// as specified makes zero API writes.
//
// Config references (configs/): the configs an MCPServer names are resolved from their caches
// first. While one is missing or invalid, the proxy is held at its last good Deployment (and
// the config-made children, e.g. the rendered authz ConfigMap): neither written nor pruned,
// and the MCPServer is not Ready, the reference's condition saying why. Why hold rather than
// roll: the alternatives are a proxy without the referenced authentication or policies (failing
// open) or a proxy that cannot start (an outage for every server sharing the config, for a
// typo or a config deleted a moment early). Holding keeps each proxy on a configuration the
// operator validated, and a new server with a broken reference gets no proxy at all (closed).
// Everything else (the backend, Services) is reconciled as usual.
//
// Config objects get a status reconcile of their own (reconcileConfig): observedGeneration,
// the Valid condition and the config hash, written only when they change.
import type { Logger } from '../../../common/log.ts';
import type { MCPServer, MCPServerStatus } from '../api/types.ts';
import { desiredObjects, type BuildOptions } from '../builders/desired.ts';
import { LABEL_COMPONENT } from '../builders/meta.ts';
import { CHILD_KINDS, MCPSERVER } from '../kinds.ts';
import { keyString, type DesiredObject, type KindInfo, type KubeObject, type ObjectKey } from '../../../common/kube/kinds.ts';
import { ApiError, NotLeaderError, type KubeClient } from '../../../common/kube/client.ts';
import { needsApply, overlay } from './diff.ts';
import { controllerOf, type Caches } from './watches.ts';
import { computeStatus, statusEqual, statusWriteDelay, type ApplyError, type PodView } from './status.ts';
import type { ProcessResult } from '../kube/queue.ts';
import type { AnyConfigKind, ConfigObject } from '../configs/configKind.ts';
import { resolveConfigs, type Resolution } from '../configs/resolve.ts';
import { computeConfigStatus, configStatusEqual } from './configStatus.ts';

export interface ReconcilerDeps {
  client: KubeClient;
  caches: Caches;
  build: BuildOptions;
  log: Logger;
  now?: () => Date;
}

export class ReconcileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReconcileError';
  }
}

/** How the apiserver words "this field cannot change in place" (Services, selectors, StatefulSet specs). */
const IMMUTABLE = /immutable|may not change once set|updates to .+ are forbidden/i;

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function kindFor(d: DesiredObject): KindInfo {
  const k = CHILD_KINDS.find((c) => c.kind === d.kind && c.apiVersion === d.apiVersion);
  if (k === undefined) throw new Error(`no kind info for ${d.apiVersion} ${d.kind}`);
  return k;
}

/**
 * The kinds a child's write waits for (among the same MCPServer's children; settled, written or
 * failed), by its kind. Kinds not listed are written at once.
 */
const PREREQUISITES: Readonly<Record<string, readonly string[]>> = {
  Deployment: ['ServiceAccount', 'ConfigMap'],
  RoleBinding: ['Role'],
};
/** What a broken config reference holds at its last good version: the proxy and the children configs make. */
const HELD_KINDS: ReadonlySet<string> = new Set(['Deployment', 'ConfigMap']);
const NOT_FOUND_RETRY_MS = 250;

export class Reconciler {
  private readonly deps: ReconcilerDeps;
  private readonly now: () => Date;
  /** When each MCPServer's status was last written (ms), to pace Pending updates. */
  private readonly lastStatusWrite = new Map<string, number>();
  /** Each MCPServer's desired children, built once per spec generation (see desiredFor). */
  private readonly desiredByKey = new Map<string, { uid: string; generation: number; configs: string; objects: readonly DesiredObject[] }>();

  constructor(deps: ReconcilerDeps) {
    this.deps = deps;
    this.now = deps.now ?? (() => new Date());
  }

  /** Reconciles one MCPServer; asks to be run again when a status write was held back. */
  async reconcile(request: ObjectKey): Promise<ProcessResult> {
    const { namespace, name } = request;
    /** "namespace/name": the key of this reconciler's memos, and how logs name the MCPServer. */
    const key = keyString(request);
    const { caches } = this.deps;
    const mcp = caches.mcpservers.get(namespace, name);
    if (mcp === undefined) {
      this.forget(request);
      return; // deleted: owner references let the garbage collector remove the children
    }

    const terminating = mcp.metadata.deletionTimestamp !== undefined && mcp.metadata.deletionTimestamp !== null;
    const resolution = resolveConfigs(
      mcp,
      caches.configKinds,
      (kind, ns, configName) => caches.configs.get(kind.info.plural)?.get(ns, configName),
      (ns, configMap) => caches.configMaps.get(ns, configMap)?.dataHash,
    );
    const held = (d: { kind?: string }): boolean => resolution.broken && HELD_KINDS.has(d.kind ?? '');
    const desired = terminating ? [] : this.desiredFor(key, mcp, resolution).filter((d) => !held(d));
    const applyErrors: ApplyError[] = [];

    // Every child is written at once, except what must wait for another child of the same
    // MCPServer to exist (PREREQUISITES): the proxy Deployment for the ServiceAccount its pods
    // run as (else the ReplicaSet's pod creation fails and backs off) and the ConfigMaps they
    // mount, and a RoleBinding for its Role (the apiserver's escalation check of the binding looks the
    // Role up). Before, two waves (ServiceAccounts, Roles and ConfigMaps, then the rest) held
    // the StatefulSet and the Services of a stdio server back by one round trip for nothing.
    const results = await Promise.allSettled(this.ensureAll(key, mcp, desired));
    for (const r of results) {
      // ensure() reports API errors as values; what it throws (NotLeaderError) ends the reconcile.
      if (r.status === 'rejected') throw r.reason instanceof Error ? r.reason : new Error(String(r.reason));
      if (r.value !== undefined) applyErrors.push(r.value);
    }

    if (!terminating) await this.prune(mcp, desired, applyErrors, held);

    const index = `${namespace}/${name}`;
    const pods = caches.pods.byIndex(index) as unknown as PodView[];
    const status = computeStatus({
      mcp,
      desired,
      observed: (d) => caches.children.get(kindFor(d).plural)?.get(namespace, d.metadata.name),
      backendPods: pods.filter((p) => p.metadata.labels?.[LABEL_COMPONENT] === 'backend'),
      proxyPods: pods.filter((p) => p.metadata.labels?.[LABEL_COMPONENT] === 'proxy'),
      applyErrors,
      refs: resolution.verdicts,
      now: rfc3339(this.now()),
    });
    // A Ready server seldom reconciles again until something changes, so its memo would only
    // hold memory (about 12 KiB a server); it is kept while the server is on its way.
    if (status.phase === 'Ready') this.desiredByKey.delete(key);
    const heldBackMs = await this.writeStatus(key, mcp, status);

    if (applyErrors.length > 0) {
      throw new ReconcileError(applyErrors.map((e) => `${e.object}: ${e.reason}: ${e.message}`).join('; '));
    }
    return heldBackMs > 0 ? { requeueAfterMs: heldBackMs } : undefined;
  }

  /**
   * The desired children depend only on the MCPServer's name, namespace, uid and spec, and the
   * apiserver bumps metadata.generation on every spec change. Most reconciles follow a pod or
   * child event with the spec unchanged, so building (and hashing) the children once per
   * generation took a fifth off the operator's CPU in bench:operator (1,000 MCPServers).
   */
  private desiredFor(key: string, mcp: MCPServer & KubeObject, resolution: Resolution): readonly DesiredObject[] {
    const { uid, generation } = mcp.metadata;
    const build = (): DesiredObject[] => desiredObjects(mcp, this.deps.build, resolution.contributions);
    if (uid === undefined || generation === undefined) return build();
    const configs = resolution.fingerprint;
    const memo = this.desiredByKey.get(key);
    if (memo !== undefined && memo.uid === uid && memo.generation === generation && memo.configs === configs) return memo.objects;
    const objects = build();
    this.desiredByKey.set(key, { uid, generation, configs, objects });
    return objects;
  }

  /** Writes a config object's status (observedGeneration, Valid, configHash) if it changed. */
  async reconcileConfig(kind: AnyConfigKind, request: ObjectKey): Promise<ProcessResult> {
    const cache = this.deps.caches.configs.get(kind.info.plural);
    const config = cache?.get(request.namespace, request.name);
    if (config === undefined || (config.metadata.deletionTimestamp !== undefined && config.metadata.deletionTimestamp !== null)) return;
    const status = computeConfigStatus(kind, config, rfc3339(this.now()));
    if (configStatusEqual(config.status, status)) return;
    try {
      const updated = await this.deps.client.patchStatus<ConfigObject>(kind.info, request.namespace, request.name, { status });
      cache?.upsert(updated);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 404)) throw err;
    }
  }

  /**
   * ensure() of every desired child, each started as soon as its prerequisites have settled;
   * one promise per child. A prerequisite is never itself waiting (none of their kinds has any).
   */
  private ensureAll(key: string, mcp: MCPServer & KubeObject, desired: readonly DesiredObject[]): Promise<ApplyError | undefined>[] {
    const byKind = new Map<string, Promise<unknown>[]>();
    const out: Promise<ApplyError | undefined>[] = [];
    for (const d of desired) {
      if (PREREQUISITES[d.kind] !== undefined) continue;
      const write = this.ensure(key, mcp, d);
      byKind.set(d.kind, [...(byKind.get(d.kind) ?? []), write]);
      out.push(write);
    }
    for (const d of desired) {
      const kinds = PREREQUISITES[d.kind];
      if (kinds === undefined) continue;
      const before = kinds.flatMap((k) => byKind.get(k) ?? []);
      out.push(before.length === 0 ? this.ensure(key, mcp, d) : Promise.allSettled(before).then(() => this.ensure(key, mcp, d)));
    }
    return out;
  }

  /** Makes one child as desired (a write only when needed); returns the error to report, if any. */
  private async ensure(key: string, mcp: MCPServer & KubeObject, d: DesiredObject): Promise<ApplyError | undefined> {
    const { caches, client, log } = this.deps;
    const namespace = d.metadata.namespace;
    const kind = kindFor(d);
    const cache = caches.children.get(kind.plural);
    const observed = cache?.get(namespace, d.metadata.name);
    const owner = observed && controllerOf(observed);
    if (owner !== undefined && owner.uid !== mcp.metadata.uid) {
      return {
        object: `${d.kind} ${d.metadata.name}`,
        reason: 'NameConflict',
        message: `already exists and is controlled by another owner (${owner.name}, uid ${owner.uid})`,
      };
    }
    const decision = needsApply(d, observed);
    if (!decision.apply) return undefined;
    try {
      let written: KubeObject;
      try {
        written = await client.apply<KubeObject>(kind, d).catch(async (err: unknown) => {
          // An apply creates what is missing, so a 404 means something it refers to is not
          // visible yet (the authorizer's cache of a Role made a moment ago): once more, shortly.
          if (!(err instanceof ApiError && err.code === 404)) throw err;
          await new Promise((resolve) => setTimeout(resolve, NOT_FOUND_RETRY_MS));
          return client.apply<KubeObject>(kind, d);
        });
      } catch (err) {
        if (!(observed !== undefined && err instanceof ApiError && err.code === 422)) throw err;
        const what = { mcpserver: key, object: `${d.kind}/${d.metadata.name}`, err: err.message };
        if (IMMUTABLE.test(err.message)) {
          // A field that cannot change in place (a Service's clusterIP, a selector): replace the object.
          log.info('replacing an object whose immutable fields must change', what);
          await client.delete(kind, namespace, d.metadata.name, observed.metadata.uid);
          written = await client.apply<KubeObject>(kind, d);
        } else {
          // Some edits cannot be undone by an apply: e.g. a Service port changed in place leaves
          // the other manager's list entry next to ours (two ports named "mcp": Invalid). Then
          // overwrite our fields in the object as it is, with an optimistic-concurrency update.
          const current = await client.get<KubeObject>(kind, namespace, d.metadata.name);
          if (current === undefined) throw err;
          log.info('apply could not undo an edit; updating the object in place', what);
          written = await client.update<KubeObject>(kind, overlay(current, d) as KubeObject & { metadata: { namespace: string } });
        }
      }
      cache?.upsert(written);
      log.debug('applied', { mcpserver: key, object: `${d.kind}/${d.metadata.name}`, why: decision.reason });
      return undefined;
    } catch (err) {
      if (err instanceof NotLeaderError) throw err;
      const e = err instanceof ApiError ? err : new ApiError(0, 'Error', String(err));
      log.warn('apply failed', { mcpserver: key, object: `${d.kind}/${d.metadata.name}`, code: e.code, reason: e.reason, err: e.message });
      return { object: `${d.kind} ${d.metadata.name}`, reason: e.reason, message: e.message };
    }
  }

  /** Deletes children this MCPServer controls but no longer wants (e.g. after a transport change). */
  private async prune(
    mcp: MCPServer & KubeObject,
    desired: readonly DesiredObject[],
    applyErrors: ApplyError[],
    held: (obj: KubeObject) => boolean,
  ): Promise<void> {
    const namespace = mcp.metadata.namespace as string;
    const wanted = new Set(desired.map((d) => `${d.kind}/${d.metadata.name}`));
    for (const kind of CHILD_KINDS) {
      const cache = this.deps.caches.children.get(kind.plural);
      if (cache === undefined) continue;
      for (const obj of cache.byIndex(`${namespace}/${mcp.metadata.name}`)) {
        if (wanted.has(`${kind.kind}/${obj.metadata.name}`) || held({ ...obj, kind: kind.kind })) continue;
        if (controllerOf(obj)?.uid !== mcp.metadata.uid) continue;
        if (obj.metadata.deletionTimestamp !== undefined && obj.metadata.deletionTimestamp !== null) continue;
        try {
          await this.deps.client.delete(kind, namespace, obj.metadata.name, obj.metadata.uid);
          this.deps.log.info('deleted child no longer wanted', { mcpserver: `${namespace}/${mcp.metadata.name}`, object: `${kind.kind}/${obj.metadata.name}` });
        } catch (err) {
          if (err instanceof NotLeaderError) throw err;
          const e = err instanceof ApiError ? err : new ApiError(0, 'Error', String(err));
          applyErrors.push({ object: `${kind.kind} ${obj.metadata.name}`, reason: e.reason, message: `delete failed: ${e.message}` });
        }
      }
    }
  }

  /** Writes status if it changed; returns how long the write was held back (0: not held). */
  private async writeStatus(key: string, mcp: MCPServer & KubeObject, status: MCPServerStatus): Promise<number> {
    if (statusEqual(mcp.status, status)) return 0;
    const nowMs = this.now().getTime();
    const delay = statusWriteDelay(mcp.status, status, this.lastStatusWrite.get(key), nowMs);
    if (delay > 0) {
      if (mcp.status === undefined && !this.lastStatusWrite.has(key)) this.lastStatusWrite.set(key, nowMs); // the first status's hold starts now
      return delay;
    }
    const namespace = mcp.metadata.namespace as string;
    try {
      const updated = await this.deps.client.patchStatus<MCPServer & KubeObject>(MCPSERVER, namespace, mcp.metadata.name, { status });
      this.lastStatusWrite.set(key, nowMs);
      this.deps.caches.mcpservers.upsert(updated);
      if (mcp.status?.phase !== status.phase) {
        this.deps.log.info('phase changed', {
          mcpserver: `${namespace}/${mcp.metadata.name}`,
          from: mcp.status?.phase ?? '',
          to: status.phase,
          message: status.message,
        });
      }
    } catch (err) {
      // Deleted meanwhile: nothing to report on.
      if (!(err instanceof ApiError && err.code === 404)) throw err;
    }
    return 0;
  }

  /** Drops what is kept about an MCPServer that is gone. */
  forget(request: ObjectKey): void {
    const key = keyString(request);
    this.lastStatusWrite.delete(key);
    this.desiredByKey.delete(key);
  }
}
