import { describe, expect, it } from 'vitest';
import { formatList, renderTemplate, tabwrite } from '../../../src/cli/format/index.js';

const img = {
  ID: 'sha256:abc',
  Repository: 'busybox',
  Tag: 'latest',
  Labels: { b: '2', a: '1' },
  Names: ['one', 'two'],
  Size: 2048,
  Config: { Env: ['A=1', 'B=2'], Cmd: null },
  Empty: [],
  Label(key: string) {
    return (this.Labels as Record<string, string>)[key] ?? '';
  },
};

describe('Go template semantics', () => {
  it.each([
    ['{{.ID}}', 'sha256:abc'],
    ['{{.Config.Env}}', '[A=1 B=2]'],
    ['{{.Labels}}', 'map[a:1 b:2]'],
    ['{{.Missing}}', '<no value>'],
    ['{{.Config.Cmd}}', '<nil>'],
    ['{{json .Config}}', '{"Env":["A=1","B=2"],"Cmd":null}'],
    ['{{json .Names}}', '["one","two"]'],
    ['{{join .Names ","}}', 'one,two'],
    ['{{upper .Tag}} {{lower "ABC"}} {{title "hello world"}}', 'LATEST abc Hello World'],
    ['{{index .Names 1}} {{index .Labels "a"}}', 'two 1'],
    ['{{len .Names}} {{len .Tag}}', '2 6'],
    ['{{printf "%-8s|%5d|%05.1f|%q|%x" .Tag .Size 3.14159 .Tag 255}}', 'latest  | 2048|003.1|"latest"|ff'],
    ['{{printf "%v %s %d" .Names}}', '[one two] %!s(MISSING) %!d(MISSING)'],
    ['{{printf "%d" .Tag}}', '%!d(string=latest)'],
    ['{{range .Names}}<{{.}}>{{end}}', '<one><two>'],
    ['{{range $i, $n := .Names}}{{$i}}={{$n}} {{end}}', '0=one 1=two '],
    ['{{range $k, $v := .Labels}}{{$k}}:{{$v}};{{end}}', 'a:1;b:2;'],
    ['{{range .Empty}}x{{else}}none{{end}}', 'none'],
    ['{{range .Names}}{{if eq . "two"}}{{break}}{{end}}{{.}}{{end}}', 'one'],
    ['{{if .Empty}}a{{else if .Names}}b{{else}}c{{end}}', 'b'],
    ['{{if and .Tag (not .Empty)}}yes{{end}}', 'yes'],
    ['{{with .Config}}{{index .Env 0}}{{end}}', 'A=1'],
    ['{{with .Missing}}x{{else}}y{{end}}', 'y'],
    ['{{$t := .Tag}}{{range .Names}}{{$t}}-{{.}} {{end}}', 'latest-one latest-two '],
    ['{{.Label "b"}}', '2'],
    ['{{(index .Names 0) | upper}}', 'ONE'],
    ['{{.Tag | printf "%s!"}}', 'latest!'],
    ['a  {{- .Tag -}}  b', 'alatestb'],
    ['{{/* a comment */}}x', 'x'],
    ['{{split "a:b" ":"}}', '[a b]'],
    ['{{eq .Size 2048}} {{ne .Tag "x"}} {{lt 1 2}} {{ge 2.5 3}}', 'true true true false'],
    ['{{pad .Tag 1 2}}|{{truncate .Repository 4}}', ' latest  |busy'],
    ['{{print 1 2 "x" 3}}', '1 2x3'],
    ['{{"}}"}}', '}}'],
    ['{{.}}', 'plain'],
  ])('%s', (template, expected) => {
    expect(renderTemplate(template, template === '{{.}}' ? 'plain' : img)).toBe(expected);
  });

  it.each([
    ['{{.ID', 'unclosed action'],
    ['{{if .ID}}x', 'an {{end}} is missing'],
    ['{{end}}', 'unexpected {{end}}'],
    ['{{nosuch .ID}}', 'function "nosuch" not defined'],
    ['{{define "x"}}{{end}}', '{{define}} is not supported'],
    ['{{break}}', 'outside {{range}}'],
    ['{{.Tag.Sub}}', "can't evaluate field Sub"],
    ['{{$nope}}', 'undefined variable: $nope'],
    ['{{index .Names 5}}', 'index out of range'],
  ])('%s is an error, never printed back', (template, message) => {
    expect(() => renderTemplate(template, img)).toThrow(message);
  });
});

describe('tabwriter and table output as the Docker CLI lays it out', () => {
  it('pads columns to the widest cell plus 3, at least 10', () => {
    expect(tabwrite('REPOSITORY\tTAG\tIMAGE ID\nbusybox\tlatest\tabc\n')).toBe(
      'REPOSITORY   TAG       IMAGE ID\nbusybox      latest    abc\n',
    );
  });

  it('aligns only blocks of consecutive lines that share a column', () => {
    expect(tabwrite('a\tb\nno tabs here at all\nlonger cell\tc\n')).toBe('a         b\nno tabs here at all\nlonger cell   c\n');
  });

  it('table templates get a header from the column titles, json one object per line', () => {
    const spec = { table: 'table {{.Repository}}\t{{.Tag}}', headers: { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID' } };
    const rows = [
      { Repository: 'busybox', Tag: 'latest', ID: 'x1' },
      { Repository: 'alpine-with-a-long-name', Tag: '3', ID: 'x2' },
    ];
    expect(formatList(undefined, rows, spec)).toBe(
      'REPOSITORY                TAG\nbusybox                   latest\nalpine-with-a-long-name   3\n',
    );
    expect(formatList('table {{.ID}}\\t{{upper .Tag}}\\t{{json .Tag}}', rows, spec)).toBe(
      'IMAGE ID   TAG       \nx1         LATEST    "latest"\nx2         3         "3"\n',
    );
    expect(formatList('json', rows, spec)).toBe(rows.map((r) => JSON.stringify(r) + '\n').join(''));
    expect(formatList('{{.ID}}:{{.Tag}}', rows, spec)).toBe('x1:latest\nx2:3\n');
  });
});
