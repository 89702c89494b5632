// ToolHive's transparent proxy for bench:peers: built from the Go module proxy at the
// version pinned in bench/peers/launcher/go.mod (with go.sum pinning every module's hash)
// into the test cache, ${MCPFLEET_CACHE:-~/.cache/mcpfleet}/toolhive-<version>/, once;
// later runs reuse the binary. The launcher (bench/peers/launcher/main.go) is mcpfleet's
// own code that calls ToolHive's exported transparent-proxy API the way `thv proxy` does.
//
// Pins forced by the module proxy (it refuses some versions): see the launcher's go.mod.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, ROOT, track, waitForPort, type Running } from '../../test/support/processes.ts';

export const LAUNCHER_DIR = path.join(ROOT, 'bench/peers/launcher');
const BINARY = 'thv-transparent-proxy';

/** The ToolHive version the launcher's go.mod requires. */
export function toolhiveVersion(): string {
  const gomod = readFileSync(path.join(LAUNCHER_DIR, 'go.mod'), 'utf8');
  const match = /^\s*github\.com\/stacklok\/toolhive (v\S+)/m.exec(gomod);
  if (!match?.[1]) throw new Error(`${LAUNCHER_DIR}/go.mod requires no github.com/stacklok/toolhive version`);
  return match[1];
}

/**
 * The launcher binary's path, built first if the cache lacks it (niced, one package at a
 * time: the machine is shared; about 7 minutes on 2 busy cores, seconds with Go's build
 * cache warm). Progress goes to stderr.
 */
export function ensureToolhiveProxy(): string {
  const version = toolhiveVersion();
  const dir = path.join(process.env['MCPFLEET_CACHE'] ?? path.join(os.homedir(), '.cache/mcpfleet'), `toolhive-${version}`);
  const binary = path.join(dir, BINARY);
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  process.stderr.write(`[bench:peers] building ToolHive ${version}'s transparent proxy into ${dir} (go build, nice -n 10)...\n`);
  const started = performance.now();
  const tmp = `${binary}.tmp`;
  const built = spawnSync('nice', ['-n', '10', 'go', 'build', '-p', '1', '-mod=readonly', '-trimpath', '-ldflags', '-s -w', '-o', tmp, '.'], {
    cwd: LAUNCHER_DIR,
    stdio: ['ignore', 'inherit', 'inherit'],
    // The pinned go directive decides the toolchain; GOFLAGS from the environment could
    // change the build (e.g. -mod=mod would rewrite the committed go.sum).
    env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' },
  });
  if (built.error) throw new Error(`go build: ${built.error.message} (is Go on PATH?)`);
  if (built.status !== 0) throw new Error(`go build of ${LAUNCHER_DIR} failed with exit code ${built.status}`);
  renameSync(tmp, binary);
  process.stderr.write(`[bench:peers] built in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  return binary;
}

export interface ToolhiveProxy extends Running {
  mcpUrl: string;
}

/** ToolHive's transparent proxy on a free loopback port, forwarding to `targetUrl`'s origin. */
export async function startToolhiveProxy(binary: string, targetUrl: string): Promise<ToolhiveProxy> {
  const port = await freePort();
  const target = new URL(targetUrl);
  const child = spawn(binary, ['--host', '127.0.0.1', '--port', String(port), '--target-uri', target.origin, '--log-level', 'error'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const running = track(child, port);
  try {
    await waitForPort(port, 15_000, child);
  } catch (err) {
    await running.stop();
    throw new Error(`${(err as Error).message}\n${running.stderr()}`, { cause: err });
  }
  return { ...running, mcpUrl: `http://127.0.0.1:${port}${target.pathname}` };
}
