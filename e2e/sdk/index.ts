// Kala Server TypeScript SDK: openapi-fetch over the types that openapi-typescript
// generates from ../openapi.yaml (sdk/schema.d.ts, committed; `npm run generate`).
import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, operations, paths } from './schema.js';
export type KalaClient = Client<paths>;

/** Permission UUIDs (GET /api/permissions). */
export const Permissions = {
  userManagement: '01968c91-8789-7288-a337-f0e398711aac',
  dataManagement: '01968c91-8789-7724-b62d-946b118ce9d6',
} as const satisfies Record<string, components['schemas']['PermissionId']>;

/** A client for the server at baseUrl (e.g. http://127.0.0.1:8080). */
export function createKalaClient(baseUrl: string, options: Omit<ClientOptions, 'baseUrl'> = {}): KalaClient {
  return createClient<paths>({ ...options, baseUrl: baseUrl.replace(/\/+$/, '') });
}

/** `Authorization: Basic …` for the Kylin surface (RFC 7617, UTF-8). */
export function basicAuth(username: string, password: string): string {
  return 'Basic ' + Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
}
