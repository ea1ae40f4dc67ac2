// One helper per security scheme of openapi.yaml. Each returns an openapi-fetch
// middleware that puts the credential on a request, so a credential can be given to
// createKalaClient({ auth }), added later with client.use(), or used for one call
// with `middleware: [...]`. Send one credential per request: the server refuses a key
// in both X-API-Key and ?key=.
import type { Middleware } from 'openapi-fetch';

/** A credential for createKalaClient({ auth }), client.use() or one call's `middleware`. */
export type KalaAuth = Middleware;

const setHeader = (name: string, value: string): KalaAuth => ({
  onRequest({ request }) {
    request.headers.set(name, value);
    return request;
  },
});

/** `bearerAuth`: `Authorization: Bearer <token>`, a token from client.login(). */
export function bearerAuth(token: string): KalaAuth {
  return setHeader('Authorization', `Bearer ${token}`);
}

/** `apiKeyHeader`: the key in the `X-API-Key` header. */
export function apiKeyHeader(key: string): KalaAuth {
  return setHeader('X-API-Key', key);
}

/**
 * `apiKeyQuery`: the key as `?key=`. The contract models it as a security scheme, not
 * a parameter, so generated operations have no `key` query parameter to fill in.
 * The server never logs it and answers with `Cache-Control: no-store`, but URLs end
 * up in proxies and browser history: prefer apiKeyHeader where a header can be set.
 */
export function apiKeyQuery(key: string): KalaAuth {
  return {
    onRequest({ request }) {
      const url = new URL(request.url);
      url.searchParams.set('key', key);
      return new Request(url, request);
    },
  };
}

/**
 * `basicAuth`: `Authorization: Basic …` (RFC 7617, UTF-8), Kylin's own credential,
 * accepted on /kylin/api only.
 */
export function basicAuth(username: string, password: string): KalaAuth {
  return setHeader('Authorization', basicAuthorization(username, password));
}

/** The `Authorization` value for Basic: base64 of the UTF-8 bytes of `user:password`. */
export function basicAuthorization(username: string, password: string): string {
  // RFC 7617: the first colon ends the user-id, so a user-id cannot contain one.
  if (username.includes(':')) throw new TypeError('basicAuth: a username cannot contain ":"');
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  // btoa alone would encode UTF-16 code units (and throw past U+00FF), not UTF-8.
  return `Basic ${btoa(binary)}`;
}

/**
 * `sessionCookie`: `Cookie: JSESSIONID=<id>`, for Node and other non-browser runtimes,
 * with an id from client.startSession(). Browsers forbid scripts to set `Cookie`: there,
 * call client.startSession() (POST /kylin/api/user/authentication with Basic) and the
 * browser keeps the HttpOnly cookie and sends it by itself on later same-origin calls
 * (cross-origin: pass `credentials: 'include'` to createKalaClient).
 */
export function sessionCookie(sessionId: string): KalaAuth {
  return setHeader('Cookie', `${SESSION_COOKIE}=${sessionId}`);
}

/** The session cookie's name, as Kylin's. */
export const SESSION_COOKIE = 'JSESSIONID';
