import type { Handler } from './http.js';

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

/**
 * Method + path routing. `{name}` matches one segment; `{name:*}` matches greedily across slashes
 * (image names carry `/` and `:`, as in `/images/docker.io/library/busybox:latest/json`).
 */
export class Router {
  #routes: Route[] = [];

  add(method: string, path: string, handler: Handler): this {
    const names: string[] = [];
    const source = path.replace(/[.+?^$()[\]\\|]/g, '\\$&').replace(/\{(\w+)(:\*)?\}/g, (_m, name: string, greedy?: string) => {
      names.push(name);
      return greedy ? '(.+)' : '([^/]+)';
    });
    this.#routes.push({ method, pattern: new RegExp(`^${source}/?$`), names, handler });
    return this;
  }

  /** The handler and decoded params, or why not: 404 (no path) / 405 (path, other method). */
  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | 'not-found' | 'bad-method' {
    let pathMatched = false;
    const m = method === 'HEAD' ? ['HEAD', 'GET'] : [method];
    for (const wanted of m) {
      for (const route of this.#routes) {
        const hit = route.pattern.exec(path);
        if (!hit) continue;
        pathMatched = true;
        if (route.method !== wanted) continue;
        const params: Record<string, string> = {};
        route.names.forEach((n, i) => {
          params[n] = decodeURIComponent(hit[i + 1]!);
        });
        return { handler: route.handler, params };
      }
    }
    return pathMatched ? 'bad-method' : 'not-found';
  }
}
