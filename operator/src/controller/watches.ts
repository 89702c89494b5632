// What the operator watches and how each event becomes a reconcile key (controller-runtime's
// builder.For/Owns/Watches): the MCPServers themselves, every kind it creates for them
// (owned through a controller owner reference, found by the instance label), and their pods.
// The caches keep only what the operator reads (projections.ts) and index children and pods
// by "namespace/instance", so a reconcile finds an MCPServer's objects without a scan.
//
// Config kinds (configs/registry.ts) have a cache each, and MCPServers are indexed by the configs
// they reference ("<plural>:namespace/name"), so a changed config enqueues exactly the MCPServers
// that use it (and a status reconcile of the config itself).
//
// ConfigMaps that configs or MCPServers name (a CA bundle, an authzConfig ConfigMap) are the
// user's, unlabelled, so every ConfigMap of the watched namespaces is watched, each cached as its
// name and a hash of its data only (slimConfigMap: a CA bundle or policy file is never held). An
// add, a delete or a change of data enqueues the MCPServers that depend on that ConfigMap:
// directly (authzConfig.configMap, indexed) or through a config that reads it (caBundleRef).
//
// Invariant: an update that changes nothing the operator reads (the echo of its own write, or
// a controller's status churn that the projections drop) enqueues nothing; under load those
// are most of the events.
import type { Logger } from '../../../common/log.ts';
import type { MCPServer } from '../api/types.ts';
import { sha256 } from '../builders/canonical.ts';
import type { AnyConfigKind, ConfigObject } from '../configs/configKind.ts';
import { CONFIG_KINDS } from '../configs/registry.ts';
import { configMapIndexKey, refIndexKey, refIndexKeys } from '../configs/resolve.ts';
import { LABEL_INSTANCE, MANAGED_SELECTOR } from '../builders/meta.ts';
import { CHILD_KINDS, MCPSERVER } from '../kinds.ts';
import { Cache } from '../kube/cache.ts';
import type { KubeClient } from '../../../common/kube/client.ts';
import type { EventType } from '../kube/informer.ts';
import { CONFIGMAP, POD, type KubeObject, type ObjectKey } from '../../../common/kube/kinds.ts';
import type { Lane } from '../kube/queue.ts';
import { sameForOperator, slimChild, slimPod, stripMeta } from './projections.ts';

export type McpObject = MCPServer & KubeObject;

export interface Caches {
  mcpservers: Cache<McpObject>;
  /** By plural (statefulsets, deployments, ...), indexed by "namespace/instance". */
  children: ReadonlyMap<string, Cache<KubeObject>>;
  /** Pods of MCPServers, indexed by "namespace/instance". */
  pods: Cache<KubeObject>;
  /** Config kinds by plural (mcpoidcconfigs, ...). */
  configs: ReadonlyMap<string, Cache<ConfigObject>>;
  /** The config kinds these caches serve. */
  configKinds: readonly AnyConfigKind[];
  /** Every ConfigMap of the watched namespaces, as its name and data hash (slimConfigMap). */
  configMaps: Cache<ConfigMapView>;
}

/** A ConfigMap as the operator caches it: identity and a hash of data and binaryData. */
export interface ConfigMapView extends KubeObject {
  dataHash: string;
}

/** Drops a ConfigMap's content, keeping its hash (what the pod annotation and the change check need). */
export function slimConfigMap(obj: KubeObject): ConfigMapView {
  const { data, binaryData } = obj as KubeObject & { data?: unknown; binaryData?: unknown };
  const { name, namespace, uid, resourceVersion } = obj.metadata;
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: {
      name,
      ...(namespace !== undefined && { namespace }),
      ...(uid !== undefined && { uid }),
      ...(resourceVersion !== undefined && { resourceVersion }),
    },
    dataHash: sha256({ data: data ?? {}, binaryData: binaryData ?? {} }),
  };
}

