import { TbuildError } from '../errors.js';
import { header, readLimited, responseError } from './responses.js';
import type { HttpRequest, HttpResponse } from './transport.js';
import { MAX_MANIFEST_BYTES } from './media-types.js';
import { apiHost } from './transport.js';
import type { RepositoryRef } from './types.js';

/**
 * Every tag of a repository (`docker pull -a`): `GET /v2/NAME/tags/list`, page after page as the
 * registry's `Link: <…>; rel="next"` leads, in the registry's order.
 */
/** What listing needs of the client: one authorized call. */
interface Caller {
  call(host: string, scopes: readonly string[], req: Omit<HttpRequest, 'url'> & { path: string }): Promise<HttpResponse>;
}

export async function listTags(reg: Caller, repo: RepositoryRef): Promise<string[]> {
  const host = apiHost(repo.domain);
  const name = `${repo.domain}/${repo.path}`;
  const tags: string[] = [];
  const seen = new Set<string>();
  let path: string | undefined = `/v2/${repo.path}/tags/list`;
  while (path) {
    // a registry that sends the same next page again would keep us here for ever
    if (seen.has(path)) throw new TbuildError('TB_REGISTRY_PROTOCOL', `tag list of ${name}: the registry sent the page ${path} twice`);
    seen.add(path);
    const res = await reg.call(host, [`repository:${repo.path}:pull`], { method: 'GET', path, headers: { accept: 'application/json' } });
    if (res.status !== 200) throw await responseError(res, `tag list of ${name}`, host);
    const bytes = await readLimited(res, MAX_MANIFEST_BYTES, `tag list of ${name}`);
    let page: { tags?: unknown };
    try {
      page = JSON.parse(bytes.toString()) as { tags?: unknown };
    } catch {
      throw new TbuildError('TB_REGISTRY_PROTOCOL', `tag list of ${name} is not JSON`);
    }
    // distribution answers `"tags": null` for a repository whose tags were all deleted
    if (page.tags !== null && page.tags !== undefined && !(Array.isArray(page.tags) && page.tags.every((t) => typeof t === 'string'))) {
      throw new TbuildError('TB_REGISTRY_PROTOCOL', `tag list of ${name} has no list of tags`);
    }
    tags.push(...((page.tags as string[] | null | undefined) ?? []));
    path = nextPage(header(res, 'link'), host);
  }
  return tags;
}

/** The `rel="next"` target of a Link header (the distribution API's pagination), if any. */
function nextPage(link: string | undefined, host: string): string | undefined {
  for (const part of link?.split(',') ?? []) {
    const m = /^\s*<([^>]+)>\s*;(.*)$/.exec(part);
    if (!m || !/\brel="?next"?/.test(m[2]!)) continue;
    const url = new URL(m[1]!, `https://${host}`);
    // the registry's Authorization goes to the registry only
    if (url.host !== host) throw new TbuildError('TB_REGISTRY_PROTOCOL', `the tag list's next page is on another host (${url.host})`);
    return `${url.pathname}${url.search}`;
  }
  return undefined;
}
