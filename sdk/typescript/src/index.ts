// Kala Server's TypeScript client: openapi-fetch over the types that openapi-typescript
// generates from openapi.yaml (src/schema.ts, `npm run generate`), with a helper per
// credential (./auth.ts) and the two logins.
import createClient, { type Client, type ClientOptions, type Middleware } from 'openapi-fetch';
import { SESSION_COOKIE, basicAuth, type KalaAuth } from './auth.js';
import type { components, paths } from './schema.js';

export {
  SESSION_COOKIE,
  apiKeyHeader,
  apiKeyQuery,
  basicAuth,
  basicAuthorization,
  bearerAuth,
  sessionCookie,
  type KalaAuth,
} from './auth.js';
export type { components, operations, paths } from './schema.js';

type Schemas = components['schemas'];
/** The Kala surface's error body (application/problem+json, RFC 9457). */
export type Problem = Schemas['Problem'];
/** The Kylin surface's error envelope: `code` "999", `msg`, `error_code` (KE-…). */
export type KylinError = Schemas['KylinError'];
/** The Kylin user object, as POST /kylin/api/user/authentication returns it. */
export type KylinUser = Schemas['KylinUser'];

/** Permission UUIDs (GET /api/permissions). */
export const Permissions = {
  userManagement: '01968c91-8789-7288-a337-f0e398711aac',
  dataManagement: '01968c91-8789-7724-b62d-946b118ce9d6',
} as const satisfies Record<string, Schemas['PermissionId']>;

/** Kylin's media type; see createKalaClient. */
export const KYLIN_MEDIA_TYPE = 'application/vnd.apache.kylin-v4-public+json';

export interface KalaClientOptions extends Omit<ClientOptions, 'baseUrl'> {
  /** The server, e.g. `http://127.0.0.1:8080` (a path prefix, behind a proxy, is kept). */
  baseUrl: string;
  /** The credential every call carries: bearerAuth(), apiKeyHeader(), apiKeyQuery(), basicAuth() or sessionCookie(). */
  auth?: KalaAuth;
}

export interface KalaClient extends Client<paths> {
  /**
   * POST /api/auth/access-token: the password for a JWT access token, to use as
   * bearerAuth(token). Throws KalaRequestError (401 for a bad username or password,
   * 429 when rate-limited).
   */
  login(username: string, password: string): Promise<string>;
  /**
   * POST /kylin/api/user/authentication with Basic: starts a Kylin session. Returns the
   * user and, outside browsers, the new session id for sessionCookie(id). In a browser
   * `sessionId` is undefined: the browser keeps the HttpOnly cookie and sends it itself.
   * Throws KalaRequestError.
   */
  startSession(username: string, password: string): Promise<{ user: KylinUser; sessionId: string | undefined }>;
}

/** A call that did not succeed: its HTTP status and the decoded error body. */
export class KalaRequestError extends Error {
  override readonly name = 'KalaRequestError';
  constructor(
    readonly status: number,
    /** Problem on /api, KylinError on /kylin/api (undefined when the body was not JSON). */
    readonly body: Problem | KylinError | undefined,
  ) {
    super(`HTTP ${status}: ${describe(body)}`);
  }
}

function describe(body: Problem | KylinError | undefined): string {
  if (body && 'msg' in body) return body.msg;
  if (body && 'title' in body) return body.detail ? `${body.title}: ${body.detail}` : body.title;
  return 'no error body';
}

/**
 * Asks for Kylin's own media type on /kylin/api calls that name none. The server answers
 * Kylin's public shapes to it, as to no Accept at all, but it keeps POST /query in its
 * envelope, which `Accept: application/json` alone would drop (Kylin 5 answers its
 * JDBC driver so), and responses carry the type Kylin's clients expect.
 */
const kylinAccept: Middleware = {
  onRequest({ request, schemaPath }) {
    if (schemaPath.startsWith('/kylin/api/') && !request.headers.has('Accept')) {
      request.headers.set('Accept', KYLIN_MEDIA_TYPE);
    }
    return request;
  },
};

/** A client for the server at baseUrl, sending `auth` (if given) on every call. */
export function createKalaClient({ baseUrl, auth, ...options }: KalaClientOptions): KalaClient {
  const client = createClient<paths>({ ...options, baseUrl: baseUrl.replace(/\/+$/, '') });
  client.use(kylinAccept);
  if (auth) client.use(auth);

  async function login(username: string, password: string): Promise<string> {
    const { data, error, response } = await client.POST('/api/auth/access-token', {
      body: { username, password },
    });
    if (!data) throw new KalaRequestError(response.status, error);
    return data.data.access_token;
  }

  async function startSession(username: string, password: string) {
    const { data, error, response } = await client.POST('/kylin/api/user/authentication', {
      middleware: [basicAuth(username, password)],
    });
    if (!data) throw new KalaRequestError(response.status, error);
    return { user: data.data, sessionId: sessionIdOf(response) };
  }

  return Object.assign(client, { login, startSession });
}

// Set-Cookie is readable outside browsers only (Node's fetch has getSetCookie).
function sessionIdOf(response: Response): string | undefined {
  const prefix = `${SESSION_COOKIE}=`;
  for (const c of response.headers.getSetCookie?.() ?? []) {
    const pair = c.split(';', 1)[0]?.trim() ?? '';
    if (pair.startsWith(prefix) && pair.length > prefix.length) return pair.slice(prefix.length);
  }
  return undefined;
}
