// The TypeScript SDK package (sdk/typescript, built into its dist/ by `make sdk-ts`)
// against the live server: both surfaces, all five credentials through the package's
// helpers, one data round trip.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Permissions,
  accessToken,
  basicAuth,
  createKalaClient,
  kylinSession,
  type KylinError,
} from '../../sdk/typescript/dist/index.js';
import { adminPassword, baseUrl } from './env.js';

const BASE = baseUrl();
const PASSWORD = adminPassword();
const BASIC = basicAuth('ADMIN', PASSWORD);
const KYLIN_JSON = 'application/vnd.apache.kylin-v4-public+json';

test('SDK: token, API key, Kylin project, Kala table and rows, Kylin query', async (t) => {
  const client = createKalaClient(BASE);

  // 1. Log in as ADMIN for a JWT.
  const login = await client.POST('/api/auth/access-token', {
    body: { username: 'ADMIN', password: PASSWORD },
  });
  assert.equal(login.response.status, 200, `login: ${JSON.stringify(login.error)}`);
  assert.ok(login.data, 'login: no body');
  assert.equal(login.data.data.token_type, 'Bearer');
  assert.ok(login.data.data.expires_in > 0);
  const token = login.data.data.access_token;
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'access_token is not a JWT');
  const bearer = { Authorization: `Bearer ${token}` };

  // The token identifies ADMIN as a user.
  const meUser = await client.GET('/api/auth/me', { headers: bearer });
  assert.equal(meUser.response.status, 200, `me (bearer): ${JSON.stringify(meUser.error)}`);
  assert.equal(meUser.data?.data.kind, 'user');
  assert.equal(meUser.data?.data.user.username, 'ADMIN');

  // 2. An API key with Data Management, valid for one day.
  const validTo = new Date(Date.now() + 24 * 3600 * 1000).toISOString();
  const created = await client.POST('/api/auth/api-key', {
    headers: bearer,
    body: { name: 'e2e sdk', validTo, permissions: [Permissions.dataManagement] },
  });
  assert.equal(created.response.status, 201, `create key: ${JSON.stringify(created.error)}`);
  const key = created.data?.data;
  assert.ok(typeof key === 'string' && key.startsWith('kala_'), `key format: ${key}`);

  // 3. Who am I, with the key in X-API-Key.
  const meHeader = await client.GET('/api/auth/me', { headers: { 'X-API-Key': key } });
  assert.equal(meHeader.response.status, 200, `me (X-API-Key): ${JSON.stringify(meHeader.error)}`);
  assert.equal(meHeader.response.headers.get('cache-control'), 'no-store');
  const me = meHeader.data?.data;
  assert.ok(me);
  assert.equal(me.kind, 'apiKey');
  assert.equal(me.user.username, 'ADMIN');
  assert.equal(me.apiKey?.name, 'e2e sdk');
  assert.ok(key.startsWith(me.apiKey?.prefix ?? '\0'), 'key does not start with its listed prefix');
  assert.deepEqual(me.permissions, [Permissions.dataManagement]);

  // ... and as ?key=, through the package's helper (the contract models apiKeyQuery as
  // a security scheme, not a parameter, so the key goes on the URL in a middleware).
  const queryClient = createKalaClient(BASE, { credential: { apiKey: key, in: 'query' } });
  const meQuery = await queryClient.GET('/api/auth/me');
  assert.equal(meQuery.response.status, 200, `me (?key=): ${JSON.stringify(meQuery.error)}`);
  assert.ok(new URL(meQuery.response.url).searchParams.get('key') === key, 'the key was not sent as ?key=');
  assert.equal(meQuery.response.headers.get('cache-control'), 'no-store');
  assert.equal(meQuery.data?.data.kind, 'apiKey');
  assert.deepEqual(meQuery.data?.data.permissions, [Permissions.dataManagement]);

  // Both ways at once is refused.
  const both = await queryClient.GET('/api/auth/me', { headers: { 'X-API-Key': key } });
  assert.equal(both.response.status, 400, 'a key in both X-API-Key and ?key= must be refused');

  // 4. A project through the Kylin surface, with Basic.
  const project = `e2e_sdk_${Date.now().toString(36)}`;
  const kylin = { Authorization: BASIC, Accept: KYLIN_JSON };
  const proj = await client.POST('/kylin/api/projects', {
    headers: kylin,
    body: { name: project, description: 'made by e2e/tests/sdk.test.ts' },
  });
  assert.equal(proj.response.status, 200, `create project: ${JSON.stringify(proj.error)}`);
  assert.match(proj.response.headers.get('content-type') ?? '', /^application\/vnd\.apache\.kylin-v4-public\+json/);
  assert.equal(proj.data?.code, '000');
  assert.equal(proj.data?.data.name, project);
  assert.equal(proj.data?.data.owner, 'ADMIN');
  t.after(async () => {
    // Leave nothing behind (a project owns a cluster-wide database role).
    const del = await client.DELETE('/kylin/api/projects/{project}', {
      headers: kylin,
      params: { path: { project } },
    });
    assert.equal(del.response.status, 200, `delete project: ${JSON.stringify(del.error)}`);
  });

  // 5. The same object as a Kala datastore, found by name with the bearer token.
  const list = await client.GET('/api/datastores', {
    headers: bearer,
    params: { query: { name: project } },
  });
  assert.equal(list.response.status, 200, `list datastores: ${JSON.stringify(list.error)}`);
  const ds = list.data?.data.find((d) => d.name === project);
  assert.ok(ds, `datastore ${project} not listed: ${JSON.stringify(list.data)}`);
  assert.equal(ds.id, proj.data?.data.uuid, 'project uuid and datastore id differ');

  const table = await client.POST('/api/datastores/{id}/tables', {
    headers: bearer,
    params: { path: { id: ds.id } },
    body: {
      name: 't',
      columns: [
        { name: 'id', type: 'bigint', nullable: false },
        { name: 'label', type: 'text' },
      ],
    },
  });
  assert.equal(table.response.status, 201, `create table: ${JSON.stringify(table.error)}`);
  assert.equal(table.data?.data.name, 't');
  assert.deepEqual(table.data?.data.columns.map((c) => [c.name, c.type]), [['id', 'bigint'], ['label', 'text']]);

  const rows = await client.POST('/api/datastores/{id}/tables/{table}/rows', {
    headers: bearer,
    params: { path: { id: ds.id, table: 't' } },
    body: [{ id: 1, label: 'one' }, { id: '2', label: 'two' }],
  });
  assert.equal(rows.response.status, 201, `insert rows: ${JSON.stringify(rows.error)}`);
  assert.equal(rows.data?.data.inserted, 2);

  // 6. A Kylin query with Basic sees both rows.
  const q = await client.POST('/kylin/api/query', {
    headers: kylin,
    body: { sql: 'SELECT count(*) FROM t', project },
  });
  assert.equal(q.response.status, 200, `query: ${JSON.stringify(q.error)}`);
  assert.equal(q.data?.code, '000');
  const result = q.data?.data;
  assert.ok(result);
  assert.equal(result.isException, false, `query failed: ${result.exceptionMessage}`);
  assert.deepEqual(result.results, [['2']]);
  assert.equal(result.resultRowCount, 1);
  assert.equal(result.columnMetas.length, 1);

  // A Kylin error in its typed shape (KylinError, `data` null).
  const stranger = createKalaClient(BASE, { credential: { basic: { username: 'no_such_user', password: 'Wrong#2026' } } });
  const denied = await stranger.POST('/kylin/api/query', { headers: { Accept: KYLIN_JSON }, body: { sql: 'SELECT 1', project } });
  assert.equal(denied.response.status, 401);
  const ke: KylinError | undefined = denied.error;
  assert.equal(ke?.code, '999');
  assert.equal(ke?.error_code, 'KE-010003208');
  assert.equal(ke?.data, null);

  // The session cookie, outside a browser: log in with Basic once, then the cookie alone.
  const session = await kylinSession(client, 'ADMIN', PASSWORD);
  const bySession = createKalaClient(BASE, { credential: { session } });
  const who = await bySession.GET('/kylin/api/user/authentication');
  assert.equal(who.response.status, 200, `who am I (session): ${JSON.stringify(who.error)}`);
  assert.equal(who.data?.data.username, 'ADMIN');
  // The helpers log in too (the bearer token above came from a raw call).
  assert.match(await accessToken(client, 'ADMIN', PASSWORD), /^[\w-]+\.[\w-]+\.[\w-]+$/);

  // The data is also readable on the Kala surface with the API key.
  const read = await client.GET('/api/datastores/{id}/tables/{table}/rows', {
    headers: { 'X-API-Key': key },
    params: { path: { id: ds.id, table: 't' } },
  });
  assert.equal(read.response.status, 200, `list rows (key): ${JSON.stringify(read.error)}`);
  assert.deepEqual(read.data?.data, [{ id: '1', label: 'one' }, { id: '2', label: 'two' }]);
  assert.equal(read.data?.page.total, 2);
});
