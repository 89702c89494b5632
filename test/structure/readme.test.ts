// The README's configuration tables must name every flag each program accepts: a flag added
// to a table in code and not to the README fails here.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { helpText as proxyHelp } from '../../proxyrunner/src/config.ts';
import { helpText as operatorHelp } from '../../operator/src/config.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const flagsOf = (help: string): string[] => [...help.matchAll(/^ {2}--([a-z-]+)/gm)].map((m) => m[1] as string);

describe('README configuration tables', () => {
  it.each([
    ['proxyrunner', '## Proxyrunner configuration', proxyHelp()],
    ['operator', '### Operator configuration', operatorHelp()],
  ])('the %s section documents every flag', (_name, heading, help) => {
    const start = readme.indexOf(heading);
    expect(start).toBeGreaterThan(-1);
    const end = readme.indexOf('\n## ', start + heading.length);
    const section = readme.slice(start, end === -1 ? undefined : end);
    const flags = flagsOf(help);
    expect(flags.length).toBeGreaterThan(10);
    expect(flags.filter((f) => !section.includes(`\`--${f}`))).toEqual([]);
  });
});
