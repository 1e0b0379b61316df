import { ruleUrl, type Rule, type RuleHit } from '../types.js';
import { expandWords } from '../../shell/index.js';

/** `[ip:]hostPort:containerPort` → its parts; IPv6 addresses keep their colons. */
function splitParts(raw: string): { ip: string; hostPort: string; containerPort: string } {
  const parts = raw.split(':');
  if (parts.length === 1) return { ip: '', hostPort: '', containerPort: parts[0]! };
  if (parts.length === 2) return { ip: '', hostPort: parts[0]!, containerPort: parts[1]! };
  const n = parts.length;
  return { ip: parts.slice(0, n - 2).join(':'), hostPort: parts[n - 2]!, containerPort: parts[n - 1]! };
}

/** The expanded EXPOSE words that parse far enough for BuildKit to lint them, with their parts. */
function ports(ctx: Parameters<Rule['check']>[0]): Array<{ raw: string; ip: string; hostPort: string; proto: string; range: RuleHit['range'] }> {
  const out: Array<{ raw: string; ip: string; hostPort: string; proto: string; range: RuleHit['range'] }> = [];
  for (const sa of ctx.analysis.stages) {
    for (const { ins, scope } of sa.instructions) {
      if (ins.kind !== 'EXPOSE') continue;
      for (const word of ins.ports) {
        let words: string[];
        try {
          words = expandWords(word, (n) => scope.env.get(n), { escape: ctx.df.directives.escape });
        } catch {
          continue;
        }
        for (const raw of words) {
          const { ip, hostPort, containerPort } = splitParts(raw);
          const slash = containerPort.indexOf('/');
          const port = slash < 0 ? containerPort : containerPort.slice(0, slash);
          const proto = slash < 0 ? '' : containerPort.slice(slash + 1);
          // an invalid port spec fails the build before BuildKit lints it
          if (port === '' || !['', 'tcp', 'udp', 'sctp'].includes(proto.toLowerCase())) continue;
          out.push({ raw, ip, hostPort, proto, range: ins.range });
        }
      }
    }
  }
  return out;
}

export const ExposeProtoCasing: Rule = {
  name: 'ExposeProtoCasing',
  description: 'Protocol in EXPOSE instruction should be lowercase',
  url: ruleUrl('expose-proto-casing'),
  defaultSeverity: 'warning',
  check: (ctx) =>
    ports(ctx)
      .filter((p) => p.proto !== p.proto.toLowerCase())
      .map((p) => ({ message: `Defined protocol '${p.raw}' in EXPOSE instruction should be lowercase`, range: p.range })),
};

export const ExposeInvalidFormat: Rule = {
  name: 'ExposeInvalidFormat',
  description: 'IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release',
  url: ruleUrl('expose-invalid-format'),
  defaultSeverity: 'warning',
  check: (ctx) =>
    ports(ctx)
      .filter((p) => p.ip !== '' || p.hostPort !== '')
      .map((p) => ({ message: `EXPOSE instruction should not define an IP address or host-port mapping, found '${p.raw}'`, range: p.range })),
};