/** The index key of children and pods: "namespace/instance". */
export function instanceIndex(obj: KubeObject): string | undefined {
  const instance = obj.metadata.labels?.[LABEL_INSTANCE];
  return instance === undefined || obj.metadata.namespace === undefined ? undefined : `${obj.metadata.namespace}/${instance}`;
}

/** The MCPServer that controls an object (its controller owner reference), if any. */
export function controllerOf(obj: KubeObject): { name: string; uid: string } | undefined {
  const ref = obj.metadata.ownerReferences?.find((r) => r.controller === true);
  return ref === undefined ? undefined : { name: ref.name, uid: ref.uid };
}

export interface CacheOptions {
  client: KubeClient;
  /** undefined: all namespaces. */
  namespaces: readonly string[] | undefined;
  log: Logger;
  onRestart: (resource: string, reason: string) => void;
  /** Default: every kind of configs/registry.ts. */
  configKinds?: readonly AnyConfigKind[];
}

/** The caches of everything the operator reads: MCPServers, their children, their pods. */
export function createCaches({ client, namespaces, log, onRestart, configKinds = CONFIG_KINDS }: CacheOptions): Caches {
  const children = new Map<string, Cache<KubeObject>>();
  for (const kind of CHILD_KINDS) {
    children.set(
      kind.plural,
      new Cache<KubeObject>(client, namespaces, {
        kind,
        labelSelector: MANAGED_SELECTOR,
        transform: slimChild(kind.kind),
        indexBy: instanceIndex,
        log,
        onRestart,
      }),
    );
  }
  const configs = new Map<string, Cache<ConfigObject>>();
  for (const kind of configKinds) {
    configs.set(kind.info.plural, new Cache<ConfigObject>(client, namespaces, { kind: kind.info, transform: stripMeta, log, onRestart }));
  }
  return {
    mcpservers: new Cache<McpObject>(client, namespaces, {
      kind: MCPSERVER,
      transform: stripMeta,
      indexBy: (m) => refIndexKeys(m, configKinds),
      log,
      onRestart,
    }),
    children,
    pods: new Cache<KubeObject>(client, namespaces, { kind: POD, labelSelector: MANAGED_SELECTOR, transform: slimPod, indexBy: instanceIndex, log, onRestart }),
    configs,
    configKinds,
    configMaps: new Cache<ConfigMapView>(client, namespaces, {
      kind: CONFIGMAP,
      transform: slimConfigMap,
      log,
      onRestart,
    }),
  };
}

/** Every cache, for starting, stopping, sync checks and size metrics. */
export function allCaches(caches: Caches): Cache<KubeObject>[] {
  return [
    caches.mcpservers as unknown as Cache<KubeObject>,
    ...caches.children.values(),
    caches.pods,
    ...([...caches.configs.values()] as unknown as Cache<KubeObject>[]),
    caches.configMaps as unknown as Cache<KubeObject>,
  ];
}

export interface WatchTargets {
  /** Queue a reconcile of this MCPServer. */
  enqueue(key: ObjectKey, lane?: Lane): void;
  /** This MCPServer is gone: drop what is kept about it. */
  forget(key: ObjectKey): void;
  /** Queue a status reconcile of this config. */
  enqueueConfig(kind: AnyConfigKind, key: ObjectKey): void;
}

