// The first-hour flow with the client @hey-api/openapi-ts generates from
// openapi.yaml (client/, git-ignored; `npm run generate`) against a live server:
// log in, make a key, who-am-I by header and by query, a Kylin Basic query, and a
// Kylin error decoded into its typed shape. Run by `make test-generators` through
// scripts/e2e.sh, which sets KALA_URL and KALA_ADMIN_PASSWORD.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createClient, createConfig } from './client/client';
import type { Auth } from './client/core/auth.gen';
import {
  createAccessToken,
  createApiKey,
  createTable,
  getMe,
  insertRows,
  kylinCreateProject,
  kylinDeleteProject,
  kylinQuery,
  type KylinError,
  type PermissionId,
} from './client';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run through scripts/e2e.sh (make test-generators)`);
  return v;
}

const BASE = env('KALA_URL').replace(/\/+$/, '');
const PASSWORD = env('KALA_ADMIN_PASSWORD');
const DATA_MANAGEMENT: PermissionId = '01968c91-8789-7724-b62d-946b118ce9d6';

type Credential =
  | { bearer: string }
  | { keyHeader: string }
  | { keyQuery: string }
  | { basic: { username: string; password: string } };

// The generated client applies every scheme of an operation for which `auth`
// returns a value, and the server refuses a key in both X-API-Key and ?key=, so
// the callback answers for exactly one scheme.
//
// A key for ?key= goes on the URL through a request interceptor instead: this
// version's client drops a query apiKey when the request has no other query
// parameter (hey-api/hey-api#3852, fixed in releases that need Node.js 22).
function clientWith(cred?: Credential) {
  const auth = (a: Auth): string | undefined => {
    if (!cred) return undefined;
    if ('bearer' in cred) return a.scheme === 'bearer' ? cred.bearer : undefined;
    if ('keyHeader' in cred) return a.type === 'apiKey' && a.name === 'X-API-Key' ? cred.keyHeader : undefined;
    if ('basic' in cred) return a.scheme === 'basic' ? `${cred.basic.username}:${cred.basic.password}` : undefined;
    return undefined;
  };
  const client = createClient(createConfig({ baseUrl: BASE, auth }));
  if (cred && 'keyQuery' in cred) {
    client.interceptors.request.use((request) => {
      const url = new URL(request.url);
      url.searchParams.set('key', cred.keyQuery);
      return new Request(url, request);
    });
  }
  return client;
}

test('@hey-api/openapi-ts client: the first-hour flow', async (t) => {
  // 1. Log in for a JWT.
  const login = await createAccessToken({ client: clientWith(), body: { username: 'ADMIN', password: PASSWORD } });
  assert.equal(login.response.status, 200, `log in: ${JSON.stringify(login.error)}`);
  assert.ok(login.data);
  assert.equal(login.data.data.token_type, 'Bearer');
  const bearer = clientWith({ bearer: login.data.data.access_token });

  // 2. An API key with Data Management.
  const validTo = new Date(Date.now() + 24 * 3600 * 1000).toISOString();
  const created = await createApiKey({
    client: bearer,
    body: { name: 'hey-api flow', validTo, permissions: [DATA_MANAGEMENT] },
  });
  assert.equal(created.response.status, 201, `create key: ${JSON.stringify(created.error)}`);
  const key = created.data?.data;
  assert.ok(key && key.startsWith('kala_'), `key: ${key}`);

  // 3. Who am I, with the key in X-API-Key and then in ?key=.
  for (const [how, cred] of [['X-API-Key', { keyHeader: key }], ['?key=', { keyQuery: key }]] as const) {
    const me = await getMe({ client: clientWith(cred) });
    assert.equal(me.response.status, 200, `who am I by ${how}: ${JSON.stringify(me.error)}`);
    const sentInQuery: boolean = new URL(me.response.url).searchParams.get('key') === key;
    assert.equal(sentInQuery, how === '?key=', `who am I by ${how}: key in the query: ${sentInQuery}`);
    assert.equal(me.data?.data.kind, 'apiKey');
    assert.equal(me.data?.data.user.username, 'ADMIN');
    assert.equal(me.data?.data.apiKey?.name, 'hey-api flow');
    assert.deepEqual(me.data?.data.permissions, [DATA_MANAGEMENT]);
  }

  // 4. A project (Kylin, Basic) with a table and two rows (Kala, bearer).
  const basic = clientWith({ basic: { username: 'ADMIN', password: PASSWORD } });
  const project = `hey_api_flow_${Date.now().toString(36)}`;
  const proj = await kylinCreateProject({ client: basic, body: { name: project, description: 'made by the hey-api flow' } });
  assert.equal(proj.response.status, 200, `create project: ${JSON.stringify(proj.error)}`);
  const id = proj.data?.data.uuid;
  assert.ok(id);
  t.after(async () => {
    const del = await kylinDeleteProject({ client: basic, path: { project } });
    assert.equal(del.response.status, 200, `delete project: ${JSON.stringify(del.error)}`);
    assert.equal(del.data?.data, null);
  });
  const table = await createTable({
    client: bearer,
    path: { id },
    body: { name: 't', columns: [{ name: 'id', type: 'bigint' }, { name: 'label', type: 'text' }] },
  });
  assert.equal(table.response.status, 201, `create table: ${JSON.stringify(table.error)}`);
  const rows = await insertRows({
    client: bearer,
    path: { id, table: 't' },
    body: [{ id: 1, label: 'one' }, { id: 2, label: 'two' }],
  });
  assert.equal(rows.response.status, 201, `insert rows: ${JSON.stringify(rows.error)}`);
  assert.equal(rows.data?.data.inserted, 2);

  // 5. A Kylin query with Basic. The client types the answer as its application/json
  // shape (the bare result), so it asks for that media type.
  const body = { sql: 'SELECT count(*) FROM t', project };
  const q = await kylinQuery({ client: basic, body, headers: { Accept: 'application/json' } });
  assert.equal(q.response.status, 200, `query: ${JSON.stringify(q.error)}`);
  assert.equal(q.data?.isException, false, `query failed: ${q.data?.exceptionMessage}`);
  assert.deepEqual(q.data?.results, [['2']]);

  // 6. A Kylin error in its typed shape: Basic for a user that does not exist.
  const denied = await kylinQuery({ client: clientWith({ basic: { username: 'no_such_user', password: 'Wrong#2026' } }), body });
  assert.equal(denied.response.status, 401);
  const err: KylinError | undefined = denied.error;
  assert.ok(err);
  assert.equal(err.code, '999');
  assert.equal(err.error_code, 'KE-010003208');
  assert.equal(err.data, null);
  assert.match(err.msg, /^KE-010003208: /);
});
