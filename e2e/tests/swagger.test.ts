// Swagger UI at /docs in a real browser (Debian's chromium through playwright-core):
// the page loads under its Content-Security-Policy, the Authorize dialog works for
// basicAuth and bearerAuth, and "Try it out" calls reach the server and come back 200.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { adminPassword, baseUrl, outDir } from './env.js';

const CHROMIUM = process.env.KALA_E2E_CHROMIUM || '/usr/bin/chromium';
const BASE = baseUrl();
const PASSWORD = adminPassword();
const OUT = outDir();
const TIMEOUT = 60_000; // per action; generous, as CI machines may be busy

let profile = '';
let context: BrowserContext;
let page: Page;
const consoleLines: string[] = []; // every console message, for failure reports
const cspViolations: string[] = []; // console errors about CSP, and securitypolicyviolation events
const pageErrors: string[] = []; // uncaught exceptions in the page

before(async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `no browser at ${CHROMIUM}: install Debian's chromium (make e2e-deps); the browser test does not skip`,
  );
  profile = mkdtempSync(join(tmpdir(), 'kala-e2e-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(TIMEOUT);
  // Record CSP violations as the page sees them, from before any script runs.
  await context.addInitScript(() => {
    const w = window as unknown as { __csp: string[] };
    w.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      w.__csp.push(`${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => {
    const line = `[${m.type()}] ${m.text()}`;
    consoleLines.push(line);
    if (/content[ -]security[ -]policy/i.test(m.text())) cspViolations.push(line);
  });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** Opens the Authorize dialog from the top bar and returns it. */
async function openAuthorize(): Promise<Locator> {
  await page.locator('.scheme-container .auth-wrapper .btn.authorize').click();
  const dialog = page.locator('.dialog-ux .modal-ux');
  await dialog.waitFor({ state: 'visible' });
  return dialog;
}

/** The dialog's form for one security scheme. */
function schemeForm(dialog: Locator, scheme: string): Locator {
  return dialog.locator('.auth-container').filter({ has: page.locator('h4 code', { hasText: new RegExp(`^${scheme}$`) }) });
}

/** Opens the dialog, logs out of every scheme, fills one scheme's form and authorizes it. */
async function authorizeOnly(scheme: string, fill: (form: Locator) => Promise<void>): Promise<void> {
  const dialog = await openAuthorize();
  const logout = dialog.locator('button', { hasText: 'Logout' });
  while ((await logout.count()) > 0) await logout.first().click();
  const form = schemeForm(dialog, scheme);
  await fill(form);
  await form.locator('button.authorize').click();
  await form.locator('button', { hasText: 'Logout' }).waitFor();
  assert.match(await form.innerText(), /Authorized/, `${scheme} shows as authorized`);
  await closeAuthorize(dialog);
}

async function closeAuthorize(dialog: Locator): Promise<void> {
  await dialog.locator('.modal-ux-header .close-modal').click();
  await dialog.waitFor({ state: 'detached' });
}

/**
 * Expands an operation, presses "Try it out", empties the named parameters (Swagger UI
 * fills them with the contract's examples) and presses "Execute". Screenshots the
 * operation down to the server's response into e2e/out/<shot> and returns that response.
 */
async function tryItOut(
  opblockId: string,
  shot: string,
  clear: string[] = [],
): Promise<{ status: string; body: string; curl: string }> {
  const op = page.locator(`#${opblockId}`);
  await op.scrollIntoViewIfNeeded();
  if (!(await op.evaluate((el) => el.classList.contains('is-open')))) {
    await op.locator('.opblock-summary').first().click();
  }
  const tryOut = op.locator('.try-out__btn');
  if ((await tryOut.innerText()).trim() === 'Try it out') await tryOut.click();
  // A previous run's response stays until cleared.
  const clearBtn = op.locator('.btn-clear');
  if ((await clearBtn.count()) > 0) await clearBtn.click();
  for (const name of clear) {
    const input = op.locator(`tr[data-param-name="${name}"] input`);
    await input.fill('');
    assert.equal(await input.inputValue(), '', `parameter ${name} not cleared`);
  }
  await op.locator('.btn.execute').click();
  const live = op.locator('.responses-wrapper .live-responses-table');
  const statusCell = live.locator('.response .response-col_status');
  await statusCell.waitFor({ state: 'visible' });
  const status = (await statusCell.innerText()).trim();
  const body = await live.locator('.response .response-col_description').innerText();
  const curl = await op.locator('.curl-command').innerText();
  await live.scrollIntoViewIfNeeded();
  const top = await op.boundingBox();
  const bottom = await live.boundingBox();
  assert.ok(top && bottom);
  const scrollY = await page.evaluate(() => window.scrollY);
  await page.screenshot({
    path: join(OUT, shot),
    fullPage: true,
    clip: { x: top.x, y: top.y + scrollY, width: top.width, height: bottom.y + bottom.height - top.y + 8 },
  });
  return { status, body, curl };
}

/** ADMIN's JWT, from POST /api/auth/access-token outside the browser. */
async function accessToken(): Promise<string> {
  const login = await fetch(`${BASE}/api/auth/access-token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'ADMIN', password: PASSWORD }),
  });
  assert.equal(login.status, 200, 'POST /api/auth/access-token');
  const token = ((await login.json()) as { data: { access_token: string } }).data.access_token;
  assert.ok(token, 'no access_token');
  return token;
}

function diagnostics(): string {
  return `\nconsole:\n  ${consoleLines.join('\n  ') || '(none)'}\npage errors:\n  ${pageErrors.join('\n  ') || '(none)'}`;
}

test('Swagger UI: basicAuth, then bearerAuth, through Authorize and Try it out', async () => {
  // Load.
  const res = await page.goto(`${BASE}/docs/`);
  assert.equal(res?.status(), 200, 'GET /docs/');
  assert.match(res?.headers()['content-security-policy'] ?? '', /default-src 'self'/, '/docs/ carries its CSP');
  await page.locator('.information-container .title', { hasText: 'Kala Server' }).waitFor();
  await page.locator('#operations-kylin-users-kylinListUsers').waitFor();
  const spec = (await (await fetch(`${BASE}/openapi.json`)).json()) as { paths: Record<string, object> };
  const methods = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
  const operations = Object.values(spec.paths).flatMap((item) => Object.keys(item).filter((k) => methods.has(k)));
  assert.equal(await page.locator('.opblock').count(), operations.length, 'every operation of /openapi.json is listed');

  // The login example is an example user: pressing Execute on it cannot lock ADMIN.
  const loginOp = page.locator('#operations-auth-createAccessToken');
  await loginOp.locator('.opblock-summary').first().click();
  await loginOp.locator('.try-out__btn').click();
  const example = await loginOp.locator('textarea.body-param__text').inputValue();
  assert.match(example, /"username":\s*"Analyst_Anna"/, `login example: ${example}`);
  await loginOp.locator('.try-out__btn').click(); // Cancel
  await loginOp.locator('.opblock-summary').first().click();

  // Authorize with basicAuth (ADMIN / password).
  let dialog = await openAuthorize();
  const basic = schemeForm(dialog, 'basicAuth');
  await basic.locator('#auth-basic-username').fill('ADMIN');
  await basic.locator('#auth-basic-password').fill(PASSWORD);
  await basic.locator('button.authorize').click();
  await basic.locator('button', { hasText: 'Logout' }).waitFor();
  assert.match(await basic.innerText(), /Authorized/, 'basicAuth shows as authorized');
  await closeAuthorize(dialog);

  // GET /kylin/api/user with Basic.
  // (The contract's example for the `name` filter would list only names containing "ana".)
  const users = await tryItOut('operations-kylin-users-kylinListUsers', 'swagger-basic.png', ['name']);
  assert.equal(users.status, '200', `GET /kylin/api/user: ${users.body}${diagnostics()}`);
  assert.match(users.body, /"username":\s*"ADMIN"/, `no ADMIN in the users list: ${users.body}`);
  assert.match(users.body, /"code":\s*"000"/);
  assert.doesNotMatch(users.curl, /[?&]name=/, 'the name filter was sent');
  assert.match(users.curl, /Authorization: Basic /, 'the request carried Basic credentials');
  assert.match(users.curl, /X-Requested-With: XMLHttpRequest/, 'kala-init.js marks requests as XHR');

  // A JWT, outside the page.
  const token = await accessToken();

  // Log out of basicAuth, authorize bearerAuth with the token.
  dialog = await openAuthorize();
  await schemeForm(dialog, 'basicAuth').locator('button', { hasText: 'Logout' }).click();
  await schemeForm(dialog, 'basicAuth').locator('#auth-basic-username').waitFor();
  const bearer = schemeForm(dialog, 'bearerAuth');
  await bearer.locator('#auth-bearer-value').fill(token);
  await bearer.locator('button.authorize').click();
  await bearer.locator('button', { hasText: 'Logout' }).waitFor();
  assert.match(await bearer.innerText(), /Authorized/, 'bearerAuth shows as authorized');
  await closeAuthorize(dialog);

  // GET /api/auth/me with the bearer token only.
  const me = await tryItOut('operations-auth-getMe', 'swagger-bearer.png');
  assert.equal(me.status, '200', `GET /api/auth/me: ${me.body}${diagnostics()}`);
  assert.match(me.body, /"username":\s*"ADMIN"/, `no ADMIN in /api/auth/me: ${me.body}`);
  assert.match(me.body, /"kind":\s*"user"/);
  assert.match(me.curl, /Authorization: Bearer /, 'the request carried the bearer token');
  assert.doesNotMatch(me.curl, /Authorization: Basic /, 'Basic was logged out');

  // Nothing was blocked by the page's Content-Security-Policy.
  const fromPage = await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
  assert.deepEqual([...cspViolations, ...fromPage], [], `CSP violations on /docs/${diagnostics()}`);
  assert.deepEqual(pageErrors, [], `uncaught errors on /docs/${diagnostics()}`);
});

test('Swagger UI: apiKeyHeader, apiKeyQuery, and a session from the Kylin login', async () => {
  // A fresh page: Swagger UI forgets its authorizations on reload; the browser's
  // cookie jar is emptied so no session is left from elsewhere.
  await context.clearCookies();
  await page.goto(`${BASE}/docs/`);
  await page.locator('#operations-auth-getMe').waitFor();

  const token = await accessToken();
  const created = await fetch(`${BASE}/api/auth/api-key`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ name: 'e2e swagger', validTo: new Date(Date.now() + 86_400_000).toISOString() }),
  });
  assert.equal(created.status, 201, 'POST /api/auth/api-key');
  const key = ((await created.json()) as { data: string }).data;

  // The key in X-API-Key.
  await authorizeOnly('apiKeyHeader', (f) => f.locator('input').fill(key));
  let me = await tryItOut('operations-auth-getMe', 'swagger-apikey-header.png');
  assert.equal(me.status, '200', `GET /api/auth/me (X-API-Key): ${me.body}${diagnostics()}`);
  assert.match(me.body, /"kind":\s*"apiKey"/);
  assert.match(me.curl, /X-API-Key: kala_/);

  // The key as ?key=.
  await authorizeOnly('apiKeyQuery', (f) => f.locator('input').fill(key));
  me = await tryItOut('operations-auth-getMe', 'swagger-apikey-query.png');
  assert.equal(me.status, '200', `GET /api/auth/me (?key=): ${me.body}${diagnostics()}`);
  assert.match(me.body, /"kind":\s*"apiKey"/);
  assert.match(me.curl, /\/api\/auth\/me\?key=kala_/);
  assert.doesNotMatch(me.curl, /X-API-Key/);

  // Both key schemes at once, as the dialog invites: the page sends the key once, in
  // X-API-Key (the server refuses a key sent both ways).
  const both = await openAuthorize();
  const header = schemeForm(both, 'apiKeyHeader');
  await header.locator('input').fill(key);
  await header.locator('button.authorize').click();
  await header.locator('button', { hasText: 'Logout' }).waitFor();
  assert.match(await schemeForm(both, 'apiKeyQuery').innerText(), /Authorized/, 'apiKeyQuery is still authorized');
  await closeAuthorize(both);
  me = await tryItOut('operations-auth-getMe', 'swagger-apikey-both.png');
  assert.equal(me.status, '200', `GET /api/auth/me (both key schemes): ${me.body}${diagnostics()}`);
  assert.match(me.body, /"kind":\s*"apiKey"/);
  assert.match(me.curl, /X-API-Key: kala_/);
  assert.doesNotMatch(me.curl, /[?&]key=/, 'the key also went in the query');

  // Kylin login with Basic sets JSESSIONID in the browser ...
  await authorizeOnly('basicAuth', async (f) => {
    await f.locator('#auth-basic-username').fill('ADMIN');
    await f.locator('#auth-basic-password').fill(PASSWORD);
  });
  const login = await tryItOut('operations-kylin-auth-kylinLogin', 'swagger-kylin-login.png');
  assert.equal(login.status, '200', `POST /kylin/api/user/authentication: ${login.body}${diagnostics()}`);
  assert.match(login.body, /"username":\s*"ADMIN"/);
  const session = (await context.cookies(BASE)).find((c) => c.name === 'JSESSIONID');
  assert.ok(session, 'no JSESSIONID cookie after the Kylin login');
  assert.equal(session.httpOnly, true);

  // ... and later Kylin calls need nothing else. The sessionCookie scheme is
  // authorized with that value as a user would; the browser itself sends the cookie.
  await authorizeOnly('sessionCookie', (f) => f.locator('input').fill(session.value));
  const users = await tryItOut('operations-kylin-users-kylinListUsers', 'swagger-session.png', ['name']);
  assert.equal(users.status, '200', `GET /kylin/api/user (session): ${users.body}${diagnostics()}`);
  assert.match(users.body, /"username":\s*"ADMIN"/);
  assert.doesNotMatch(users.curl, /Authorization:/, 'no other credential was sent');

  const fromPage = await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
  assert.deepEqual([...cspViolations, ...fromPage], [], `CSP violations on /docs/${diagnostics()}`);
  assert.deepEqual(pageErrors, [], `uncaught errors on /docs/${diagnostics()}`);
});
