// Each credential helper of the built package (dist/) puts exactly its credential on
// a request, and nothing else; checked against a stub fetch, no server needed. The
// flow against a live server is e2e/tests/sdk.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { basicAuth, createKalaClient, kylinSession } from '../dist/index.js';

function recorder(answer = () => Response.json({ data: {} })) {
  const seen = [];
  return {
    seen,
    fetch: async (request) => {
      seen.push(request);
      return answer(request);
    },
  };
}

const BASE = 'http://kala.test';
const cases = [
  { credential: { bearer: 'eyJ.x.y' }, header: ['authorization', 'Bearer eyJ.x.y'] },
  { credential: { apiKey: 'kala_k' }, header: ['x-api-key', 'kala_k'] },
  { credential: { apiKey: 'kala_k', in: 'header' }, header: ['x-api-key', 'kala_k'] },
  { credential: { apiKey: 'kala_k', in: 'query' }, query: 'kala_k' },
  { credential: { basic: { username: 'ADMIN', password: 'pw' } }, header: ['authorization', 'Basic QURNSU46cHc='] },
  { credential: { session: 's3ss10n' }, header: ['cookie', 'JSESSIONID=s3ss10n'] },
];

for (const c of cases) {
  test(`credential ${JSON.stringify(c.credential)}`, async () => {
    const r = recorder();
    const client = createKalaClient(`${BASE}/`, { credential: c.credential, fetch: r.fetch });
    await client.GET('/api/auth/me');
    assert.equal(r.seen.length, 1);
    const req = r.seen[0];
    const url = new URL(req.url);
    assert.equal(url.origin + url.pathname, `${BASE}/api/auth/me`);
    assert.equal(url.searchParams.get('key'), c.query ?? null);
    const credentialHeaders = ['authorization', 'x-api-key', 'cookie'].filter((h) => req.headers.has(h));
    if (c.header) {
      assert.deepEqual(credentialHeaders, [c.header[0]]);
      assert.equal(req.headers.get(c.header[0]), c.header[1]);
    } else {
      assert.deepEqual(credentialHeaders, []);
    }
  });
}

test('no credential sends none', async () => {
  const r = recorder();
  await createKalaClient(BASE, { fetch: r.fetch }).GET('/api/auth/me');
  assert.deepEqual(['authorization', 'x-api-key', 'cookie'].filter((h) => r.seen[0].headers.has(h)), []);
  assert.equal(new URL(r.seen[0].url).search, '');
});

test('basicAuth encodes UTF-8 (RFC 7617)', () => {
  assert.equal(basicAuth('Zoë', 'pässwörd#1'), 'Basic ' + Buffer.from('Zoë:pässwörd#1', 'utf8').toString('base64'));
});

test('kylinSession logs in with Basic and returns the JSESSIONID value', async () => {
  const r = recorder(() => {
    const res = Response.json({ code: '000', data: {}, msg: '' });
    res.headers.append('Set-Cookie', 'JSESSIONID=abc123; Path=/; HttpOnly; SameSite=Lax');
    return res;
  });
  const session = await kylinSession(createKalaClient(BASE, { fetch: r.fetch }), 'ADMIN', 'pw');
  assert.equal(session, 'abc123');
  assert.equal(r.seen[0].method, 'POST');
  assert.equal(new URL(r.seen[0].url).pathname, '/kylin/api/user/authentication');
  assert.equal(r.seen[0].headers.get('authorization'), 'Basic QURNSU46cHc=');
});
