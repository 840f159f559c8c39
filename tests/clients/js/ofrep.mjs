// The official OpenFeature JavaScript server SDK with its OFREP provider,
// against a running Atrium: boolean rollout, string targeting, number and
// object flags, the kill switch's reason, and FLAG_NOT_FOUND for a missing
// flag or another tenant's. Asserts with node:assert; prints a summary.
import assert from 'node:assert/strict';
import { OpenFeature, ErrorCode, StandardResolutionReasons as R } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';

const base = process.env.ATRIUM_BASE;
const client = async (key, domain) => {
  const provider = new OFREPProvider({ baseUrl: base, headers: [['Authorization', `Bearer ${key}`]] });
  await OpenFeature.setProviderAndWait(domain, provider);
  return OpenFeature.getClient(domain);
};

const a = await client(process.env.KEY_A, 'tenant-a');
const b = await client(process.env.KEY_B, 'tenant-b');

const seen = [];
for (let i = 0; i < 200; i++) {
  seen.push(await a.getBooleanDetails('js-checkout', false, { targetingKey: `user-${i}` }));
}
const on = seen.filter((d) => d.value);
assert.ok(on.every((d) => d.reason === R.SPLIT && d.variant === 'on'), 'rollout reasons');
assert.ok(on.length >= 70 && on.length <= 130, `about half of 200 in a 50% rollout: ${on.length}`);
for (let i = 0; i < 200; i++) {
  const again = await a.getBooleanValue('js-checkout', false, { targetingKey: `user-${i}` });
  assert.equal(again, seen[i].value, `user-${i} keeps its bucket`);
}

const vip = await a.getStringDetails('js-banner', 'none', { targetingKey: 'vip-2' });
assert.deepEqual([vip.value, vip.variant, vip.reason], ['Green', 'green', R.TARGETING_MATCH]);
const other = await a.getStringDetails('js-banner', 'none', { targetingKey: 'someone' });
assert.deepEqual([other.value, other.reason], ['Blue', R.DEFAULT]);

const limit = await a.getNumberDetails('js-limit', 0, { targetingKey: 'u', plan: 'pro' });
assert.deepEqual([limit.value, limit.reason], [100, R.TARGETING_MATCH]);
const theme = await a.getObjectDetails('js-theme', {}, { targetingKey: 'u' });
assert.deepEqual(theme.value, { accent: '#0a7', dense: true });

const off = await a.getBooleanDetails('js-killed', true, { targetingKey: 'u' });
assert.deepEqual([off.value, off.reason], [false, R.DISABLED]);

for (const [c, flag] of [[b, 'js-checkout'], [a, 'no-such-flag']]) {
  const d = await c.getBooleanDetails(flag, true, { targetingKey: 'u' });
  assert.equal(d.value, true, 'the default on error');
  assert.equal(d.errorCode, ErrorCode.FLAG_NOT_FOUND, `${flag}: ${JSON.stringify(d)}`);
}

await OpenFeature.close();
console.log(JSON.stringify({ rollout_on: on.length, vip: vip.value, limit: limit.value }));