/** Turns cache events into reconcile keys. */
export function watchEvents(caches: Caches, targets: WatchTargets): void {
  caches.mcpservers.on((type: EventType, obj, old) => {
    if (type === 'update' && old !== undefined) {
      if (old.metadata.resourceVersion === obj.metadata.resourceVersion) return; // the echo of our own write
      const relevant =
        old.metadata.generation !== obj.metadata.generation ||
        old.metadata.deletionTimestamp !== obj.metadata.deletionTimestamp ||
        old.metadata.uid !== obj.metadata.uid;
      if (!relevant) return; // status or metadata only: nothing to do
    }
    if (type === 'delete') {
      targets.forget(keyFor(obj));
      return; // owner references: the garbage collector removes the children
    }
    targets.enqueue(keyFor(obj));
  });
  const irrelevant = (type: EventType, obj: KubeObject, old: KubeObject | undefined): boolean =>
    type === 'update' && old !== undefined && (old.metadata.resourceVersion === obj.metadata.resourceVersion || sameForOperator(old, obj));
  const enqueueOwner = (type: EventType, obj: KubeObject, old: KubeObject | undefined): void => {
    if (irrelevant(type, obj, old)) return;
    const owner = controllerOf(obj);
    const name = owner?.name ?? obj.metadata.labels?.[LABEL_INSTANCE];
    if (name !== undefined && obj.metadata.namespace !== undefined) targets.enqueue({ namespace: obj.metadata.namespace, name }, 'high');
  };
  for (const cache of caches.children.values()) cache.on(enqueueOwner);
  caches.pods.on((type, obj, old) => {
    if (irrelevant(type, obj, old)) return;
    const name = obj.metadata.labels?.[LABEL_INSTANCE];
    if (name !== undefined && obj.metadata.namespace !== undefined) targets.enqueue({ namespace: obj.metadata.namespace, name }, 'high');
  });
  for (const kind of caches.configKinds) {
    caches.configs.get(kind.info.plural)?.on((type, obj, old) => {
      if (type === 'update' && old !== undefined) {
        if (old.metadata.resourceVersion === obj.metadata.resourceVersion) return;
        const relevant =
          old.metadata.generation !== obj.metadata.generation ||
          old.metadata.deletionTimestamp !== obj.metadata.deletionTimestamp ||
          old.metadata.uid !== obj.metadata.uid;
        if (!relevant) return; // its status (our own write) or metadata: nothing uses it
      }
      const namespace = obj.metadata.namespace ?? '';
      if (type !== 'delete') targets.enqueueConfig(kind, { namespace, name: obj.metadata.name });
      // Only the MCPServers that reference this config.
      for (const m of caches.mcpservers.byIndex(refIndexKey(kind, namespace, obj.metadata.name))) targets.enqueue(keyFor(m));
    });
  }
  caches.configMaps.on((type, obj, old) => {
    if (type === 'update' && old !== undefined && old.dataHash === obj.dataHash && old.metadata.uid === obj.metadata.uid) return;
    const namespace = obj.metadata.namespace ?? '';
    const name = obj.metadata.name;
    const keys = new Map<string, ObjectKey>();
    for (const m of caches.mcpservers.byIndex(configMapIndexKey(namespace, name))) keys.set(`${namespace}/${m.metadata.name}`, keyFor(m));
    for (const kind of caches.configKinds) {
      if (kind.configMaps === undefined) continue;
      for (const config of caches.configs.get(kind.info.plural)?.list() ?? []) {
        if (config.metadata.namespace !== namespace || !kind.configMaps(config.spec).includes(name)) continue;
        for (const m of caches.mcpservers.byIndex(refIndexKey(kind, namespace, config.metadata.name))) keys.set(`${namespace}/${m.metadata.name}`, keyFor(m));
      }
    }
    for (const key of keys.values()) targets.enqueue(key);
  });
}

/** Every MCPServer's key (the periodic resync). */
export function* allKeys(caches: Caches): Generator<ObjectKey> {
  for (const m of caches.mcpservers.list()) yield keyFor(m);
}

/** Every config's kind and key (the periodic resync). */
export function* allConfigKeys(caches: Caches): Generator<[AnyConfigKind, ObjectKey]> {
  for (const kind of caches.configKinds) {
    for (const c of caches.configs.get(kind.info.plural)?.list() ?? []) yield [kind, keyFor(c)];
  }
}

/** An MCPServer's key. MCPServers are namespaced: the apiserver always sets the namespace. */
function keyFor(obj: KubeObject): ObjectKey {
  return { namespace: obj.metadata.namespace ?? '', name: obj.metadata.name };
}
