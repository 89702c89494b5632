// The chart's monitoring objects deliver the labels the alerts and the dashboard are written
// against: proxyrunner targets labelled `mcpserver` (from the pod's app.kubernetes.io/instance),
// and operator series keeping their own `namespace` (the MCPServer's) via honorLabels, so
// mcpfleet_operator_mcpservers and mcpfleet_operator_mcpserver_ready are not renamed to
// exported_namespace. And the rule file and dashboard are the ones the chart ships.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../support/processes.ts';

const template = (name: string): string => readFileSync(path.join(ROOT, 'charts/mcpfleet/templates', name), 'utf8');

describe('the chart scrapes with the labels the PromQL uses', () => {
  it('PodMonitor: mcpserver from the pod label app.kubernetes.io/instance', () => {
    const pm = template('podmonitor.yaml');
    expect(pm).toMatch(/kind: PodMonitor/);
    expect(pm).toMatch(/sourceLabels: \[__meta_kubernetes_pod_label_app_kubernetes_io_instance\]\s*\n\s*targetLabel: mcpserver/);
  });

  it('ServiceMonitor: honorLabels, so the per-MCPServer operator series keep the MCPServer namespace', () => {
    const sm = template('servicemonitor.yaml');
    expect(sm).toMatch(/kind: ServiceMonitor/);
    expect(sm).toMatch(/^\s*honorLabels: true\s*$/m);
  });

  it('PrometheusRule and dashboard ConfigMap are built from charts/mcpfleet/files', () => {
    expect(template('prometheusrule.yaml')).toContain('files/prometheus-rules.yaml');
    expect(template('dashboard.yaml')).toContain('files/dashboard.json');
  });
});
