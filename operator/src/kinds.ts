// The operator's own kinds: the MCPServer (from the API types) and every kind it creates
// for one. The built-in kinds and their REST paths live in kube/kinds.ts.
import { GROUP, KIND, PLURAL, VERSION } from './api/types.ts';
import { CONFIGMAP, DEPLOYMENT, ROLE, ROLEBINDING, SERVICE, SERVICEACCOUNT, STATEFULSET, kindInfo, type KindInfo } from '../../common/kube/kinds.ts';

export const MCPSERVER: KindInfo = kindInfo(KIND, GROUP, VERSION, PLURAL);

/** Every kind the operator creates for an MCPServer, in the order it applies them. */
export const CHILD_KINDS: readonly KindInfo[] = [SERVICEACCOUNT, ROLE, ROLEBINDING, CONFIGMAP, SERVICE, STATEFULSET, DEPLOYMENT];
