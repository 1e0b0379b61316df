import type { EngineParts } from '../engine.js';
import type { SecretSource } from '../build/types.js';
import type { BuildContext } from '../session/types.js';

/** What ops need from the build they run in. */
export interface OpEnv {
  parts: EngineParts;
  context: BuildContext;
  secrets: Record<string, SecretSource>;
  /** Proxy build args (`HTTP_PROXY=…`) every RUN gets unless it sets them itself; outside all keys. */
  proxyEnv: string[];
  /** Scratch space for this build (mount points, secret files): `<root>/tmp/b-<id>`, removed at the end. */
  tmp: string;
}
