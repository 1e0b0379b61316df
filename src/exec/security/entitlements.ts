import { TbuildError } from '../../errors.js';

/**
 * BuildKit's entitlements: what a build may do beyond the sandbox, granted per build
 * (`tbuild build --allow`) and, for a daemon, also by whoever started it
 * (`--allow-insecure-entitlement`). A daemon allows `network.host` without being told, as
 * dockerd does, but a build still has to ask for it before a `RUN --network=host`; asking for
 * the host network for every step (`--network host`) asks for it too, as buildx does.
 */
export const ENTITLEMENTS = ['security.insecure', 'network.host'] as const;
export type Entitlement = (typeof ENTITLEMENTS)[number];

export function parseEntitlement(name: string): Entitlement {
  if (!(ENTITLEMENTS as readonly string[]).includes(name)) {
    throw new TbuildError('TB_INVALID_ARGUMENT', `invalid entitlement: ${name} (supported: ${ENTITLEMENTS.join(', ')})`);
  }
  return name as Entitlement;
}

/** RUN --security=insecure without the entitlement: fails naming it and how to grant it. */
export function entitlementDenied(name: Entitlement, where: 'build' | 'daemon'): TbuildError {
  const how =
    where === 'build'
      ? `pass --allow ${name} to the build`
      : `start the daemon with --allow-insecure-entitlement ${name}`;
  return new TbuildError('TB_ENTITLEMENT_DENIED', `granting entitlement ${name} is not allowed by ${where === 'build' ? 'the build request' : 'the daemon configuration'}: ${how}`);
}

/** The entitlements a build has: those it asked for, and network.host when all its steps use the host's network. */
export function grantedEntitlements(opts: { allow?: readonly string[]; network?: string }): string[] {
  const out = [...(opts.allow ?? [])];
  if (opts.network === 'host' && !out.includes('network.host')) out.push('network.host');
  return out;
}
