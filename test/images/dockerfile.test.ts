// The Dockerfile reader the layout test relies on: Docker's rules where our Dockerfile uses
// them, and an error for everything else.
import { describe, expect, test } from '@jest/globals';
import { DockerfileError, ignored, imageConfig, instructions, parseDockerfile, parseDockerignore, words } from './dockerfile.ts';
import { containerProcess, shellCommands, type StageResult } from './layout.ts';

describe('Dockerfile reader', () => {
  test('continuations join lines; comment and blank lines inside them are dropped', () => {
    const text = ['# syntax=docker/dockerfile:1', '# a comment', 'FROM a AS b', 'RUN one \\', '  # inside', '', '  && two', 'ENV A=1 \\', '    B="x y"'].join(
      '\n',
    );
    expect(instructions(text).map((i) => [i.keyword, i.line, i.rest.replace(/\s+/g, ' ')])).toEqual([
      ['FROM', 3, 'a AS b'],
      ['RUN', 4, 'one && two'],
      ['ENV', 8, 'A=1 B="x y"'],
    ]);
  });

  test('quotes, escapes and substitution as Docker does them', () => {
    const vars = (n: string): string | undefined => ({ V: 'val', E: '' })[n];
    expect(words(`a "b c" 'd $V' "$V" \${V} \${E:-dflt} \${V:+alt} x\\ y`, vars)).toEqual(['a', 'b c', 'd $V', 'val', 'val', 'dflt', 'alt', 'x y']);
    expect(words('$V', undefined)).toEqual(['$V']);
  });

  test('global ARGs in FROM, overridden by build args; a bare ARG in a stage takes the global default', () => {
    const text = [
      'ARG BASE=node:24-slim',
      'FROM ${BASE} AS one',
      'ARG BASE',
      'ARG V=dev',
      'LABEL base="${BASE}" v=$V',
      'FROM one AS two',
      'LABEL again="$V"',
    ].join('\n');
    const df = parseDockerfile(text);
    expect(df.stages.map((s) => [s.name, s.from])).toEqual([
      ['one', 'node:24-slim'],
      ['two', 'one'],
    ]);
    expect(Object.fromEntries(imageConfig(df, 'two').labels)).toEqual({ base: 'node:24-slim', v: 'dev', again: '' });
    const over = parseDockerfile(text, { BASE: 'node:24-alpine', V: '1.2.3' });
    expect(over.stages[0]?.from).toBe('node:24-alpine');
    expect(imageConfig(over, 'one', { BASE: 'node:24-alpine', V: '1.2.3' }).labels.get('v')).toBe('1.2.3');
  });

  test('image config is inherited; ENTRYPOINT clears an inherited CMD; WORKDIR resolves relative paths', () => {
    const df = parseDockerfile(
      ['FROM x AS a', 'ENV A=1', 'WORKDIR /app', 'CMD ["c"]', 'USER 1:1', 'FROM a AS b', 'WORKDIR sub', 'ENTRYPOINT ["e"]', 'ENV B=$A'].join('\n'),
    );
    const b = imageConfig(df, 'b');
    expect({ base: b.base, env: Object.fromEntries(b.env), workdir: b.workdir, user: b.user, entrypoint: b.entrypoint, cmd: b.cmd }).toEqual({
      base: 'x',
      env: { A: '1', B: '1' },
      workdir: '/app/sub',
      user: '1:1',
      entrypoint: { json: true, argv: ['e'] },
      cmd: undefined,
    });
    expect(imageConfig(df, 'a').cmd).toEqual({ json: true, argv: ['c'] });
  });

  test.each([
    ['ADD x /x', /ADD is not supported/],
    ['HEALTHCHECK NONE', /HEALTHCHECK is not supported/],
    ['RUN <<EOF\nx\nEOF', /heredocs/],
    ['COPY --parents a b', /--parents is not supported/],
  ])('refuses what it does not understand: %s', (line, message) => {
    expect(() => imageConfig(parseDockerfile(`FROM x AS a\n${line}`), 'a')).toThrow(message);
  });

  test('refuses the escape directive and instructions before FROM', () => {
    expect(() => parseDockerfile('# escape=`\nFROM x')).toThrow(DockerfileError);
    expect(() => parseDockerfile('ENV A=1\nFROM x')).toThrow(/only ARG/);
  });

  test('RUN: plain commands joined by && only', () => {
    expect(shellCommands(`apt-get update && rm -rf /var/lib/apt/lists/* && echo "a && b"`)).toEqual([
      ['apt-get', 'update'],
      ['rm', '-rf', '/var/lib/apt/lists/*'],
      ['echo', 'a && b'],
    ]);
    for (const bad of ['a; b', 'a || b', 'a | b', 'a > f', 'echo $HOME', 'a & b', 'echo `x`']) expect(() => shellCommands(bad)).toThrow(DockerfileError);
  });

  test('the container process: Docker and Kubernetes overrides, tini only when installed', () => {
    const df = parseDockerfile(['FROM x AS a', 'WORKDIR /app', 'ENV E=1', 'USER 7', 'ENTRYPOINT ["tini", "--", "node", "m.js"]', 'CMD ["--x"]'].join('\n'));
    const config = imageConfig(df, 'a');
    const stage = { root: '/r', aptPackages: ['tini'], users: [{ name: 'u', uid: 7, gid: 7, home: '/h' }] } as unknown as StageResult;
    const p = containerProcess(config, stage, {});
    expect(p.argv).toEqual(['tini', '--', 'node', 'm.js', '--x']);
    expect(p.exec).toEqual([process.execPath, 'm.js', '--x']);
    expect(p.cwd).toBe('/r/app');
    expect(p.env).toMatchObject({ E: '1', HOME: '/h' });
    expect(containerProcess(config, stage, { dockerArgs: ['--y'] }).argv).toEqual(['tini', '--', 'node', 'm.js', '--y']);
    expect(containerProcess(config, stage, { args: ['--z'] }).argv).toEqual(['tini', '--', 'node', 'm.js', '--z']);
    expect(containerProcess(config, stage, { command: ['node'], args: ['other.js'] }).argv).toEqual(['node', 'other.js']);
    expect(() => containerProcess(config, { ...stage, aptPackages: [] }, {})).toThrow(/no stage installed/);
    expect(() => containerProcess(config, stage, { command: ['sh', '-c', 'x'] })).toThrow(/only node/);
  });
});

describe('.dockerignore reader', () => {
  const rules = parseDockerignore(['*', '!src', '!keep.json', '**/*.test.ts', 'src/gen/**', '# comment', '!src/gen/ok.ts'].join('\n'));
  test.each([
    ['keep.json', false],
    ['other.json', true],
    ['node_modules/a/index.js', true],
    ['src/a.ts', false],
    ['src/deep/b.ts', false],
    ['src/a.test.ts', true],
    ['src/gen/x.ts', true],
    ['src/gen/ok.ts', false],
  ])('%s ignored: %s', (p, want) => {
    expect(ignored(rules, p)).toBe(want);
  });
});
