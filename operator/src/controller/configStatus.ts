// A config kind's status as a pure function of the object: the generation it describes, the
// Valid condition (the kind's own checks: ConfigValid, or ConfigInvalid with the problems), and
// the hash of its spec. Written only when it differs from what is stored (no idle writes).
import { CONFIG_INVALID_REASON, CONFIG_VALID_REASON, VALID_CONDITION, type ConfigStatus } from '../api/configStatus.ts';
import type { Condition } from '../api/types.ts';
import type { AnyConfigKind, ConfigObject } from '../configs/configKind.ts';
import { configHash } from '../configs/resolve.ts';

export function computeConfigStatus(kind: AnyConfigKind, config: ConfigObject, now: string): ConfigStatus {
  const generation = config.metadata.generation ?? 0;
  const problems = kind.validate(config.spec);
  const ok = problems.length === 0;
  const before = config.status?.conditions?.find((c) => c.type === VALID_CONDITION);
  const status: Condition['status'] = ok ? 'True' : 'False';
  const valid: Condition = {
    type: VALID_CONDITION,
    status,
    reason: ok ? CONFIG_VALID_REASON : CONFIG_INVALID_REASON,
    message: ok ? `the ${kind.info.kind} is valid` : problems.join('; '),
    lastTransitionTime: before?.status === status ? before.lastTransitionTime : now,
    observedGeneration: generation,
  };
  return { observedGeneration: generation, conditions: [valid], configHash: configHash(config) };
}

/** Whether a stored status already says this (lastTransitionTime is carried over, so exact compare). */
export function configStatusEqual(stored: ConfigStatus | undefined, next: ConfigStatus): boolean {
  const norm = (s: ConfigStatus | undefined): unknown =>
    s === undefined
      ? undefined
      : {
          observedGeneration: s.observedGeneration,
          configHash: s.configHash,
          conditions: (s.conditions ?? []).map((c) => [c.type, c.status, c.reason, c.message, c.lastTransitionTime, c.observedGeneration]),
        };
  return JSON.stringify(norm(stored)) === JSON.stringify(norm(next));
}
