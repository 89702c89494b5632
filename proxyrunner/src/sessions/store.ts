// The fleet's session table (issue 14 item 2): with `--session-storage redis`, every
// proxyrunner replica in front of one streamable-HTTP upstream shares one table in Redis,
// so a session created through any replica is known to all and ends exactly once.
//
// Layout (all keys under `--redis-key-prefix`, P):
//   P:sessions      sorted set, member = session ID, score = last use (ms since epoch).
//                   It is the whole table: one ZADD creates, one ZREM closes, and the
//                   score is the idle clock (the "TTL refreshed on use"; refreshed at most
//                   every `refreshMs` per session and replica, so steady traffic does not
//                   write Redis on every request).
//   P:pins          hash, session ID → its pin (with `--backend-service`: which backend pod
//                   holds the session, and after a replay recovery its upstream session ID),
//                   so every replica routes a session the same way. Written with the
//                   session and removed with it, in the same scripts.
//   P:closed        pub/sub channel: the ID of every session closed, so each replica drops
//                   its local copy at once. The store is up only while the subscription is
//                   confirmed too, and each time it comes up the replica checks its whole
//                   local cache against the table (fleet.ts): a close published while it
//                   was cut off (or before its subscription was back) is never missed.
//   P:gauge-owner   a short lock (SET NX PX) naming the one replica that exports
//                   mcpfleet_proxy_fleet_sessions_active, so a sum() over replicas does
//                   not multiply it.
// Exactly once: create, close and the idle sweep are single Lua scripts; the replica whose
// script reports the change is the one that counts it (created_total, closed_total{reason}),
// so sum() over replicas is exact. The cap is the fleet's: a create beyond `--max-sessions`
// pops the least recently used sessions in the same script (reason `evicted`).
// Redis down: every call rejects at once (no offline queue); callers answer 503 and the
// proxy is not ready until the client has reconnected (ioredis, capped exponential backoff).
import { fs } from '../../../common/builtins.ts';
import { Redis, type RedisOptions } from 'ioredis';

/** What the transparent path needs from a shared table. */
export interface SessionStore {
  /** Adds the session; returns the IDs this call evicted at the fleet cap, or undefined if it existed already. */
  create(id: string, now: number, pin?: string): Promise<string[] | undefined>;
  /** The session's pin ('' if none) if the fleet holds it (and refreshes its idle clock); false if not. */
  touch(id: string, now: number): Promise<string | false>;
  /** Replaces the pin of a session the fleet holds; false if it is gone. */
  repin(id: string, pin: string): Promise<boolean>;
  /**
   * Removes the session; true if this call removed it (and so must count it). `token` names
   * one close: a retry with the same token after a call whose reply was lost (the removal may
   * have happened) is true if that earlier call removed it, so the close is counted once.
   */
  remove(id: string, token: string): Promise<boolean>;
  /** Removes sessions idle since before `deadline`; returns the IDs this call removed. */
  sweep(deadline: number, limit: number): Promise<string[]>;
  /** Sessions in the fleet table. */
  count(): Promise<number>;
  /** For each ID, whether the fleet table holds it (no refresh). */
  existing(ids: readonly string[]): Promise<boolean[]>;
  /** True while this replica holds (or just took) the gauge-owner lock. */
  ownGauge(ttlMs: number): Promise<boolean>;
  /** Called with each session ID closed anywhere in the fleet. */
  onClosed(listener: (id: string) => void): void;
  /** Connected and answering. */
  readonly up: boolean;
  onStateChange(listener: (up: boolean) => void): void;
  shutdown(): Promise<void>;
}

export interface RedisStoreOptions {
  address: string;
  db: number;
  keyPrefix: string;
  passwordFile: string | undefined;
  /** The password itself (MCPFLEET_REDIS_PASSWORD); wins over passwordFile. */
  password?: string | undefined;
  maxSessions: number;
  replicaId: string;
  /** Every Redis command's deadline. */
  commandTimeoutMs?: number;
}

