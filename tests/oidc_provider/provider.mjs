// A real OpenID Connect provider (panva's certified `oidc-provider`) for Casefile's sign-in tests.
// Test-only: never shipped, never reachable from anything but 127.0.0.1.
//
//   node provider.mjs            listens on 127.0.0.1:<free port>, prints `listening <issuer>`
//
// Environment: CLIENT_ID, CLIENT_SECRET, REDIRECT_URIS (comma-separated; the relying party's
// callback URLs, matched exactly as a real IdP does).
//
// What a company IdP has, it has: discovery, a JWKS, the authorization code flow with PKCE
// (required), a login page with a password, groups in a `groups` claim (scope `groups`), amr and
// acr as the login sets them, and users it refuses when they are deactivated. Consent is
// pre-granted for the one client, as an enterprise IdP does for an application its admins
// assigned.
//
// Test knobs, on the same origin (a test talks to them with plain HTTP):
//   PUT  /__test__/users   {"<login>": {password, sub?, email, name, groups, active, amr, acr}}
//   POST /__test__/tamper  {"mode": "iss" | "aud" | "exp" | "nonce" | "no-nonce" | "signature" | "sub"}
//        the next token response's ID token is rewritten that way (then the knob resets):
//        re-signed with the provider's own key, so only the named claim is wrong, or, for
//        "signature", signed with another key under the same key id.

import http from 'node:http';

import * as jose from 'jose';
import Provider from 'oidc-provider';

const CLIENT_ID = process.env.CLIENT_ID || 'casefile';
const CLIENT_SECRET = process.env.CLIENT_SECRET || 'casefile-test-secret';
const REDIRECT_URIS = (process.env.REDIRECT_URIS || 'http://testserver/login/oidc/callback/')
  .split(',').map((u) => u.trim()).filter(Boolean);
const ACR_VALUES = ['urn:casefile:test:pwd', 'urn:casefile:test:mfa'];

let users = {};
let tamper = null;

const KID = 'test-key-1';
const signing = await jose.generateKeyPair('RS256', { extractable: true });
const impostor = await jose.generateKeyPair('RS256', { extractable: true });
const privateJwk = { ...(await jose.exportJWK(signing.privateKey)), kid: KID, alg: 'RS256', use: 'sig' };

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readBody(req, limit = 64 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new Error('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function userBySub(sub) {
  return Object.values(users).find((u) => u.sub === sub);
}

function loginPage(uid, { error = '', login = '' } = {}) {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Test IdP: sign in</title></head>
<body>
  <h1>Test IdP</h1>
  <p>Sign in to continue to Casefile.</p>
  ${error ? `<p role="alert" class="idp-error">${escape(error)}</p>` : ''}
  <form method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
    <label>Username <input name="login" value="${escape(login)}" required autofocus></label>
    <label>Password <input name="password" type="password" required></label>
    <button type="submit">Continue</button>
  </form>
  <form method="post" action="/interaction/${escape(uid)}/abort">
    <button type="submit">Cancel</button>
  </form>
</body></html>`;
}

async function rewriteIdToken(idToken, mode) {
  const { payload, protectedHeader } = { payload: jose.decodeJwt(idToken), protectedHeader: jose.decodeProtectedHeader(idToken) };
  const claims = { ...payload };
  const now = Math.floor(Date.now() / 1000);
  if (mode === 'iss') claims.iss = 'http://127.0.0.1:9/not-the-issuer';
  if (mode === 'exp') { claims.iat = now - 7200; claims.exp = now - 3600; }
  if (mode === 'nonce') claims.nonce = 'not-the-nonce-that-was-sent';
  if (mode === 'no-nonce') delete claims.nonce;
  if (mode === 'sub') claims.sub = 'someone-else';
  if (mode === 'aud') { claims.aud = 'another-client'; claims.azp = CLIENT_ID; }
  const key = mode === 'signature' ? impostor.privateKey : signing.privateKey;
  return new jose.SignJWT(claims).setProtectedHeader({ alg: protectedHeader.alg, kid: protectedHeader.kid, typ: protectedHeader.typ }).sign(key);
}

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: REDIRECT_URIS,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [privateJwk] },
  cookies: { keys: ['casefile-test-provider-cookie-key'] },
  pkce: { required: () => true },
  acrValues: ACR_VALUES,
  scopes: ['openid', 'email', 'profile', 'groups'],
  // acr, amr and auth_time ride on the openid scope, so every ID token carries them as
  // Okta's, Entra's and Keycloak's do (by default they are only sent when asked for).
  claims: {
    openid: ['sub', 'acr', 'amr', 'auth_time'],
    sid: null,
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups', 'active'],
  },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const user = userBySub(sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email: user.email,
          email_verified: true,
          name: user.name,
          groups: user.groups,
          ...(user.active_claim === undefined ? {} : { active: user.active_claim }),
        };
      },
    };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile groups');
    await grant.save();
    return grant;
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><html><body><h1>Test IdP error</h1><pre>${escape(JSON.stringify(out))}</pre></body></html>`;
  },
});

provider.use(async (ctx, next) => {
  const { path, method } = ctx;
  if (path === '/__test__/users' && method === 'PUT') {
    const given = JSON.parse(await readBody(ctx.req));
    users = Object.fromEntries(Object.entries(given).map(([login, u]) => [login, {
      sub: login, active: true, amr: ['pwd'], acr: ACR_VALUES[0], groups: [], ...u,
    }]));
    ctx.body = { users: Object.keys(users) };
    return;
  }
  if (path === '/__test__/tamper' && method === 'POST') {
    tamper = JSON.parse(await readBody(ctx.req)).mode || null;
    ctx.body = { tamper };
    return;
  }
  const match = path.match(/^\/interaction\/([^/]+)(?:\/(login|abort))?$/);
  if (match) {
    ctx.set('cache-control', 'no-store');
    const [, uid, action] = match;
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== uid) ctx.throw(400, 'interaction mismatch');
    if (!action && method === 'GET') {
      ctx.type = 'html';
      ctx.body = loginPage(uid);
      return;
    }
    if (action === 'abort' && method === 'POST') {
      const to = await provider.interactionResult(ctx.req, ctx.res, {
        error: 'access_denied', error_description: 'the user cancelled the sign-in',
      }, { mergeWithLastSubmission: false });
      ctx.redirect(to);
      return;
    }
    if (action === 'login' && method === 'POST') {
      const form = new URLSearchParams(await readBody(ctx.req));
      const login = form.get('login') || '';
      const user = users[login];
      if (!user || user.password !== form.get('password')) {
        ctx.type = 'html';
        ctx.body = loginPage(uid, { error: 'Wrong username or password.', login });
        return;
      }
      if (!user.active) {
        // Deactivated at the IdP: the IdP itself refuses, as Okta, Entra and Keycloak do.
        ctx.type = 'html';
        ctx.body = loginPage(uid, { error: 'This account is deactivated.', login });
        return;
      }
      const to = await provider.interactionResult(ctx.req, ctx.res, {
        login: { accountId: user.sub, amr: user.amr, acr: user.acr, remember: false },
      }, { mergeWithLastSubmission: false });
      ctx.redirect(to);
      return;
    }
    ctx.throw(405);
  }
  await next();
  if (path === '/token' && method === 'POST' && tamper && ctx.body && ctx.body.id_token) {
    const mode = tamper;
    tamper = null;
    ctx.body = { ...ctx.body, id_token: await rewriteIdToken(ctx.body.id_token, mode) };
  }
});

server.on('request', provider.callback());
process.stdout.write(`listening ${issuer}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
