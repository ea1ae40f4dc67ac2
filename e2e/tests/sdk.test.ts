// The TypeScript client package (../sdk/typescript), as built by `npm run build` and
// installed here by its package name, against the live server: every credential
// helper, both logins, typed errors on both surfaces, one data round trip.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  KYLIN_MEDIA_TYPE,
  KalaRequestError,
  Permissions,
  apiKeyHeader,
  apiKeyQuery,
  basicAuth,
  bearerAuth,
  createKalaClient,
  sessionCookie,
} from '@kala-server/client';
import { adminPassword, baseUrl } from './env.js';

const BASE = baseUrl();
const PASSWORD = adminPassword();
const anon = createKalaClient({ baseUrl: BASE });
const kylin = createKalaClient({ baseUrl: BASE, auth: basicAuth('ADMIN', PASSWORD) });

let token = '';
let key = '';

before(async () => {
  token = await anon.login('ADMIN', PASSWORD);
  // An API key with Data Management, valid for one day.
  const kala = createKalaClient({ baseUrl: BASE, auth: bearerAuth(token) });
  const created = await kala.POST('/api/auth/api-key', {
    body: { name: 'e2e sdk', validTo: new Date(Date.now() + 86_400_000).toISOString(), permissions: [Permissions.dataManagement] },
  });
  assert.equal(created.response.status, 201, `create key: ${JSON.stringify(created.error)}`);
  key = created.data?.data ?? '';
});

test('login: a JWT for bearerAuth; a bad password is a KalaRequestError with the problem', async () => {
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'login() did not return a JWT');
  const me = await createKalaClient({ baseUrl: BASE, auth: bearerAuth(token) }).GET('/api/auth/me');
  assert.equal(me.response.status, 200, `me (bearer): ${JSON.stringify(me.error)}`);
  assert.equal(me.data?.data.kind, 'user');
  assert.equal(me.data?.data.user.username, 'ADMIN');

  // A name nobody has: no lockout counter of a real user grows.
  const err = await anon.login('sdk_nobody', 'Wr0ng#Password').then(
    () => assert.fail('login with a bad password succeeded'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof KalaRequestError, `not a KalaRequestError: ${String(err)}`);
  assert.equal(err.status, 401);
  assert.ok(err.body && 'title' in err.body, `not a problem: ${JSON.stringify(err.body)}`);
  assert.equal(err.body.status, 401);
});

test('API key: who-am-I by X-API-Key and by ?key=, both at once refused', async () => {
  assert.ok(key.startsWith('kala_'), `key format: ${key}`);

  const byHeader = createKalaClient({ baseUrl: BASE, auth: apiKeyHeader(key) });
  const h = await byHeader.GET('/api/auth/me');
  assert.equal(h.response.status, 200, `me (X-API-Key): ${JSON.stringify(h.error)}`);
  const me = h.data?.data;
  assert.ok(me);
  assert.equal(me.kind, 'apiKey');
  assert.equal(me.user.username, 'ADMIN');
  assert.equal(me.apiKey?.name, 'e2e sdk');
  assert.ok(key.startsWith(me.apiKey?.prefix ?? '\0'), 'key does not start with its listed prefix');
  assert.deepEqual(me.permissions, [Permissions.dataManagement]);

  const byQuery = createKalaClient({ baseUrl: BASE, auth: apiKeyQuery(key) });
  const q = await byQuery.GET('/api/auth/me');
  assert.equal(q.response.status, 200, `me (?key=): ${JSON.stringify(q.error)}`);
  assert.equal(new URL(q.response.url).searchParams.get('key'), key, 'the key was not sent as ?key=');
  assert.equal(q.response.headers.get('cache-control'), 'no-store');
  assert.equal(q.data?.data.kind, 'apiKey');
  assert.deepEqual(q.data?.data.permissions, [Permissions.dataManagement]);

  // One call's middleware adds a second credential: the server refuses the pair.
  const both = await byQuery.GET('/api/auth/me', { middleware: [apiKeyHeader(key)] });
  assert.equal(both.response.status, 400, 'a key in both X-API-Key and ?key= must be refused');
  assert.equal(both.error?.status, 400);
});

