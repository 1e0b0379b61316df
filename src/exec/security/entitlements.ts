import { TbuildError } from '../../errors.js';

/**
 * BuildKit's entitlements: what a build may do beyond the sandbox, granted per build
 * (`tbuild build --allow`) and, for a daemon, also by whoever started it
 * (`--allow-insecure-entitlement`). `network.host` is granted to every build here (RUN
 * --network=host needs no more than the flag), so allowing it changes nothing.
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
