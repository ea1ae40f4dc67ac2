// Kala Server TypeScript SDK: openapi-fetch over the types that openapi-typescript
// generates from openapi.yaml (src/schema.d.ts, committed; `npm run generate`), with
// one helper per credential the server takes.
import createClient, { type Client, type ClientOptions, type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, operations, paths } from './schema.js';
export type KalaClient = Client<paths>;
/** Kylin's error envelope, as every /kylin/api error answer decodes. */
export type KylinError = components['schemas']['KylinError'];
/** A problem document (RFC 9457), as every /api error answer decodes. */
export type Problem = components['schemas']['Problem'];

/** Permission UUIDs (GET /api/permissions). */
export const Permissions = {
  userManagement: '01968c91-8789-7288-a337-f0e398711aac',
  dataManagement: '01968c91-8789-7724-b62d-946b118ce9d6',
} as const satisfies Record<string, components['schemas']['PermissionId']>;

/** Service UUIDs (GET /api/services), to limit an API key to some of them. */
export const Services = {
  users: '01968c91-8789-7b3e-9a41-5c2d0e7f1a01',
  datastores: '01968c91-8789-7c52-8e13-7d4f6a2b3c02',
  query: '01968c91-8789-7d67-b2a5-9e1c8f3d4e03',
} as const satisfies Record<string, components['schemas']['ServiceId']>;

/**
 * How a client proves who it is: one of the five security schemes of openapi.yaml.
 * A client sends exactly one; the server refuses an API key sent both in X-API-Key
 * and in ?key=.
 */
export type Credential =
  | { bearer: string } // a JWT from POST /api/auth/access-token
  | { apiKey: string; in?: 'header' | 'query' } // X-API-Key (default) or ?key=
  | { basic: { username: string; password: string } } // Kylin style, on every request
  | { session: string }; // the JSESSIONID value from POST /kylin/api/user/authentication

export interface KalaClientOptions extends Omit<ClientOptions, 'baseUrl'> {
  /** Sent on every request; leave out for the login calls. */
  credential?: Credential;
}

/** A client for the server at baseUrl (e.g. http://127.0.0.1:8080). */
export function createKalaClient(baseUrl: string, options: KalaClientOptions = {}): KalaClient {
  const { credential, ...rest } = options;
  const client = createClient<paths>({ ...rest, baseUrl: baseUrl.replace(/\/+$/, '') });
  if (credential) client.use(credentialMiddleware(credential));
  return client;
}

/** An openapi-fetch middleware that puts one credential on every request. */
export function credentialMiddleware(credential: Credential): Middleware {
  return {
    onRequest({ request }) {
      if ('bearer' in credential) {
        request.headers.set('Authorization', `Bearer ${credential.bearer}`);
      } else if ('basic' in credential) {
        request.headers.set('Authorization', basicAuth(credential.basic.username, credential.basic.password));
      } else if ('session' in credential) {
        // Outside a browser; in one, the browser sends the HttpOnly cookie itself.
        request.headers.set('Cookie', `JSESSIONID=${credential.session}`);
      } else if (credential.in === 'query') {
        // `key` is a security scheme, not a declared parameter, so it goes on the URL here.
        const url = new URL(request.url);
        url.searchParams.set('key', credential.apiKey);
        return new Request(url, request);
      } else {
        request.headers.set('X-API-Key', credential.apiKey);
      }
      return request;
    },
  };
}

/** `Authorization: Basic …` for the Kylin surface (RFC 7617, UTF-8). */
export function basicAuth(username: string, password: string): string {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return 'Basic ' + btoa(binary);
}

/** Logs in with a password and returns a JWT (POST /api/auth/access-token). */
export async function accessToken(client: KalaClient, username: string, password: string): Promise<string> {
  const { data, error, response } = await client.POST('/api/auth/access-token', { body: { username, password } });
  if (!data) throw new Error(`login failed: ${response.status} ${error?.detail ?? ''}`.trim());
  return data.data.access_token;
}

/**
 * Starts a Kylin session with Basic credentials (POST /kylin/api/user/authentication)
 * and returns the JSESSIONID value, for `{ session }` outside a browser.
 */
export async function kylinSession(client: KalaClient, username: string, password: string): Promise<string> {
  const { data, error, response } = await client.POST('/kylin/api/user/authentication', {
    headers: { Authorization: basicAuth(username, password) },
  });
  if (!data) throw new Error(`Kylin login failed: ${response.status} ${error?.msg ?? ''}`.trim());
  for (const c of response.headers.getSetCookie()) {
    const m = /^JSESSIONID=([^;]+)/.exec(c);
    if (m?.[1]) return m[1];
  }
  throw new Error('Kylin login set no JSESSIONID cookie');
}