// KEYS[1] = table, KEYS[2] = pins; ARGV = id, now, max, pin. Returns -1 if present, else the evicted IDs.
const CREATE = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return -1 end
local evicted = {}
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3]) + 1
if over > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[1], over)
  for i = 1, #popped, 2 do
    evicted[#evicted + 1] = popped[i]
    redis.call('HDEL', KEYS[2], popped[i])
  end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[4]) end
return evicted`;

// KEYS[1] = table, KEYS[2] = pins; ARGV = id, now. 0 if absent, else the pin ('' if none; score refreshed).
const TOUCH = `
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
return redis.call('HGET', KEYS[2], ARGV[1]) or ''`;

// KEYS[1] = table, KEYS[2] = pins, KEYS[3] = the session's tombstone; ARGV = id, token, ttl ms.
// 1 if this close removed it: now, or in an earlier call with the same token whose reply was
// lost (the tombstone, kept for REMOVED_TTL_MS, remembers which close removed the session).
const REMOVE = `
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
  if redis.call('GET', KEYS[3]) == ARGV[2] then return 1 end
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
return 1`;

/**
 * How long a removal remembers its close token: a close whose reply was lost is retried when
 * the store is back, and counted if the retry comes within this time (a longer outage leaves
 * that one close uncounted, never counted twice). Redis holds one small key per session closed
 * in the last minute.
 */
export const REMOVED_TTL_MS = 60_000;

// KEYS[1] = table, KEYS[2] = pins; ARGV = id, pin. 1 if the session is there (pin replaced).
const REPIN = `
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1`;

// KEYS[1] = table, KEYS[2] = pins; ARGV = deadline, limit. The IDs removed.
const SWEEP = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
return ids`;

// KEYS[1] = lock; ARGV = owner, ttl. 1 if the caller holds it afterwards.
const OWN = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;

/** host:port (IPv6 in brackets) → parts; a clear error otherwise. */
export function parseRedisAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port < 1 || port > 65535) throw new Error(`--redis-address must be host:port, got ${JSON.stringify(address)}`);
  return { host: (match[1] ?? match[2]) as string, port };
}

/** Reconnect backoff: 100 ms doubling to 5 s (ioredis calls it with the attempt number). */
export const reconnectDelayMs = (attempt: number): number => Math.min(5_000, 100 * 2 ** Math.min(attempt - 1, 6));

export class RedisSessionStore implements SessionStore {
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #table: string;
  readonly #channel: string;
  readonly #pins: string;
  readonly #gaugeLock: string;
  /** Prefix of the tombstone keys REMOVE writes (one per session closed in the last minute). */
  readonly #removedPrefix: string;
  readonly #options: RedisStoreOptions;
  readonly #closedListeners: ((id: string) => void)[] = [];
  readonly #stateListeners: ((up: boolean) => void)[] = [];
  #up = false;
  /** The command connection is ready. */
  #ready = false;
  /** The subscriber's subscription to the close channel is confirmed. */
  #subscribed = false;

