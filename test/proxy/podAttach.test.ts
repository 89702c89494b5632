// stdio inside Kubernetes, against a real kube-apiserver: the proxyrunner finds the
// backend pod by label through the API, attaches (or says clearly why it cannot), and
// retries. kwok's nodes run no kubelet, so the attach stream itself cannot open here: what
// this proves is discovery, pod selection, the API round trip (the WebSocket upgrade is
// accepted by the real apiserver) and the failure path. The stream itself is carried over
// the channel protocol against a fake apiserver in attachProtocol.test.ts.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ensureBinaries, startControlPlane, type ControlPlane } from '../control-plane/controlPlane.ts';
import { eventually, scrape } from '../support/metrics.ts';
import { INIT_BODY } from '../support/mcpHttp.ts';
import { startProxy, type ProxyProcess } from '../support/processes.ts';

jest.setTimeout(120_000);

let cp: ControlPlane;
const ns = 'attach-test';

const backendPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'mcp-backend-0', namespace: ns, labels: { 'app.kubernetes.io/instance': 'demo' } },
  spec: {
    securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [
      { name: 'mcp', image: 'example.com/mcp-server:1', stdin: true, securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } },
    ],
  },
};

beforeAll(async () => {
  await ensureBinaries();
  cp = await startControlPlane({ withControllers: true, withKwok: true });
  await cp.kubectl(['create', 'namespace', ns]);
}, 3_600_000);

afterAll(async () => {
  await cp?.stop();
});

async function attachProxy(selector: string): Promise<ProxyProcess> {
  return startProxy(['--transport', 'stdio', '--attach-selector', selector, '--attach-namespace', ns], { env: { KUBECONFIG: cp.kubeconfigPath } });
}

describe('stdio over pods/attach', () => {
  it('says which selector matched nothing, and is not ready', async () => {
    const proxy = await attachProxy('app.kubernetes.io/instance=nobody');
    try {
      await eventually(async () =>
        expect(proxy.stderr()).toContain('no running pod with container \\"mcp\\" matches app.kubernetes.io/instance=nobody in attach-test'),
      );
      const ready = await fetch(proxy.metricsUrl.replace('/metrics', '/readyz'));
      expect(ready.status).toBe(503);
      expect(JSON.stringify(await ready.json())).toContain('no running pod');
      const res = await fetch(proxy.mcpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: INIT_BODY,
      });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/Upstream MCP server unavailable: stdio MCP server is not running/);
    } finally {
      await proxy.stop();
    }
  });

  it('finds the running backend pod through the API, tries to attach, and keeps retrying with backoff', async () => {
    await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(backendPod) });
    const wait = await cp.kubectl(['wait', '-n', ns, '--for=condition=Ready', 'pod/mcp-backend-0', '--timeout=60s']);
    expect(wait.code).toBe(0);
    const proxy = await attachProxy('app.kubernetes.io/instance=demo');
    try {
      // The apiserver accepts the attach and forwards it to the node, where kwok runs no
      // kubelet: the stream opens and closes at once, and the proxy reattaches with backoff.
      await eventually(
        async () =>
          expect(proxy.stderr()).toContain(
            '"msg":"attached to stdio server pod","component":"proxyrunner","namespace":"attach-test","pod":"mcp-backend-0","container":"mcp"',
          ),
        30_000,
      );
      await eventually(
        async () =>
          expect(proxy.stderr()).toMatch(/"msg":"stdio server down; restarting","component":"proxyrunner","reason":"attach to pod mcp-backend-0 closed/),
        30_000,
      );
      // Between a reattach and its close the proxy is briefly up: it must be seen down after a restart.
      const metrics = await eventually(async () => {
        const m = await scrape(proxy.metricsUrl);
        expect(m.value('mcpfleet_proxy_upstream_restarts_total')).toBeGreaterThanOrEqual(1);
        expect(m.value('mcpfleet_proxy_upstream_up')).toBe(0);
        return m;
      }, 30_000);
      expect(metrics.value('mcpfleet_proxy_sessions_active')).toBe(0);
      expect(proxy.stderr()).not.toContain('no running pod');
    } finally {
      await proxy.stop();
    }
  });
});
