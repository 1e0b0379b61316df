import { TbuildError } from '../errors.js';
import { registryErrorText } from './auth.js';
import { bodyError, type HttpResponse } from './transport.js';

/** Reading a registry's answers: coded errors by status, headers, bodies with a size limit. */

/** The error for a failed registry answer, by status, naming `what` (never a header or secret). */
export async function responseError(res: HttpResponse, what: string, host: string): Promise<TbuildError> {
  const why = await registryErrorText(res);
  const suffix = why ? `: ${why}` : '';
  switch (res.status) {
    case 401:
      return new TbuildError('TB_REGISTRY_UNAUTHORIZED', `unauthorized: ${what}${suffix}`, { details: { host } });
    case 403:
      return new TbuildError('TB_REGISTRY_DENIED', `denied: ${what}${suffix}`, { details: { host } });
    case 404:
      return new TbuildError('TB_REGISTRY_NOT_FOUND', `${what}: not found${suffix}`, { details: { host } });
    default:
      return new TbuildError('TB_REGISTRY_PROTOCOL', `${what}: registry answered ${res.status}${suffix}`, { details: { host, status: res.status } });
  }
}

export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export async function readLimited(res: HttpResponse, limit: number, what: string): Promise<Buffer> {
  const len = Number(header(res, 'content-length'));
  if (Number.isFinite(len) && len > limit) {
    await res.body.dump();
    throw new TbuildError('TB_REGISTRY_PROTOCOL', `${what} is ${len} bytes, more than the ${limit} allowed`);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of res.body) {
      n += (c as Buffer).length;
      if (n > limit) {
        res.body.destroy();
        throw new TbuildError('TB_REGISTRY_PROTOCOL', `${what} is more than the ${limit} bytes allowed`);
      }
      chunks.push(c as Buffer);
    }
  } catch (err) {
    throw bodyError(new URL(res.url).host, err);
  }
  return Buffer.concat(chunks);
}