test('Kylin: Basic with a UTF-8 password, the session cookie, errors in the KylinError shape', async (t) => {
  // A user whose name and password are not ASCII: Basic must encode UTF-8 (RFC 7617).
  const username = 'sdk_jürgen';
  const password = 'Grüße#2026€';
  const made = await kylin.POST('/kylin/api/user', { body: { username, password } });
  assert.equal(made.response.status, 200, `create user: ${JSON.stringify(made.error)}`);
  assert.match(made.response.headers.get('content-type') ?? '', new RegExp(`^${KYLIN_MEDIA_TYPE.replace(/[.+]/g, '\\$&')}`));
  t.after(async () => {
    const del = await kylin.DELETE('/kylin/api/user/{username}', { params: { path: { username } } });
    assert.equal(del.response.status, 200, `delete user: ${JSON.stringify(del.error)}`);
  });
  const who = await createKalaClient({ baseUrl: BASE, auth: basicAuth(username, password) }).GET('/kylin/api/user/authentication');
  assert.equal(who.response.status, 200, `who-am-I (Basic, UTF-8): ${JSON.stringify(who.error)}`);
  assert.equal(who.data?.data.username, username);

  // A session: log in once with Basic, then the cookie alone.
  const { user, sessionId } = await anon.startSession(username, password);
  assert.equal(user.username, username);
  assert.ok(sessionId, 'startSession() returned no JSESSIONID outside a browser');
  const session = createKalaClient({ baseUrl: BASE, auth: sessionCookie(sessionId) });
  const mine = await session.GET('/kylin/api/user/authentication');
  assert.equal(mine.response.status, 200, `who-am-I (cookie): ${JSON.stringify(mine.error)}`);
  assert.equal(mine.data?.data.username, username);
  const out = await session.POST('/kylin/api/j_spring_security_logout');
  assert.equal(out.response.status, 200, `logout: ${JSON.stringify(out.error)}`);

  // The ended session is refused, in Kylin's error envelope, typed.
  const gone = await session.GET('/kylin/api/user/authentication');
  assert.equal(gone.response.status, 401);
  assert.equal(gone.error?.code, '999');
  assert.match(gone.error?.error_code ?? '', /^KE-\d{9}$/);
  assert.equal(gone.error?.data, null);

  const missing = await kylin.DELETE('/kylin/api/projects/{project}', { params: { path: { project: 'sdk_no_such_project' } } });
  assert.equal(missing.response.status, 404);
  assert.equal(missing.error?.code, '999');
  assert.equal(missing.error?.error_code, 'KE-010001201');
  assert.ok(missing.error?.msg.startsWith('KE-010001201'), `msg: ${missing.error?.msg}`);
});

test('data: a Kylin project with Basic, a table and rows with the token, a Kylin query, rows by key', async (t) => {
  // 1. A project through the Kylin surface, with Basic.
  const project = `e2e_sdk_${Date.now().toString(36)}`;
  const proj = await kylin.POST('/kylin/api/projects', {
    body: { name: project, description: 'made by e2e/tests/sdk.test.ts' },
  });
  assert.equal(proj.response.status, 200, `create project: ${JSON.stringify(proj.error)}`);
  assert.equal(proj.data?.code, '000');
  assert.equal(proj.data?.data.name, project);
  assert.equal(proj.data?.data.owner, 'ADMIN');
  t.after(async () => {
    // Leave nothing behind (a project owns a cluster-wide database role).
    const del = await kylin.DELETE('/kylin/api/projects/{project}', { params: { path: { project } } });
    assert.equal(del.response.status, 200, `delete project: ${JSON.stringify(del.error)}`);
  });

  // 2. The same object as a Kala datastore, found by name with the bearer token.
  const kala = createKalaClient({ baseUrl: BASE, auth: bearerAuth(token) });
  const list = await kala.GET('/api/datastores', { params: { query: { name: project } } });
  assert.equal(list.response.status, 200, `list datastores: ${JSON.stringify(list.error)}`);
  const ds = list.data?.data.find((d) => d.name === project);
  assert.ok(ds, `datastore ${project} not listed: ${JSON.stringify(list.data)}`);
  assert.equal(ds.id, proj.data?.data.uuid, 'project uuid and datastore id differ');

  const table = await kala.POST('/api/datastores/{id}/tables', {
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
  assert.deepEqual(table.data?.data.columns.map((c) => [c.name, c.type]), [['id', 'bigint'], ['label', 'text']]);

  const rows = await kala.POST('/api/datastores/{id}/tables/{table}/rows', {
    params: { path: { id: ds.id, table: 't' } },
    body: [{ id: 1, label: 'one' }, { id: '2', label: 'two' }],
  });
  assert.equal(rows.response.status, 201, `insert rows: ${JSON.stringify(rows.error)}`);
  assert.equal(rows.data?.data.inserted, 2);

  // 3. A Kylin query with Basic sees both rows (in the envelope: the client asks for
  // Kylin's media type).
  // The answer's type is one per media type (bare for application/json); `'code' in`
  // narrows it to the envelope.
  const q = await kylin.POST('/kylin/api/query', { body: { sql: 'SELECT count(*) FROM t', project } });
  assert.equal(q.response.status, 200, `query: ${JSON.stringify(q.error)}`);
  assert.ok(q.data && 'code' in q.data, `query: not the envelope: ${JSON.stringify(q.data)}`);
  assert.equal(q.data.code, '000');
  const result = q.data.data;
  assert.equal(result.isException, false, `query failed: ${result.exceptionMessage}`);
  assert.deepEqual(result.results, [['2']]);
  assert.equal(result.resultRowCount, 1);

  // 4. The rows on the Kala surface with the API key; a Kala error in its problem shape.
  const byKey = createKalaClient({ baseUrl: BASE, auth: apiKeyHeader(key) });
  const read = await byKey.GET('/api/datastores/{id}/tables/{table}/rows', { params: { path: { id: ds.id, table: 't' } } });
  assert.equal(read.response.status, 200, `list rows (key): ${JSON.stringify(read.error)}`);
  assert.deepEqual(read.data?.data, [{ id: '1', label: 'one' }, { id: '2', label: 'two' }]);
  assert.equal(read.data?.page.total, 2);
  const noTable = await byKey.GET('/api/datastores/{id}/tables/{table}', { params: { path: { id: ds.id, table: 'nope' } } });
  assert.equal(noTable.response.status, 404);
  assert.equal(noTable.error?.status, 404);
  assert.ok(noTable.error?.title, 'a problem has a title');
});