  constructor(options: RedisStoreOptions) {
    this.#options = options;
    const { host, port } = parseRedisAddress(options.address);
    const password = options.password ?? (options.passwordFile ? fs.readFileSync(options.passwordFile, 'utf8').trim() : undefined);
    const common: RedisOptions = {
      host,
      port,
      db: options.db,
      ...(password ? { password } : {}),
      connectionName: `mcpfleet-proxy-${options.replicaId}`,
      enableOfflineQueue: false, // down means an immediate error, never a queue that grows
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 2_000,
      connectTimeout: 2_000,
      retryStrategy: reconnectDelayMs,
      lazyConnect: true,
    };
    this.#table = `${options.keyPrefix}:sessions`;
    this.#channel = `${options.keyPrefix}:closed`;
    this.#pins = `${options.keyPrefix}:pins`;
    this.#gaugeLock = `${options.keyPrefix}:gauge-owner`;
    this.#removedPrefix = `${options.keyPrefix}:removed:`;
    this.#redis = new Redis(common);
    this.#subscriber = new Redis({ ...common, connectionName: `mcpfleet-proxy-${options.replicaId}-sub`, enableOfflineQueue: true, commandTimeout: undefined });
    this.#redis.on('ready', () => {
      this.#ready = true;
      this.#update();
    });
    this.#redis.on('close', () => {
      this.#ready = false;
      this.#update();
    });
    this.#redis.on('error', () => {}); // reported through `up` and the callers' errors
    // Up needs the subscription too: closes published before it is back would be missed.
    // ioredis resubscribes on reconnect; subscribing again waits for Redis's confirmation.
    this.#subscriber.on('ready', () => {
      this.#subscriber.subscribe(this.#channel).then(
        () => {
          this.#subscribed = true;
          this.#update();
        },
        () => {}, // the connection dropped again; the next 'ready' retries
      );
    });
    this.#subscriber.on('close', () => {
      this.#subscribed = false;
      this.#update();
    });
    this.#subscriber.on('error', () => {});
    this.#subscriber.on('message', (_channel: string, id: string) => {
      for (const listener of this.#closedListeners) listener(id);
    });
  }

  /** Connects both clients; resolves once subscribed, or rejects (the caller may go on: ioredis keeps retrying). */
  async start(): Promise<void> {
    this.#redis.connect().catch(() => {});
    await this.#subscriber.connect().catch(() => {});
    await this.#subscriber.subscribe(this.#channel);
    this.#subscribed = true;
    this.#update();
  }

  get up(): boolean {
    return this.#up;
  }

  #update(): void {
    const up = this.#ready && this.#subscribed;
    if (this.#up === up) return;
    this.#up = up;
    for (const listener of this.#stateListeners) listener(up);
  }

  onStateChange(listener: (up: boolean) => void): void {
    this.#stateListeners.push(listener);
  }

  onClosed(listener: (id: string) => void): void {
    this.#closedListeners.push(listener);
  }

  async create(id: string, now: number, pin = ''): Promise<string[] | undefined> {
    const result = (await this.#redis.eval(CREATE, 2, this.#table, this.#pins, id, now, this.#options.maxSessions, pin)) as number | string[];
    if (result === -1) return undefined;
    const evicted = result as string[];
    for (const gone of evicted) await this.#redis.publish(this.#channel, gone);
    return evicted;
  }

  async touch(id: string, now: number): Promise<string | false> {
    const result = (await this.#redis.eval(TOUCH, 2, this.#table, this.#pins, id, now)) as number | string;
    return typeof result === 'string' ? result : false;
  }

  async repin(id: string, pin: string): Promise<boolean> {
    return (await this.#redis.eval(REPIN, 2, this.#table, this.#pins, id, pin)) === 1;
  }

  async remove(id: string, token: string): Promise<boolean> {
    const removed = (await this.#redis.eval(REMOVE, 3, this.#table, this.#pins, `${this.#removedPrefix}${id}`, id, token, REMOVED_TTL_MS)) === 1;
    if (removed) await this.#redis.publish(this.#channel, id);
    return removed;
  }

  async sweep(deadline: number, limit: number): Promise<string[]> {
    const ids = (await this.#redis.eval(SWEEP, 2, this.#table, this.#pins, deadline, limit)) as string[];
    for (const id of ids) await this.#redis.publish(this.#channel, id);
    return ids;
  }

  async count(): Promise<number> {
    return this.#redis.zcard(this.#table);
  }

  async existing(ids: readonly string[]): Promise<boolean[]> {
    if (ids.length === 0) return [];
    const scores = await this.#redis.zmscore(this.#table, ...ids);
    return scores.map((score) => score !== null);
  }

  async ownGauge(ttlMs: number): Promise<boolean> {
    return (await this.#redis.eval(OWN, 1, this.#gaugeLock, this.#options.replicaId, ttlMs)) === 1;
  }

  async shutdown(): Promise<void> {
    this.#redis.disconnect();
    this.#subscriber.disconnect();
  }
}
